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
use std::sync::Arc;
use utoipa::OpenApi;

pub use login::LoginLimits;
pub use routes::users::{create_user, NewUser, MIN_PASSWORD_CHARS};

/// The service's routes. `limits` throttle logins per account and per client address.
pub fn mount(limits: LoginLimits) -> Mount {
    let login = actix_web::web::Data::new(login::LoginState::new(limits));
    Arc::new(move |config| {
        config.app_data(login.clone());
        routes::configure(config);
    })
}

/// The service's routes with the login limits from the settings.
pub fn mount_with(settings: &srs_common::Settings) -> Mount {
    mount(LoginLimits::from_settings(settings))
}

/// The service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes::ExperimentsApi::openapi()
}
