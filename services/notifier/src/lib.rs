//! The notifier service: alerts once per condition, resolved when it clears, delivered by
//! email, Slack and webhook from a durable outbox in the store.
//!
//! Built so far (issue 12 lands in steps): its settings, the channels, and the outbox sender
//! that delivers every recorded alert once, with backoff until its deadline. Still to come:
//! the rules that record alerts (exports, silent sensors, disconnected devices, low disk) and
//! the `/api/v1/notifications` endpoints.
//!
//! A library with a thin binary (`srs-notifier`); `srs serve` runs it beside the others.

pub mod channels;
pub mod outbox;
pub mod settings;

use srs_common::http::Mount;
use srs_common::service::Service;
use srs_common::shutdown::Background;
use srs_common::AppContext;
use std::sync::Arc;
use utoipa::OpenApi;

/// The notifier service.
pub const SERVICE: Service = Service { name: "notifier", openapi, start, settings: Some(&settings::SECTION) };

fn start(context: &AppContext, background: &Background) -> anyhow::Result<Mount> {
    let settings = settings::NotifierSettings::from_settings(&context.settings)?;
    let channels = channels::configured(&settings, &reqwest::Client::new());
    let names: Vec<&str> = channels.iter().map(|c| c.name()).collect();
    tracing::info!(channels = ?names, "notifier channels");
    outbox::Outbox::new(context.clone(), settings, &channels).start(background);
    Ok(Arc::new(|_config| {}))
}

#[derive(OpenApi)]
#[openapi()]
struct NotifierApi;

/// The service's OpenAPI document (its endpoints are still to come).
fn openapi() -> utoipa::openapi::OpenApi {
    NotifierApi::openapi()
}
