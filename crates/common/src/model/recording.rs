use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One session of one participant (optionally on one task). At most one runs at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recording {
    pub id: String,
    pub experiment_id: String,
    pub participant_id: String,
    pub task_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
}

impl Recording {
    pub fn stamp(&self) -> RecordingStamp {
        RecordingStamp {
            recording_id: self.id.clone(),
            experiment_id: self.experiment_id.clone(),
            participant_id: self.participant_id.clone(),
            task_id: self.task_id.clone(),
        }
    }
}

/// What every stored sample is attributed to: the recording that ran when it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordingStamp {
    pub recording_id: String,
    pub experiment_id: String,
    pub participant_id: String,
    pub task_id: Option<String>,
}

/// A logbook line written by an operator during an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogEntry {
    pub id: String,
    pub experiment_id: String,
    pub at: DateTime<Utc>,
    pub author: String,
    pub message: String,
    pub recording_id: Option<String>,
}
