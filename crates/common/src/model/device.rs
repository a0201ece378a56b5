//! Connected devices (`GET /api/v1/devices`), and commands sent to devices with their outcomes:
//! the history `GET /api/v1/devices/{sensor_id}/commands` shows and the recording hooks'
//! logbook lines come from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommandStatus {
    /// Sent; no answer yet.
    Sent,
    /// The device answered (`ok` says whether it did it).
    Acked,
    /// No answer within the command's timeout.
    Timeout,
    /// No socket of the device was open, so nothing was sent.
    NotConnected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceCommand {
    pub id: String,
    pub sensor_id: String,
    pub command: String,
    #[schema(value_type = Object)]
    pub args: serde_json::Value,
    pub status: CommandStatus,
    /// The device's answer, once acked.
    pub ok: Option<bool>,
    pub detail: Option<String>,
    /// The user who sent it.
    pub sent_by: String,
    pub sent_at: DateTime<Utc>,
    pub acked_at: Option<DateTime<Utc>>,
}

/// A connected device as `GET /api/v1/devices` lists it. The store keeps it with the hold of
/// the control replica that has its socket, so every replica lists every replica's devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConnectedDevice {
    pub sensor_id: String,
    #[serde(rename = "type")]
    pub sensor_type: String,
    pub connected_at: DateTime<Utc>,
    /// The `state` of the device's last `status` message.
    #[schema(value_type = Option<Object>)]
    pub last_status: Option<serde_json::Value>,
    pub last_status_at: Option<DateTime<Utc>>,
}
