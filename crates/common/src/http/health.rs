//! `/healthz` (the process runs) and `/readyz` (its store and bus answer).

use crate::error::ErrorCode;
use crate::error::{ApiError, Problem};
use crate::store::StoreError;
use crate::AppContext;
use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub status: &'static str,
    /// "ok" or what is wrong, per dependency.
    pub store: String,
    pub bus: String,
    /// What the service adds, by name ("ok" or what is wrong): ingest's `mqtt` and `ttn_mqtt`
    /// brokers when they are configured.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub brokers: BTreeMap<String, String>,
}

/// The process runs.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The store and the bus answer (and the MQTT brokers the service is configured for).
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, body = Readiness),
    (status = 503, description = "a dependency is down", body = Problem, content_type = "application/problem+json"),
))]
#[get("/readyz")]
pub async fn readyz(context: web::Data<AppContext>) -> Result<HttpResponse, ApiError> {
    // Stable words only: the store's own error text (paths, hosts) goes to the log.
    let store = match tokio::time::timeout(CHECK_TIMEOUT, context.store.ping()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(StoreError::Full(error))) => {
            tracing::warn!(%error, "readiness: the store's disk is full");
            "full".to_owned()
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: the store does not answer");
            "unavailable".to_owned()
        }
        Err(_) => "did not answer in time".to_owned(),
    };
    let bus = if context.bus.is_ready() { "ok".to_owned() } else { format!("{} bus is not connected", context.bus.backend()) };
    let brokers = context.readiness.results();
    let down: Vec<String> = [("store", &store), ("bus", &bus)]
        .into_iter()
        .chain(brokers.iter().map(|(name, state)| (name.as_str(), state)))
        .filter(|(_, state)| state.as_str() != "ok")
        .map(|(name, state)| format!("{name}: {state}"))
        .collect();
    if down.is_empty() {
        return Ok(HttpResponse::Ok().json(Readiness { status: "ok", store, bus, brokers }));
    }
    Err(ApiError::unavailable(ErrorCode::NotReady, down.join("; "), 1))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(crate::metrics::render())
}
