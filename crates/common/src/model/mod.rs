//! The domain model: what the store keeps and the services exchange. Ids are UUIDv7 strings
//! (time-ordered, so lists sort by creation); times are UTC.

mod alert;
mod device;
mod experiment;
mod export;
mod recording;
mod sample;
mod sample_values;
mod user;

pub use alert::{Alert, AlertState, Delivery, DeliveryStatus, Notice, Outbox};
pub use device::{CommandStatus, ConnectedDevice, DeviceCommand};
pub use experiment::{Experiment, Participant, Progress, ProgressStatus, Task};
pub use export::{ClaimRequest, ExportClaim, ExportFile, ExportFilter, ExportRecord, ExportStatus};
pub use recording::{LogEntry, Recording, RecordingStamp};
pub use sample::{NewSample, SampleQuery, SampleStat, StoredSample};
pub use sample_values::{FieldValue, SampleValues};
pub use user::{ConfiguredSensor, DeviceToken, RefreshRotation, RefreshToken, Role, SensorConfig, User};

/// A new unique id: a UUIDv7 string.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
