//! Prometheus metrics, in the process-wide default registry: `register` for every collector of
//! every part of a service, `render` for `/metrics`. The bus's and HTTP's own collectors live
//! with them (`bus::metrics`, `http::metrics`).

use prometheus::{Encoder, TextEncoder};

/// Registers a collector once; a second registration of the same name (two services in one
/// process) is harmless, so its error is ignored.
pub fn register<C: prometheus::core::Collector + Clone + 'static>(collector: C) -> C {
    let _ = prometheus::default_registry().register(Box::new(collector.clone()));
    collector
}

/// Every registered metric in the Prometheus text format.
pub fn render() -> String {
    // The shared metrics appear (at zero) before their first use.
    crate::http::metrics::touch();
    crate::bus::metrics::touch();
    let mut buffer = Vec::new();
    if let Err(error) = TextEncoder::new().encode(&prometheus::gather(), &mut buffer) {
        tracing::error!(%error, "cannot encode metrics");
    }
    String::from_utf8_lossy(&buffer).into_owned()
}
