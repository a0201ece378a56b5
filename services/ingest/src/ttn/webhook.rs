//! `POST /api/v1/ttn/uplink`: The Things Stack's webhook integration. Off (404) while
//! `ttn.webhook_secret` is empty; otherwise the `X-SRS-TTN-Secret` header must carry it,
//! compared in constant time.

use crate::intake::{take, IngestResult, WhenUnavailable};
use crate::Ingest;
use actix_web::{post, web, HttpRequest, HttpResponse};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use srs_common::error::Problem;
use srs_common::{ApiError, AppContext};
use subtle::ConstantTimeEq;

pub const SECRET_HEADER: &str = "X-SRS-TTN-Secret";

/// Take one uplink message of The Things Stack (v3) as a sample of the sensor naming its device.
#[utoipa::path(post, path = "/api/v1/ttn/uplink", tag = "ingest",
    params(("X-SRS-TTN-Secret" = String, Header, description = "the shared secret (setting ttn.webhook_secret)")),
    request_body(description = "a The Things Stack v3 uplink message (only the fields shown are read; the rest is ignored)",
        content((crate::ttn::uplink::Uplink = "application/json"))),
    responses(
        (status = 200, description = "committed (or accepted for the live view only)", body = IngestResult),
        (status = 400, description = "malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "the secret header is missing or wrong", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "the webhook is off (ttn.webhook_secret is empty)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "body over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "not an uplink message, or one without a decoded payload, or two payload keys giving one field (invalid_field); no sensor has the device (unknown_id); the payload does not fit the type (invalid_samples)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "store unavailable, its disk full or the queue full; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/api/v1/ttn/uplink")]
pub async fn ttn_uplink(
    ingest: web::Data<Ingest>,
    context: web::Data<AppContext>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let result = receive(&ingest, &context, &request, body).await;
    crate::intake::count(&result);
    result.map(|outcome| HttpResponse::Ok().json(outcome))
}

async fn receive(ingest: &Ingest, context: &AppContext, request: &HttpRequest, body: web::Payload) -> Result<IngestResult, ApiError> {
    let secret = ingest
        .ttn_webhook_secret
        .as_ref()
        .map(ExposeSecret::expose_secret)
        .ok_or_else(|| ApiError::not_found("the TTN webhook is off (set ttn.webhook_secret)"))?;
    let presented = request.headers().get(SECRET_HEADER).map(|value| value.as_bytes()).unwrap_or_default();
    // Hashing first makes the comparison's time independent of the lengths too.
    let matches: bool = Sha256::digest(presented).ct_eq(&Sha256::digest(secret.as_bytes())).into();
    if !matches {
        return Err(ApiError::unauthorized(format!("the {SECRET_HEADER} header is missing or wrong")));
    }
    let body = crate::routes::read_json_body(request, body, ingest.settings.max_body_bytes).await?;
    let (sensor, sample) = crate::ttn::read(&context.sensors, &body)?;
    take(ingest, context, crate::ttn::body(sensor, &sample), WhenUnavailable::Answer).await
}
