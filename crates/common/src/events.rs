//! The experiment lifecycle events the experiments service publishes and ingest, control and
//! notifier consume: their routing keys and payloads. Each carries what a consumer needs to act
//! without reading the store (it still re-reads the store at start-up and after a reconnect).

use crate::bus::Event;
use crate::model::ConfiguredSensor;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const EXPERIMENT_ACTIVATED: &str = "experiment.activated";
pub const EXPERIMENT_DEACTIVATED: &str = "experiment.deactivated";
pub const RECORDING_STARTED: &str = "recording.started";
pub const RECORDING_STOPPED: &str = "recording.stopped";
pub const SENSOR_CONFIG_CHANGED: &str = "sensor_config.changed";
/// Published by ingest about once a second per sensor that posted samples.
pub const SENSOR_ACTIVITY: &str = "sensor.activity";
/// The export job (a work-queue job, not a fan-out event): `ExportRequested`.
pub const EXPORT_REQUESTED: &str = "export.requested";
/// Published by the exporter about once a second while a job runs.
pub const EXPORT_PROGRESS: &str = "export.progress";
pub const EXPORT_COMPLETED: &str = "export.completed";
pub const EXPORT_FAILED: &str = "export.failed";
/// Published by control when a device's socket opens or closes (a replacement is neither).
pub const DEVICE_CONNECTED: &str = "device.connected";
pub const DEVICE_DISCONNECTED: &str = "device.disconnected";
/// Published by control when a device reports its status (`DeviceStatus`).
pub const DEVICE_STATUS: &str = "device.status";
/// Published by control with every device command's outcome (a `DeviceCommand`).
pub const DEVICE_COMMAND: &str = "device.command";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExperimentActivated {
    pub experiment_id: String,
    pub name: String,
    pub sensor_config_id: String,
    /// Ids of the sensors whose samples are stored while this experiment records.
    pub enabled_sensors: Vec<String>,
    /// The experiment this one replaced as the active one, if any.
    pub previous_experiment_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExperimentDeactivated {
    pub experiment_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordingStarted {
    pub recording_id: String,
    pub experiment_id: String,
    pub participant_id: String,
    pub participant_code: String,
    pub task_id: Option<String>,
    pub task_name: Option<String>,
    pub started_at: DateTime<Utc>,
    pub enabled_sensors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordingStopped {
    pub recording_id: String,
    pub experiment_id: String,
    pub participant_id: String,
    pub task_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub stopped_at: DateTime<Utc>,
    pub sample_count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SensorConfigChanged {
    pub sensor_config_id: String,
    pub name: String,
    pub sensors: Vec<ConfiguredSensor>,
    pub enabled_sensors: Vec<String>,
}

/// One sensor's samples over about the last second, for the live view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SensorActivity {
    pub sensor_id: String,
    /// Samples received since the previous activity event of this sensor.
    pub samples: u64,
    /// The newest sample time seen (nanoseconds since the Unix epoch).
    pub last_ts: i64,
    pub rate_hz: f64,
    /// The ingest replica that counted them (each replica folds in the others' counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
}

/// The job that asks an exporter to run the export recorded under `export_id`; everything
/// else (experiment, filter, attempts) is read from the record, which is the truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportRequested {
    pub export_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExportProgress {
    pub export_id: String,
    pub experiment_id: String,
    pub rows_written: u64,
    pub rows_total: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExportCompleted {
    pub export_id: String,
    pub experiment_id: String,
    pub rows: u64,
    pub files: usize,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExportFailed {
    pub export_id: String,
    pub experiment_id: String,
    pub error: String,
    pub attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceConnection {
    pub sensor_id: String,
    #[serde(rename = "type")]
    pub sensor_type: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceStatus {
    pub sensor_id: String,
    #[schema(value_type = Object)]
    pub state: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// The bus event of `kind` carrying `payload`.
pub fn event<T: Serialize>(kind: &str, payload: &T) -> Event {
    Event::new(kind, serde_json::to_value(payload).unwrap_or(serde_json::Value::Null))
}

/// The ids of the enabled sensors of a config.
pub fn enabled_sensors(sensors: &[ConfiguredSensor]) -> Vec<String> {
    sensors.iter().filter(|s| s.enabled).map(|s| s.id.clone()).collect()
}
