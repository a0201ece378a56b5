//! What live sockets hear, from the bus (so every replica's clients hear everything, whichever
//! replica or ingest it happened on): lifecycle, device, command and export events as they come,
//! and one `activity` frame a second with every sensor that posted, summed over all ingest
//! replicas and intakes.

use crate::live::{frame, Hub};
use serde_json::Value;
use srs_common::events::{self, SensorActivity};
use srs_common::shutdown::Background;
use srs_common::AppContext;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Bus events and the live frame type each becomes.
const EVENTS: &[(&str, &str)] = &[
    (events::RECORDING_STARTED, "recording_started"),
    (events::RECORDING_STOPPED, "recording_stopped"),
    (events::DEVICE_CONNECTED, "device_connected"),
    (events::DEVICE_DISCONNECTED, "device_disconnected"),
    (events::DEVICE_STATUS, "device_status"),
    (events::DEVICE_COMMAND, "command"),
    (events::EXPORT_PROGRESS, "export_progress"),
    (events::EXPORT_COMPLETED, "export_completed"),
    (events::EXPORT_FAILED, "export_failed"),
];

/// Alerts (from the notifier) use `alert.<kind>` keys.
const ALERTS: &str = "alert.#";

pub fn start(context: AppContext, hub: Arc<Hub>, background: &Background) {
    let token = background.token.clone();
    background.spawn(async move {
        let mut patterns: Vec<&str> = EVENTS.iter().map(|(key, _)| *key).collect();
        patterns.extend([events::SENSOR_ACTIVITY, ALERTS]);
        let mut bus_events = match context.bus.subscribe(&patterns).await {
            Ok(events) => events,
            Err(error) => {
                tracing::error!(%error, "cannot follow events: live sockets stay silent");
                return;
            }
        };
        let mut second = tokio::time::interval(Duration::from_secs(1));
        let mut activity: BTreeMap<String, SensorActivity> = BTreeMap::new();
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = second.tick() => {
                    if !activity.is_empty() {
                        let sensors: Vec<SensorActivity> = std::mem::take(&mut activity).into_values().collect();
                        let payload = serde_json::json!({"at": srs_common::time::now(), "sensors": sensors});
                        hub.broadcast(&frame("activity", payload, true));
                    }
                }
                event = bus_events.recv() => {
                    let Some(event) = event else { return };
                    if event.kind == events::SENSOR_ACTIVITY {
                        if let Ok(seen) = serde_json::from_value::<SensorActivity>(event.payload) {
                            fold(&mut activity, seen);
                        }
                    } else if let Some((_, kind)) = EVENTS.iter().find(|(key, _)| *key == event.kind) {
                        hub.broadcast(&frame(kind, event.payload, false));
                    } else if event.kind.starts_with("alert.") {
                        hub.broadcast(&frame("alert", with_kind(event.payload, &event.kind), false));
                    }
                }
            }
        }
    });
}

/// Adds one ingest replica's second of a sensor to what the others reported.
fn fold(activity: &mut BTreeMap<String, SensorActivity>, mut seen: SensorActivity) {
    seen.replica = None;
    match activity.get_mut(&seen.sensor_id) {
        Some(known) => {
            known.samples += seen.samples;
            known.rate_hz += seen.rate_hz;
            known.last_ts = known.last_ts.max(seen.last_ts);
        }
        None => {
            activity.insert(seen.sensor_id.clone(), seen);
        }
    }
}

fn with_kind(payload: Value, kind: &str) -> Value {
    let mut payload = payload;
    if let Value::Object(fields) = &mut payload {
        fields.entry("alert").or_insert_with(|| Value::from(kind.trim_start_matches("alert.")));
    }
    payload
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_ingest_replicas_add_up() {
        let mut activity = BTreeMap::new();
        let seen = |last_ts, replica: &str| SensorActivity {
            sensor_id: "ecg-1".into(),
            samples: 250,
            last_ts,
            rate_hz: 250.0,
            replica: Some(replica.into()),
        };
        fold(&mut activity, seen(10, "a"));
        fold(&mut activity, seen(12, "b"));
        let ecg = &activity["ecg-1"];
        assert_eq!((ecg.samples, ecg.last_ts, ecg.rate_hz), (500, 12, 500.0));
    }
}
