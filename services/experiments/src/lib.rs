//! The experiments service: how a lab runs a study. Admins manage users and device tokens;
//! experimenters define sensor configs and experiments with tasks, participants and operators;
//! operators run recordings and keep the logbook and participant progress. Every experiment
//! and everything under it is visible only to admins, its owner and its assigned operators.
//!
//! A library with a thin binary (`srs-experiments`); `srs serve` mounts it beside the others.

// Object-level access lives in common: the exporter checks experiments the same way.
use srs_common::access;
mod coverage;
mod events;
mod login;
mod routes;
mod views;

use srs_common::http::Mount;
use srs_common::service::Service;
use srs_common::shutdown::Background;
use srs_common::AppContext;
use std::sync::Arc;
use utoipa::OpenApi;

use login::LoginLimits;
pub use routes::users::{create_user, NewUser, MIN_PASSWORD_CHARS};

/// The experiments service (its settings are the common `[auth]` section).
pub const SERVICE: Service = Service { name: "experiments", openapi, start, settings: &[] };

/// The routes; logins are throttled per account and per client address as `[auth]` says.
fn start(context: &AppContext, _: &Background) -> anyhow::Result<Mount> {
    let login = actix_web::web::Data::new(login::LoginState::new(LoginLimits::from_settings(&context.settings)));
    Ok(Arc::new(move |config| {
        config.app_data(login.clone());
        routes::configure(config);
    }))
}

/// The service's OpenAPI document.
fn openapi() -> utoipa::openapi::OpenApi {
    routes::ExperimentsApi::openapi()
}
