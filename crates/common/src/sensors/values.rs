use super::{FieldType, SensorType};
use serde_json::{Map, Value};

/// One problem with a sample's `values`, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueProblem {
    pub field: String,
    pub message: String,
}

/// Checks a sample's `values` object against its sensor type: every field must be declared and
/// of the declared type, and every required field present. Returns every problem, not just the first.
pub fn validate_values(sensor_type: &SensorType, values: &Map<String, Value>) -> Result<(), Vec<ValueProblem>> {
    let mut problems = Vec::new();
    for (name, value) in values {
        let Some(spec) = sensor_type.fields.iter().find(|f| &f.name == name) else {
            problems.push(problem(name, format!("unknown field for sensor type \"{}\"", sensor_type.name)));
            continue;
        };
        if value.is_null() {
            if spec.required {
                problems.push(problem(name, "is required and must not be null".into()));
            }
            continue;
        }
        if let Some(expected) = type_mismatch(spec.field_type, value) {
            problems.push(problem(name, format!("expected {expected}, got {}", describe(value))));
        }
    }
    for spec in sensor_type.fields.iter().filter(|f| f.required) {
        if !values.contains_key(&spec.name) {
            problems.push(problem(&spec.name, "is required".into()));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn problem(field: &str, message: String) -> ValueProblem {
    ValueProblem { field: format!("values.{field}"), message }
}

/// `None` when `value` fits `field_type`, else the expected type's description.
fn type_mismatch(field_type: FieldType, value: &Value) -> Option<&'static str> {
    let fits = match field_type {
        FieldType::Bool => value.is_boolean(),
        FieldType::I64 => value.is_i64(),
        // Integers are fine where a float is expected; JSON has no NaN or Infinity.
        FieldType::F64 => value.is_number(),
        FieldType::String => value.is_string(),
    };
    if fits {
        return None;
    }
    Some(match field_type {
        FieldType::Bool => "a boolean",
        FieldType::I64 => "an integer (64-bit)",
        FieldType::F64 => "a number",
        FieldType::String => "a string",
    })
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensors::{FieldSpec, SensorType};
    use serde_json::json;

    fn ecg_like() -> SensorType {
        let field = |name: &str, field_type, required| FieldSpec { name: name.into(), field_type, unit: None, required };
        SensorType {
            name: "mixed".into(),
            description: None,
            fields: vec![
                field("open", FieldType::Bool, true),
                field("count", FieldType::I64, false),
                field("level", FieldType::F64, false),
                field("label", FieldType::String, false),
            ],
            commands: vec![],
            on_recording_start: None,
            on_recording_stop: None,
        }
    }

    fn check(values: serde_json::Value) -> Result<(), Vec<ValueProblem>> {
        validate_values(&ecg_like(), values.as_object().expect("object"))
    }

    #[test]
    fn accepts_declared_fields_of_the_right_type() {
        assert_eq!(check(json!({"open": true, "count": 3, "level": 2, "label": "x"})), Ok(()));
        assert_eq!(check(json!({"open": false, "level": 0.5, "label": null})), Ok(()));
    }

    #[test]
    fn reports_every_problem_by_field() {
        let problems = check(json!({"count": 1.5, "level": "high", "colour": 1})).expect_err("invalid");
        // Problems come in the order of the sample's fields (map order may vary by build).
        let mut fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(fields, vec!["values.colour", "values.count", "values.level", "values.open"]);
        let message = |field: &str| problems.iter().find(|p| p.field == field).map(|p| p.message.clone()).unwrap_or_default();
        assert!(message("values.count").contains("expected an integer"));
        assert!(message("values.colour").contains("unknown field"));
        assert_eq!(message("values.open"), "is required");
    }

    #[test]
    fn integer_out_of_i64_range_is_rejected() {
        let problems = check(json!({"open": true, "count": u64::MAX})).expect_err("too big");
        assert_eq!(problems[0].field, "values.count");
    }
}
