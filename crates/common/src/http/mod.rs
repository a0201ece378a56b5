//! HTTP plumbing every service shares: health and readiness, Prometheus metrics, the OpenAPI
//! document and docs page, request observation (spans and metrics), JSON bodies and their
//! errors, field validation and the server bootstrap.

mod client_address;
mod extractors;
pub mod health;
mod json_body;
pub mod metrics;
mod observe;
pub mod openapi;
mod route_table;
pub mod server;
mod shared_responses;
pub mod validate;

pub use client_address::client_address;
pub use extractors::{json_config, path_config, query_config};
pub use json_body::{from_str_named, parse as parse_json, JsonBody, JsonError};
pub use server::{Mount, RunningServer, ServerBuilder};
pub use validate::Check;
