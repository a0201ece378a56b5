//! What the API answers with. Users never carry a password hash; experiments carry `active`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use srs_common::model::{Experiment, Participant, Recording, Role, Task, User};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self { id: user.id, username: user.username, role: user.role, email: user.email, created_at: user.created_at }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExperimentView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub owner_id: String,
    pub sensor_config_id: String,
    /// Whether this is the one active experiment.
    pub active: bool,
    pub tasks: Vec<Task>,
    /// User ids of the assigned operators.
    pub operators: Vec<String>,
    pub participants: Vec<Participant>,
    pub created_at: DateTime<Utc>,
}

impl ExperimentView {
    pub fn new(experiment: Experiment, active_id: Option<&str>) -> Self {
        Self {
            active: active_id == Some(experiment.id.as_str()),
            id: experiment.id,
            name: experiment.name,
            description: experiment.description,
            owner_id: experiment.owner_id,
            sensor_config_id: experiment.sensor_config_id,
            tasks: experiment.tasks,
            operators: experiment.operators,
            participants: experiment.participants,
            created_at: experiment.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingView {
    pub id: String,
    pub experiment_id: String,
    pub participant_id: String,
    pub task_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    /// Samples stored for this recording so far.
    pub sample_count: u64,
}

impl RecordingView {
    pub fn new(recording: Recording, sample_count: u64) -> Self {
        Self {
            id: recording.id,
            experiment_id: recording.experiment_id,
            participant_id: recording.participant_id,
            task_id: recording.task_id,
            started_at: recording.started_at,
            stopped_at: recording.stopped_at,
            sample_count,
        }
    }
}
