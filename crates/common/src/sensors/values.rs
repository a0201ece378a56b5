use super::{FieldType, SensorType};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// One problem with a sample's `values`, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueProblem {
    pub field: String,
    pub message: String,
}

/// Checks a sample's `values` JSON object against its sensor type: every field must be declared
/// and of the declared type, and every required field present. Returns every problem, not just
/// the first. It reads the JSON as a stream, never building a map: this runs for every sample.
pub fn validate_values(sensor_type: &SensorType, json: &str) -> Result<(), Vec<ValueProblem>> {
    let mut problems = Vec::new();
    let mut seen = vec![false; if sensor_type.fields.iter().any(|f| f.required) { sensor_type.fields.len() } else { 0 }];
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let checked = ValuesSeed { sensor_type, problems: &mut problems, seen: &mut seen }
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
    match checked {
        Err(error) if error.is_data() => {
            return Err(vec![ValueProblem { field: "values".into(), message: "must be an object of the sensor type's fields".into() }]);
        }
        Err(error) => {
            // Valid JSON grammar that no f64 holds (1e999), or JSON nested too deep.
            let message = error.to_string();
            let message = message.split(" at line ").next().unwrap_or_default();
            return Err(vec![ValueProblem { field: "values".into(), message: format!("cannot be read: {message}") }]);
        }
        Ok(()) => {}
    }
    for (spec, _) in sensor_type.fields.iter().zip(&seen).filter(|(spec, seen)| spec.required && !**seen) {
        problems.push(problem(&spec.name, "is required".into()));
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

struct ValuesSeed<'a> {
    sensor_type: &'a SensorType,
    problems: &'a mut Vec<ValueProblem>,
    seen: &'a mut Vec<bool>,
}

impl<'de> DeserializeSeed<'de> for ValuesSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ValuesSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of the sensor type's fields")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(FieldName(name)) = map.next_key()? {
            let Some(index) = self.sensor_type.fields.iter().position(|f| f.name == name) else {
                map.next_value::<IgnoredAny>()?;
                self.problems.push(problem(&name, format!("unknown field for sensor type \"{}\"", self.sensor_type.name)));
                continue;
            };
            let spec = &self.sensor_type.fields[index];
            let value: Scalar = map.next_value()?;
            if let Some(seen) = self.seen.get_mut(index) {
                *seen = true;
            }
            if value == Scalar::Null {
                if spec.required {
                    self.problems.push(problem(&name, "is required and must not be null".into()));
                }
                continue;
            }
            if let Some(expected) = type_mismatch(spec.field_type, value) {
                self.problems.push(problem(&name, format!("expected {expected}, got {}", value.describe())));
            }
        }
        Ok(())
    }
}

/// A JSON object key, borrowed from the text unless it holds escapes (serde's own `Cow`
/// always copies).
pub struct FieldName<'de>(pub Cow<'de, str>);

impl<'de> de::Deserialize<'de> for FieldName<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = FieldName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<FieldName<'de>, E> {
                Ok(FieldName(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldName<'de>, E> {
                Ok(FieldName(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// What kind of JSON value a field holds (nested values are skipped, not kept).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scalar {
    Null,
    Bool,
    Integer,
    /// An integer beyond i64 (a u64 over i64::MAX).
    BigInteger,
    Float,
    String,
    Array,
    Object,
}

impl Scalar {
    fn describe(self) -> &'static str {
        match self {
            Scalar::Null => "null",
            Scalar::Bool => "a boolean",
            Scalar::Integer | Scalar::BigInteger => "an integer",
            Scalar::Float => "a number",
            Scalar::String => "a string",
            Scalar::Array => "an array",
            Scalar::Object => "an object",
        }
    }
}

impl<'de> de::Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Scalar, E> {
                Ok(Scalar::Integer)
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(if i64::try_from(v).is_ok() { Scalar::Integer } else { Scalar::BigInteger })
            }
            fn visit_f64<E>(self, _: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float)
            }
            fn visit_str<E>(self, _: &str) -> Result<Scalar, E> {
                Ok(Scalar::String)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Array)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Object)
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// `None` when `value` fits `field_type`, else the expected type's description.
fn type_mismatch(field_type: FieldType, value: Scalar) -> Option<&'static str> {
    let fits = match field_type {
        FieldType::Bool => value == Scalar::Bool,
        FieldType::I64 => value == Scalar::Integer,
        // Integers are fine where a float is expected; JSON has no NaN or Infinity.
        FieldType::F64 => matches!(value, Scalar::Integer | Scalar::BigInteger | Scalar::Float),
        FieldType::String => value == Scalar::String,
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
        validate_values(&ecg_like(), &values.to_string())
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
    fn reads_escaped_names_and_skips_nested_values() {
        assert_eq!(validate_values(&ecg_like(), r#"{"op\u0065n": true}"#), Ok(()));
        let problems = validate_values(&ecg_like(), r#"{"open": true, "label": [1, {"a": 2}]}"#).expect_err("array");
        assert_eq!(problems[0].message, "expected a string, got an array");
        assert_eq!(validate_values(&ecg_like(), "[true]").expect_err("not an object")[0].field, "values");
        assert!(validate_values(&ecg_like(), r#"{"open": true, "level": 1e999}"#).expect_err("range")[0]
            .message
            .starts_with("cannot be read"));
    }

    #[test]
    fn integer_out_of_i64_range_is_rejected() {
        let problems = check(json!({"open": true, "count": u64::MAX})).expect_err("too big");
        assert_eq!(problems[0].field, "values.count");
    }
}
