//! The control service: device sockets (one per sensor, with its last status), commands that
//! are acknowledged by the device whichever replica holds its socket (`commands.rs`,
//! `relay.rs`), the recording hooks (`hooks.rs`), the operators' live socket with events,
//! activity and live values (`live*.rs`, `feed.rs`, `values.rs`), and the public status socket.
//! `device.connected` / `device.disconnected` go to the bus for the notifier.
//!
//! A library with a thin binary (`srs-control`); `srs serve` runs it beside the others.

mod commands;
mod device_socket;
mod devices;
mod feed;
mod hooks;
mod live;
mod live_socket;
mod metrics;
mod relay;
mod routes;
pub mod settings;
mod status_socket;
mod upgrade;
mod values;

use actix_web::web;
use srs_common::active_state::ActiveState;
use srs_common::auth::device_tokens::DeviceTokens;
use srs_common::http::Mount;
use srs_common::service::Service;
use srs_common::shutdown::Background;
use srs_common::AppContext;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

/// The control service.
pub const SERVICE: Service = Service { name: "control", openapi, start, settings: &[&settings::SECTION] };

/// How often the status socket's state is re-read even without an event.
const RESYNC: Duration = Duration::from_secs(5);

/// What the handlers share.
pub struct Control {
    settings: settings::ControlSettings,
    tokens: DeviceTokens,
    devices: devices::Devices,
    active_state: watch::Sender<ActiveState>,
    /// Fires when shutdown begins: every socket closes (1001) so the drain need not wait.
    closing: CancellationToken,
    /// This replica's name in the store's device holds and on the bus.
    replica: String,
    /// Commands relayed to other replicas, waiting for their outcome.
    waiting: relay::Waiting,
    /// True once this replica takes relayed commands off the bus: only then does it tell the
    /// store it holds a device, so no other replica relays to it before it listens.
    relay_ready: watch::Sender<bool>,
    /// This replica's live sockets.
    hub: Arc<live::Hub>,
    /// Their live value subscriptions.
    values: Arc<values::LiveValues>,
}

fn start(context: &AppContext, background: &Background) -> anyhow::Result<Mount> {
    let settings = settings::ControlSettings::from_settings(&context.settings)?;
    let tokens = DeviceTokens::new(settings.require_device_token, Duration::from_secs(settings.device_token_cache_secs));
    let (active_state, _) = watch::channel(ActiveState { experiment: None, recording: None });
    status_socket::follow_active_state(context.clone(), active_state.clone(), background, RESYNC);
    let closing = background.closing.clone();
    let replica = srs_common::model::new_id();
    let devices = devices::Devices::default();
    let (waiting, relay_ready) = (relay::Waiting::default(), watch::channel(false).0);
    metrics::init();
    let hub = Arc::new(live::Hub::default());
    feed::start(context.clone(), hub.clone(), background);
    let values = Arc::new(values::LiveValues::default());
    values::start(context.clone(), values.clone(), hub.clone(), replica.clone(), background);
    let control = web::Data::new(Control { settings, tokens, devices, active_state, closing, replica, waiting, relay_ready, hub, values });
    relay::start(context.clone(), control.clone().into_inner(), background);
    hooks::start(context.clone(), control.clone().into_inner(), background);
    Ok(Arc::new(move |config| {
        config.app_data(control.clone());
        routes::configure(config);
    }))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        routes::list_devices,
        commands::send,
        commands::history,
        device_socket::device_socket,
        live_socket::live_socket,
        status_socket::status_socket
    ),
    components(schemas(srs_common::events::DeviceConnection)),
    tags((name = "devices", description = "Device sockets, connected devices, the public status socket"))
)]
struct ControlApi;

fn openapi() -> utoipa::openapi::OpenApi {
    ControlApi::openapi()
}
