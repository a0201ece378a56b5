//! Request observation: one tracing span per request and the request metrics.

use super::metrics;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use std::sync::LazyLock;
use std::time::Instant;
use tracing::Instrument;

/// Route patterns of recently seen paths. Finding a path's pattern means trying every route
/// again (regular expressions for the ones with `{id}`s); clients repeat paths, so remembering
/// the answer takes that off the hot path. Bounded: a flood of distinct paths only evicts.
static ROUTES: LazyLock<quick_cache::sync::Cache<String, String>> = LazyLock::new(|| quick_cache::sync::Cache::new(4_096));

fn route_of(request: &ServiceRequest) -> String {
    let path = request.path();
    if let Some(route) = ROUTES.get(path) {
        return route;
    }
    // The route pattern, not the path, keeps metric labels bounded.
    let route = request.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    ROUTES.insert(path.to_owned(), route.clone());
    route
}

pub(super) async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = route_of(&request);
    let span = tracing::info_span!("http.request", http.method = %method, http.route = %route, http.status = tracing::field::Empty);
    let response = next.call(request).instrument(span.clone()).await?;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    span.record("http.status", status);
    metrics::http_requests().with_label_values(&[method.as_str(), route.as_str(), &status.to_string()]).inc();
    metrics::http_duration().with_label_values(&[method.as_str(), route.as_str()]).observe(elapsed.as_secs_f64());
    span.in_scope(|| tracing::debug!(duration_ms = elapsed.as_secs_f64() * 1e3, "request finished"));
    Ok(response)
}
