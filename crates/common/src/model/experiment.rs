use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An experiment with its tasks, operators and participants kept together, so that one
/// atomic update covers checks such as "participant codes are unique in the experiment".
/// Whether it is the active experiment is kept by the store, not in this document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    pub id: String,
    pub name: String,
    pub description: String,
    pub owner_id: String,
    pub sensor_config_id: String,
    pub tasks: Vec<Task>,
    /// User ids of the assigned operators.
    pub operators: Vec<String>,
    pub participants: Vec<Participant>,
    pub created_at: DateTime<Utc>,
    /// Bumped by every update; the store uses it for optimistic concurrency.
    pub version: u64,
    /// When its samples were last deleted: exports made before cover nothing recorded since.
    #[serde(default)]
    pub samples_deleted_at: Option<DateTime<Utc>>,
}

impl Experiment {
    pub fn participant(&self, id: &str) -> Option<&Participant> {
        self.participants.iter().find(|p| p.id == id)
    }
    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Task {
    pub id: String,
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Participant {
    pub id: String,
    pub code: String,
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProgressStatus {
    Pending,
    InProgress,
    Done,
    Skipped,
}

/// How far one participant is with one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    pub experiment_id: String,
    pub participant_id: String,
    pub task_id: String,
    pub status: ProgressStatus,
    pub note: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}
