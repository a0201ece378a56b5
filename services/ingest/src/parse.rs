//! Request bodies into samples, borrowing from the body: one JSON object, a JSON array of them,
//! or NDJSON. Syntax errors are 400 (with the line for NDJSON); a sample of the wrong shape is
//! a per-index problem, so one 422 can list every bad sample.

use serde::Deserialize;
use serde_json::value::RawValue;
use srs_common::error::FieldProblem;
use srs_common::http::{from_str_named, JsonError};
use srs_common::ApiError;
use srs_common::ErrorCode;
use std::borrow::Cow;

/// A sample as posted, before it is checked against the sensors file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incoming<'a> {
    #[serde(borrow, default)]
    pub sensor_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub ts: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub values: &'a RawValue,
}

/// The body's format, from its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Ndjson,
}

impl Format {
    /// The format of a body that came without a content type (an MQTT message without one):
    /// JSON when it is one value (an object, possibly over several lines, or an array),
    /// NDJSON when more values follow the first.
    pub fn sniff(body: &[u8]) -> Self {
        let mut values = serde_json::Deserializer::from_slice(body).into_iter::<serde::de::IgnoredAny>();
        match (values.next(), values.next()) {
            (Some(Ok(_)), Some(_)) => Format::Ndjson,
            _ => Format::Json,
        }
    }

    pub fn from_content_type(content_type: &str) -> Option<Self> {
        match content_type.to_ascii_lowercase().as_str() {
            "application/json" => Some(Format::Json),
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" => Some(Format::Ndjson),
            _ => None,
        }
    }
}

/// Every sample of the body, each parsed or with what is wrong with its shape.
pub struct Parsed<'a> {
    /// Each well-shaped sample with its index in the request.
    pub samples: Vec<(usize, Incoming<'a>)>,
    pub problems: Vec<FieldProblem>,
}

/// Deepest nesting a body may have. A sample needs 3 (array, sample, values); the limit keeps
/// pathological bodies from costing parse time (serde_json skips raw values without a limit).
pub const MAX_DEPTH: usize = 16;

/// Splits and parses the body. `max_samples` bounds how many it will look at (413 beyond).
pub fn parse(body: &[u8], format: Format, max_samples: usize) -> Result<Parsed<'_>, ApiError> {
    if nesting_exceeds(body, MAX_DEPTH) {
        return Err(ApiError::new(ErrorCode::TooDeep, format!("the JSON is nested deeper than {MAX_DEPTH} levels")));
    }
    if let Some(samples) = parse_well_formed(body, format) {
        if samples.len() > max_samples {
            return Err(too_many(samples.len(), max_samples));
        }
        return Ok(Parsed { samples: samples.into_iter().enumerate().collect(), problems: Vec::new() });
    }
    let items: Vec<(usize, &RawValue)> = match format {
        Format::Json => json_items(body)?,
        Format::Ndjson => ndjson_items(body)?,
    };
    if items.len() > max_samples {
        return Err(too_many(items.len(), max_samples));
    }
    let mut parsed = Parsed { samples: Vec::with_capacity(items.len()), problems: Vec::new() };
    for (index, (_, raw)) in items.iter().enumerate() {
        // The plain parser is fast; the path-tracking one only runs to explain a failure.
        if let Ok(sample) = serde_json::from_str::<Incoming<'_>>(raw.get()) {
            parsed.samples.push((index, sample));
            continue;
        }
        match from_str_named::<Incoming<'_>>(raw.get()) {
            Ok(sample) => parsed.samples.push((index, sample)),
            Err(JsonError::Shape(problem)) => parsed.problems.push(FieldProblem { index: Some(index), ..problem }),
            // The item was already parsed as JSON, so only its shape can be wrong.
            Err(JsonError::Syntax(message)) => parsed.problems.push(FieldProblem { index: Some(index), field: None, message }),
        }
    }
    Ok(parsed)
}

/// The fast path for the common case, a body with nothing wrong: one pass over a JSON body.
/// `None` when anything is off; the item-by-item path then finds and explains every problem.
fn parse_well_formed(body: &[u8], format: Format) -> Option<Vec<Incoming<'_>>> {
    let text = std::str::from_utf8(body).ok()?;
    match (format, text.trim_start().as_bytes().first()) {
        (Format::Json, Some(b'[')) => serde_json::from_str(text).ok(),
        (Format::Json, Some(b'{')) => serde_json::from_str(text).ok().map(|sample| vec![sample]),
        _ => None,
    }
}

fn too_many(count: usize, max: usize) -> ApiError {
    ApiError::new(ErrorCode::TooManySamples, format!("{count} samples in one request; the limit is {max}"))
}

/// Whether brackets outside strings nest deeper than `max` (one pass, no allocation).
fn nesting_exceeds(body: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in body {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            // NDJSON lines are separate documents, but each is also bracket-balanced.
            _ => {}
        }
    }
    false
}

fn json_items(body: &[u8]) -> Result<Vec<(usize, &RawValue)>, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| ApiError::new(ErrorCode::MalformedJson, format!("the body is not UTF-8: {e}")))?;
    let malformed = |e: serde_json::Error| ApiError::new(ErrorCode::MalformedJson, format!("malformed JSON: {e}"));
    match text.trim_start().as_bytes().first() {
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text).map_err(malformed)?;
            Ok(items.into_iter().enumerate().collect())
        }
        Some(b'{') => Ok(vec![(0, serde_json::from_str::<&RawValue>(text).map_err(malformed)?)]),
        Some(_) => Err(ApiError::new(ErrorCode::MalformedJson, "expected a sample object or an array of samples")),
        None => Err(ApiError::new(ErrorCode::MalformedJson, "the body is empty")),
    }
}

fn ndjson_items(body: &[u8]) -> Result<Vec<(usize, &RawValue)>, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| ApiError::new(ErrorCode::MalformedNdjson, format!("the body is not UTF-8: {e}")))?;
    let mut items = Vec::new();
    for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
        if line.trim().is_empty() {
            continue;
        }
        let raw: &RawValue = serde_json::from_str(line)
            .map_err(|e| ApiError::new(ErrorCode::MalformedNdjson, format!("line {number}: malformed JSON: {e}")))?;
        if !raw.get().starts_with('{') {
            return Err(ApiError::new(ErrorCode::MalformedNdjson, format!("line {number}: expected a sample object")));
        }
        items.push((number, raw));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_object_array_and_ndjson() {
        let one = br#"{"sensor_id": "door-1", "values": {"open": true}}"#;
        assert_eq!(parse(one, Format::Json, 10).expect("object").samples.len(), 1);
        let many = br#"[{"sensor_id": "a", "values": {}}, {"sensor_id": "b", "ts": 5, "values": {}}]"#;
        let parsed = parse(many, Format::Json, 10).expect("array");
        assert_eq!(parsed.samples[1].1.ts.map(RawValue::get), Some("5"));
        let lines = b"{\"sensor_id\": \"a\", \"values\": {}}\n\n{\"sensor_id\": \"b\", \"values\": {}}\n";
        assert_eq!(parse(lines, Format::Ndjson, 10).expect("ndjson").samples.len(), 2);
    }

    #[test]
    fn sniffs_json_and_ndjson() {
        assert_eq!(Format::sniff(b"{\n  \"values\": {}\n}\n"), Format::Json);
        assert_eq!(Format::sniff(b"[{\"values\": {}}]"), Format::Json);
        assert_eq!(Format::sniff(b"{\"values\": {}}\n{\"values\": {}}\n"), Format::Ndjson);
        assert_eq!(Format::sniff(b"{\"values\": "), Format::Json, "malformed JSON is reported as JSON");
    }

    #[test]
    fn reports_syntax_with_the_line_and_shapes_by_index() {
        let error = parse(b"{\"values\": {}}\n{\"values\": \n", Format::Ndjson, 10).err().expect("bad line");
        assert!(error.detail().starts_with("line 2:"), "{}", error.detail());
        let parsed =
            parse(br#"[{"values": {}}, {"values": {}, "extra": 1}, {"sensor_id": 5, "values": {}}]"#, Format::Json, 10).expect("syntax ok");
        let indexes: Vec<_> = parsed.problems.iter().map(|p| (p.index, p.field.clone())).collect();
        assert_eq!(indexes, [(Some(1), Some("extra".into())), (Some(2), Some("sensor_id".into()))]);
        assert_eq!(parse(b"[{}, {}, {}]", Format::Json, 2).err().map(|e| e.code()), Some(ErrorCode::TooManySamples));
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(parse(deep.as_bytes(), Format::Json, 2).err().map(|e| e.code()), Some(ErrorCode::TooDeep));
        let brackets_in_strings = format!(r#"{{"sensor_id": "{}", "values": {{}}}}"#, "[".repeat(100));
        assert!(parse(brackets_in_strings.as_bytes(), Format::Json, 2).is_ok());
    }
}
