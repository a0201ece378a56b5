//! Prometheus metrics, in the process-wide default registry. Services register their own
//! collectors the same way; `/metrics` renders everything.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, TextEncoder};
use std::sync::LazyLock;

/// Registers a collector once; a second registration of the same name (two services in one
/// process) is harmless, so its error is ignored.
pub fn register<C: prometheus::core::Collector + Clone + 'static>(collector: C) -> C {
    let _ = prometheus::default_registry().register(Box::new(collector.clone()));
    collector
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    #[allow(clippy::unwrap_used)] // the options are constants; a bad one is a programming error caught by every test
    register(IntCounterVec::new(Opts::new(name, help), labels).unwrap())
}

static HTTP_REQUESTS: LazyLock<IntCounterVec> =
    LazyLock::new(|| counter_vec("srs_http_requests_total", "HTTP requests by method, route and status", &["method", "route", "status"]));

static HTTP_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    let opts = HistogramOpts::new("srs_http_request_duration_seconds", "HTTP request latency by method and route")
        .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0]);
    #[allow(clippy::unwrap_used)]
    register(HistogramVec::new(opts, &["method", "route"]).unwrap())
});

static BUS_RECONNECTS: LazyLock<IntCounter> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)]
    register(IntCounter::new("srs_bus_reconnects_total", "Times the bus connection was re-established").unwrap())
});

pub fn http_requests() -> &'static IntCounterVec {
    &HTTP_REQUESTS
}

pub fn http_duration() -> &'static HistogramVec {
    &HTTP_DURATION
}

pub fn bus_reconnects() -> &'static IntCounter {
    &BUS_RECONNECTS
}

/// Every registered metric in the Prometheus text format.
pub fn render() -> String {
    // Touch the shared metrics so they appear (at zero) before their first use.
    let _ = (&*HTTP_REQUESTS, &*HTTP_DURATION, &*BUS_RECONNECTS);
    let mut buffer = Vec::new();
    if let Err(error) = TextEncoder::new().encode(&prometheus::gather(), &mut buffer) {
        tracing::error!(%error, "cannot encode metrics");
    }
    String::from_utf8_lossy(&buffer).into_owned()
}
