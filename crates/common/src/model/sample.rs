use super::{RecordingStamp, SampleValues};
use std::sync::Arc;

/// A validated sample on its way into the store.
///
/// `values` is the sample's JSON object exactly as validated, so the hot path never re-encodes it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSample {
    pub sensor_id: Arc<str>,
    pub sensor_type: Arc<str>,
    /// Nanoseconds since the Unix epoch.
    pub ts: i64,
    pub received_at: i64,
    /// The client's idempotency key, if it sent one.
    pub sample_id: Option<String>,
    pub values: String,
    /// The recording it belongs to. `None`: the one running when the store commits it, if the
    /// sensor is enabled in its experiment's config — decided inside the insert's transaction,
    /// so a sample posted right after a start's 201 (or a stop's 200) lands on the right side
    /// of that edge. `Some`: exactly that recording (import, which restores attribution).
    pub stamp: Option<Arc<RecordingStamp>>,
}

/// A sample read back from the store. The texts that many rows share (sensor, recording,
/// participant, task) are shared, not copied per row: an export reads millions of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSample {
    pub sensor_id: Arc<str>,
    pub sensor_type: Arc<str>,
    pub ts: i64,
    pub received_at: i64,
    pub sample_id: Option<String>,
    pub values: SampleValues,
    pub recording_id: Arc<str>,
    pub participant_id: Arc<str>,
    pub task_id: Option<Arc<str>>,
}

/// Which samples of one experiment to read. Empty lists mean "all"; times are nanoseconds,
/// `from` inclusive and `to` exclusive.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SampleQuery {
    pub experiment_id: String,
    pub participant_ids: Vec<String>,
    pub sensor_types: Vec<String>,
    pub from_ns: Option<i64>,
    pub to_ns: Option<i64>,
}

/// How many samples one participant has for one sensor type on one UTC date.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SampleStat {
    pub participant_id: String,
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    pub sensor_type: String,
    pub count: u64,
}
