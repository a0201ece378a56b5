//! LoRaWAN sensors through The Things Stack v3: its uplink messages, from the webhook
//! (`POST /api/v1/ttn/uplink`) or its MQTT integration, become samples of the sensor whose
//! `ttn.device_id` they name (see `uplink`).

pub mod uplink;
pub mod webhook;

use crate::intake::Body;
use crate::parse::Format;
use srs_common::sensors::{SensorCatalog, SensorRef};
use srs_common::ApiError;

/// An uplink message as its sensor and that sensor's sample (an ingest body): 400 for bad JSON,
/// 422 naming the field for JSON that is not an uplink message, as for every JSON body.
pub fn read<'a>(catalog: &'a SensorCatalog, bytes: &[u8]) -> Result<(SensorRef<'a>, Vec<u8>), ApiError> {
    uplink::to_sample(catalog, &srs_common::http::parse_json(bytes)?)
}

/// The intake body of a sample `read` made.
pub fn body<'a>(sensor: SensorRef<'a>, sample: &'a [u8]) -> Body<'a> {
    Body { bytes: sample, format: Format::Json, path_sensor: Some(sensor), token_sensor: None }
}
