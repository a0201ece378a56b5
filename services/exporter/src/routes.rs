//! The export endpoints: ask for an export (202 at once; a worker makes it), follow it, list
//! them, and download its files — streamed, with Content-Length and Range. A download names a
//! file the export's manifest lists, so no path can reach outside the export directory.

use crate::jobs::ExportJobs;
use crate::paths::{export_dir, inside};
use crate::ExportError;
use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use srs_common::access::{self, Need};
use srs_common::auth::Caller;
use srs_common::error::{FieldProblem, Problem};
use srs_common::http::JsonBody;
use srs_common::model::{ExportFile, ExportFilter, ExportRecord, ExportStatus};
use srs_common::ErrorCode;
use srs_common::{ApiError, AppContext};
use std::collections::HashMap;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExport {
    pub experiment_id: String,
    /// Only these participants (ids); all when absent or empty.
    pub participant_ids: Option<Vec<String>>,
    /// First day, `YYYY-MM-DD` (UTC, inclusive).
    #[schema(format = Date)]
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (UTC, inclusive).
    #[schema(format = Date)]
    pub to: Option<String>,
    /// Only these sensor types; all when absent or empty.
    pub sensor_types: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub id: String,
    pub status: ExportStatus,
}

#[derive(Debug, Serialize, ToSchema)]
/// Rows written so far of the rows the export will write.
pub struct ExportRowsProgress {
    pub rows_written: u64,
    pub rows_total: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportView {
    pub id: String,
    pub experiment_id: String,
    pub status: ExportStatus,
    pub progress: ExportRowsProgress,
    /// Why it failed (or why the last attempt failed, while it is retried).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Every file but `manifest.json` (which lists them, and can be downloaded too).
    pub files: Vec<ExportFile>,
    pub filter: ExportFilter,
    /// How many times a worker started it.
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<ExportRecord> for ExportView {
    fn from(record: ExportRecord) -> Self {
        Self {
            id: record.id,
            experiment_id: record.experiment_id,
            status: record.status,
            progress: ExportRowsProgress { rows_written: record.rows_written, rows_total: record.rows_total },
            error: record.error,
            files: record.files,
            filter: record.filter,
            attempts: record.attempts,
            created_at: record.created_at,
            finished_at: record.finished_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportListFilter {
    /// Only this experiment's exports.
    pub experiment_id: Option<String>,
}

/// Ask for an export of an experiment (all of it, or some participants, days or sensor types).
#[utoipa::path(post, path = "/api/v1/exports", tag = "exports", security(("bearer" = [])), request_body = NewExport, responses(
    (status = 202, description = "queued; follow it at the Location", body = Accepted),
    (status = 404, description = "no such experiment", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "a bad date, participant or sensor type", body = Problem, content_type = "application/problem+json"),
    (status = 503, description = "the job queue is unavailable", body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/v1/exports")]
pub async fn create(
    context: web::Data<AppContext>,
    jobs: web::Data<Arc<ExportJobs>>,
    caller: Caller,
    body: JsonBody<NewExport>,
) -> Result<HttpResponse, ApiError> {
    let new = body.into_inner();
    let experiment = access::experiment(&context, &caller, &new.experiment_id, Need::Run).await?;
    let filter = ExportFilter {
        participant_ids: new.participant_ids.unwrap_or_default(),
        from: new.from,
        to: new.to,
        sensor_types: new.sensor_types.unwrap_or_default(),
    };
    crate::export::check_filter(&experiment, &context.sensors, &filter).map_err(filter_problem)?;
    let mut record = ExportRecord::queued(&experiment.id, filter);
    context.store.insert_export(&record).await?;
    if let Err(error) = jobs.enqueue(&record).await {
        // Recorded but never queued: say so in the record rather than leave it queued forever.
        // The broker's own words (hosts, queues) stay in the log.
        tracing::warn!(%error, export.id = %record.id, "cannot queue an export job");
        record.status = ExportStatus::Failed;
        record.error = Some("could not be queued: the job queue is unavailable".into());
        record.finished_at = Some(srs_common::time::now());
        context.store.update_export(&record).await?;
        return Err(ApiError::unavailable(ErrorCode::BusUnavailable, "the export job queue is unavailable; retry shortly", 5));
    }
    tracing::info!(export.id = %record.id, experiment.id = %record.experiment_id, by = %caller.id, "export requested");
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/api/v1/exports/{}", record.id)))
        .json(Accepted { id: record.id, status: record.status }))
}

/// 422 naming the field of a filter the export cannot use.
fn filter_problem(error: ExportError) -> ApiError {
    match error {
        ExportError::BadFilter(message) => {
            let (field, problem) = message.split_once(": ").unwrap_or(("body", &message));
            let errors = vec![FieldProblem { index: None, field: Some(field.to_owned()), message: problem.to_owned() }];
            ApiError::new(ErrorCode::InvalidField, message.clone()).with_errors(errors)
        }
        other => ApiError::internal(other.to_string()),
    }
}

/// The exports the caller may see, newest first.
#[utoipa::path(get, path = "/api/v1/exports", tag = "exports", security(("bearer" = [])), params(ExportListFilter), responses(
    (status = 200, body = [ExportView]),
    (status = 404, description = "no such experiment", body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/v1/exports")]
pub async fn list(context: web::Data<AppContext>, caller: Caller, filter: web::Query<ExportListFilter>) -> Result<HttpResponse, ApiError> {
    let records = match &filter.experiment_id {
        Some(id) => {
            access::experiment(&context, &caller, id, Need::Run).await?;
            context.store.list_exports(Some(id)).await?
        }
        None => {
            let records = context.store.list_exports(None).await?;
            let mut visible: HashMap<String, bool> = HashMap::new();
            let mut shown = Vec::new();
            for record in records {
                if !visible.contains_key(&record.experiment_id) {
                    let experiment = context.store.get_experiment(&record.experiment_id).await?;
                    let can_see = experiment.is_some_and(|e| access::can_see(&caller, &e)) || caller.is_admin();
                    visible.insert(record.experiment_id.clone(), can_see);
                }
                if visible.get(&record.experiment_id).copied().unwrap_or(false) {
                    shown.push(record);
                }
            }
            shown
        }
    };
    Ok(HttpResponse::Ok().json(records.into_iter().map(ExportView::from).collect::<Vec<_>>()))
}

/// The export record, if its experiment is visible to the caller (else 404).
async fn visible_export(context: &AppContext, caller: &Caller, id: &str) -> Result<ExportRecord, ApiError> {
    let missing = || ApiError::not_found(format!("no export {id}"));
    let record = context.store.get_export(id).await?.ok_or_else(missing)?;
    if !caller.is_admin() {
        access::experiment(context, caller, &record.experiment_id, Need::Run).await.map_err(|_| missing())?;
    }
    Ok(record)
}

/// One export: its status, progress, error and files.
#[utoipa::path(get, path = "/api/v1/exports/{id}", tag = "exports", security(("bearer" = [])), responses(
    (status = 200, body = ExportView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/v1/exports/{id}")]
pub async fn show(context: web::Data<AppContext>, caller: Caller, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ExportView::from(visible_export(&context, &caller, &id).await?)))
}

/// Download a file of a finished export (a path its manifest lists, or `manifest.json`).
/// Supports `Range` requests (206) for resuming large downloads.
#[utoipa::path(get, path = "/api/v1/exports/{id}/files/{path}", tag = "exports", security(("bearer" = [])),
    params(("id" = String, Path), ("path" = String, Path, description = "e.g. P01/2026-11-23/ecg.parquet")),
    responses(
        (status = 200, description = "the whole file: Parquet, or JSON for the metadata files", content(("application/vnd.apache.parquet"), ("application/json"))),
        (status = 206, description = "the requested range", content(("application/vnd.apache.parquet"), ("application/json"))),
        (status = 304, description = "not modified since the ETag or date the client has"),
        (status = 416, description = "the requested range is outside the file"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the export is not done", body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/v1/exports/{id}/files/{path:.*}")]
pub async fn download(
    request: HttpRequest,
    context: web::Data<AppContext>,
    jobs: web::Data<Arc<ExportJobs>>,
    caller: Caller,
    params: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, path) = params.into_inner();
    let record = visible_export(&context, &caller, &id).await?;
    if record.status != ExportStatus::Done {
        return Err(ApiError::new(
            ErrorCode::ExportNotDone,
            format!("export {id} is {}; files are ready when it is done", status_name(record.status)),
        ));
    }
    let no_file = || ApiError::not_found(format!("export {id} has no file {path}"));
    let listed = path == "manifest.json" || record.files.iter().any(|f| f.path == path);
    let dir = export_dir(&jobs.root, &record.experiment_id, &record.id);
    let file_path = if listed { inside(&dir, &path).ok_or_else(no_file)? } else { return Err(no_file()) };
    let file = actix_files::NamedFile::open_async(&file_path).await.map_err(|_| no_file())?;
    let content_type = if path.ends_with(".parquet") { "application/vnd.apache.parquet" } else { "application/json" };
    let file = file
        .set_content_type(content_type.parse().map_err(|_| ApiError::internal("bad content type"))?)
        .use_etag(true)
        .use_last_modified(true);
    Ok(file.into_response(&request))
}

fn status_name(status: ExportStatus) -> &'static str {
    match status {
        ExportStatus::Queued => "queued",
        ExportStatus::Running => "running",
        ExportStatus::Done => "done",
        ExportStatus::Failed => "failed",
    }
}

pub fn configure(config: &mut web::ServiceConfig) {
    config.service(create).service(list).service(download).service(show);
}
