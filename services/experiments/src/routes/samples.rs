//! An experiment's recorded data: counts per participant, date and sensor type, and deletion —
//! guarded so that data recorded since the last completed export cannot be thrown away by
//! accident.

use crate::access::{self, Need};
use actix_web::{delete, get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use srs_common::auth::Caller;
use srs_common::error::Problem;
use srs_common::model::{ExportStatus, Role};
use srs_common::{ApiError, AppContext};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, ToSchema)]
pub struct SampleStats {
    pub experiment_id: String,
    pub total: u64,
    pub stats: Vec<SampleStatView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SampleStatView {
    pub participant_id: String,
    pub participant_code: String,
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    pub sensor_type: String,
    pub count: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DeleteOptions {
    /// Delete even what no completed export covers.
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub deleted: u64,
}

/// Sample counts per participant, date and sensor type.
#[utoipa::path(get, path = "/api/v1/experiments/{id}/samples/stats", tag = "samples", security(("bearer" = [])), responses(
    (status = 200, body = SampleStats),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/v1/experiments/{id}/samples/stats")]
pub async fn stats(context: web::Data<AppContext>, caller: Caller, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let experiment = access::experiment(&context, &caller, &id, Need::Run).await?;
    let stats: Vec<SampleStatView> = context
        .store
        .sample_stats(&experiment.id)
        .await?
        .into_iter()
        .map(|stat| SampleStatView {
            participant_code: experiment.participant(&stat.participant_id).map(|p| p.code.clone()).unwrap_or_default(),
            participant_id: stat.participant_id,
            date: stat.date,
            sensor_type: stat.sensor_type,
            count: stat.count,
        })
        .collect();
    let total = stats.iter().map(|s| s.count).sum();
    Ok(HttpResponse::Ok().json(SampleStats { experiment_id: experiment.id, total, stats }))
}

/// Delete every sample of the experiment (admins). Refused while one of its recordings runs,
/// and — unless `force=true` — when samples arrived after the last completed export.
#[utoipa::path(delete, path = "/api/v1/experiments/{id}/samples", tag = "samples", security(("bearer" = [])), params(DeleteOptions), responses(
    (status = 200, body = Deleted),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "unexported samples, or a recording runs", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/api/v1/experiments/{id}/samples")]
pub async fn remove(
    context: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
    options: web::Query<DeleteOptions>,
) -> Result<HttpResponse, ApiError> {
    let experiment = access::experiment(&context, &caller, &id, Need::Run).await?;
    caller.require(&[Role::Admin])?;
    if context.store.running_recording().await?.is_some_and(|r| r.experiment_id == experiment.id) {
        return Err(ApiError::conflict("recording_running", "a recording of this experiment is running; stop it first"));
    }
    if !options.force {
        if let Some(latest) = context.store.latest_received_at(&experiment.id).await? {
            let exported_until = context
                .store
                .list_exports(Some(&experiment.id))
                .await?
                .into_iter()
                .filter(|e| e.status == ExportStatus::Done)
                .filter_map(|e| e.covers_received_until)
                .max();
            if exported_until.is_none_or(|until| until < latest) {
                return Err(ApiError::conflict(
                    "unexported_samples",
                    "samples were recorded after the last completed export; export them first, or delete with force=true",
                ));
            }
        }
    }
    let deleted = context.store.delete_samples(&experiment.id).await?;
    tracing::warn!(experiment.id = %experiment.id, deleted, forced = options.force, by = %caller.id, "samples deleted");
    Ok(HttpResponse::Ok().json(Deleted { deleted }))
}
