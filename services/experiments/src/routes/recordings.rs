//! Recordings: one participant's session on the active experiment. At most one runs at a time
//! — the store enforces it, so two operators pressing start together get one 201 and one 409.

use crate::access::{self, Need};
use crate::events::publish;
use crate::views::RecordingView;
use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;
use srs_common::auth::Caller;
use srs_common::error::Problem;
use srs_common::events::{enabled_sensors, RecordingStarted, RecordingStopped, RECORDING_STARTED, RECORDING_STOPPED};
use srs_common::http::validate::unknown_id;
use srs_common::http::JsonBody;
use srs_common::model::{new_id, Recording};
use srs_common::store::{StoreError, NOT_ACTIVE};
use srs_common::ErrorCode;
use srs_common::{ApiError, AppContext};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRecording {
    pub experiment_id: String,
    pub participant_id: String,
    pub task_id: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordingFilter {
    pub experiment_id: String,
}

/// The recording, if its experiment is visible to the caller.
async fn recording_or_404(context: &AppContext, caller: &Caller, id: &str) -> Result<Recording, ApiError> {
    let missing = || ApiError::not_found(format!("no recording {id}"));
    let recording = context.store.get_recording(id).await?.ok_or_else(missing)?;
    access::experiment(context, caller, &recording.experiment_id, Need::Run).await.map_err(|_| missing())?;
    Ok(recording)
}

/// Start recording a participant (optionally on a task) on the active experiment.
#[utoipa::path(post, path = "/api/v1/recordings", tag = "recordings", security(("bearer" = [])), request_body = NewRecording, responses(
    (status = 201, body = RecordingView),
    (status = 404, description = "no such experiment", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "the experiment is not active, or a recording runs", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "unknown participant or task", body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/v1/recordings")]
pub async fn start(context: web::Data<AppContext>, caller: Caller, body: JsonBody<NewRecording>) -> Result<HttpResponse, ApiError> {
    let new = body.into_inner();
    let experiment = access::experiment(&context, &caller, &new.experiment_id, Need::Run).await?;
    let participant =
        experiment.participant(&new.participant_id).ok_or_else(|| unknown_id("participant_id", "participant in this experiment"))?;
    let task = match &new.task_id {
        Some(task_id) => Some(experiment.task(task_id).ok_or_else(|| unknown_id("task_id", "task in this experiment"))?),
        None => None,
    };
    let recording = Recording {
        id: new_id(),
        experiment_id: experiment.id.clone(),
        participant_id: participant.id.clone(),
        task_id: task.map(|t| t.id.clone()),
        started_at: srs_common::time::now(),
        stopped_at: None,
    };
    // The store checks that the experiment is active and nothing records, in one step.
    match context.store.start_recording(&recording).await {
        Err(StoreError::Conflict(detail)) if detail == NOT_ACTIVE => {
            return Err(ApiError::new(ErrorCode::ExperimentNotActive, "activate the experiment before recording"))
        }
        Err(StoreError::Conflict(_)) => return Err(ApiError::new(ErrorCode::RecordingRunning, "a recording is already running")),
        other => other?,
    }
    let config = context.store.get_sensor_config(&experiment.sensor_config_id).await?;
    let started = RecordingStarted {
        recording_id: recording.id.clone(),
        experiment_id: experiment.id.clone(),
        participant_id: participant.id.clone(),
        participant_code: participant.code.clone(),
        task_id: task.map(|t| t.id.clone()),
        task_name: task.map(|t| t.name.clone()),
        started_at: recording.started_at,
        enabled_sensors: config.map(|c| enabled_sensors(&c.sensors)).unwrap_or_default(),
    };
    publish(&context, RECORDING_STARTED, &started).await;
    tracing::info!(recording.id = %recording.id, experiment.id = %experiment.id, by = %caller.id, "recording started");
    Ok(HttpResponse::Created().json(RecordingView::new(recording, 0)))
}

/// Stop a running recording.
#[utoipa::path(post, path = "/api/v1/recordings/{id}/stop", tag = "recordings", security(("bearer" = [])), responses(
    (status = 200, body = RecordingView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "already stopped", body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/v1/recordings/{id}/stop")]
pub async fn stop(context: web::Data<AppContext>, caller: Caller, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let recording = recording_or_404(&context, &caller, &id).await?;
    let stopped = match context.store.stop_recording(&recording.id, srs_common::time::now()).await {
        Err(StoreError::Conflict(_)) => return Err(ApiError::new(ErrorCode::AlreadyStopped, "the recording has already stopped")),
        other => other?,
    };
    let sample_count = context.store.count_recording_samples(&stopped.id).await?;
    let event = RecordingStopped {
        recording_id: stopped.id.clone(),
        experiment_id: stopped.experiment_id.clone(),
        participant_id: stopped.participant_id.clone(),
        task_id: stopped.task_id.clone(),
        started_at: stopped.started_at,
        stopped_at: stopped.stopped_at.unwrap_or_else(srs_common::time::now),
        sample_count,
    };
    publish(&context, RECORDING_STOPPED, &event).await;
    tracing::info!(recording.id = %stopped.id, sample_count, by = %caller.id, "recording stopped");
    Ok(HttpResponse::Ok().json(RecordingView::new(stopped, sample_count)))
}

/// An experiment's recordings with their sample counts, oldest first.
#[utoipa::path(get, path = "/api/v1/recordings", tag = "recordings", security(("bearer" = [])), params(RecordingFilter), responses(
    (status = 200, body = Vec<RecordingView>),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/v1/recordings")]
pub async fn list(context: web::Data<AppContext>, caller: Caller, filter: web::Query<RecordingFilter>) -> Result<HttpResponse, ApiError> {
    let experiment = access::experiment(&context, &caller, &filter.experiment_id, Need::Run).await?;
    let mut views = Vec::new();
    for recording in context.store.list_recordings(&experiment.id).await? {
        let count = context.store.count_recording_samples(&recording.id).await?;
        views.push(RecordingView::new(recording, count));
    }
    Ok(HttpResponse::Ok().json(views))
}
