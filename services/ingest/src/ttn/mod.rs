//! LoRaWAN sensors through The Things Stack v3: its uplink messages, from the webhook
//! (`POST /api/v1/ttn/uplink`) or its MQTT integration, become samples of the sensor whose
//! `ttn.device_id` they name (see `uplink`).

pub mod uplink;
pub mod webhook;

use crate::intake::Body;
use crate::parse::Format;
use srs_common::http::{from_str_named, JsonError};
use srs_common::sensors::{SensorCatalog, SensorRef};
use srs_common::{ApiError, ErrorCode};

/// An uplink message as its sensor and that sensor's sample (an ingest body).
pub fn read<'a>(catalog: &'a SensorCatalog, bytes: &[u8]) -> Result<(SensorRef<'a>, Vec<u8>), ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ApiError::new(ErrorCode::MalformedJson, "the uplink message is not UTF-8"))?;
    let uplink: uplink::Uplink = from_str_named(text).map_err(|error| match error {
        JsonError::Syntax(message) => ApiError::new(ErrorCode::MalformedJson, format!("malformed JSON: {message}")),
        JsonError::Shape(problem) => {
            ApiError::new(ErrorCode::InvalidBody, "not a The Things Stack uplink message").with_errors(vec![problem])
        }
    })?;
    uplink::to_sample(catalog, &uplink)
}

/// The intake body of a sample `read` made.
pub fn body<'a>(sensor: SensorRef<'a>, sample: &'a [u8]) -> Body<'a> {
    Body { bytes: sample, format: Format::Json, path_sensor: Some(sensor), token_sensor: None }
}
