//! Exactly one experiment is active: the one whose recordings ingest stores samples for.
//! Switching is refused while a recording runs, so no recording ever outlives its experiment —
//! the store checks and switches in one step, so a recording starting at the same moment
//! cannot slip in between.

use super::experiments::view;
use crate::access::{self, Need};
use crate::events::publish;
use crate::views::ExperimentView;
use actix_web::{post, web, HttpResponse};
use srs_common::auth::Caller;
use srs_common::error::Problem;
use srs_common::events::{enabled_sensors, ExperimentActivated, ExperimentDeactivated, EXPERIMENT_ACTIVATED, EXPERIMENT_DEACTIVATED};
use srs_common::store::{StoreError, NOT_ACTIVE};
use srs_common::ErrorCode;
use srs_common::{ApiError, AppContext};

/// The store's conflict as the API names it.
fn conflict(error: StoreError) -> ApiError {
    match error {
        StoreError::Conflict(detail) if detail == NOT_ACTIVE => {
            ApiError::new(ErrorCode::NotActive, "this experiment is not the active one")
        }
        StoreError::Conflict(detail) => ApiError::new(ErrorCode::RecordingRunning, detail),
        other => other.into(),
    }
}

/// Make this the active experiment (owner or admin); the previously active one is deactivated.
#[utoipa::path(post, path = "/api/v1/experiments/{id}/activate", tag = "experiments", security(("bearer" = [])), responses(
    (status = 200, body = ExperimentView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "a recording runs", body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/v1/experiments/{id}/activate")]
pub async fn activate(context: web::Data<AppContext>, caller: Caller, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let experiment = access::experiment(&context, &caller, &id, Need::Manage).await?;
    let config = context.store.get_sensor_config(&experiment.sensor_config_id).await?;
    let previous = context.store.set_active_experiment(Some(&experiment.id)).await.map_err(conflict)?;
    if let Some(previous) = previous.as_ref().filter(|p| **p != experiment.id) {
        publish(&context, EXPERIMENT_DEACTIVATED, &ExperimentDeactivated { experiment_id: previous.clone() }).await;
    }
    let activated = ExperimentActivated {
        experiment_id: experiment.id.clone(),
        name: experiment.name.clone(),
        sensor_config_id: experiment.sensor_config_id.clone(),
        enabled_sensors: config.map(|c| enabled_sensors(&c.sensors)).unwrap_or_default(),
        previous_experiment_id: previous,
    };
    publish(&context, EXPERIMENT_ACTIVATED, &activated).await;
    tracing::info!(experiment.id = %experiment.id, by = %caller.id, "experiment activated");
    Ok(HttpResponse::Ok().json(view(&context, experiment).await?))
}

/// Leave no experiment active (owner or admin).
#[utoipa::path(post, path = "/api/v1/experiments/{id}/deactivate", tag = "experiments", security(("bearer" = [])), responses(
    (status = 200, body = ExperimentView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "a recording runs, or the experiment is not the active one", body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/v1/experiments/{id}/deactivate")]
pub async fn deactivate(context: web::Data<AppContext>, caller: Caller, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let experiment = access::experiment(&context, &caller, &id, Need::Manage).await?;
    context.store.deactivate_experiment(&experiment.id).await.map_err(conflict)?;
    publish(&context, EXPERIMENT_DEACTIVATED, &ExperimentDeactivated { experiment_id: experiment.id.clone() }).await;
    tracing::info!(experiment.id = %experiment.id, by = %caller.id, "experiment deactivated");
    Ok(HttpResponse::Ok().json(view(&context, experiment).await?))
}
