//! Live values from this ingest replica: the samples of the sensors that some operator watches,
//! decimated on the fixed 500-points-per-second grid (`srs_common::live_values`) and published
//! about 5 times a second on the transient stream. Which sensors are watched, control replicas
//! say every second; a sensor nobody watches costs one atomic load per sample, so the live view
//! costs ingest nothing until someone looks.

use crate::check::Checked;
use srs_common::live_values::{
    sample_bucket, Buckets, Interest, SensorValues, ValuesBatch, INGEST_BUCKET_NS, INTEREST_TTL_MS, LIVE_INTEREST, LIVE_VALUES,
};
use srs_common::sensors::SensorCatalog;
use srs_common::shutdown::Background;
use srs_common::AppContext;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often buckets go out.
const PUBLISH_EVERY: Duration = Duration::from_millis(200);
/// Buckets kept per sensor between two publications (10 s of the grid): a device that posts a
/// backlog shows its latest 10 s, and the batch stays bounded.
const MAX_BUCKETS: usize = 2_500;

struct Pending {
    buckets: Buckets,
    watermark: i64,
}

pub struct LiveValues {
    /// By sensor index: whether some control replica watches it.
    watched: Vec<AtomicBool>,
    pending: Vec<Mutex<Pending>>,
    /// Per control replica: the sensors it watches and when it said so.
    interest: Mutex<HashMap<String, (Vec<String>, Instant)>>,
}

impl LiveValues {
    pub fn new(sensors: usize) -> Self {
        Self {
            watched: (0..sensors).map(|_| AtomicBool::new(false)).collect(),
            pending: (0..sensors).map(|_| Mutex::new(Pending { buckets: Buckets::new(INGEST_BUCKET_NS), watermark: i64::MIN })).collect(),
            interest: Mutex::default(),
        }
    }

    /// Adds the watched sensors' samples to their buckets (stored or not: the view shows both),
    /// taking each sensor's lock once per run of its samples rather than once per sample.
    pub fn record(&self, samples: &[Checked<'_>]) {
        let mut current: Option<(usize, std::sync::MutexGuard<'_, Pending>)> = None;
        for sample in samples {
            let index = sample.sensor.index;
            if !self.watched.get(index).is_some_and(|w| w.load(Ordering::Relaxed)) {
                continue;
            }
            if current.as_ref().is_none_or(|(locked, _)| *locked != index) {
                current = None;
                let Some(Ok(pending)) = self.pending.get(index).map(Mutex::lock) else { continue };
                current = Some((index, pending));
            }
            if let Some((_, pending)) = current.as_mut() {
                pending.buckets.add(sample.ts, &sample_bucket(sample.sensor.sensor_type, sample.ts, sample.values));
                pending.watermark = pending.watermark.max(sample.ts);
            }
        }
    }

    /// Every watched sensor's buckets since the last call.
    fn take(&self, catalog: &SensorCatalog) -> Vec<SensorValues> {
        let mut sensors = Vec::new();
        for (index, pending) in self.pending.iter().enumerate() {
            let (Some(sensor), Ok(mut pending)) = (catalog.sensor_at(index), pending.lock()) else { continue };
            if pending.buckets.is_empty() {
                continue;
            }
            pending.buckets.keep_latest(MAX_BUCKETS);
            sensors.push(SensorValues {
                sensor_id: sensor.id.to_string(),
                watermark: pending.watermark,
                buckets: pending.buckets.take_all(),
            });
        }
        sensors
    }

    /// Takes a control replica's interest and recomputes which sensors are watched.
    fn note_interest(&self, catalog: &SensorCatalog, interest: Option<Interest>) {
        let Ok(mut replicas) = self.interest.lock() else { return };
        if let Some(interest) = interest {
            replicas.insert(interest.replica, (interest.sensors, Instant::now()));
        }
        replicas.retain(|_, (_, at)| at.elapsed() < Duration::from_millis(INTEREST_TTL_MS));
        let mut watched = vec![false; self.watched.len()];
        for id in replicas.values().flat_map(|(sensors, _)| sensors) {
            if let Some(sensor) = catalog.sensor(id) {
                watched[sensor.index] = true;
            }
        }
        for (flag, now) in self.watched.iter().zip(watched) {
            flag.store(now, Ordering::Relaxed);
        }
    }
}

/// Follows the control replicas' interest and publishes the watched sensors' buckets.
pub fn start(context: AppContext, live: Arc<LiveValues>, background: &Background) {
    let stop = background.token.clone();
    background.spawn(async move {
        let mut interest = match context.bus.subscribe_live(&[LIVE_INTEREST]).await {
            Ok(interest) => interest,
            Err(error) => {
                tracing::warn!(%error, "cannot follow who watches live values: none are published");
                return;
            }
        };
        let mut ticks = tokio::time::interval(PUBLISH_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                event = interest.recv() => match event {
                    Some(event) => live.note_interest(&context.sensors, serde_json::from_value(event.payload).ok()),
                    None => return,
                },
                _ = ticks.tick() => {
                    live.note_interest(&context.sensors, None);
                    let sensors = live.take(&context.sensors);
                    if sensors.is_empty() {
                        continue;
                    }
                    let batch = ValuesBatch { at: srs_common::time::now_ns(), sensors };
                    if let Err(error) = context.bus.publish_live(&[srs_common::events::event(LIVE_VALUES, &batch)]).await {
                        tracing::debug!(%error, "live values not published");
                    }
                }
            }
        }
    });
}
