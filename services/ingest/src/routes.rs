//! The ingest endpoints: sample posts (object, array or NDJSON; body or path sensor) and the
//! per-sensor status.

use crate::intake::{take, Body, IngestResult, WhenUnavailable};
use crate::parse::Format;
use crate::Ingest;
use actix_web::{get, post, web, HttpMessage, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use srs_common::auth::Caller;
use srs_common::error::Problem;
use srs_common::ErrorCode;
use srs_common::{ApiError, AppContext};

pub fn configure(config: &mut web::ServiceConfig) {
    config.service(post_samples).service(post_sensor_samples).service(sensor_status).service(crate::ttn::webhook::ttn_uplink);
}

/// Post samples: one object, an array, or NDJSON (`application/x-ndjson`).
#[utoipa::path(post, path = "/api/v1/samples", tag = "ingest",
    request_body(description = "a sample object, an array of them, or NDJSON lines (one sample per line)",
        content((crate::schema::SampleBody = "application/json"), (String = "application/x-ndjson"))),
    responses(
        (status = 200, description = "committed (or accepted for the live view only)", body = IngestResult),
        (status = 400, description = "malformed JSON or NDJSON (line in detail)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "device token missing or unknown (when required)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "the device token is for another sensor", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "body over the limit or too many samples", body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid samples, every one listed by index", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "store unavailable (store_unavailable), its disk full (store_full) or the queue full (queue_full); see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/api/v1/samples")]
pub async fn post_samples(
    ingest: web::Data<Ingest>,
    context: web::Data<AppContext>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    counted(receive(&ingest, &context, &request, body, None).await)
}

/// Post samples of one sensor; `sensor_id` comes from the path.
#[utoipa::path(post, path = "/api/v1/sensors/{sensor_id}/samples", tag = "ingest",
    params(("sensor_id" = String, Path, description = "a sensor of the sensors file")),
    request_body(description = "a sample object, an array of them, or NDJSON lines (one sample per line)",
        content((crate::schema::SensorSampleBody = "application/json"), (String = "application/x-ndjson"))),
    responses(
        (status = 200, description = "committed (or accepted for the live view only)", body = IngestResult),
        (status = 400, description = "malformed JSON or NDJSON (line in detail)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "device token missing or unknown (when required)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "the device token is for another sensor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such sensor", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "body over the limit or too many samples", body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid samples, every one listed by index", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "store unavailable (store_unavailable), its disk full (store_full) or the queue full (queue_full); see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/api/v1/sensors/{sensor_id}/samples")]
pub async fn post_sensor_samples(
    ingest: web::Data<Ingest>,
    context: web::Data<AppContext>,
    request: HttpRequest,
    sensor_id: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    counted(receive(&ingest, &context, &request, body, Some(&sensor_id)).await)
}

/// Per sensor: last seen, samples in the last minute, rate and clock offset (this replica).
#[utoipa::path(get, path = "/api/v1/sensors/status", tag = "ingest", security(("bearer" = [])), responses(
    (status = 200, body = Vec<crate::activity::SensorStatus>),
))]
#[get("/api/v1/sensors/status")]
pub async fn sensor_status(ingest: web::Data<Ingest>, context: web::Data<AppContext>, _caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(ingest.windows.status(&context.sensors, srs_common::time::now_ns()))
}

fn counted(result: Result<IngestResult, ApiError>) -> Result<HttpResponse, ApiError> {
    crate::intake::count(&result);
    result.map(|outcome| HttpResponse::Ok().json(outcome))
}

/// A JSON body (415 for another content type), up to `limit` bytes.
pub(crate) async fn read_json_body(request: &HttpRequest, body: web::Payload, limit: usize) -> Result<web::BytesMut, ApiError> {
    if Format::from_content_type(request.content_type()) != Some(Format::Json) {
        return Err(ApiError::new(ErrorCode::UnsupportedMediaType, "expected Content-Type: application/json"));
    }
    read_body(request, body, limit).await
}

async fn read_body(request: &HttpRequest, mut body: web::Payload, limit: usize) -> Result<web::BytesMut, ApiError> {
    let too_large = || ApiError::new(ErrorCode::BodyTooLarge, format!("the body is over the limit of {limit} bytes"));
    let declared = request.headers().get(actix_web::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let mut bytes = web::BytesMut::with_capacity(declared.unwrap_or(4096));
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ApiError::new(ErrorCode::InvalidBody, format!("cannot read the body: {e}")))?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

async fn receive(
    ingest: &Ingest,
    context: &AppContext,
    request: &HttpRequest,
    body: web::Payload,
    path_sensor: Option<&str>,
) -> Result<IngestResult, ApiError> {
    let format = Format::from_content_type(request.content_type())
        .ok_or_else(|| ApiError::new(ErrorCode::UnsupportedMediaType, "expected Content-Type: application/json or application/x-ndjson"))?;
    let token_sensor = ingest.tokens.sensor_of(context, srs_common::auth::caller::bearer_token(request)).await?;
    let path_sensor = match path_sensor {
        Some(id) => Some(context.sensors.sensor(id).ok_or_else(|| ApiError::not_found(format!("no sensor {id} in the sensors file")))?),
        None => None,
    };
    let body = read_body(request, body, ingest.settings.max_body_bytes).await?;
    take(ingest, context, Body { bytes: &body, format, path_sensor, token_sensor: token_sensor.as_deref() }, WhenUnavailable::Answer).await
}
