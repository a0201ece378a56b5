//! Experiments: create, list what the caller may see, read, change; and the public view of
//! what is active and recording right now.

use crate::access::{self, Need};
use crate::views::ExperimentView;
use actix_web::{get, patch, post, web, HttpResponse};
use serde::Deserialize;
use srs_common::auth::Caller;
use srs_common::error::Problem;
use srs_common::http::validate::unknown_id;
use srs_common::http::{Check, JsonBody};
use srs_common::model::{new_id, Experiment, Role};
use srs_common::ErrorCode;
use srs_common::{ApiError, AppContext};
use utoipa::ToSchema;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExperiment {
    #[schema(min_length = 1, max_length = 200, pattern = "[^\\s\\x00-\\x1f\\x7f-\\x9f]")]
    pub name: String,
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    pub sensor_config_id: String,
    /// Admins may create an experiment for another admin or experimenter; default: the caller.
    pub owner_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentChange {
    #[schema(min_length = 1, max_length = 200, pattern = "[^\\s\\x00-\\x1f\\x7f-\\x9f]")]
    pub name: Option<String>,
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    /// Not while the experiment is active.
    pub sensor_config_id: Option<String>,
    /// Admins only.
    pub owner_id: Option<String>,
}

/// The answer for one experiment, with whether it is the active one.
pub async fn view(context: &AppContext, experiment: Experiment) -> Result<ExperimentView, ApiError> {
    let active = context.store.active_experiment_id().await?;
    Ok(ExperimentView::new(experiment, active.as_deref()))
}

/// 422 unless `owner_id` names an admin or experimenter.
async fn check_owner(context: &AppContext, owner_id: &str) -> Result<(), ApiError> {
    match context.store.get_user(owner_id).await? {
        None => Err(unknown_id("owner_id", "user")),
        Some(user) if user.role == Role::Operator => {
            Err(ApiError::new(ErrorCode::InvalidField, "owner_id: an operator cannot own experiments"))
        }
        Some(_) => Ok(()),
    }
}

async fn check_sensor_config(context: &AppContext, id: &str) -> Result<(), ApiError> {
    match context.store.get_sensor_config(id).await? {
        Some(_) => Ok(()),
        None => Err(unknown_id("sensor_config_id", "sensor config")),
    }
}

/// Create an experiment.
#[utoipa::path(post, path = "/api/v1/experiments", tag = "experiments", security(("bearer" = [])), request_body = NewExperiment, responses(
    (status = 201, body = ExperimentView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/v1/experiments")]
pub async fn create(context: web::Data<AppContext>, caller: Caller, body: JsonBody<NewExperiment>) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin, Role::Experimenter])?;
    let new = body.into_inner();
    let description = new.description.unwrap_or_default();
    Check::new().text("name", &new.name, MAX_NAME_CHARS).max_len("description", &description, MAX_DESCRIPTION_CHARS).finish()?;
    let owner_id = new.owner_id.unwrap_or_else(|| caller.id.clone());
    if owner_id != caller.id {
        if !caller.is_admin() {
            return Err(ApiError::forbidden("only admins may create experiments for someone else"));
        }
        check_owner(&context, &owner_id).await?;
    }
    check_sensor_config(&context, &new.sensor_config_id).await?;
    let experiment = Experiment {
        id: new_id(),
        name: new.name,
        description,
        owner_id,
        sensor_config_id: new.sensor_config_id,
        tasks: Vec::new(),
        operators: Vec::new(),
        participants: Vec::new(),
        created_at: srs_common::time::now(),
        version: 0,
        samples_deleted_at: None,
    };
    context.store.insert_experiment(&experiment).await?;
    tracing::info!(experiment.id = %experiment.id, by = %caller.id, "experiment created");
    Ok(HttpResponse::Created().json(ExperimentView::new(experiment, None)))
}

/// The experiments the caller may see.
#[utoipa::path(get, path = "/api/v1/experiments", tag = "experiments", security(("bearer" = [])), responses((status = 200, body = Vec<ExperimentView>)))]
#[get("/api/v1/experiments")]
pub async fn list(context: web::Data<AppContext>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let active = context.store.active_experiment_id().await?;
    let visible: Vec<ExperimentView> = context
        .store
        .list_experiments()
        .await?
        .into_iter()
        .filter(|e| access::can_see(&caller, e))
        .map(|e| ExperimentView::new(e, active.as_deref()))
        .collect();
    Ok(HttpResponse::Ok().json(visible))
}

/// What is active and recording now (public: front ends and devices show it).
#[utoipa::path(get, path = "/api/v1/experiments/active", tag = "experiments", responses((status = 200, body = srs_common::active_state::ActiveState)))]
#[get("/api/v1/experiments/active")]
pub async fn active_state(context: web::Data<AppContext>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(srs_common::active_state::read(&context.store).await?))
}

/// One experiment.
#[utoipa::path(get, path = "/api/v1/experiments/{id}", tag = "experiments", security(("bearer" = [])), responses(
    (status = 200, body = ExperimentView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/v1/experiments/{id}")]
pub async fn get(context: web::Data<AppContext>, caller: Caller, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let experiment = access::experiment(&context, &caller, &id, Need::Run).await?;
    Ok(HttpResponse::Ok().json(view(&context, experiment).await?))
}

/// Change an experiment's name, description, sensor config or owner (owner or admin).
#[utoipa::path(patch, path = "/api/v1/experiments/{id}", tag = "experiments", security(("bearer" = [])), request_body = ExperimentChange, responses(
    (status = 200, body = ExperimentView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "changing the sensor config of the active experiment", body = Problem, content_type = "application/problem+json"),
))]
#[patch("/api/v1/experiments/{id}")]
pub async fn update(
    context: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<ExperimentChange>,
) -> Result<HttpResponse, ApiError> {
    let change = body.into_inner();
    Check::new()
        .optional_text("name", change.name.as_deref(), MAX_NAME_CHARS)
        .max_len("description", change.description.as_deref().unwrap_or_default(), MAX_DESCRIPTION_CHARS)
        .finish()?;
    let experiment = access::experiment(&context, &caller, &id, Need::Manage).await?;
    if let Some(owner_id) = &change.owner_id {
        if !caller.is_admin() {
            return Err(ApiError::forbidden("only admins may change an experiment's owner"));
        }
        check_owner(&context, owner_id).await?;
    }
    if let Some(config_id) = &change.sensor_config_id {
        check_sensor_config(&context, config_id).await?;
        if config_id != &experiment.sensor_config_id && context.store.active_experiment_id().await?.as_deref() == Some(&experiment.id) {
            return Err(ApiError::new(ErrorCode::ExperimentActive, "deactivate the experiment before changing its sensor config"));
        }
    }
    let updated = context
        .store
        .update_experiment(&experiment.id, &|e| {
            e.name = change.name.clone().unwrap_or_else(|| e.name.clone());
            e.description = change.description.clone().unwrap_or_else(|| e.description.clone());
            e.sensor_config_id = change.sensor_config_id.clone().unwrap_or_else(|| e.sensor_config_id.clone());
            e.owner_id = change.owner_id.clone().unwrap_or_else(|| e.owner_id.clone());
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok().json(view(&context, updated).await?))
}
