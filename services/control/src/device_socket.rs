//! `GET /api/v1/ws/devices/{sensor_id}`: a device's socket. With `control.require_device_token`
//! the device shows its token (`Authorization: Bearer` or `?token=`), which must be the
//! sensor's. The device sends `status` messages (kept as its last status); it is pinged every
//! `ping_secs` and closed after `silence_secs` without a word; a second socket of the same
//! sensor replaces the first (closed with 4000 "replaced"); a message over
//! `max_message_bytes` closes it with 1009.

use crate::devices::{Ack, Connected, ConnectedDevice};
use crate::upgrade::upgrade;
use crate::Control;
use actix_web::{get, web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use serde::Deserialize;
use srs_common::auth::caller::bearer_token;
use srs_common::error::Problem;
use srs_common::events::{self, DeviceConnection, DeviceStatus};
use srs_common::{ApiError, AppContext};
use std::sync::Arc;
use std::time::{Duration, Instant};
use utoipa::IntoParams;

/// How long a new device socket waits for this replica's relay subscription before it goes on
/// without announcing its hold (only a broker that is down at start-up takes that long).
const RELAY_READY_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeviceSocketQuery {
    /// The device token, for devices that cannot set headers on a WebSocket request.
    pub token: Option<String>,
}

/// What a device sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum FromDevice {
    Status { state: serde_json::Value },
    Ack(Ack),
}

/// A device's socket (WebSocket).
#[utoipa::path(get, path = "/api/v1/ws/devices/{sensor_id}", tag = "devices", params(("sensor_id" = String, Path, description = "a sensor of the sensors file"), DeviceSocketQuery), responses(
    (status = 101, description = "the socket is open"),
    (status = 401, description = "a device token is required and missing or unknown", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "the device token is another sensor's", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "no such sensor", body = Problem, content_type = "application/problem+json"),
    (status = 426, description = "not a WebSocket request", body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/v1/ws/devices/{sensor_id}")]
pub async fn device_socket(
    request: HttpRequest,
    body: web::Payload,
    context: web::Data<AppContext>,
    control: web::Data<Control>,
    sensor_id: web::Path<String>,
    query: web::Query<DeviceSocketQuery>,
) -> Result<HttpResponse, ApiError> {
    let sensor = context.sensors.sensor(&sensor_id).ok_or_else(|| ApiError::not_found(format!("no sensor {sensor_id}")))?;
    let presented = bearer_token(&request).or(query.token.as_deref());
    if let Some(allowed) = control.tokens.sensor_of(&context, presented).await? {
        if allowed != *sensor_id {
            return Err(ApiError::forbidden(format!("this device token is for {allowed}, not {sensor_id}")));
        }
    }
    let (response, session, stream) = upgrade(&request, body, &[])?;
    let device = ConnectedDevice {
        sensor_id: sensor_id.into_inner(),
        sensor_type: sensor.sensor_type.name.clone(),
        connected_at: srs_common::time::now(),
        last_status: None,
        last_status_at: None,
    };
    let stream = stream
        .max_frame_size(control.settings.max_message_bytes)
        .aggregate_continuations()
        .max_continuation_size(control.settings.max_message_bytes);
    actix_web::rt::spawn(serve(context.into_inner(), control.into_inner(), device, session, stream));
    Ok(response)
}

async fn serve(
    context: Arc<AppContext>,
    control: Arc<Control>,
    device: ConnectedDevice,
    mut session: actix_ws::Session,
    mut stream: actix_ws::AggregatedMessageStream,
) {
    let sensor_id = device.sensor_id.clone();
    let connection_event =
        DeviceConnection { sensor_id: sensor_id.clone(), sensor_type: device.sensor_type.clone(), at: device.connected_at };
    // Known to this replica first, then held in the store (taking the device over from any
    // replica that had it): whoever sees the hold — `GET /api/v1/devices`, another replica
    // relaying a command — finds the socket here. The hold waits until this replica listens
    // for relayed commands.
    let held = device.clone();
    let connected = control.devices.connect(device, session.clone());
    let mut relay_ready = control.relay_ready.subscribe();
    if tokio::time::timeout(RELAY_READY_WAIT, relay_ready.wait_for(|ready| *ready)).await.is_err() {
        tracing::warn!(sensor.id = %sensor_id, "not taking relayed commands yet: only commands posted to this replica reach the device");
    }
    let until = srs_common::time::now() + chrono::Duration::seconds(i64::try_from(control.settings.hold_secs).unwrap_or(i64::MAX));
    if let Err(error) = context.store.hold_device(&held, &control.replica, until).await {
        tracing::warn!(%error, sensor.id = %sensor_id, "cannot record the device's hold: commands from other replicas will not find it");
    }
    let connection = match connected {
        Connected::New(connection) => {
            publish(&context, events::DEVICE_CONNECTED, &connection_event).await;
            connection
        }
        Connected::Replaced(connection, old) => {
            let _ = old.close(Some(CloseReason { code: CloseCode::Other(4000), description: Some("replaced".into()) })).await;
            connection
        }
    };
    tracing::info!(sensor.id = %sensor_id, connection, "device connected");
    let settings = &control.settings;
    let mut ping = tokio::time::interval(Duration::from_secs(settings.ping_secs));
    let silence = Duration::from_secs(settings.silence_secs);
    let mut last_heard = Instant::now();
    let reason = loop {
        tokio::select! {
            _ = control.closing.cancelled() => break Some(going_away()),
            _ = ping.tick() => {
                if last_heard.elapsed() >= silence {
                    break Some(CloseReason { code: CloseCode::Away, description: Some(format!("silent for {} s", silence.as_secs())) });
                }
                if session.ping(b"").await.is_err() {
                    break None;
                }
            }
            message = stream.recv() => {
                last_heard = Instant::now();
                match message {
                    Some(Ok(AggregatedMessage::Text(text))) => match serde_json::from_str::<FromDevice>(&text) {
                        Ok(FromDevice::Status { state }) => {
                            if let Some(device) = control.devices.status(&sensor_id, connection, state.clone()) {
                                if let Err(error) = context.store.update_held_device(&device, &control.replica).await {
                                    tracing::warn!(%error, sensor.id = %sensor_id, "the device's status is not in the store: other replicas list the older one");
                                }
                            }
                            let status = DeviceStatus { sensor_id: sensor_id.clone(), state, at: srs_common::time::now() };
                            if let Err(error) = context.bus.publish(&[events::event(events::DEVICE_STATUS, &status)]).await {
                                tracing::debug!(%error, "device status not announced");
                            }
                        }
                        Ok(FromDevice::Ack(ack)) => control.devices.ack(&sensor_id, connection, ack),
                        Err(error) => tracing::debug!(sensor.id = %sensor_id, %error, "unreadable device message ignored"),
                    },
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() {
                            break None;
                        }
                    }
                    Some(Ok(AggregatedMessage::Pong(_) | AggregatedMessage::Binary(_))) => {}
                    Some(Ok(AggregatedMessage::Close(_))) | None => break None,
                    Some(Err(actix_ws::ProtocolError::Overflow)) => {
                        break Some(CloseReason { code: CloseCode::Size, description: Some(format!("messages are at most {} bytes", settings.max_message_bytes)) });
                    }
                    Some(Err(error)) => break Some(CloseReason { code: CloseCode::Protocol, description: Some(error.to_string()) }),
                }
            }
        }
    };
    // A replacement closed this session already; closing again only fails.
    let _ = session.close(reason).await;
    if control.devices.disconnect(&sensor_id, connection) {
        if let Err(error) = context.store.release_device(&sensor_id, &control.replica).await {
            tracing::warn!(%error, sensor.id = %sensor_id, "cannot release the device's hold (it lapses by itself)");
        }
        let at = srs_common::time::now();
        publish(&context, events::DEVICE_DISCONNECTED, &DeviceConnection { at, ..connection_event }).await;
        tracing::info!(sensor.id = %sensor_id, connection, "device disconnected");
    }
}

/// Closing because the service shuts down: the device reconnects (to another replica).
pub fn going_away() -> CloseReason {
    CloseReason { code: CloseCode::Away, description: Some("shutting down".into()) }
}

async fn publish(context: &AppContext, kind: &str, payload: &DeviceConnection) {
    if let Err(error) = context.bus.publish(&[events::event(kind, payload)]).await {
        tracing::warn!(%error, kind, "device event not published");
    }
}
