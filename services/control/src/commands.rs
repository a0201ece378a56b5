//! Device commands: `POST /api/v1/devices/{sensor_id}/commands` sends one to the device's socket
//! and answers once the device acks it (200), or 504 when it does not in time, or 404 when no
//! socket is open — nothing is ever queued for later, a late "start" being worse than none.
//! Every command and its outcome is kept (`GET .../commands`). Who may send: admins always;
//! otherwise the owner and the operators of the active experiment (others get 404), and nobody
//! while no experiment is active.

use crate::Control;
use actix_web::{get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use srs_common::access::{self, Need};
use srs_common::auth::Caller;
use srs_common::error::Problem;
use srs_common::http::{Check, JsonBody};
use srs_common::model::{new_id, CommandStatus, DeviceCommand};
use srs_common::{ApiError, AppContext, ErrorCode};
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};

/// The longest a caller may wait for an ack.
const MAX_TIMEOUT_MS: u64 = 60_000;
const DEFAULT_TIMEOUT_MS: u64 = 5_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCommand {
    /// One of the commands the sensor's type declares.
    #[schema(min_length = 1, max_length = 64)]
    pub command: String,
    /// Passed to the device as they are.
    #[schema(value_type = Option<Object>)]
    pub args: Option<serde_json::Map<String, serde_json::Value>>,
    /// How long to wait for the device's ack (default 5000).
    #[schema(minimum = 1, maximum = 60000)]
    pub timeout_ms: Option<u64>,
}

/// What a device receives.
#[derive(Debug, Serialize)]
struct ToDevice<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    command: &'a str,
    args: &'a serde_json::Value,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// How many (newest first; default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
}

/// Send a command to a device and wait for its ack.
#[utoipa::path(post, path = "/api/v1/devices/{sensor_id}/commands", tag = "devices", security(("bearer" = [])),
    params(("sensor_id" = String, Path, description = "a sensor of the sensors file")), request_body = NewCommand, responses(
    (status = 200, description = "the device acknowledged it (`ok` says whether it did it)", body = DeviceCommand),
    (status = 403, description = "no experiment is active and the caller is no admin", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "no such sensor, the device is not connected (not_connected), or the caller runs no active experiment", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "the sensor's type declares no such command, or a bad timeout", body = Problem, content_type = "application/problem+json"),
    (status = 504, description = "no ack in time (command_timeout, with command_id)", body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/v1/devices/{sensor_id}/commands")]
pub async fn send(
    context: web::Data<AppContext>,
    control: web::Data<Control>,
    caller: Caller,
    sensor_id: web::Path<String>,
    body: JsonBody<NewCommand>,
) -> Result<HttpResponse, ApiError> {
    let new = body.into_inner();
    let sensor = context.sensors.sensor(&sensor_id).ok_or_else(|| ApiError::not_found(format!("no sensor {sensor_id}")))?;
    if !sensor.sensor_type.commands.contains(&new.command) {
        let declared = sensor.sensor_type.commands.join(", ");
        return Err(ApiError::new(
            ErrorCode::UnknownCommand,
            format!("{} ({}) takes no command \"{}\" (it takes: {declared})", sensor_id, sensor.sensor_type.name, new.command),
        ));
    }
    let timeout_ms = new.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
    Check::new().rule("timeout_ms", (1..=MAX_TIMEOUT_MS).contains(&timeout_ms), format!("must be 1 to {MAX_TIMEOUT_MS}")).finish()?;
    may_command(&context, &caller, &sensor_id).await?;
    let args = serde_json::Value::Object(new.args.unwrap_or_default());
    let command = DeviceCommand {
        id: new_id(),
        sensor_id: sensor_id.into_inner(),
        command: new.command,
        args,
        status: CommandStatus::Sent,
        ok: None,
        detail: None,
        sent_by: caller.id.clone(),
        sent_at: srs_common::time::now(),
        acked_at: None,
    };
    let outcome = deliver(&context, &control, command, Duration::from_millis(timeout_ms)).await?;
    match outcome.status {
        CommandStatus::Acked => Ok(HttpResponse::Ok().json(outcome)),
        CommandStatus::NotConnected => {
            Err(ApiError::new(ErrorCode::NotConnected, format!("{} is not connected; nothing was sent", outcome.sensor_id)))
        }
        CommandStatus::Timeout | CommandStatus::Sent => Err(ApiError::new(
            ErrorCode::CommandTimeout,
            format!("{} did not acknowledge {} within {timeout_ms} ms", outcome.sensor_id, outcome.command),
        )
        .with_command(&outcome.id)),
    }
}

/// Records `command`, has the replica holding the device's socket (this one or another, see
/// `relay`) send it and wait up to `timeout` for the ack; returns the command with its outcome
/// as stored.
pub async fn deliver(
    context: &AppContext,
    control: &Control,
    command: DeviceCommand,
    timeout: Duration,
) -> Result<DeviceCommand, ApiError> {
    context.store.insert_command(&command).await?;
    if control.devices.holds(&command.sensor_id) {
        let outcome = context.store.finish_command(&send_here(control, command, timeout).await).await?;
        announce(context, &outcome).await;
        return Ok(outcome);
    }
    let outcome = match context.store.device_holder(&command.sensor_id, srs_common::time::now()).await? {
        Some(holder) if holder == control.replica => send_here(control, command, timeout).await,
        Some(holder) => crate::relay::relay(context, control, &holder, command, timeout).await,
        None => DeviceCommand { status: CommandStatus::NotConnected, ..command },
    };
    let outcome = context.store.finish_command(&outcome).await?;
    announce(context, &outcome).await;
    Ok(outcome)
}

/// Tells every replica's live sockets how a command went.
pub async fn announce(context: &AppContext, outcome: &DeviceCommand) {
    if let Err(error) = context.bus.publish(&[srs_common::events::event(srs_common::events::DEVICE_COMMAND, outcome)]).await {
        tracing::debug!(%error, "command outcome not announced");
    }
}

/// Sends `command` on the socket this replica holds and waits up to `timeout` for the ack.
pub async fn send_here(control: &Control, command: DeviceCommand, timeout: Duration) -> DeviceCommand {
    let to_device = ToDevice { kind: "command", id: &command.id, command: &command.command, args: &command.args };
    let message = serde_json::to_string(&to_device).unwrap_or_default();
    match control.devices.send(&command.sensor_id, &command.id, message).await {
        Err(_) => DeviceCommand { status: CommandStatus::NotConnected, ..command },
        Ok(answer) => match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(ack)) => DeviceCommand {
                status: CommandStatus::Acked,
                ok: Some(ack.ok),
                detail: ack.detail,
                acked_at: Some(srs_common::time::now()),
                ..command
            },
            // No ack in time, or the socket closed before one came.
            Ok(Err(_)) | Err(_) => DeviceCommand { status: CommandStatus::Timeout, ..command },
        },
    }
}

async fn may_command(context: &AppContext, caller: &Caller, sensor_id: &str) -> Result<(), ApiError> {
    if caller.is_admin() {
        return Ok(());
    }
    let Some(active) = context.store.active_experiment_id().await? else {
        return Err(ApiError::forbidden("no experiment is active: only admins may send commands now"));
    };
    // Someone who does not run the active experiment learns nothing about it.
    access::experiment(context, caller, &active, Need::Run)
        .await
        .map(|_| ())
        .map_err(|_| ApiError::not_found(format!("no device {sensor_id} in an experiment you run")))
}

/// A device's recent commands, newest first, with their outcomes.
#[utoipa::path(get, path = "/api/v1/devices/{sensor_id}/commands", tag = "devices", security(("bearer" = [])),
    params(("sensor_id" = String, Path, description = "a sensor of the sensors file"), HistoryQuery), responses(
    (status = 200, body = Vec<DeviceCommand>),
    (status = 404, description = "no such sensor", body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/v1/devices/{sensor_id}/commands")]
pub async fn history(
    context: web::Data<AppContext>,
    _caller: Caller,
    sensor_id: web::Path<String>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    context.sensors.sensor(&sensor_id).ok_or_else(|| ApiError::not_found(format!("no sensor {sensor_id}")))?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::new(ErrorCode::InvalidQuery, "limit: must be 1 to 500"));
    }
    Ok(HttpResponse::Ok().json(context.store.list_commands(&sensor_id, limit).await?))
}
