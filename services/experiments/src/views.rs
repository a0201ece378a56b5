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

/// A recording with how many samples it holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingView {
    #[serde(flatten)]
    pub recording: Recording,
    /// Samples stored for this recording so far.
    pub sample_count: u64,
}

impl RecordingView {
    pub fn new(recording: Recording, sample_count: u64) -> Self {
        Self { recording, sample_count }
    }
}
