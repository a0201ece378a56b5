//! Every endpoint of the service, and its OpenAPI document.

mod activation;
mod auth;
mod device_tokens;
mod experiments;
mod logbook;
mod members;
mod progress;
mod recordings;
mod samples;
mod sensor_configs;
pub mod users;

use actix_web::web::ServiceConfig;
use utoipa::OpenApi;

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(auth::login)
        .service(auth::refresh)
        .service(auth::me)
        .service(users::create)
        .service(users::list)
        .service(users::get)
        .service(users::update)
        .service(users::remove)
        .service(device_tokens::issue)
        .service(device_tokens::revoke)
        .service(sensor_configs::sensor_types)
        .service(sensor_configs::create)
        .service(sensor_configs::list)
        .service(sensor_configs::get)
        .service(sensor_configs::update)
        // `active` before `{id}`, which would match it too.
        .service(experiments::active_state)
        .service(experiments::create)
        .service(experiments::list)
        .service(experiments::get)
        .service(experiments::update)
        .service(members::add_task)
        .service(members::add_participant)
        .service(members::set_operators)
        .service(activation::activate)
        .service(activation::deactivate)
        .service(recordings::start)
        .service(recordings::stop)
        .service(recordings::list)
        .service(logbook::append)
        .service(logbook::list)
        .service(progress::put)
        .service(progress::list)
        .service(samples::stats)
        .service(samples::remove);
}

#[derive(OpenApi)]
#[openapi(
    paths(
        auth::login, auth::refresh, auth::me,
        users::create, users::list, users::get, users::update, users::remove,
        device_tokens::issue, device_tokens::revoke,
        sensor_configs::sensor_types, sensor_configs::create, sensor_configs::list, sensor_configs::get, sensor_configs::update,
        experiments::active_state, experiments::create, experiments::list, experiments::get, experiments::update,
        members::add_task, members::add_participant, members::set_operators,
        activation::activate, activation::deactivate,
        recordings::start, recordings::stop, recordings::list,
        logbook::append, logbook::list,
        progress::put, progress::list,
        samples::stats, samples::remove,
    ),
    components(schemas(
        srs_common::events::ExperimentActivated, srs_common::events::ExperimentDeactivated,
        srs_common::events::RecordingStarted, srs_common::events::RecordingStopped, srs_common::events::SensorConfigChanged,
    )),
    tags(
        (name = "auth", description = "Sign in, refresh, who am I"),
        (name = "users", description = "User administration (admins)"),
        (name = "device tokens", description = "Tokens sensors post with (admins)"),
        (name = "sensor configs", description = "Sensor types and which sensors an experiment records"),
        (name = "experiments", description = "Experiments, their tasks, participants and operators, and activation"),
        (name = "recordings", description = "Recording sessions"),
        (name = "logbook", description = "What happened, in the operators' words"),
        (name = "progress", description = "Participant progress per task"),
        (name = "samples", description = "Recorded data: statistics and guarded deletion"),
    )
)]
pub struct ExperimentsApi;
