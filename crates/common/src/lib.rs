//! The one crate every SRS service shares: settings, telemetry, errors, the domain model and
//! sensors file, the store and bus abstractions with their backends, and the HTTP plumbing
//! (health, readiness, metrics, OpenAPI, server bootstrap and ordered shutdown).

pub mod access;
pub mod active_state;
pub mod auth;
pub mod bus;
pub mod context;
pub mod error;
pub mod events;
pub mod http;
pub mod live_values;
pub mod metrics;
pub mod model;
pub mod readiness;
pub mod sensors;
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod varint;

pub use context::AppContext;
pub use error::{ApiError, ErrorCode};
pub use settings::Settings;
