//! `sensor_silent`: an enabled sensor of the running recording sent nothing for
//! `notifier.silence_secs`. Judged every second by a timer — not by the next sample, which a
//! silent sensor never sends — from the activity ingest reports about once a second per sensor
//! that posts. Silence counts from the last sample heard, or from when this replica started
//! or saw the recording begin, whichever is latest; nothing is judged during the start-up grace
//! period, so a restarted notifier, which has heard nobody yet, raises no storm. The alert is
//! resolved when the sensor speaks again, in a recording or not.
//!
//! Every replica judges on its own; the store keeps one firing alert per sensor, so they agree.

use crate::alerts::{Alerts, Finding};
use crate::recording::RunningRecording;
use srs_common::events::{SensorActivity, SENSOR_ACTIVITY};
use srs_common::model::AlertState;
use srs_common::shutdown::Background;
use srs_common::store::StoreResult;
use srs_common::AppContext;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

pub const RULE: &str = "sensor_silent";

const JUDGE_EVERY: Duration = Duration::from_secs(1);
/// How often the firing alerts are read again (another replica may have opened or resolved
/// some).
const REFRESH_FIRING: Duration = Duration::from_secs(10);

/// What one replica knows about the sensors it watches.
struct Watch {
    started: Instant,
    grace: Duration,
    silence: Duration,
    /// When each sensor was last heard (by this replica).
    heard: HashMap<String, Instant>,
    /// The recording being watched and since when this replica knows it.
    recording: Option<(String, Instant)>,
    /// Sensors with a firing alert, as far as this replica knows.
    firing: HashSet<String>,
}

impl Watch {
    /// The sensors of `running` that have been silent too long and have no alert yet.
    fn silent(&mut self, running: &RunningRecording, now: Instant) -> Vec<String> {
        if now < self.started + self.grace {
            return Vec::new();
        }
        let seen_since = match &self.recording {
            Some((id, since)) if *id == running.id => *since,
            _ => {
                self.recording = Some((running.id.clone(), now));
                now
            }
        };
        let floor = seen_since.max(self.started);
        running
            .enabled_sensors
            .iter()
            .filter(|sensor| !self.firing.contains(*sensor))
            .filter(|sensor| {
                let last = self.heard.get(*sensor).map_or(floor, |heard| (*heard).max(floor));
                now.duration_since(last) >= self.silence
            })
            .cloned()
            .collect()
    }
}

pub fn start(context: &AppContext, alerts: Arc<Alerts>, recording: watch::Receiver<Option<RunningRecording>>, background: &Background) {
    let settings = alerts.settings();
    let mut watch = Watch {
        started: Instant::now(),
        grace: Duration::from_secs(settings.startup_grace_secs),
        silence: Duration::from_secs(settings.silence_secs),
        heard: HashMap::new(),
        recording: None,
        firing: HashSet::new(),
    };
    let (context, stop) = (context.clone(), background.token.clone());
    background.spawn(async move {
        let mut activity = match context.bus.subscribe(&[SENSOR_ACTIVITY]).await {
            Ok(activity) => activity,
            Err(error) => return tracing::error!(%error, "cannot follow sensor activity: sensor_silent is off"),
        };
        let mut judge = tokio::time::interval(JUDGE_EVERY);
        judge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut refresh = tokio::time::interval(REFRESH_FIRING);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = refresh.tick() => match firing(&alerts).await {
                    Ok(firing) => watch.firing = firing,
                    Err(error) => tracing::warn!(%error, "cannot read the firing sensor_silent alerts"),
                },
                _ = judge.tick() => {
                    let running = recording.borrow().clone();
                    let Some(running) = running else { continue };
                    for sensor in watch.silent(&running, Instant::now()) {
                        match fire(&alerts, &running, &sensor, watch.silence).await {
                            // Fired now, or already firing (another replica, or before a restart).
                            Ok(_) => { watch.firing.insert(sensor); }
                            Err(error) => tracing::warn!(%error, sensor.id = %sensor, "cannot record the sensor_silent alert; judging again"),
                        }
                    }
                }
                event = activity.recv() => {
                    let Some(event) = event else { return };
                    let Ok(heard) = serde_json::from_value::<SensorActivity>(event.payload) else { continue };
                    watch.heard.insert(heard.sensor_id.clone(), Instant::now());
                    if watch.firing.contains(&heard.sensor_id) {
                        match alerts.resolve(RULE, &heard.sensor_id).await {
                            Ok(_) => { watch.firing.remove(&heard.sensor_id); }
                            Err(error) => tracing::warn!(%error, sensor.id = %heard.sensor_id, "cannot resolve the sensor_silent alert; trying on its next activity"),
                        }
                    }
                }
            }
        }
    });
}

async fn fire(alerts: &Alerts, running: &RunningRecording, sensor: &str, silence: Duration) -> StoreResult<bool> {
    let mut details = running.facts();
    details.insert("sensor".into(), sensor.into());
    let finding = Finding {
        rule: RULE,
        subject: sensor.to_owned(),
        message: format!("{sensor} sent nothing for {} s while recording {}", silence.as_secs(), running.participant_code),
        details: details.into(),
    };
    alerts.fire(finding).await
}

/// The sensors with a firing `sensor_silent` alert in the store.
async fn firing(alerts: &Alerts) -> StoreResult<HashSet<String>> {
    let firing = alerts.store().list_alerts(Some(AlertState::Firing), 10_000).await?;
    Ok(firing.into_iter().filter(|(alert, _)| alert.rule == RULE).map(|(alert, _)| alert.subject).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recording(id: &str, sensors: &[&str]) -> RunningRecording {
        RunningRecording {
            id: id.into(),
            experiment_id: "e".into(),
            experiment_name: "Study".into(),
            participant_code: "P01".into(),
            task_name: None,
            started_at: chrono::Utc::now(),
            enabled_sensors: sensors.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn watch(started: Instant, grace: u64, silence: u64) -> Watch {
        Watch {
            started,
            grace: Duration::from_secs(grace),
            silence: Duration::from_secs(silence),
            heard: HashMap::new(),
            recording: None,
            firing: HashSet::new(),
        }
    }

    #[test]
    fn silence_counts_from_the_latest_of_start_recording_and_last_sample() {
        let t0 = Instant::now();
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        let running = recording("r1", &["ecg-1", "eda-1"]);
        let mut watch = watch(t0, 15, 10);
        assert!(watch.silent(&running, at(5)).is_empty(), "grace");
        watch.heard.insert("ecg-1".into(), at(12));
        // The recording is first seen at 16: nobody is silent before 26.
        assert!(watch.silent(&running, at(16)).is_empty());
        assert!(watch.silent(&running, at(25)).is_empty());
        assert_eq!(watch.silent(&running, at(26)), ["ecg-1", "eda-1"]);
        watch.heard.insert("ecg-1".into(), at(24));
        watch.firing.insert("eda-1".into());
        assert!(watch.silent(&running, at(33)).is_empty(), "ecg-1 spoke at 24; eda-1 is firing already");
        assert_eq!(watch.silent(&running, at(34)), ["ecg-1"]);
        // A new recording: its sensors get a fresh silence time.
        assert!(watch.silent(&recording("r2", &["ecg-1"]), at(40)).is_empty());
        assert_eq!(watch.silent(&recording("r2", &["ecg-1"]), at(50)), ["ecg-1"]);
    }
}
