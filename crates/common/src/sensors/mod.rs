//! The sensors file: which sensor types exist (their value fields and device commands) and which
//! sensors are installed. Loaded once at start-up; a bad file stops start-up with an error that
//! names the file, the entry and the problem.

mod catalog;
mod file;
mod values;

pub use catalog::{SensorCatalog, SensorRef};
pub use file::{FieldSpec, FieldType, SensorSpec, SensorType, SensorsFile, SensorsFileError, TtnDevice};
pub use values::{validate_values, FieldName, ValueProblem};

/// The example sensors file shipped in `config/`; the default when `sensors.file` is empty.
pub const EXAMPLE_SENSORS_FILE: &str = include_str!("../../../../config/sensors.example.json");
