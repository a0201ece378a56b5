//! Live values: the decimation ingest and control share (API.md "Live values"). Time is cut into
//! buckets on a fixed grid aligned to the Unix epoch; each bucket keeps, per field of the sensor
//! type, the minimum and maximum of its numbers (booleans as 0/1) or the last of its strings.
//! Ingest keeps buckets of [`INGEST_BUCKET_NS`] (500 points per second); a client's buckets of
//! `2 / max_hz` s are unions of whole ingest buckets because `max_hz` divides 500, so merging
//! ingest's buckets gives exactly the decimation of the raw samples.
//!
//! On the bus: ingest publishes a [`ValuesBatch`] as [`LIVE_VALUES`] about 5 times a second with
//! the buckets of the sensors some control replica watches; each control replica says which
//! those are with an [`Interest`] as [`LIVE_INTEREST`] every second and on change. Both travel
//! on the transient stream: they are for eyes, never for the record.

use crate::sensors::{FieldType, SensorType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Published by ingest: a [`ValuesBatch`].
pub const LIVE_VALUES: &str = "live.values";
/// Published by control: an [`Interest`].
pub const LIVE_INTEREST: &str = "live.interest";

/// The most points per second a client may ask for, and ingest's grid.
pub const MAX_HZ: u32 = 500;
/// A client's points per second when it does not say.
pub const DEFAULT_HZ: u32 = 50;
/// Ingest's bucket width: two points per bucket at [`MAX_HZ`].
pub const INGEST_BUCKET_NS: i64 = bucket_ns(MAX_HZ);
/// How long a control replica's interest lasts without being renewed.
pub const INTEREST_TTL_MS: u64 = 3_000;

/// The width of the buckets that give `max_hz` points per second (two per bucket).
pub const fn bucket_ns(max_hz: u32) -> i64 {
    2_000_000_000 / max_hz as i64
}

/// `requested` points per second rounded down to a divisor of 500, between 1 and 500.
pub fn round_max_hz(requested: f64) -> u32 {
    const DIVISORS: [u32; 12] = [500, 250, 125, 100, 50, 25, 20, 10, 5, 4, 2, 1];
    DIVISORS.into_iter().find(|d| f64::from(*d) <= requested).unwrap_or(1)
}

/// The start of the bucket of width `width_ns` holding `ts`.
pub fn bucket_start(ts: i64, width_ns: i64) -> i64 {
    ts - ts.rem_euclid(width_ns)
}

/// One field's values in a bucket: `[min, max]` of numbers, or `[ts, text]` of the string
/// with the latest `ts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Range {
    Number(f64, f64),
    Text(i64, String),
}

impl Range {
    /// Widens `self` by `other` (for strings: the later one wins; on a tie, `other`).
    fn merge(&mut self, other: &Range) {
        match (self, other) {
            (Range::Number(min, max), Range::Number(other_min, other_max)) => {
                *min = min.min(*other_min);
                *max = max.max(*other_max);
            }
            (this @ Range::Text(..), Range::Text(ts, text)) => {
                if matches!(this, Range::Text(mine, _) if *ts >= *mine) {
                    *this = Range::Text(*ts, text.clone());
                }
            }
            // A sensors file changed a field's type between two replicas: keep the newer.
            (this, other) => *this = other.clone(),
        }
    }
}

/// A bucket: one entry per field of the sensor type, in the type's order (`None`: no value).
pub type Bucket = Vec<Option<Range>>;

fn merge_bucket(into: &mut Bucket, from: &[Option<Range>]) {
    if into.len() < from.len() {
        into.resize(from.len(), None);
    }
    for (slot, value) in into.iter_mut().zip(from) {
        match (slot.as_mut(), value) {
            (Some(existing), Some(value)) => existing.merge(value),
            (None, Some(value)) => *slot = Some(value.clone()),
            (_, None) => {}
        }
    }
}

/// Buckets of one width, keyed by their start.
#[derive(Debug, Clone)]
pub struct Buckets {
    width_ns: i64,
    by_start: BTreeMap<i64, Bucket>,
}

impl Buckets {
    pub fn new(width_ns: i64) -> Self {
        Self { width_ns, by_start: BTreeMap::new() }
    }

    pub fn width_ns(&self) -> i64 {
        self.width_ns
    }

    pub fn is_empty(&self) -> bool {
        self.by_start.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_start.len()
    }

    /// Merges `bucket` (a sample's values, or a finer bucket starting at `at`) into the bucket
    /// holding `at`.
    pub fn add(&mut self, at: i64, bucket: &[Option<Range>]) {
        let start = bucket_start(at, self.width_ns);
        merge_bucket(self.by_start.entry(start).or_default(), bucket);
    }

    /// Takes every bucket that ends at or before `until`, in time order.
    pub fn take_until(&mut self, until: i64) -> Vec<(i64, Bucket)> {
        let first_open = bucket_start(until, self.width_ns);
        let open = self.by_start.split_off(&first_open);
        std::mem::replace(&mut self.by_start, open).into_iter().collect()
    }

    /// Takes every bucket, in time order.
    pub fn take_all(&mut self) -> Vec<(i64, Bucket)> {
        std::mem::take(&mut self.by_start).into_iter().collect()
    }

    /// Drops the oldest buckets beyond `max`, so a burst of old samples stays bounded.
    pub fn keep_latest(&mut self, max: usize) {
        while self.by_start.len() > max {
            self.by_start.pop_first();
        }
    }
}

/// A sample's values object as a bucket of its own (numbers and booleans as `[v, v]`, strings
/// with the sample's `ts`). The values were checked against the type before.
pub fn sample_bucket(sensor_type: &SensorType, ts: i64, values: &str) -> Bucket {
    let mut bucket = vec![None; sensor_type.fields.len()];
    let Ok(object) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(values) else { return bucket };
    for (slot, field) in bucket.iter_mut().zip(&sensor_type.fields) {
        *slot = match (object.get(&field.name), field.field_type) {
            (Some(serde_json::Value::Bool(b)), _) => Some(Range::Number(f64::from(u8::from(*b)), f64::from(u8::from(*b)))),
            (Some(serde_json::Value::Number(n)), _) => n.as_f64().map(|v| Range::Number(v, v)),
            (Some(serde_json::Value::String(s)), FieldType::String) => Some(Range::Text(ts, s.clone())),
            _ => None,
        };
    }
    bucket
}

/// One sensor's part of a [`ValuesBatch`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorValues {
    pub sensor_id: String,
    /// The latest `ts` ingest has seen of the sensor: buckets ending at or before it are complete.
    pub watermark: i64,
    /// `(start, bucket)` on ingest's grid, in time order. A bucket may come again in a later
    /// batch with more samples; merging is exact either way.
    pub buckets: Vec<(i64, Bucket)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValuesBatch {
    /// When the ingest replica published it (ns since the epoch).
    pub at: i64,
    pub sensors: Vec<SensorValues>,
}

/// The sensors one control replica's clients watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interest {
    pub replica: String,
    pub sensors: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_hz_rounds_down_to_a_divisor_of_500() {
        let rounded: Vec<u32> = [0.0, 1.0, 3.0, 49.9, 50.0, 99.0, 120.0, 499.0, 500.0, 9e9].into_iter().map(round_max_hz).collect();
        assert_eq!(rounded, [1, 1, 2, 25, 50, 50, 100, 250, 500, 500]);
        assert_eq!((bucket_ns(500), bucket_ns(50), bucket_ns(1)), (4_000_000, 40_000_000, 2_000_000_000));
    }

    #[test]
    fn coarse_buckets_of_fine_buckets_equal_coarse_buckets_of_samples() {
        let points: Vec<(i64, f64)> = (0..1_000).map(|i| (1_700_000_000_000_000_000 + i * 1_234_567, ((i * 37) % 101) as f64)).collect();
        let (mut fine, mut direct) = (Buckets::new(INGEST_BUCKET_NS), Buckets::new(bucket_ns(50)));
        for (ts, v) in &points {
            fine.add(*ts, &[Some(Range::Number(*v, *v))]);
            direct.add(*ts, &[Some(Range::Number(*v, *v))]);
        }
        let mut merged = Buckets::new(bucket_ns(50));
        for (start, bucket) in fine.take_all() {
            merged.add(start, &bucket);
        }
        assert_eq!(merged.take_all(), direct.take_all());
    }

    #[test]
    fn strings_keep_the_latest_and_missing_fields_stay_empty() {
        let mut buckets = Buckets::new(bucket_ns(50));
        buckets.add(10, &[Some(Range::Text(10, "b".into())), None]);
        buckets.add(5, &[Some(Range::Text(5, "a".into())), None]);
        assert_eq!(buckets.take_all(), vec![(0, vec![Some(Range::Text(10, "b".into())), None])]);
    }

    #[test]
    fn only_ended_buckets_are_taken() {
        let mut buckets = Buckets::new(10);
        for at in [1, 12, 25] {
            buckets.add(at, &[Some(Range::Number(1.0, 1.0))]);
        }
        assert_eq!(buckets.take_until(20).iter().map(|(s, _)| *s).collect::<Vec<_>>(), [0, 10]);
        assert_eq!(buckets.take_until(29).len(), 0, "[20, 30) is still open at 29");
        assert_eq!(buckets.take_until(30).len(), 1);
    }

    #[test]
    fn the_wire_form_reads_back() {
        let batch = ValuesBatch {
            at: 1,
            sensors: vec![SensorValues {
                sensor_id: "s".into(),
                watermark: 9,
                buckets: vec![(0, vec![Some(Range::Number(-1.5, 2.0)), Some(Range::Text(3, "x".into())), None])],
            }],
        };
        let json = serde_json::to_string(&batch).expect("encodes");
        assert_eq!(serde_json::from_str::<ValuesBatch>(&json).expect("decodes"), batch);
    }
}
