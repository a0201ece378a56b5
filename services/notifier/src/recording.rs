//! The running recording as the rules need it: who and what is recorded, and which sensors
//! must speak. Read from the store — the truth — at start-up, after every experiment, recording
//! or sensor-config event, and every few seconds (an event missed while the bus was down).

use srs_common::shutdown::Background;
use srs_common::store::{DynStore, StoreResult};
use srs_common::AppContext;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::sync::watch;

const RESYNC: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq)]
pub struct RunningRecording {
    pub id: String,
    pub experiment_id: String,
    pub experiment_name: String,
    pub participant_code: String,
    pub task_name: Option<String>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// The sensors the experiment's config enables: the ones expected to send.
    pub enabled_sensors: BTreeSet<String>,
}

impl RunningRecording {
    /// The facts every alert about this recording carries.
    pub fn facts(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut facts = serde_json::Map::new();
        facts.insert("experiment".into(), self.experiment_name.clone().into());
        facts.insert("participant".into(), self.participant_code.clone().into());
        if let Some(task) = &self.task_name {
            facts.insert("task".into(), task.clone().into());
        }
        facts.insert("recording_id".into(), self.id.clone().into());
        facts.insert("recording_started_at".into(), self.started_at.to_rfc3339().into());
        facts.insert("path".into(), format!("/console/recordings/{}", self.id).into());
        facts
    }
}

/// The recording running now, if any.
pub async fn read(store: &DynStore) -> StoreResult<Option<RunningRecording>> {
    let Some(recording) = store.running_recording().await? else { return Ok(None) };
    let Some(experiment) = store.get_experiment(&recording.experiment_id).await? else { return Ok(None) };
    let config = store.get_sensor_config(&experiment.sensor_config_id).await?;
    let enabled_sensors = config.map(|c| srs_common::events::enabled_sensors(&c.sensors).into_iter().collect()).unwrap_or_default();
    Ok(Some(RunningRecording {
        participant_code: experiment.participant(&recording.participant_id).map(|p| p.code.clone()).unwrap_or_default(),
        task_name: recording.task_id.as_deref().and_then(|t| experiment.task(t)).map(|t| t.name.clone()),
        experiment_name: experiment.name,
        id: recording.id,
        experiment_id: recording.experiment_id,
        started_at: recording.started_at,
        enabled_sensors,
    }))
}

/// Follows the running recording until shutdown. The first value is read before this returns,
/// so a rule never judges with a recording it has not looked up yet.
pub async fn follow(context: &AppContext, background: &Background) -> watch::Receiver<Option<RunningRecording>> {
    let first = read(&context.store).await.unwrap_or_else(|error| {
        tracing::warn!(%error, "cannot read the running recording yet");
        None
    });
    let (sender, receiver) = watch::channel(first);
    let (context, stop) = (context.clone(), background.token.clone());
    background.spawn(async move {
        let mut events = match context.bus.subscribe(&["experiment.*", "recording.*", "sensor_config.*"]).await {
            Ok(events) => Some(events),
            Err(error) => {
                tracing::error!(%error, "cannot follow recording events; reading the store every {} s instead", RESYNC.as_secs());
                None
            }
        };
        let mut tick = tokio::time::interval(RESYNC);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
                event = async { match events.as_mut() { Some(events) => events.recv().await, None => std::future::pending().await } } => {
                    if event.is_none() {
                        events = None;
                    }
                }
            }
            match read(&context.store).await {
                Ok(now) => {
                    sender.send_if_modified(|held| std::mem::replace(held, now.clone()) != now);
                }
                Err(error) => tracing::warn!(%error, "cannot read the running recording"),
            }
        }
    });
    receiver
}
