//! Device tokens (admins only): one per sensor installation, shown once, stored hashed.

use actix_web::{delete, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use srs_common::auth::{device_token, Caller};
use srs_common::error::Problem;
use srs_common::model::{new_id, DeviceToken, Role};
use srs_common::{ApiError, AppContext};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedDeviceToken {
    pub id: String,
    pub sensor_id: String,
    /// The token itself. It is shown only in this answer; SRS keeps only its hash.
    pub token: String,
    pub created_at: DateTime<Utc>,
}

/// Issue a device token for a sensor of the sensors file.
#[utoipa::path(post, path = "/api/v1/sensors/{sensor_id}/tokens", tag = "device tokens", security(("bearer" = [])), responses(
    (status = 201, body = IssuedDeviceToken),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "no such sensor in the sensors file", body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/v1/sensors/{sensor_id}/tokens")]
pub async fn issue(context: web::Data<AppContext>, caller: Caller, sensor_id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    if context.sensors.sensor(&sensor_id).is_none() {
        return Err(ApiError::not_found(format!("no sensor {sensor_id} in the sensors file")));
    }
    let (token, token_hash) = device_token::generate();
    let record =
        DeviceToken { id: new_id(), sensor_id: sensor_id.into_inner(), token_hash, created_at: srs_common::time::now(), revoked_at: None };
    context.store.insert_device_token(&record).await?;
    tracing::info!(sensor.id = %record.sensor_id, token.id = %record.id, by = %caller.id, "device token issued");
    Ok(HttpResponse::Created().json(IssuedDeviceToken { id: record.id, sensor_id: record.sensor_id, token, created_at: record.created_at }))
}

/// Revoke a device token; the sensor can no longer post with it.
#[utoipa::path(delete, path = "/api/v1/sensors/{sensor_id}/tokens/{id}", tag = "device tokens", security(("bearer" = [])), responses(
    (status = 204, description = "revoked"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[delete("/api/v1/sensors/{sensor_id}/tokens/{id}")]
pub async fn revoke(context: web::Data<AppContext>, caller: Caller, path: web::Path<(String, String)>) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let (sensor_id, id) = path.into_inner();
    context.store.revoke_device_token(&sensor_id, &id, srs_common::time::now()).await?;
    tracing::info!(sensor.id = %sensor_id, token.id = %id, by = %caller.id, "device token revoked");
    Ok(HttpResponse::NoContent().finish())
}
