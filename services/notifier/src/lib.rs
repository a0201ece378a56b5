//! The notifier service: alerts once per condition, resolved when it clears, delivered by
//! email, Slack and webhook from a durable outbox in the store.
//!
//! - `rules/`: what makes an alert — exports and devices (told by lifecycle events, which
//!   `lifecycle.rs` consumes from the notifier's durable queue), silent sensors and low disk
//!   space (judged by timers).
//! - `alerts.rs`: records what the rules find; the store keeps one firing alert per condition,
//!   so replicas and restarts agree.
//! - `outbox.rs` and `channels/`: deliver every recorded message once, with backoff until its
//!   deadline.
//! - `routes.rs`: `/api/v1/notifications` (test a channel, recent alerts, the channels).
//!
//! A library with a thin binary (`srs-notifier`); `srs serve` runs it beside the others.

pub mod alerts;
pub mod channels;
mod lifecycle;
mod metrics;
pub mod outbox;
mod recording;
mod routes;
pub mod rules;
pub mod settings;

use actix_web::web;
use channels::Channel;
use srs_common::http::Mount;
use srs_common::service::Service;
use srs_common::shutdown::Background;
use srs_common::AppContext;
use std::sync::Arc;
use utoipa::OpenApi;

/// The notifier service.
pub const SERVICE: Service = Service { name: "notifier", openapi, start, settings: &[&settings::SECTION] };

/// What the handlers share.
pub struct Notifier {
    alerts: Arc<alerts::Alerts>,
    channels: Vec<Arc<dyn Channel>>,
}

impl Notifier {
    /// The channel of that name, when the settings turn it on.
    fn channel(&self, name: &str) -> Option<&Arc<dyn Channel>> {
        self.channels.iter().find(|c| c.name() == name)
    }
}

fn start(context: &AppContext, background: &Background) -> anyhow::Result<Mount> {
    let settings = settings::NotifierSettings::from_settings(&context.settings)?;
    metrics::init();
    let channels = channels::configured(&settings, &reqwest::Client::new());
    let names: Vec<String> = channels.iter().map(|c| c.name().to_owned()).collect();
    tracing::info!(channels = ?names, rules_disabled = ?settings.rules_disabled, "notifier channels");
    let alerts = Arc::new(alerts::Alerts::new(context.clone(), settings.clone(), names));
    outbox::Outbox::new(context.clone(), settings, &channels).start(background);
    lifecycle::start(context, alerts.clone(), background);
    rules::disk::start(alerts.clone(), context.settings.data.dir.clone(), background);
    start_silence_watch(context, alerts.clone(), background);
    let notifier = web::Data::new(Notifier { alerts, channels });
    Ok(Arc::new(move |config| {
        config.app_data(notifier.clone());
        routes::configure(config);
    }))
}

/// The silence rule needs the running recording first, which is read from the store.
fn start_silence_watch(context: &AppContext, alerts: Arc<alerts::Alerts>, background: &Background) {
    let (context, spawner) = (context.clone(), background.clone());
    background.spawn(async move {
        let recording = recording::follow(&context, &spawner).await;
        rules::silence::start(&context, alerts, recording, &spawner);
    });
}

#[derive(OpenApi)]
#[openapi(
    paths(routes::test_channel, routes::list_alerts, routes::list_channels),
    components(schemas(routes::TestRequest, routes::ChannelName, routes::TestResult, routes::AlertView, routes::DeliveryView, routes::ChannelView)),
    tags((name = "notifications", description = "Alerts and their delivery by email, Slack and webhook (admins)"))
)]
struct NotifierApi;

/// The service's OpenAPI document.
fn openapi() -> utoipa::openapi::OpenApi {
    NotifierApi::openapi()
}
