//! Per-sensor activity, kept in memory by each ingest replica: when a sensor was last heard
//! from, its rate, and how far its clock is from ours. Feeds `GET /api/v1/sensors/status` and,
//! once a second, one aggregated `sensor.activity` event per active sensor for the live view —
//! never a bus message per sample. Each replica folds in the other replicas' activity events,
//! so its status counts what every replica received.

use chrono::{DateTime, Utc};
use serde::Serialize;
use srs_common::events::{SensorActivity, SENSOR_ACTIVITY};
use srs_common::sensors::SensorCatalog;
use srs_common::shutdown::Background;
use srs_common::AppContext;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use utoipa::ToSchema;

const SECOND_NS: i64 = 1_000_000_000;
/// Per-second counts kept: one minute.
const WINDOW_SECS: usize = 60;
/// Recent clock offsets kept for the median.
const OFFSETS: usize = 64;
/// The rate is taken over this many recent seconds.
const RATE_SECS: i64 = 10;

#[derive(Debug, Clone)]
struct Window {
    last_seen: Option<i64>,
    last_ts: i64,
    counts: [u32; WINDOW_SECS],
    count_second: [i64; WINDOW_SECS],
    offsets: Vec<i64>,
    next_offset: usize,
    unpublished: u64,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            last_seen: None,
            last_ts: 0,
            counts: [0; WINDOW_SECS],
            count_second: [i64::MIN; WINDOW_SECS],
            offsets: Vec::with_capacity(OFFSETS),
            next_offset: 0,
            unpublished: 0,
        }
    }
}

impl Window {
    fn record(&mut self, ts: i64, received_at: i64) {
        self.last_seen = Some(received_at);
        self.last_ts = self.last_ts.max(ts);
        let second = received_at.div_euclid(SECOND_NS);
        let slot = second.rem_euclid(WINDOW_SECS as i64) as usize;
        if self.count_second[slot] != second {
            self.count_second[slot] = second;
            self.counts[slot] = 0;
        }
        self.counts[slot] = self.counts[slot].saturating_add(1);
        let offset = received_at - ts;
        if self.offsets.len() < OFFSETS {
            self.offsets.push(offset);
        } else {
            self.offsets[self.next_offset] = offset;
        }
        self.next_offset = (self.next_offset + 1) % OFFSETS;
        self.unpublished += 1;
    }

    /// Samples received in the `secs` seconds up to `now`.
    /// Another replica's count of `samples` received around `at`.
    fn fold(&mut self, samples: u64, last_ts: i64, at: i64) {
        self.last_seen = Some(self.last_seen.map_or(at, |seen| seen.max(at)));
        self.last_ts = self.last_ts.max(last_ts);
        let second = at.div_euclid(SECOND_NS);
        let slot = second.rem_euclid(WINDOW_SECS as i64) as usize;
        if self.count_second[slot] != second {
            self.count_second[slot] = second;
            self.counts[slot] = 0;
        }
        self.counts[slot] = self.counts[slot].saturating_add(u32::try_from(samples).unwrap_or(u32::MAX));
    }

    fn received_within(&self, now: i64, secs: i64) -> u64 {
        let current = now.div_euclid(SECOND_NS);
        self.counts
            .iter()
            .zip(&self.count_second)
            .filter(|(_, second)| **second > current - secs && **second <= current)
            .map(|(n, _)| u64::from(*n))
            .sum()
    }

    fn median_offset_ms(&self) -> Option<f64> {
        let mut offsets = self.offsets.clone();
        offsets.sort_unstable();
        offsets.get(offsets.len() / 2).map(|ns| *ns as f64 / 1e6)
    }
}

/// One sensor's line of `GET /api/v1/sensors/status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SensorStatus {
    pub sensor_id: String,
    #[serde(rename = "type")]
    pub sensor_type: String,
    /// When this replica last received a sample of the sensor.
    pub last_seen: Option<DateTime<Utc>>,
    pub samples_last_minute: u64,
    /// Samples per second over the last 10 s.
    pub rate_hz: f64,
    /// Median of (receive time - `ts`) over the recent samples; positive when the sensor's
    /// clock is behind or its samples travel long.
    pub clock_offset_ms: Option<f64>,
}

pub struct SensorWindows {
    windows: Vec<Mutex<Window>>,
}

impl SensorWindows {
    pub fn new(sensors: usize) -> Self {
        Self { windows: (0..sensors).map(|_| Mutex::new(Window::default())).collect() }
    }

    /// Records accepted samples (sensor index in sensors-file order, ts), taking each sensor's
    /// lock once per run of its samples rather than once per sample.
    pub fn record(&self, samples: impl IntoIterator<Item = (usize, i64)>, received_at: i64) {
        let mut current: Option<(usize, std::sync::MutexGuard<'_, Window>)> = None;
        for (index, ts) in samples {
            if current.as_ref().is_none_or(|(locked, _)| *locked != index) {
                current = None;
                let Some(Ok(window)) = self.windows.get(index).map(Mutex::lock) else { continue };
                current = Some((index, window));
            }
            if let Some((_, window)) = current.as_mut() {
                window.record(ts, received_at);
            }
        }
    }

    pub fn status(&self, catalog: &SensorCatalog, now: i64) -> Vec<SensorStatus> {
        let mut lines = Vec::with_capacity(self.windows.len());
        for (index, window) in self.windows.iter().enumerate() {
            let (Some(sensor), Ok(window)) = (catalog.sensor_at(index), window.lock()) else { continue };
            lines.push(SensorStatus {
                sensor_id: sensor.id.to_string(),
                sensor_type: sensor.type_name.to_string(),
                last_seen: window.last_seen.map(srs_common::time::from_ns),
                samples_last_minute: window.received_within(now, WINDOW_SECS as i64),
                rate_hz: window.received_within(now, RATE_SECS) as f64 / RATE_SECS as f64,
                clock_offset_ms: window.median_offset_ms(),
            });
        }
        lines
    }

    /// Folds in another replica's activity event (received at `at`); never republished.
    pub fn fold(&self, catalog: &SensorCatalog, activity: &SensorActivity, at: i64) {
        let Some(sensor) = catalog.sensor(&activity.sensor_id) else { return };
        if let Some(Ok(mut window)) = self.windows.get(sensor.index).map(Mutex::lock) {
            window.fold(activity.samples, activity.last_ts, at);
        }
    }

    /// One activity summary per sensor that posted since the last call.
    fn take_activity(&self, catalog: &SensorCatalog, elapsed: Duration, replica: &str) -> Vec<SensorActivity> {
        let secs = elapsed.as_secs_f64().max(0.001);
        let mut activity = Vec::new();
        for (index, window) in self.windows.iter().enumerate() {
            let (Some(sensor), Ok(mut window)) = (catalog.sensor_at(index), window.lock()) else { continue };
            if window.unpublished > 0 {
                let samples = std::mem::take(&mut window.unpublished);
                activity.push(SensorActivity {
                    sensor_id: sensor.id.to_string(),
                    samples,
                    last_ts: window.last_ts,
                    rate_hz: samples as f64 / secs,
                    replica: Some(replica.to_owned()),
                });
            }
        }
        activity
    }
}

/// Publishes the activity summaries about once a second until the background set stops, and
/// folds in those of the other replicas.
pub fn publish_every_second(context: AppContext, windows: Arc<SensorWindows>, background: &Background) {
    let stop = background.token.clone();
    let replica = srs_common::model::new_id();
    fold_others(context.clone(), windows.clone(), replica.clone(), background);
    background.spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = Instant::now();
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let activity = windows.take_activity(&context.sensors, last.elapsed(), &replica);
            last = Instant::now();
            if activity.is_empty() {
                continue;
            }
            let events: Vec<_> = activity.iter().map(|a| srs_common::events::event(SENSOR_ACTIVITY, a)).collect();
            // The live view is best effort: a lost second of activity is replaced by the next.
            if let Err(error) = context.bus.publish(&events).await {
                tracing::debug!(%error, "activity not published");
            }
        }
    });
}

/// The other replicas' activity events, folded into this replica's windows.
fn fold_others(context: AppContext, windows: Arc<SensorWindows>, replica: String, background: &Background) {
    let stop = background.token.clone();
    background.spawn(async move {
        let mut events = match context.bus.subscribe(&[SENSOR_ACTIVITY]).await {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(%error, "cannot follow the other replicas' activity: status counts this replica only");
                return;
            }
        };
        loop {
            let event = tokio::select! {
                () = stop.cancelled() => return,
                event = events.recv() => match event { Some(event) => event, None => return },
            };
            match serde_json::from_value::<SensorActivity>(event.payload) {
                Ok(activity) if activity.replica.as_deref() != Some(replica.as_str()) => {
                    windows.fold(&context.sensors, &activity, srs_common::time::now_ns());
                }
                _ => {}
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rates_and_clock_offsets() {
        let catalog = SensorCatalog::load(std::path::Path::new("")).expect("catalog");
        let windows = SensorWindows::new(catalog.len());
        let now = 1_800_000_000 * SECOND_NS;
        for i in 0..50 {
            // 5 samples per second over 10 s, each received 20 ms after its ts.
            let received = now - (i / 5) * SECOND_NS;
            windows.record([(1, received - 20_000_000)], received);
        }
        let status = windows.status(&catalog, now);
        assert_eq!(status[1].samples_last_minute, 50);
        assert!((status[1].rate_hz - 5.0).abs() < 1e-9, "{}", status[1].rate_hz);
        assert_eq!(status[1].clock_offset_ms, Some(20.0));
        assert_eq!((status[0].samples_last_minute, status[0].last_seen), (0, None));
        assert!(windows.status(&catalog, now + 120 * SECOND_NS)[1].samples_last_minute == 0, "a minute later it is quiet");
        let activity = windows.take_activity(&catalog, Duration::from_secs(1), "here");
        assert_eq!((activity.len(), activity[0].samples, activity[0].replica.as_deref()), (1, 50, Some("here")));
        assert!(windows.take_activity(&catalog, Duration::from_secs(1), "here").is_empty());
        // Another replica's second adds to the count, and is not published again from here.
        let sensor = catalog.sensor_at(1).expect("sensor").id.to_string();
        let theirs = SensorActivity { sensor_id: sensor, samples: 30, last_ts: now, rate_hz: 30.0, replica: Some("there".into()) };
        windows.fold(&catalog, &theirs, now);
        assert_eq!(windows.status(&catalog, now)[1].samples_last_minute, 80);
        assert!(windows.take_activity(&catalog, Duration::from_secs(1), "here").is_empty());
    }
}
