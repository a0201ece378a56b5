use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SensorsFile {
    pub sensor_types: Vec<SensorType>,
    pub sensors: Vec<SensorSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SensorType {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub fields: Vec<FieldSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_recording_start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_recording_stop: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Bool,
    I64,
    F64,
    String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SensorSpec {
    pub id: String,
    #[serde(rename = "type")]
    pub sensor_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The sensor's LoRaWAN device in The Things Stack, when its samples arrive as TTN uplinks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttn: Option<TtnDevice>,
}

/// A sensor's device in The Things Stack: uplinks of `device_id` become its samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TtnDevice {
    /// `end_device_ids.device_id` of the uplinks.
    pub device_id: String,
    /// Decoded-payload key to field name, for payload formatters whose keys differ from the
    /// type's fields; `null` leaves a key out on purpose. Keys not listed keep their name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Option<String>>,
}

/// Columns every exported Parquet file has; a field may not take one of these names.
pub(crate) const RESERVED_COLUMNS: [&str; 6] = ["ts", "received_at", "sensor_id", "recording_id", "task_id", "sample_id"];

const MAX_ID_LEN: usize = 64;

#[derive(Debug, thiserror::Error)]
#[error("sensors file {file}: {problem}")]
pub struct SensorsFileError {
    pub file: String,
    pub problem: String,
}

impl SensorsFile {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Self, SensorsFileError> {
        let name = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| SensorsFileError { file: name.clone(), problem: format!("cannot read: {e}") })?;
        Self::parse(&name, &text)
    }

    /// Parses and validates `text`; `file` names the source in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, SensorsFileError> {
        let fail = |problem: String| SensorsFileError { file: file.to_string(), problem };
        let parsed: SensorsFile = serde_json::from_str(text).map_err(|e| fail(format!("invalid JSON: {e}")))?;
        parsed.validate().map_err(fail)?;
        Ok(parsed)
    }

    fn validate(&self) -> Result<(), String> {
        if self.sensor_types.is_empty() {
            return Err("sensor_types: must declare at least one sensor type".into());
        }
        let mut type_names = HashSet::new();
        for (i, sensor_type) in self.sensor_types.iter().enumerate() {
            let at = format!("sensor_types[{i}] (\"{}\")", sensor_type.name);
            check_identifier(&sensor_type.name).map_err(|p| format!("{at}: name {p}"))?;
            if !type_names.insert(sensor_type.name.as_str()) {
                return Err(format!("{at}: duplicate sensor type name"));
            }
            validate_type(sensor_type).map_err(|p| format!("{at}: {p}"))?;
        }
        let mut sensor_ids = HashSet::new();
        let mut ttn_devices = HashSet::new();
        for (i, sensor) in self.sensors.iter().enumerate() {
            let at = format!("sensors[{i}] (\"{}\")", sensor.id);
            check_sensor_id(&sensor.id).map_err(|p| format!("{at}: id {p}"))?;
            if !sensor_ids.insert(sensor.id.as_str()) {
                return Err(format!("{at}: duplicate sensor id"));
            }
            let Some(sensor_type) = self.sensor_types.iter().find(|t| t.name == sensor.sensor_type) else {
                return Err(format!("{at}: unknown sensor type \"{}\"", sensor.sensor_type));
            };
            if let Some(ttn) = &sensor.ttn {
                validate_ttn(ttn, sensor_type).map_err(|p| format!("{at}: ttn.{p}"))?;
                if !ttn_devices.insert(ttn.device_id.as_str()) {
                    return Err(format!("{at}: ttn.device_id \"{}\" belongs to another sensor too", ttn.device_id));
                }
            }
        }
        Ok(())
    }
}

fn validate_ttn(ttn: &TtnDevice, sensor_type: &SensorType) -> Result<(), String> {
    // The Things Stack's device ids: lower-case letters, digits and `-`, up to 36 characters.
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if ttn.device_id.is_empty() || ttn.device_id.len() > 36 || !ttn.device_id.chars().all(allowed) {
        return Err("device_id must be 1-36 lower-case letters, digits or '-'".into());
    }
    for (key, field) in &ttn.fields {
        if let Some(field) = field {
            if !sensor_type.fields.iter().any(|f| &f.name == field) {
                return Err(format!("fields: \"{key}\" maps to \"{field}\", which is not a field of type \"{}\"", sensor_type.name));
            }
        }
    }
    Ok(())
}

fn validate_type(sensor_type: &SensorType) -> Result<(), String> {
    if sensor_type.fields.is_empty() {
        return Err("fields: must declare at least one field".into());
    }
    let mut field_names = HashSet::new();
    for (j, field) in sensor_type.fields.iter().enumerate() {
        let at = format!("fields[{j}] (\"{}\")", field.name);
        check_identifier(&field.name).map_err(|p| format!("{at}: name {p}"))?;
        if RESERVED_COLUMNS.contains(&field.name.as_str()) {
            return Err(format!("{at}: name is reserved for an export column"));
        }
        if !field_names.insert(field.name.as_str()) {
            return Err(format!("{at}: duplicate field name"));
        }
    }
    let mut commands = HashSet::new();
    for command in &sensor_type.commands {
        check_identifier(command).map_err(|p| format!("commands: \"{command}\" {p}"))?;
        if !commands.insert(command.as_str()) {
            return Err(format!("commands: duplicate command \"{command}\""));
        }
    }
    for (key, hook) in [("on_recording_start", &sensor_type.on_recording_start), ("on_recording_stop", &sensor_type.on_recording_stop)] {
        if let Some(command) = hook {
            if !commands.contains(command.as_str()) {
                return Err(format!("{key}: \"{command}\" is not one of the type's commands"));
            }
        }
    }
    Ok(())
}

/// Type, field and command names: lower-case letters, digits and `_`, starting with a letter,
/// so they are valid Parquet column names and file names everywhere.
fn check_identifier(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if !starts_well || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') || name.len() > MAX_ID_LEN {
        return Err(format!("must be 1-{MAX_ID_LEN} lower-case letters, digits or '_', starting with a letter"));
    }
    Ok(())
}

/// Sensor ids appear in URLs and file names: letters, digits, `-`, `_`, `.`, `:`.
fn check_sensor_id(id: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    if id.is_empty() || id.len() > MAX_ID_LEN || !id.chars().all(allowed) {
        return Err(format!("must be 1-{MAX_ID_LEN} letters, digits, '-', '_', '.' or ':'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> String {
        SensorsFile::parse("lab.json", text).expect_err("must be rejected").to_string()
    }

    #[test]
    fn example_file_is_valid_and_rich() {
        let file = SensorsFile::parse("example", crate::sensors::EXAMPLE_SENSORS_FILE).expect("example is valid");
        assert!(file.sensor_types.len() >= 6);
        for needed in ["door", "ecg", "eye_tracker", "imu", "co2", "camera"] {
            assert!(file.sensor_types.iter().any(|t| t.name == needed), "example lacks {needed}");
        }
        let camera = file.sensor_types.iter().find(|t| t.name == "camera").expect("camera");
        assert!(camera.on_recording_start.is_some() && camera.on_recording_stop.is_some());
    }

    #[test]
    fn errors_name_file_entry_and_problem() {
        let error = error_of(
            r#"{"sensor_types": [{"name": "door", "fields": [{"name": "open", "type": "bool"}]}], "sensors": [{"id": "d1", "type": "dor"}]}"#,
        );
        assert_eq!(error, "sensors file lab.json: sensors[0] (\"d1\"): unknown sensor type \"dor\"");

        let error = error_of(r#"{"sensor_types": [{"name": "door", "fields": [{"name": "open", "type": "boolean"}]}], "sensors": []}"#);
        assert!(error.starts_with("sensors file lab.json: invalid JSON: unknown variant `boolean`"), "{error}");

        let error = error_of(r#"{"sensor_types": [{"name": "door", "fields": [{"name": "ts", "type": "i64"}]}], "sensors": []}"#);
        assert!(error.contains("sensor_types[0] (\"door\"): fields[0] (\"ts\"): name is reserved"), "{error}");

        let error = error_of(
            r#"{"sensor_types": [{"name": "cam", "fields": [{"name": "frame", "type": "i64"}], "commands": ["snap"], "on_recording_start": "start"}], "sensors": []}"#,
        );
        assert!(error.contains("on_recording_start: \"start\" is not one of the type's commands"), "{error}");

        let error = error_of(
            r#"{"sensor_types": [{"name": "door", "fields": [{"name": "open", "type": "bool"}]}], "sensors": [{"id": "d1", "type": "door"}, {"id": "d1", "type": "door"}]}"#,
        );
        assert!(error.contains("sensors[1] (\"d1\"): duplicate sensor id"), "{error}");

        let error = error_of(
            r#"{"sensor_types": [{"name": "door", "fields": [{"name": "open", "type": "bool"}], "colour": "red"}], "sensors": []}"#,
        );
        assert!(error.contains("unknown field `colour`"), "{error}");

        let error = error_of(
            r#"{"sensor_types": [{"name": "door", "fields": [{"name": "open", "type": "bool"}]}], "sensors": [{"id": "bad id/1", "type": "door"}]}"#,
        );
        assert!(error.contains("sensors[0] (\"bad id/1\"): id must be"), "{error}");
    }

    #[test]
    fn ttn_devices_are_unique_and_map_to_fields_of_the_type() {
        let file = |sensors: &str| {
            format!(r#"{{"sensor_types": [{{"name": "co2", "fields": [{{"name": "co2_ppm", "type": "i64"}}]}}], "sensors": [{sensors}]}}"#)
        };
        let good =
            file(r#"{"id": "c1", "type": "co2", "ttn": {"device_id": "clairchen-17", "fields": {"co2": "co2_ppm", "battery": null}}}"#);
        let parsed = SensorsFile::parse("lab.json", &good).expect("valid");
        assert_eq!(parsed.sensors[0].ttn.as_ref().map(|t| t.fields.len()), Some(2));
        let error = error_of(&file(r#"{"id": "c1", "type": "co2", "ttn": {"device_id": "c", "fields": {"co2": "ppm"}}}"#));
        assert!(error.contains("sensors[0] (\"c1\"): ttn.fields: \"co2\" maps to \"ppm\", which is not a field"), "{error}");
        let error = error_of(&file(r#"{"id": "c1", "type": "co2", "ttn": {"device_id": "Bad_Id"}}"#));
        assert!(error.contains("ttn.device_id must be"), "{error}");
        let error = error_of(&file(
            r#"{"id": "c1", "type": "co2", "ttn": {"device_id": "d"}}, {"id": "c2", "type": "co2", "ttn": {"device_id": "d"}}"#,
        ));
        assert!(error.contains("sensors[1] (\"c2\"): ttn.device_id \"d\" belongs to another sensor too"), "{error}");
    }

    #[test]
    fn missing_file_is_named() {
        let error = SensorsFile::load(Path::new("/nonexistent/sensors.json")).expect_err("missing");
        assert!(error.to_string().starts_with("sensors file /nonexistent/sensors.json: cannot read"), "{error}");
    }
}
