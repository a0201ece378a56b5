//! HTTP plumbing every service shares: health and readiness, Prometheus metrics, the OpenAPI
//! document, request observation (spans and metrics), JSON error handling and the server
//! bootstrap.

mod extractors;
pub mod health;
pub mod metrics;
mod observe;
pub mod openapi;
pub mod server;

pub use extractors::{json_config, path_config, query_config};
pub use server::{Mount, RunningServer, ServerBuilder};
