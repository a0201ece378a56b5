//! `ApiError`: the one error type HTTP handlers return. It renders RFC 9457
//! `application/problem+json` with a stable machine-readable `code`, and optionally a list of
//! per-item `errors` when several things are wrong at once.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One of several problems in a request: which item (`index`), which field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

/// The problem+json body.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldProblem>,
    retry_after_secs: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, detail: detail.into(), errors: Vec::new(), retry_after_secs: None }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }
    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }
    /// 503 with `Retry-After`: a dependency is down or a queue is full; the client should retry.
    pub fn unavailable(code: &'static str, detail: impl Into<String>, retry_after_secs: u32) -> Self {
        let mut error = Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail);
        error.retry_after_secs = Some(retry_after_secs);
        error
    }

    /// 429 with `Retry-After`: the client is throttled.
    pub fn too_many_requests(detail: impl Into<String>, retry_after_secs: u32) -> Self {
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", detail);
        error.retry_after_secs = Some(retry_after_secs);
        error
    }

    pub fn with_errors(mut self, errors: Vec<FieldProblem>) -> Self {
        self.errors = errors;
        self
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    pub fn errors(&self) -> &[FieldProblem] {
        &self.errors
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("https://srs.dev/problems/{}", self.code.replace('_', "-")),
            title: self.status.canonical_reason().unwrap_or("Error").to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_string(),
            errors: self.errors.clone(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        if let Some(secs) = self.retry_after_secs {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        // 503s are expected while a dependency is down (readiness probes ask every few
        // seconds); they are reported by /readyz, not logged per request.
        if self.status.is_server_error() && self.status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(error.code = self.code, error.detail = %self.detail, "request failed");
        }
        response.json(self.problem())
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match error {
            StoreError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            StoreError::Duplicate(what) => ApiError::conflict("duplicate", format!("{what} already exists")),
            StoreError::Conflict(what) => ApiError::conflict("conflict", what),
            // The store's own words stay in the log: they name files, hosts and queries.
            StoreError::Unavailable(what) => {
                tracing::warn!(error = %what, "store unavailable");
                ApiError::unavailable("store_unavailable", "the store is unavailable; retry shortly", 1)
            }
            StoreError::Full(what) => {
                tracing::error!(error = %what, "store full");
                ApiError::unavailable("store_full", "the disk of the store is full; retry once space is freed", 5)
            }
            StoreError::Internal(what) => {
                tracing::error!(error = %what, "store error");
                ApiError::internal("an internal error occurred; it has been logged")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    #[test]
    fn renders_problem_json_with_code_and_errors() {
        let error = ApiError::unprocessable("invalid_sample", "2 samples are invalid").with_errors(vec![FieldProblem {
            index: Some(3),
            field: Some("values.open".into()),
            message: "expected bool".into(),
        }]);
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.headers().get(header::CONTENT_TYPE).map(|v| v.as_bytes()), Some(PROBLEM_JSON.as_bytes()));
        let body = response.into_body().try_into_bytes().expect("body is in memory");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("valid json");
        assert_eq!(json["status"], 422);
        assert_eq!(json["code"], "invalid_sample");
        assert_eq!(json["title"], "Unprocessable Entity");
        assert_eq!(json["errors"][0]["index"], 3);
        assert_eq!(json["errors"][0]["field"], "values.open");
    }

    #[test]
    fn unavailable_carries_retry_after() {
        let response = ApiError::unavailable("queue_full", "ingest queue is full", 2).error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).map(|v| v.as_bytes()), Some(&b"2"[..]));
    }
}
