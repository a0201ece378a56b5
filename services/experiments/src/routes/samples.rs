//! An experiment's recorded data: counts per participant, date and sensor type, and deletion —
//! guarded so that data recorded since the last completed export cannot be thrown away by
//! accident.

use crate::access::{self, Need};
use crate::coverage;
use actix_web::{delete, get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use srs_common::auth::Caller;
use srs_common::error::{FieldProblem, Problem};
use srs_common::model::{Experiment, Role, SampleStat};
use srs_common::store::StoreError;
use srs_common::ErrorCode;
use srs_common::{ApiError, AppContext};
use std::collections::BTreeMap;
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
#[into_params(parameter_in = Query)]
pub struct DeleteOptions {
    /// Delete even what no completed export covers.
    #[serde(default)]
    pub force: bool,
}

/// 409 naming, per participant, how many samples no completed export covers.
fn not_covered(experiment: &Experiment, missing: &BTreeMap<String, Vec<SampleStat>>) -> ApiError {
    let code = |id: &str| experiment.participant(id).map_or_else(|| id.to_owned(), |p| p.code.clone());
    let detail = missing
        .iter()
        .map(|(participant, groups)| {
            format!("{}: {} samples not in any completed export", code(participant), groups.iter().map(|g| g.count).sum::<u64>())
        })
        .collect::<Vec<_>>()
        .join("; ");
    let errors = missing
        .values()
        .flatten()
        .map(|g| FieldProblem {
            index: None,
            field: Some(format!("{}/{}/{}", code(&g.participant_id), g.date, g.sensor_type)),
            message: format!("{} samples not in any completed export", g.count),
        })
        .collect();
    ApiError::new(ErrorCode::UnexportedSamples, format!("{detail}; export them first, or delete with force=true")).with_errors(errors)
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
/// and — unless `force=true` — while a completed export does not cover every sample (an export
/// of some participants, days or sensor types covers only those).
#[utoipa::path(delete, path = "/api/v1/experiments/{id}/samples", tag = "samples", security(("bearer" = [])), params(DeleteOptions), responses(
    (status = 200, body = Deleted),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "samples no completed export covers (unexported_samples, listed per participant, date and sensor type), a recording runs (recording_running), or samples arrived while deleting (samples_changed)", body = Problem, content_type = "application/problem+json"),
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
        return Err(ApiError::new(ErrorCode::RecordingRunning, "a recording of this experiment is running; stop it first"));
    }
    let groups = context.store.sample_stats(&experiment.id).await?;
    let total: u64 = groups.iter().map(|s| s.count).sum();
    if !options.force {
        let exports = context.store.list_exports(Some(&experiment.id)).await?;
        let missing = coverage::uncovered(&groups, &exports, experiment.samples_deleted_at);
        if !missing.is_empty() {
            return Err(not_covered(&experiment, &missing));
        }
    }
    // Exports made until now cover none of what is recorded after this delete.
    let at = srs_common::time::now();
    let mark = move |e: &mut srs_common::model::Experiment| {
        e.samples_deleted_at = Some(at);
        Ok(())
    };
    context.store.update_experiment(&experiment.id, &mark).await?;
    let deleted = match context.store.delete_samples(&experiment.id, Some(total)).await {
        Err(StoreError::Conflict(detail)) => {
            return Err(ApiError::new(ErrorCode::SamplesChanged, format!("samples arrived while deleting ({detail}); check and try again")))
        }
        other => other?,
    };
    tracing::warn!(experiment.id = %experiment.id, deleted, forced = options.force, by = %caller.id, "samples deleted");
    Ok(HttpResponse::Ok().json(Deleted { deleted }))
}
