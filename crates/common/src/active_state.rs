//! What is active and recording now: the body of `GET /api/v1/experiments/active`, which the
//! experiments service answers and control's public status socket pushes on every change.

use crate::store::{DynStore, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ActiveState {
    pub experiment: Option<ActiveExperiment>,
    pub recording: Option<ActiveRecording>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ActiveExperiment {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ActiveRecording {
    pub id: String,
    pub participant_code: String,
    pub task_name: Option<String>,
    pub started_at: DateTime<Utc>,
}

/// Reads the active experiment and its running recording from the store.
pub async fn read(store: &DynStore) -> Result<ActiveState, StoreError> {
    let experiment = match store.active_experiment_id().await? {
        Some(id) => store.get_experiment(&id).await?,
        None => None,
    };
    let recording = store.running_recording().await?;
    let running = match (&experiment, recording) {
        (Some(experiment), Some(recording)) if recording.experiment_id == experiment.id => Some(ActiveRecording {
            participant_code: experiment.participant(&recording.participant_id).map(|p| p.code.clone()).unwrap_or_default(),
            task_name: recording.task_id.as_deref().and_then(|t| experiment.task(t)).map(|t| t.name.clone()),
            id: recording.id,
            started_at: recording.started_at,
        }),
        _ => None,
    };
    let experiment = experiment.map(|e| ActiveExperiment { id: e.id, name: e.name });
    Ok(ActiveState { experiment, recording: running })
}
