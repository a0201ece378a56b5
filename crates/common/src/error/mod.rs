//! `ApiError`: the one error type HTTP handlers return. It renders RFC 9457
//! `application/problem+json` with a stable machine-readable `code`, and optionally a list of
//! per-item `errors` when several things are wrong at once. The codes, each with its status and
//! title, are the one table in `codes.rs`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;

mod codes;
pub mod problems;

pub use codes::{ErrorCode, PROBLEMS_PATH};

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
    /// A link to this code's entry on the problems page.
    #[serde(rename = "type")]
    #[schema(example = "/api/v1/docs/problems#not_found")]
    pub kind: String,
    pub title: String,
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    pub detail: String,
    pub code: ErrorCode,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// The device command a `command_timeout` is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_id: Option<String>,
}

/// The detail of every 500 as the client sees it.
const INTERNAL_DETAIL: &str = "an internal error occurred; it has been logged";

#[derive(Debug, Clone)]
pub struct ApiError {
    code: ErrorCode,
    detail: String,
    errors: Vec<FieldProblem>,
    retry_after_secs: Option<u32>,
    command_id: Option<String>,
}

impl ApiError {
    /// An error answered with `code`'s status.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self { code, detail: detail.into(), errors: Vec::new(), retry_after_secs: None, command_id: None }
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, detail)
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, detail)
    }

    /// With `Retry-After`: a 503 (a dependency is down, a queue is full) or a 429 (the client
    /// is throttled); the client should retry after that many seconds.
    pub fn retry_after(mut self, secs: u32) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn unavailable(code: ErrorCode, detail: impl Into<String>, retry_after_secs: u32) -> Self {
        Self::new(code, detail).retry_after(retry_after_secs)
    }

    pub fn too_many_requests(detail: impl Into<String>, retry_after_secs: u32) -> Self {
        Self::new(ErrorCode::TooManyRequests, detail).retry_after(retry_after_secs)
    }

    /// Names the device command the problem is about.
    pub fn with_command(mut self, command_id: &str) -> Self {
        self.command_id = Some(command_id.to_owned());
        self
    }

    pub fn with_errors(mut self, errors: Vec<FieldProblem>) -> Self {
        self.errors = errors;
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    pub fn errors(&self) -> &[FieldProblem] {
        &self.errors
    }

    pub fn problem(&self) -> Problem {
        // What went wrong inside (a library's message, a path) is for the log, which gets
        // `detail` (see `error_response`); the client gets a stable sentence.
        let detail = if self.code == ErrorCode::Internal { INTERNAL_DETAIL.to_owned() } else { self.detail.clone() };
        Problem {
            kind: format!("{PROBLEMS_PATH}#{}", self.code),
            title: self.code.title().to_owned(),
            status: self.status().as_u16(),
            detail,
            code: self.code,
            errors: self.errors.clone(),
            command_id: self.command_id.clone(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.status().as_u16(), self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status();
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        if let Some(secs) = self.retry_after_secs {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        // Only a failure inside is an error to log: 503s are expected while a dependency is
        // down (/readyz reports them), and a 504 is a device that did not answer in time.
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error.code = %self.code, error.detail = %self.detail, "request failed");
        }
        response.json(self.problem())
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match error {
            StoreError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            StoreError::Duplicate(what) => ApiError::new(ErrorCode::Duplicate, format!("{what} already exists")),
            StoreError::Conflict(what) => ApiError::new(ErrorCode::Conflict, what),
            // The store's own words stay in the log: they name files, hosts and queries.
            StoreError::Unavailable(what) => {
                tracing::warn!(error = %what, "store unavailable");
                ApiError::unavailable(ErrorCode::StoreUnavailable, "the store is unavailable; retry shortly", 1)
            }
            StoreError::Full(what) => {
                tracing::error!(error = %what, "store full");
                ApiError::unavailable(ErrorCode::StoreFull, "the disk of the store is full; retry once space is freed", 5)
            }
            // Logged with its words when answered (`error_response`); the client gets none.
            StoreError::Internal(what) => ApiError::internal(what),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    #[test]
    fn renders_problem_json_with_code_and_errors() {
        let error = ApiError::new(ErrorCode::InvalidSamples, "2 samples are invalid").with_errors(vec![FieldProblem {
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
        assert_eq!(json["code"], "invalid_samples");
        assert_eq!(json["title"], "Invalid samples");
        assert_eq!(json["type"], "/api/v1/docs/problems#invalid_samples");
        assert_eq!(json["errors"][0]["index"], 3);
        assert_eq!(json["errors"][0]["field"], "values.open");
    }

    #[test]
    fn internal_errors_log_their_detail_and_answer_a_stable_one() {
        let problem = ApiError::internal("cannot open /var/lib/srs/srs.db: permission denied").problem();
        assert_eq!((problem.status, problem.detail.as_str()), (500, INTERNAL_DETAIL));
    }

    #[test]
    fn unavailable_carries_retry_after() {
        let response = ApiError::unavailable(ErrorCode::QueueFull, "ingest queue is full", 2).error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).map(|v| v.as_bytes()), Some(&b"2"[..]));
    }
}
