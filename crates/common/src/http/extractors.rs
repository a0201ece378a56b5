//! Extractor configuration so that malformed bodies, paths and queries get problem+json too.

use crate::error::ApiError;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::web;

/// Largest JSON body the metadata endpoints accept.
pub(super) const JSON_LIMIT: usize = 1 << 20;

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().limit(JSON_LIMIT).error_handler(|error, _| json_error(error).into())
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|error: PathError, _| ApiError::bad_request("invalid_path", format!("invalid path: {error}")).into())
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|error: QueryPayloadError, _| ApiError::bad_request("invalid_query", format!("invalid query: {error}")).into())
}

fn json_error(error: JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::ContentType => ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected Content-Type: application/json",
        ),
        JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => ApiError::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is over the limit of {limit} bytes"),
        ),
        JsonPayloadError::Deserialize(error) if error.is_data() => ApiError::unprocessable("invalid_field", error.to_string()),
        JsonPayloadError::Deserialize(error) => ApiError::bad_request("malformed_json", format!("malformed JSON: {error}")),
        other => ApiError::bad_request("invalid_body", other.to_string()),
    }
}
