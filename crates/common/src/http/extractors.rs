//! Extractor configuration so that malformed bodies, paths and queries get problem+json too.

use crate::error::ApiError;
use crate::error::ErrorCode;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::web;

/// Largest JSON body the metadata endpoints accept.
pub(super) const JSON_LIMIT: usize = 1 << 20;

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().limit(JSON_LIMIT).error_handler(|error, _| json_error(error).into())
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|error: PathError, _| ApiError::new(ErrorCode::InvalidPath, format!("invalid path: {error}")).into())
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|error: QueryPayloadError, _| ApiError::new(ErrorCode::InvalidQuery, format!("invalid query: {error}")).into())
}

fn json_error(error: JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::ContentType => ApiError::new(ErrorCode::UnsupportedMediaType, "expected Content-Type: application/json"),
        JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            ApiError::new(ErrorCode::BodyTooLarge, format!("the body is over the limit of {limit} bytes"))
        }
        JsonPayloadError::Deserialize(error) if error.is_data() => ApiError::new(ErrorCode::InvalidField, error.to_string()),
        JsonPayloadError::Deserialize(error) => ApiError::new(ErrorCode::MalformedJson, format!("malformed JSON: {error}")),
        other => ApiError::new(ErrorCode::InvalidBody, other.to_string()),
    }
}
