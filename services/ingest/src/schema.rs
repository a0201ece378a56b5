//! The shapes of sample posts for the OpenAPI document. The handlers parse bodies themselves
//! (borrowing from the body, see parse.rs), so these types only describe what they accept.

use serde::Deserialize;
use utoipa::ToSchema;

/// A sample posted to `/api/v1/samples`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    /// A sensor of the sensors file.
    #[schema(min_length = 1)]
    pub sensor_id: String,
    pub ts: Option<SampleTime>,
    /// Client idempotency key: a second sample of the sensor with this key is a duplicate.
    #[schema(min_length = 1, max_length = 128)]
    pub id: Option<String>,
    /// The fields of the sensor's type (see `GET /api/v1/sensor-types`).
    #[schema(value_type = Object)]
    pub values: serde_json::Map<String, serde_json::Value>,
}

/// A sample posted to `/api/v1/sensors/{sensor_id}/samples`: `sensor_id` may be left out, and
/// must be the path's sensor when given.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SensorSample {
    #[schema(min_length = 1)]
    pub sensor_id: Option<String>,
    pub ts: Option<SampleTime>,
    #[schema(min_length = 1, max_length = 128)]
    pub id: Option<String>,
    #[schema(value_type = Object)]
    pub values: serde_json::Map<String, serde_json::Value>,
}

/// When the sample was taken (2000-01-01 to one day ahead of the server's clock); without it,
/// the server's receive time.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SampleTime {
    /// RFC 3339, e.g. "2026-11-23T10:00:00.123456789Z".
    #[schema(format = DateTime)]
    Rfc3339(String),
    /// Nanoseconds since the Unix epoch.
    Nanoseconds(i64),
}

/// One sample or an array of them (at most `ingest.max_samples_per_request`, 10,000 by default).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SampleBody {
    One(Sample),
    Many(Vec<Sample>),
}

/// As [`SampleBody`], for the per-sensor path.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SensorSampleBody {
    One(SensorSample),
    Many(Vec<SensorSample>),
}
