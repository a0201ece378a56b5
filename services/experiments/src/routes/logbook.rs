//! The logbook: what happened during an experiment, in the operators' words.

use crate::access::{self, Need};
use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;
use srs_common::auth::Caller;
use srs_common::error::Problem;
use srs_common::http::validate::unknown_id;
use srs_common::http::{Check, JsonBody};
use srs_common::model::{new_id, LogEntry};
use srs_common::{ApiError, AppContext};
use utoipa::ToSchema;

const MAX_MESSAGE_CHARS: usize = 10_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLogEntry {
    #[schema(min_length = 1, max_length = 10000, pattern = "[^\\s\\x00-\\x1f\\x7f-\\x9f]")]
    pub message: String,
    /// A recording of this experiment the entry is about.
    pub recording_id: Option<String>,
}

/// Write a logbook entry; the author is the caller.
#[utoipa::path(post, path = "/api/v1/experiments/{id}/logbook", tag = "logbook", security(("bearer" = [])), request_body = NewLogEntry, responses(
    (status = 201, body = LogEntry),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/v1/experiments/{id}/logbook")]
pub async fn append(
    context: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<NewLogEntry>,
) -> Result<HttpResponse, ApiError> {
    let new = body.into_inner();
    Check::new().text("message", &new.message, MAX_MESSAGE_CHARS).finish()?;
    let experiment = access::experiment(&context, &caller, &id, Need::Run).await?;
    if let Some(recording_id) = &new.recording_id {
        let recording = context.store.get_recording(recording_id).await?;
        if recording.is_none_or(|r| r.experiment_id != experiment.id) {
            return Err(unknown_id("recording_id", "recording in this experiment"));
        }
    }
    let entry = LogEntry {
        id: new_id(),
        experiment_id: experiment.id,
        at: srs_common::time::now(),
        author: caller.username,
        message: new.message,
        recording_id: new.recording_id,
    };
    context.store.append_log(&entry).await?;
    Ok(HttpResponse::Created().json(entry))
}

/// The logbook, oldest first.
#[utoipa::path(get, path = "/api/v1/experiments/{id}/logbook", tag = "logbook", security(("bearer" = [])), responses(
    (status = 200, body = Vec<LogEntry>),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/v1/experiments/{id}/logbook")]
pub async fn list(context: web::Data<AppContext>, caller: Caller, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let experiment = access::experiment(&context, &caller, &id, Need::Run).await?;
    Ok(HttpResponse::Ok().json(context.store.list_log(&experiment.id).await?))
}
