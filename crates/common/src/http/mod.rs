//! HTTP plumbing every service shares: health and readiness, Prometheus metrics, the OpenAPI
//! document and docs page, request observation (spans and metrics), JSON bodies and their
//! errors, field validation and the server bootstrap.

mod extractors;
pub mod health;
mod json_body;
pub mod metrics;
mod observe;
pub mod openapi;
pub mod server;
pub mod validate;

pub use extractors::{json_config, path_config, query_config};
pub use json_body::{from_str_named, parse as parse_json, JsonBody, JsonError};
pub use server::{Mount, RunningServer, ServerBuilder};
pub use validate::Check;
