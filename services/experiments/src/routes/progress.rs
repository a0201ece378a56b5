//! Participant progress: where each participant is with each task.

use crate::access::{self, Need};
use actix_web::{get, put, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use srs_common::auth::Caller;
use srs_common::error::Problem;
use srs_common::http::{Check, JsonBody};
use srs_common::model::{Progress, ProgressStatus};
use srs_common::{ApiError, AppContext};
use utoipa::ToSchema;

const MAX_NOTE_CHARS: usize = 10_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressChange {
    pub status: ProgressStatus,
    #[schema(max_length = 10000)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipantProgress {
    pub participant_id: String,
    pub participant_code: String,
    /// One entry per task of the experiment, in task order.
    pub tasks: Vec<TaskProgress>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskProgress {
    pub task_id: String,
    pub task_name: String,
    /// `pending` until someone records otherwise.
    pub status: ProgressStatus,
    pub note: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<String>,
}

/// Record a participant's status on a task.
#[utoipa::path(put, path = "/api/v1/experiments/{id}/participants/{participant_id}/progress/{task_id}", tag = "progress",
    security(("bearer" = [])), request_body = ProgressChange, responses(
    (status = 200, body = Progress),
    (status = 404, description = "no such experiment, participant or task", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[put("/api/v1/experiments/{id}/participants/{participant_id}/progress/{task_id}")]
pub async fn put(
    context: web::Data<AppContext>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
    body: JsonBody<ProgressChange>,
) -> Result<HttpResponse, ApiError> {
    let (id, participant_id, task_id) = path.into_inner();
    let change = body.into_inner();
    Check::new().max_len("note", change.note.as_deref().unwrap_or_default(), MAX_NOTE_CHARS).finish()?;
    let experiment = access::experiment(&context, &caller, &id, Need::Run).await?;
    if experiment.participant(&participant_id).is_none() {
        return Err(ApiError::not_found(format!("no participant {participant_id} in this experiment")));
    }
    if experiment.task(&task_id).is_none() {
        return Err(ApiError::not_found(format!("no task {task_id} in this experiment")));
    }
    let progress = Progress {
        experiment_id: experiment.id,
        participant_id,
        task_id,
        status: change.status,
        note: change.note.filter(|n| !n.is_empty()),
        updated_at: srs_common::time::now(),
        updated_by: caller.username,
    };
    context.store.put_progress(&progress).await?;
    Ok(HttpResponse::Ok().json(progress))
}

/// Every participant's status on every task.
#[utoipa::path(get, path = "/api/v1/experiments/{id}/progress", tag = "progress", security(("bearer" = [])), responses(
    (status = 200, body = Vec<ParticipantProgress>),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/v1/experiments/{id}/progress")]
pub async fn list(context: web::Data<AppContext>, caller: Caller, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let experiment = access::experiment(&context, &caller, &id, Need::Run).await?;
    let recorded = context.store.list_progress(&experiment.id).await?;
    let table: Vec<ParticipantProgress> = experiment
        .participants
        .iter()
        .map(|participant| ParticipantProgress {
            participant_id: participant.id.clone(),
            participant_code: participant.code.clone(),
            tasks: experiment
                .tasks
                .iter()
                .map(|task| {
                    let found = recorded.iter().find(|p| p.participant_id == participant.id && p.task_id == task.id);
                    TaskProgress {
                        task_id: task.id.clone(),
                        task_name: task.name.clone(),
                        status: found.map_or(ProgressStatus::Pending, |p| p.status),
                        note: found.and_then(|p| p.note.clone()),
                        updated_at: found.map(|p| p.updated_at),
                        updated_by: found.map(|p| p.updated_by.clone()),
                    }
                })
                .collect(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(table))
}
