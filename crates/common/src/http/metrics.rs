//! HTTP request metrics on `/metrics`, by method, route pattern and status.

use crate::metrics::register;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts};
use std::sync::LazyLock;

static HTTP_REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // the options are constants; a bad one is a programming error caught by every test
    register(
        IntCounterVec::new(
            Opts::new("srs_http_requests_total", "HTTP requests by method, route and status"),
            &["method", "route", "status"],
        )
        .unwrap(),
    )
});

static HTTP_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    let opts = HistogramOpts::new("srs_http_request_duration_seconds", "HTTP request latency by method and route")
        .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0]);
    #[allow(clippy::unwrap_used)]
    register(HistogramVec::new(opts, &["method", "route"]).unwrap())
});

pub fn http_requests() -> &'static IntCounterVec {
    &HTTP_REQUESTS
}

pub fn http_duration() -> &'static HistogramVec {
    &HTTP_DURATION
}

pub(crate) fn touch() {
    let _ = (&*HTTP_REQUESTS, &*HTTP_DURATION);
}
