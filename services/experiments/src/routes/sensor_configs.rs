//! Sensor types (from the sensors file) and sensor configs: named selections of the file's
//! sensors, each enabled or not. Experimenters and admins edit them; every user can read them.

use crate::events::publish;
use actix_web::{get, post, put, web, HttpResponse};
use serde::Deserialize;
use srs_common::auth::Caller;
use srs_common::error::{FieldProblem, Problem};
use srs_common::events::{enabled_sensors, SensorConfigChanged, SENSOR_CONFIG_CHANGED};
use srs_common::http::{Check, JsonBody};
use srs_common::model::{new_id, ConfiguredSensor, Role, SensorConfig};
use srs_common::sensors::SensorType;
use srs_common::store::StoreError;
use srs_common::ErrorCode;
use srs_common::{ApiError, AppContext};
use utoipa::ToSchema;

const MAX_NAME_CHARS: usize = 200;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSensorConfig {
    #[schema(min_length = 1, max_length = 200, pattern = "[^\\s\\x00-\\x1f\\x7f-\\x9f]")]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SensorConfigChange {
    /// The config's `version` the change was made on (as last read): when given and the config
    /// has changed since, the change is refused with 409 `stale_version` instead of applied.
    pub version: Option<u64>,
    #[schema(min_length = 1, max_length = 200, pattern = "[^\\s\\x00-\\x1f\\x7f-\\x9f]")]
    pub name: Option<String>,
    /// Sensors to enable or disable; sensors not listed keep their state.
    #[serde(default)]
    pub sensors: Vec<SensorSwitch>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SensorSwitch {
    pub id: String,
    pub enabled: bool,
}

async fn config_or_404(context: &AppContext, id: &str) -> Result<SensorConfig, ApiError> {
    context.store.get_sensor_config(id).await?.ok_or_else(|| ApiError::not_found(format!("no sensor config {id}")))
}

/// The sensor types of the sensors file.
#[utoipa::path(get, path = "/api/v1/sensor-types", tag = "sensor configs", security(("bearer" = [])), responses((status = 200, body = Vec<SensorType>)))]
#[get("/api/v1/sensor-types")]
pub async fn sensor_types(context: web::Data<AppContext>, _caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(&context.sensors.file().sensor_types)
}

/// Create a config holding every sensor of the sensors file, all enabled.
#[utoipa::path(post, path = "/api/v1/sensor-configs", tag = "sensor configs", security(("bearer" = [])), request_body = NewSensorConfig, responses(
    (status = 201, body = SensorConfig),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/v1/sensor-configs")]
pub async fn create(context: web::Data<AppContext>, caller: Caller, body: JsonBody<NewSensorConfig>) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin, Role::Experimenter])?;
    let NewSensorConfig { name } = body.into_inner();
    Check::new().text("name", &name, MAX_NAME_CHARS).finish()?;
    let sensors = context
        .sensors
        .file()
        .sensors
        .iter()
        .map(|s| ConfiguredSensor {
            id: s.id.clone(),
            sensor_type: s.sensor_type.clone(),
            name: s.name.clone().unwrap_or_else(|| s.id.clone()),
            enabled: true,
        })
        .collect();
    let now = srs_common::time::now();
    let config = SensorConfig { id: new_id(), name, sensors, created_at: now, updated_at: now, version: 0 };
    context.store.insert_sensor_config(&config).await?;
    Ok(HttpResponse::Created().json(config))
}

/// How often a change is applied again to a config that changed while it was being applied.
const UPDATE_ATTEMPTS: usize = 16;

fn stale(current: &SensorConfig) -> ApiError {
    ApiError::new(
        ErrorCode::StaleVersion,
        format!("the sensor config changed since it was read (it is at version {} now); read it again", current.version),
    )
}

/// Applies `change` to `config`; 422 naming every sensor the config does not have.
fn apply(config: &mut SensorConfig, change: &SensorConfigChange) -> Result<(), ApiError> {
    let unknown: Vec<FieldProblem> = change
        .sensors
        .iter()
        .enumerate()
        .filter(|(_, switch)| !config.sensors.iter().any(|s| s.id == switch.id))
        .map(|(index, switch)| FieldProblem {
            index: Some(index),
            field: Some(format!("sensors[{index}].id")),
            message: format!("no sensor {} in this config", switch.id),
        })
        .collect();
    if let Some(first) = unknown.first() {
        return Err(ApiError::new(ErrorCode::UnknownId, first.message.clone()).with_errors(unknown));
    }
    for switch in &change.sensors {
        if let Some(sensor) = config.sensors.iter_mut().find(|s| s.id == switch.id) {
            sensor.enabled = switch.enabled;
        }
    }
    if let Some(name) = &change.name {
        config.name = name.clone();
    }
    config.updated_at = srs_common::time::now();
    Ok(())
}

/// Every sensor config.
#[utoipa::path(get, path = "/api/v1/sensor-configs", tag = "sensor configs", security(("bearer" = [])), responses((status = 200, body = Vec<SensorConfig>)))]
#[get("/api/v1/sensor-configs")]
pub async fn list(context: web::Data<AppContext>, _caller: Caller) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(context.store.list_sensor_configs().await?))
}

/// One sensor config.
#[utoipa::path(get, path = "/api/v1/sensor-configs/{id}", tag = "sensor configs", security(("bearer" = [])), responses(
    (status = 200, body = SensorConfig),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/v1/sensor-configs/{id}")]
pub async fn get(context: web::Data<AppContext>, _caller: Caller, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(config_or_404(&context, &id).await?))
}

/// Rename a config and enable or disable its sensors; publishes `sensor_config.changed`.
#[utoipa::path(put, path = "/api/v1/sensor-configs/{id}", tag = "sensor configs", security(("bearer" = [])), request_body = SensorConfigChange, responses(
    (status = 200, body = SensorConfig),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`version` is not the config's version any more (stale_version)", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "a sensor id is not in the config", body = Problem, content_type = "application/problem+json"),
))]
#[put("/api/v1/sensor-configs/{id}")]
pub async fn update(
    context: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<SensorConfigChange>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin, Role::Experimenter])?;
    let change = body.into_inner();
    Check::new().optional_text("name", change.name.as_deref(), MAX_NAME_CHARS).finish()?;
    // Read, change, write only if nobody wrote in between. Without a `version` from the
    // client, a clash applies the change again to the newer config, so two operators switching
    // different sensors both get their way; with one, a newer config is a 409.
    let mut written = None;
    for _ in 0..UPDATE_ATTEMPTS {
        let mut config = config_or_404(&context, &id).await?;
        if change.version.is_some_and(|version| version != config.version) {
            return Err(stale(&config));
        }
        apply(&mut config, &change)?;
        match context.store.update_sensor_config(&config).await {
            Err(StoreError::Conflict(_)) if change.version.is_some() => return Err(stale(&config)),
            Err(StoreError::Conflict(_)) => continue,
            other => {
                written = Some(other?);
                break;
            }
        }
    }
    let config = written.ok_or_else(|| ApiError::new(ErrorCode::Conflict, "the sensor config keeps changing; try again"))?;
    let changed = SensorConfigChanged {
        sensor_config_id: config.id.clone(),
        name: config.name.clone(),
        enabled_sensors: enabled_sensors(&config.sensors),
        sensors: config.sensors.clone(),
    };
    publish(&context, SENSOR_CONFIG_CHANGED, &changed).await;
    Ok(HttpResponse::Ok().json(config))
}
