//! Checking parsed samples against the sensors file: a known sensor, a timestamp in range, an
//! idempotency key of sane length, values of the sensor type's fields and types. Every problem
//! of every sample is collected, so one 422 lists them all and nothing is stored.

use crate::parse::{Incoming, Parsed};
use chrono::DateTime;
use srs_common::error::FieldProblem;
use srs_common::sensors::{validate_values, SensorCatalog, SensorRef};
use srs_common::ApiError;
use srs_common::ErrorCode;
use std::borrow::Cow;

/// Longest client idempotency key.
pub const MAX_ID_CHARS: usize = 128;
/// 2000-01-01T00:00:00Z: no lab sensor posts data older than that.
const EARLIEST_TS: i64 = 946_684_800_000_000_000;
const DAY_NS: i64 = 86_400_000_000_000;

/// A sample that passed every check, still borrowing from the request body.
#[derive(Debug)]
pub struct Checked<'a> {
    pub sensor: SensorRef<'a>,
    pub ts: i64,
    pub id: Option<Cow<'a, str>>,
    /// The values object exactly as sent.
    pub values: &'a str,
}

/// Checks every sample; `path_sensor` is the sensor of `/sensors/{sensor_id}/samples`. The
/// samples without `ts` get `received_at`, `received_at + 1`, ... in their order (the caller
/// reserved that many nanoseconds), so none is taken for a duplicate of another.
pub fn check<'a>(
    catalog: &'a SensorCatalog,
    parsed: Parsed<'a>,
    path_sensor: Option<SensorRef<'a>>,
    received_at: i64,
) -> Result<Vec<Checked<'a>>, ApiError> {
    let total = parsed.samples.len() + parsed.problems.len();
    let mut problems = parsed.problems;
    let mut checked = Vec::with_capacity(parsed.samples.len());
    let mut next_untimed = received_at;
    for (index, sample) in parsed.samples {
        let receive_time = next_untimed;
        if sample.ts.is_none() {
            next_untimed += 1;
        }
        match check_one(catalog, sample, path_sensor, (receive_time, received_at)) {
            Ok(sample) => checked.push(sample),
            Err(found) => problems.extend(found.into_iter().map(|p| FieldProblem { index: Some(index), ..p })),
        }
    }
    if problems.is_empty() {
        return Ok(checked);
    }
    problems.sort_by_key(|p| p.index);
    let mut bad: Vec<usize> = problems.iter().filter_map(|p| p.index).collect();
    bad.dedup();
    let detail = format!("{} of {total} samples are invalid; nothing was stored", bad.len());
    Err(ApiError::new(ErrorCode::InvalidSamples, detail).with_errors(problems))
}

fn problem(field: &str, message: impl Into<String>) -> FieldProblem {
    FieldProblem { index: None, field: Some(field.to_owned()), message: message.into() }
}

fn check_one<'a>(
    catalog: &'a SensorCatalog,
    sample: Incoming<'a>,
    path_sensor: Option<SensorRef<'a>>,
    (receive_time, received_at): (i64, i64),
) -> Result<Checked<'a>, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let sensor = match (path_sensor, sample.sensor_id.as_deref()) {
        (Some(path), Some(named)) if &**path.id != named => {
            problems.push(problem("sensor_id", format!("\"{named}\" differs from the sensor in the path, \"{}\"", path.id)));
            None
        }
        (Some(path), _) => Some(path),
        (None, Some(named)) => {
            let found = catalog.sensor(named);
            if found.is_none() {
                problems.push(problem("sensor_id", format!("unknown sensor \"{named}\"")));
            }
            found
        }
        (None, None) => {
            problems.push(problem("sensor_id", "is required"));
            None
        }
    };
    let ts = match sample.ts {
        None => Some(receive_time),
        Some(raw) => match parse_ts(raw.get()) {
            Ok(ts) if (EARLIEST_TS..=received_at + DAY_NS).contains(&ts) => Some(ts),
            Ok(_) => {
                problems.push(problem("ts", "is out of range (2000-01-01 to one day ahead of now)"));
                None
            }
            Err(message) => {
                problems.push(problem("ts", message));
                None
            }
        },
    };
    if let Some(id) = &sample.id {
        if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
            problems.push(problem("id", format!("must be 1 to {MAX_ID_CHARS} characters")));
        }
    }
    if let Some(sensor) = sensor {
        if let Err(found) = validate_values(sensor.sensor_type, sample.values.get()) {
            problems.extend(found.into_iter().map(|p| problem(&p.field, p.message)));
        }
    }
    match (sensor, ts) {
        (Some(sensor), Some(ts)) if problems.is_empty() => Ok(Checked { sensor, ts, id: sample.id, values: sample.values.get() }),
        _ => Err(problems),
    }
}

/// An RFC 3339 string or integer nanoseconds since the Unix epoch.
fn parse_ts(raw: &str) -> Result<i64, String> {
    const EXPECTED: &str = "expected an RFC 3339 time (\"2026-11-23T10:00:00.123Z\") or integer nanoseconds since 1970";
    if raw.starts_with('"') {
        let text: Cow<'_, str> = serde_json::from_str(raw).map_err(|_| EXPECTED.to_owned())?;
        let parsed = DateTime::parse_from_rfc3339(&text).map_err(|e| format!("cannot read \"{text}\": {e}; {EXPECTED}"))?;
        parsed.timestamp_nanos_opt().ok_or_else(|| "is out of range".to_owned())
    } else {
        raw.parse::<i64>().map_err(|_| EXPECTED.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse, Format};

    fn problems(body: &str) -> Vec<(Option<usize>, Option<String>)> {
        let catalog = SensorCatalog::load(std::path::Path::new("")).expect("catalog");
        let now = srs_common::time::now_ns();
        let parsed = parse(body.as_bytes(), Format::Json, 100).expect("syntax");
        match check(&catalog, parsed, None, now) {
            Ok(_) => Vec::new(),
            Err(error) => error.errors().iter().map(|p| (p.index, p.field.clone())).collect(),
        }
    }

    #[test]
    fn accepts_good_samples_in_every_time_form() {
        let body = r#"[{"sensor_id": "door-1", "values": {"open": true}},
                       {"sensor_id": "ecg-1", "ts": "2026-11-23T10:00:00.123456789Z", "id": "ecg-1:1", "values": {"lead_i": 0.1, "lead_ii": 2}},
                       {"sensor_id": "ecg-1", "ts": 1763892000000000000, "values": {}}]"#;
        assert_eq!(problems(body), []);
    }

    #[test]
    fn names_every_bad_sample_and_field() {
        let long_id = "x".repeat(MAX_ID_CHARS + 1);
        let body = format!(
            r#"[{{"sensor_id": "door-1", "values": {{"open": true}}}},
                {{"sensor_id": "nope", "values": {{}}}},
                {{"sensor_id": "door-1", "values": {{"open": "yes"}}}},
                {{"sensor_id": "door-1", "values": {{}}}},
                {{"sensor_id": "door-1", "ts": "yesterday", "values": {{"open": true}}}},
                {{"sensor_id": "door-1", "ts": 5, "values": {{"open": true}}}},
                {{"sensor_id": "door-1", "id": "{long_id}", "values": {{"open": true, "extra": 1}}}},
                {{"values": {{"open": true}}}},
                {{"sensor_id": "ecg-1", "values": {{"lead_i": "NaN"}}}}]"#
        );
        let expected: Vec<(Option<usize>, Option<String>)> = [
            (1, "sensor_id"),
            (2, "values.open"),
            (3, "values.open"),
            (4, "ts"),
            (5, "ts"),
            (6, "id"),
            (6, "values.extra"),
            (7, "sensor_id"),
            (8, "values.lead_i"),
        ]
        .iter()
        .map(|(i, f)| (Some(*i), Some((*f).to_owned())))
        .collect();
        assert_eq!(problems(&body), expected);
    }

    #[test]
    fn samples_without_ts_get_increasing_times_in_their_order() {
        let catalog = SensorCatalog::load(std::path::Path::new("")).expect("catalog");
        let body = r#"[{"sensor_id": "door-1", "values": {"open": true}}, {"sensor_id": "door-1", "ts": 1763892000000000000, "values": {"open": false}},
                       {"sensor_id": "door-1", "values": {"open": false}}, {"sensor_id": "door-1", "values": {"open": true}}]"#;
        let parsed = parse(body.as_bytes(), Format::Json, 100).expect("syntax");
        let now = srs_common::time::now_ns();
        let times: Vec<i64> = check(&catalog, parsed, None, now).expect("valid").iter().map(|s| s.ts).collect();
        assert_eq!(times, [now, 1763892000000000000, now + 1, now + 2]);
    }
}
