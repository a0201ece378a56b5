//! The ingest service: sensors post samples; each is checked against the sensors file and
//! committed in batches by the `SampleBatcher` before the request is answered — a 200 means
//! durable. Which recording a sample belongs to is decided by the store inside the commit, from
//! the running recording as it is then, so the edges of a recording are exact. Samples outside
//! a recording (or of a sensor the config disables) feed the live view only. Per-sensor
//! activity goes to the bus once a second, and the watched sensors' live values 5 times a second.
//! Besides HTTP, samples arrive over MQTT (`mqtt`) and from The Things Stack (`ttn`), through
//! the same intake (`intake`) and with the same guarantee: acknowledged once committed.
//!
//! A library with a thin binary (`srs-ingest`); `srs serve` mounts it beside the others.

mod activity;
mod batcher;
mod check;
mod intake;
mod live_values;
mod metrics;
pub mod mqtt;
mod parse;
mod receive_clock;
mod routes;
pub mod schema;
pub mod settings;
mod ttn;

use actix_web::web;
use srs_common::http::Mount;
use srs_common::service::Service;
use srs_common::shutdown::Background;
use srs_common::AppContext;
use std::sync::Arc;
use std::time::Duration;
use utoipa::OpenApi;

pub use batcher::SampleBatcher;

/// What the handlers share.
pub struct Ingest {
    batcher: SampleBatcher,
    clock: receive_clock::ReceiveClock,
    windows: Arc<activity::SensorWindows>,
    live: Arc<live_values::LiveValues>,
    tokens: srs_common::auth::device_tokens::DeviceTokens,
    settings: settings::IngestSettings,
    /// `ttn.webhook_secret`; `None` while it is empty (the webhook is off).
    ttn_webhook_secret: Option<secrecy::SecretString>,
}

/// The ingest service.
pub const SERVICE: Service = Service {
    name: "ingest",
    openapi,
    start,
    settings: &[&settings::SECTION, &mqtt::settings::MQTT_SECTION, &mqtt::settings::TTN_SECTION],
};

/// Starts the background work (batch writer, activity) on `background` and returns the routes.
fn start(context: &AppContext, background: &Background) -> anyhow::Result<Mount> {
    metrics::init();
    let settings = settings::IngestSettings::from_settings(&context.settings)?;
    let windows = Arc::new(activity::SensorWindows::new(context.sensors.len()));
    activity::publish_every_second(context.clone(), windows.clone(), background);
    let live = Arc::new(live_values::LiveValues::new(context.sensors.len()));
    live_values::start(context.clone(), live.clone(), background);
    let batcher = SampleBatcher::start(context.store.clone(), background, settings.queue_capacity, settings.max_batch_samples);
    let tokens = srs_common::auth::device_tokens::DeviceTokens::new(
        settings.require_device_token,
        Duration::from_secs(settings.device_token_cache_secs),
    );
    let ttn = mqtt::settings::TtnSettings::from_settings(&context.settings)?;
    let ttn_webhook_secret = ttn.webhook_secret();
    let ingest =
        Arc::new(Ingest { batcher, clock: receive_clock::ReceiveClock::new(), windows, live, tokens, settings, ttn_webhook_secret });
    mqtt::start(&ingest, &ttn, context, background)?;
    let ingest = web::Data::from(ingest);
    Ok(Arc::new(move |config| {
        config.app_data(ingest.clone());
        routes::configure(config);
    }))
}

#[derive(OpenApi)]
#[openapi(
    paths(routes::post_samples, routes::post_sensor_samples, routes::sensor_status, ttn::webhook::ttn_uplink),
    components(schemas(srs_common::events::SensorActivity)),
    tags((name = "ingest", description = "Sample intake and sensor status"))
)]
struct IngestApi;

/// The service's OpenAPI document.
fn openapi() -> utoipa::openapi::OpenApi {
    IngestApi::openapi()
}
