//! The problem documents for the answers Traefik makes itself — its rate limit (429), a
//! service none of whose instances took the connection (502), a service with no instance
//! (503), a service that did not answer in time (504) and a path no route takes (404) — so that
//! through the gateway every error is `application/problem+json`, as SRS's own are.
//!
//! Traefik's errors middleware asks this page with the status it caught (and, in the query,
//! the `Retry-After` to advise and the request's URL) and answers the client with it. The
//! middleware cannot tell Traefik's answers from a service's, and it would replace the
//! service's own problem (with its detail and `Retry-After`) by this one, so `proxy/` lets each
//! router catch only statuses its service never answers itself (docs/operations.md).

use actix_web::http::header;
use actix_web::{web, HttpResponse, ResponseError};
use serde::Deserialize;
use srs_common::error::Problem;
use srs_common::{ApiError, ErrorCode};
use utoipa::IntoParams;

/// The path Traefik's errors middleware and the unmatched-path router point at.
pub const PATH: &str = "/gateway-error/{status}";

/// What a client is told to wait before retrying, when the gateway does not say.
const DEFAULT_RETRY_AFTER_SECS: u32 = 1;

pub fn configure(config: &mut web::ServiceConfig) {
    // Every method: the unmatched-path router forwards the client's request as it came.
    config.service(web::resource(PATH).to(gateway_error));
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Seconds the client should wait before retrying (429, 502, 503, 504); 1 when absent.
    #[param(minimum = 0, maximum = 3600)]
    retry_after: Option<u32>,
    /// The URL of the request the gateway answers; its path and query are named in `detail`.
    url: Option<String>,
}

/// The gateway's own error answers as problem documents (Traefik's errors middleware).
#[utoipa::path(get, path = "/gateway-error/{status}", tag = "operations",
    params(("status" = u16, Path, description = "the status the gateway answers: 404, 429, 502, 503 or 504"), PageQuery),
    responses(
        (status = 400, description = "a query parameter is not of the expected type", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no route takes the path (not_found), or no page for that status", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "the gateway's per-client rate limit (too_many_requests), with Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "no instance of the service took the connection (service_unreachable), with Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the service has no instance (service_unavailable), with Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "the service did not answer in time (service_timeout), with Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn gateway_error(status: web::Path<String>, query: web::Query<PageQuery>) -> HttpResponse {
    let query = query.into_inner();
    let retry_after = query.retry_after.unwrap_or(DEFAULT_RETRY_AFTER_SECS).min(3600);
    let request = query.url.filter(|url| !url.is_empty()).map(|url| format!(" ({})", path_of(&url))).unwrap_or_default();
    let error = match status.parse::<u16>() {
        Ok(404) => ApiError::not_found(format!("no SRS endpoint at this path{request}")),
        Ok(429) => ApiError::too_many_requests(format!("this client sent more requests than the gateway allows{request}"), retry_after),
        Ok(502) => ApiError::unavailable(
            ErrorCode::ServiceUnreachable,
            format!("no instance of the service took the connection{request}"),
            retry_after,
        ),
        Ok(503) => {
            ApiError::unavailable(ErrorCode::ServiceUnavailable, format!("the service has no running instance{request}"), retry_after)
        }
        Ok(504) => ApiError::unavailable(ErrorCode::ServiceTimeout, format!("the service did not answer in time{request}"), retry_after),
        _ => ApiError::not_found(format!("the gateway has no error page for status {status}")),
    };
    let mut response = error.error_response();
    // Never cached: the same page answers for every path.
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}

/// The path and query of a URL (Traefik passes the whole URL, scheme and host included).
fn path_of(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |start| &rest[start..]),
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::path_of;

    #[test]
    fn the_detail_names_the_path_and_query_not_the_host() {
        assert_eq!(path_of("http://127.0.0.1:8000/api/v1/samples?x=1"), "/api/v1/samples?x=1");
        assert_eq!(path_of("https://lab.example.org"), "/");
        assert_eq!(path_of("/api/v1/exports"), "/api/v1/exports");
    }
}
