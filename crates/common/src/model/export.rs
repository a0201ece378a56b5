use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportStatus {
    Queued,
    Running,
    Done,
    Failed,
}

/// What an export selects; empty lists mean everything, dates are `YYYY-MM-DD` inclusive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExportFilter {
    pub participant_ids: Vec<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub sensor_types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExportFile {
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

impl ExportStatus {
    /// Done or failed: nothing will change it again.
    pub fn is_finished(self) -> bool {
        matches!(self, ExportStatus::Done | ExportStatus::Failed)
    }
}

/// An export job and, once done, the files it wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportRecord {
    pub id: String,
    pub experiment_id: String,
    pub filter: ExportFilter,
    pub status: ExportStatus,
    pub rows_written: u64,
    pub rows_total: u64,
    pub error: Option<String>,
    pub files: Vec<ExportFile>,
    /// How many times a worker has started this job (a crash mid-job counts too).
    #[serde(default)]
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Once done: how many samples it wrote per participant, UTC date and sensor type. The
    /// guarded delete compares these with the store's counts: samples are only ever added
    /// (until a delete), so an equal count means every sample of that group is exported.
    #[serde(default)]
    pub covered: Vec<super::SampleStat>,
    /// The worker attempt running the job now (see `Store::claim_export`).
    #[serde(default)]
    pub owner: Option<String>,
    /// Until when (ns since the epoch) `owner` holds the job; renewed while it runs, so a
    /// job whose worker died can be claimed again once this passes.
    #[serde(default)]
    pub lease_until_ns: Option<i64>,
}

/// A worker's request to run an export job (see `Store::claim_export`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    pub export_id: String,
    /// Unique per attempt.
    pub owner: String,
    pub now_ns: i64,
    pub lease_until_ns: i64,
}

/// The store's answer to a [`ClaimRequest`].
#[derive(Debug, Clone, PartialEq)]
pub enum ExportClaim {
    /// The caller runs the job now; the record as claimed (status running, attempt counted).
    Claimed(ExportRecord),
    /// Another worker runs it under a lease that has not expired.
    Busy,
    /// Done or failed already.
    Finished(ExportRecord),
}

impl ExportRecord {
    /// A new job for `experiment_id`, queued now.
    pub fn queued(experiment_id: &str, filter: ExportFilter) -> Self {
        Self {
            id: super::new_id(),
            experiment_id: experiment_id.to_owned(),
            filter,
            status: ExportStatus::Queued,
            rows_written: 0,
            rows_total: 0,
            error: None,
            files: Vec::new(),
            attempts: 0,
            created_at: crate::time::now(),
            finished_at: None,
            covered: Vec::new(),
            owner: None,
            lease_until_ns: None,
        }
    }
}
