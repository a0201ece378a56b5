//! Live values for the live sockets that subscribed (API.md "Live values"). Ingest replicas send
//! their watched sensors' buckets on the 500-points-per-second grid; here they are merged into
//! one group per (sensor, max_hz) — shared by every client of that pair, so a frame is built and
//! encoded once — and a group's bucket goes out once it is complete:
//! - when ingest has seen a sample of the sensor at or after the bucket's end (its watermark), or
//! - when no data of the sensor came for [`IDLE_FLUSH`] (the sensor paused or stopped: what
//!   the open buckets hold is all there is for now).
//!
//! A bucket is sent once. Data that reaches a group after its bucket went out (a sample far
//! older than the sensor's others, or the rest of a bucket flushed while the sensor paused) is
//! left out of the view and counted in `srs_live_late_buckets_total`; the record is not affected.
//!
//! The sensors watched here go to ingest as an `Interest` every second and on every change.

use crate::live::{Frame, Hub};
use serde_json::{json, Value};
use srs_common::live_values::{
    bucket_ns, bucket_start, Bucket, Buckets, Interest, Range, SensorValues, ValuesBatch, LIVE_INTEREST, LIVE_VALUES,
};
use srs_common::sensors::{FieldType, SensorCatalog};
use srs_common::shutdown::Background;
use srs_common::AppContext;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How long a sensor may send nothing before its open buckets go out as they are.
pub const IDLE_FLUSH: Duration = Duration::from_millis(400);
/// How often idle groups are looked at.
const IDLE_CHECK: Duration = Duration::from_millis(100);
/// How often the interest is repeated (it lasts `INTEREST_TTL_MS` in ingest).
const INTEREST_EVERY: Duration = Duration::from_secs(1);

struct Group {
    buckets: Buckets,
    /// The end of the last bucket sent: data before it is late.
    horizon: i64,
    watermark: i64,
    last_data: Instant,
    /// When ingest published the latest data of the group (ns), passed on as `at`.
    published_at: i64,
    clients: BTreeSet<u64>,
}

impl Group {
    fn new(max_hz: u32) -> Self {
        Self {
            buckets: Buckets::new(bucket_ns(max_hz)),
            horizon: i64::MIN,
            watermark: i64::MIN,
            last_data: Instant::now(),
            published_at: 0,
            clients: BTreeSet::new(),
        }
    }

    /// Merges one ingest replica's buckets; returns how many came too late.
    fn merge(&mut self, values: &SensorValues, published_at: i64) -> u64 {
        let mut late = 0;
        for (start, bucket) in &values.buckets {
            if bucket_start(*start, self.buckets.width_ns()) < self.horizon {
                late += 1;
                continue;
            }
            self.buckets.add(*start, bucket);
        }
        self.watermark = self.watermark.max(values.watermark);
        self.last_data = Instant::now();
        self.published_at = self.published_at.max(published_at);
        late
    }

    /// The buckets that are complete now (all of them once the sensor is idle).
    fn take_complete(&mut self) -> Vec<(i64, Bucket)> {
        let complete = if self.last_data.elapsed() >= IDLE_FLUSH {
            self.buckets.take_all()
        } else {
            self.buckets.take_until(self.watermark.saturating_add(1))
        };
        if let Some((start, _)) = complete.last() {
            self.horizon = start + self.buckets.width_ns();
        }
        complete
    }
}

/// The subscriptions of this replica's live sockets and their groups.
#[derive(Default)]
pub struct LiveValues {
    state: Mutex<State>,
    /// Woken when the set of watched sensors changes.
    interest_changed: Notify,
}

#[derive(Default)]
struct State {
    /// sensor id -> max_hz -> group.
    groups: HashMap<String, HashMap<u32, Group>>,
    /// client -> sensor id -> max_hz.
    clients: HashMap<u64, HashMap<String, u32>>,
}

impl LiveValues {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Subscribes `client` to `sensors` at `max_hz` (replacing an earlier rate for them).
    pub fn subscribe(&self, client: u64, sensors: &[String], max_hz: u32) {
        let mut state = self.lock();
        let watched_before = state.groups.len();
        for sensor in sensors {
            let previous = state.clients.entry(client).or_default().insert(sensor.clone(), max_hz);
            if let Some(previous) = previous.filter(|p| *p != max_hz) {
                leave_group(&mut state.groups, sensor, previous, client);
            }
            state.groups.entry(sensor.clone()).or_default().entry(max_hz).or_insert_with(|| Group::new(max_hz)).clients.insert(client);
        }
        if state.groups.len() != watched_before {
            self.interest_changed.notify_one();
        }
    }

    /// Unsubscribes `client` from `sensors`, or from every sensor when `None`.
    pub fn unsubscribe(&self, client: u64, sensors: Option<&[String]>) {
        let mut state = self.lock();
        let watched_before = state.groups.len();
        let State { groups, clients } = &mut *state;
        let Some(subscribed) = clients.get_mut(&client) else { return };
        let leaving: Vec<String> = match sensors {
            Some(sensors) => sensors.iter().filter(|s| subscribed.contains_key(*s)).cloned().collect(),
            None => subscribed.keys().cloned().collect(),
        };
        for sensor in leaving {
            if let Some(max_hz) = subscribed.remove(&sensor) {
                leave_group(groups, &sensor, max_hz, client);
            }
        }
        if subscribed.is_empty() {
            clients.remove(&client);
        }
        if state.groups.len() != watched_before {
            self.interest_changed.notify_one();
        }
    }

    fn watched(&self) -> Vec<String> {
        let mut sensors: Vec<String> = self.lock().groups.keys().cloned().collect();
        sensors.sort_unstable();
        sensors
    }

    /// Merges an ingest batch and sends what became complete.
    fn take_batch(&self, batch: &ValuesBatch, catalog: &SensorCatalog, hub: &Hub) {
        let mut state = self.lock();
        let mut late = 0;
        for values in &batch.sensors {
            let Some(groups) = state.groups.get_mut(&values.sensor_id) else { continue };
            for group in groups.values_mut() {
                late += group.merge(values, batch.at);
                send_complete(&values.sensor_id, group, catalog, hub);
            }
        }
        if late > 0 {
            crate::metrics::late_buckets().inc_by(late);
        }
    }

    /// Sends the open buckets of sensors that went quiet.
    fn flush_idle(&self, catalog: &SensorCatalog, hub: &Hub) {
        let mut state = self.lock();
        for (sensor_id, groups) in &mut state.groups {
            for group in groups.values_mut().filter(|g| !g.buckets.is_empty() && g.last_data.elapsed() >= IDLE_FLUSH) {
                send_complete(sensor_id, group, catalog, hub);
            }
        }
    }
}

fn leave_group(groups: &mut HashMap<String, HashMap<u32, Group>>, sensor: &str, max_hz: u32, client: u64) {
    let Some(rates) = groups.get_mut(sensor) else { return };
    if let Some(group) = rates.get_mut(&max_hz) {
        group.clients.remove(&client);
        if group.clients.is_empty() {
            rates.remove(&max_hz);
        }
    }
    if rates.is_empty() {
        groups.remove(sensor);
    }
}

fn send_complete(sensor_id: &str, group: &mut Group, catalog: &SensorCatalog, hub: &Hub) {
    let complete = group.take_complete();
    if complete.is_empty() {
        return;
    }
    let Some(sensor) = catalog.sensor(sensor_id) else { return };
    let frame = values_frame(sensor_id, &sensor.sensor_type.fields, group.buckets.width_ns(), &complete, group.published_at);
    hub.send_to(&group.clients, &frame);
}

/// `{"type": "values", "sensor_id", "at", "ts": [...], "fields": {...}}`: two points per bucket
/// (its start and middle), each field's minimum then maximum (strings: the last value twice).
fn values_frame(sensor_id: &str, fields: &[srs_common::sensors::FieldSpec], width_ns: i64, buckets: &[(i64, Bucket)], at: i64) -> Frame {
    let ts: Vec<i64> = buckets.iter().flat_map(|(start, _)| [*start, start + width_ns / 2]).collect();
    let mut columns = serde_json::Map::new();
    for (index, field) in fields.iter().enumerate() {
        let mut column = Vec::with_capacity(ts.len());
        for (_, bucket) in buckets {
            let (low, high) = match bucket.get(index).cloned().flatten() {
                Some(Range::Number(min, max)) => (number(min, field.field_type), number(max, field.field_type)),
                Some(Range::Text(_, text)) => (Value::from(text.clone()), Value::from(text)),
                None => (Value::Null, Value::Null),
            };
            column.extend([low, high]);
        }
        columns.insert(field.name.clone(), Value::Array(column));
    }
    let payload = json!({"sensor_id": sensor_id, "at": srs_common::time::from_ns(at), "ts": ts, "fields": columns});
    crate::live::frame("values", payload, true)
}

/// Integers and booleans stay integers on the wire; floats stay floats.
fn number(value: f64, field_type: FieldType) -> Value {
    match field_type {
        FieldType::I64 | FieldType::Bool if value.fract() == 0.0 => Value::from(value as i64),
        _ => Value::from(value),
    }
}

/// Takes ingest's batches, flushes idle sensors and tells ingest what is watched.
pub fn start(context: AppContext, values: Arc<LiveValues>, hub: Arc<Hub>, replica: String, background: &Background) {
    let token = background.token.clone();
    background.spawn(async move {
        let mut batches = match context.bus.subscribe_live(&[LIVE_VALUES]).await {
            Ok(batches) => batches,
            Err(error) => {
                tracing::error!(%error, "cannot take live values: subscribers get none");
                return;
            }
        };
        let mut idle = tokio::time::interval(IDLE_CHECK);
        let mut interest = tokio::time::interval(INTEREST_EVERY);
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                batch = batches.recv() => match batch {
                    Some(event) => match serde_json::from_value::<ValuesBatch>(event.payload) {
                        Ok(batch) => values.take_batch(&batch, &context.sensors, &hub),
                        Err(error) => tracing::warn!(%error, "unreadable live values"),
                    },
                    None => return,
                },
                _ = idle.tick() => values.flush_idle(&context.sensors, &hub),
                _ = interest.tick() => publish_interest(&context, &values, &replica).await,
                _ = values.interest_changed.notified() => publish_interest(&context, &values, &replica).await,
            }
        }
    });
}

async fn publish_interest(context: &AppContext, values: &LiveValues, replica: &str) {
    let sensors = values.watched();
    if sensors.is_empty() {
        return;
    }
    let interest = Interest { replica: replica.to_owned(), sensors };
    if let Err(error) = context.bus.publish_live(&[srs_common::events::event(LIVE_INTEREST, &interest)]).await {
        tracing::debug!(%error, "live interest not published");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(watermark: i64, buckets: Vec<(i64, f64)>) -> SensorValues {
        SensorValues {
            sensor_id: "s".into(),
            watermark,
            buckets: buckets.into_iter().map(|(start, v)| (start, vec![Some(Range::Number(v, v))])).collect(),
        }
    }

    #[test]
    fn a_bucket_goes_out_once_the_sensor_is_past_it_and_never_twice() {
        let mut group = Group::new(50); // 40 ms buckets
        let ms = 1_000_000;
        assert_eq!(group.merge(&batch(10 * ms, vec![(0, 1.0), (4 * ms, 5.0), (8 * ms, 2.0)]), 0), 0);
        assert!(group.take_complete().is_empty(), "[0, 40 ms) is still open");
        group.merge(&batch(40 * ms, vec![(36 * ms, -1.0), (40 * ms, 7.0)]), 0);
        let complete = group.take_complete();
        assert_eq!(complete, vec![(0, vec![Some(Range::Number(-1.0, 5.0))])]);
        // The rest of an already sent bucket is late; the open one goes out when idle.
        assert_eq!(group.merge(&batch(44 * ms, vec![(32 * ms, 9.0)]), 0), 1);
        group.last_data = Instant::now() - IDLE_FLUSH;
        assert_eq!(group.take_complete(), vec![(40 * ms, vec![Some(Range::Number(7.0, 7.0))])]);
    }

    #[test]
    fn the_watched_sensors_follow_the_subscriptions() {
        let values = LiveValues::default();
        values.subscribe(1, &["a".into(), "b".into()], 50);
        values.subscribe(2, &["b".into()], 10);
        values.subscribe(1, &["b".into()], 10);
        assert_eq!(values.watched(), ["a", "b"]);
        assert_eq!(values.lock().groups["b"].keys().collect::<Vec<_>>(), [&10], "client 1 moved b to 10 Hz");
        values.unsubscribe(1, None);
        assert_eq!(values.watched(), ["b"]);
        values.unsubscribe(2, Some(&["b".into()]));
        assert!(values.watched().is_empty());
    }
}
