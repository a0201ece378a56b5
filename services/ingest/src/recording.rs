//! `RecordingContext`: what ingest stamps samples with — the running recording of the active
//! experiment and which sensors its config enables. The store is the truth: the context is
//! re-read from it at start-up, on every lifecycle event from the bus, when the bus comes back
//! after an outage (events sent meanwhile are lost), and every few seconds as a safety net. So a
//! restarted or reconnected ingest never attributes samples to a recording that is not running.

use srs_common::events::{EXPERIMENT_ACTIVATED, EXPERIMENT_DEACTIVATED, RECORDING_STARTED, RECORDING_STOPPED, SENSOR_CONFIG_CHANGED};
use srs_common::model::RecordingStamp;
use srs_common::shutdown::Background;
use srs_common::store::StoreResult;
use srs_common::AppContext;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// How often the context is re-read even without events.
const SAFETY_REFRESH: Duration = Duration::from_secs(5);
const BUS_CHECK: Duration = Duration::from_secs(1);

/// The context at one moment.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The running recording, if the active experiment has one.
    pub stamp: Option<Arc<RecordingStamp>>,
    /// Per sensor (sensors-file order): enabled in the active experiment's config.
    pub enabled: Vec<bool>,
}

impl Snapshot {
    /// The recording a sample of the sensor at `index` is stored for, if any.
    pub fn stamp_for(&self, sensor_index: usize) -> Option<&Arc<RecordingStamp>> {
        self.stamp.as_ref().filter(|_| self.enabled.get(sensor_index).copied().unwrap_or(false))
    }
}

pub struct RecordingContext {
    current: RwLock<Arc<Snapshot>>,
    loaded: watch::Sender<bool>,
}

impl RecordingContext {
    pub fn new() -> Self {
        Self { current: RwLock::new(Arc::new(Snapshot::default())), loaded: watch::Sender::new(false) }
    }

    pub fn current(&self) -> Arc<Snapshot> {
        self.current.read().map_or_else(|poisoned| poisoned.into_inner().clone(), |guard| guard.clone())
    }

    /// Waits until the context has been read from the store once; false if it was not in time.
    pub async fn loaded(&self, timeout: Duration) -> bool {
        if *self.loaded.borrow() {
            return true;
        }
        let mut loaded = self.loaded.subscribe();
        tokio::time::timeout(timeout, loaded.wait_for(|loaded| *loaded)).await.is_ok_and(|r| r.is_ok())
    }

    /// Re-reads the context from the store.
    pub async fn refresh(&self, context: &AppContext) -> StoreResult<()> {
        let store = &context.store;
        let sensors = context.sensors.file();
        let mut snapshot = Snapshot { stamp: None, enabled: vec![false; sensors.sensors.len()] };
        if let (Some(active), Some(recording)) = (store.active_experiment_id().await?, store.running_recording().await?) {
            if recording.experiment_id == active {
                if let Some(experiment) = store.get_experiment(&active).await? {
                    if let Some(config) = store.get_sensor_config(&experiment.sensor_config_id).await? {
                        for (flag, sensor) in snapshot.enabled.iter_mut().zip(&sensors.sensors) {
                            *flag = config.sensors.iter().any(|c| c.id == sensor.id && c.enabled);
                        }
                    }
                }
                snapshot.stamp = Some(Arc::new(recording.stamp()));
            }
        }
        let recording = snapshot.stamp.as_ref().map(|s| s.recording_id.clone());
        match self.current.write() {
            Ok(mut current) => *current = Arc::new(snapshot),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(snapshot),
        }
        if !*self.loaded.borrow() {
            tracing::info!(recording.id = ?recording, "recording context loaded");
        }
        self.loaded.send_replace(true);
        Ok(())
    }
}

impl Default for RecordingContext {
    fn default() -> Self {
        Self::new()
    }
}

/// Keeps `recording` current until the background set stops.
pub fn follow(context: AppContext, recording: Arc<RecordingContext>, background: &Background) {
    let stop = background.token.clone();
    background.spawn(async move {
        let patterns = [EXPERIMENT_ACTIVATED, EXPERIMENT_DEACTIVATED, RECORDING_STARTED, RECORDING_STOPPED, SENSOR_CONFIG_CHANGED];
        let mut subscription = None;
        let mut was_ready = context.bus.is_ready();
        let mut bus_check = tokio::time::interval(BUS_CHECK);
        let mut safety = tokio::time::interval(SAFETY_REFRESH);
        loop {
            if subscription.is_none() {
                match context.bus.subscribe(&patterns).await {
                    Ok(events) => subscription = Some(events),
                    Err(error) => tracing::warn!(%error, "cannot subscribe to lifecycle events yet; re-reading the store meanwhile"),
                }
            }
            let refresh = tokio::select! {
                () = stop.cancelled() => return,
                event = async { subscription.as_mut()?.recv().await }, if subscription.is_some() => {
                    if event.is_none() {
                        subscription = None;
                    }
                    true
                }
                _ = safety.tick() => true,
                _ = bus_check.tick() => {
                    let ready = context.bus.is_ready();
                    let came_back = ready && !was_ready;
                    was_ready = ready;
                    came_back || subscription.is_none()
                }
            };
            if refresh {
                if let Err(error) = recording.refresh(&context).await {
                    tracing::warn!(%error, "cannot re-read the recording context; keeping the last one");
                }
            }
        }
    });
}
