//! A The Things Stack (v3) uplink message into one sample of the sensor that names its device:
//! the decoded payload's keys (renamed by the sensor's `ttn.fields`) become the values, `ts` is
//! the uplink's `received_at`, and the idempotency key is `{device_id}:{session_key_id}:{f_cnt}`
//! — TTN leaves `f_cnt` out when it is 0, and a rejoin starts a new session whose counter
//! starts again, so device and counter alone would take a real uplink for a duplicate. When
//! the type declares `rssi` or `snr`, they come from the gateway that heard the uplink best.

use serde::Deserialize;
use serde_json::{Map, Number, Value};
use srs_common::error::FieldProblem;
use srs_common::sensors::{SensorCatalog, SensorRef};
use srs_common::{ApiError, ErrorCode};

/// The parts of an uplink message SRS reads; TTN sends many more, which are ignored.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Uplink {
    pub end_device_ids: DeviceIds,
    /// When The Things Stack received the uplink (RFC 3339): the sample's `ts`.
    #[serde(default)]
    pub received_at: Option<String>,
    pub uplink_message: UplinkMessage,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DeviceIds {
    pub device_id: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UplinkMessage {
    /// Identifies the session keys; new after every join.
    #[serde(default)]
    pub session_key_id: Option<String>,
    /// The frame counter; absent when 0.
    #[serde(default)]
    pub f_cnt: Option<u64>,
    /// What the application's payload formatter made of the frame.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub decoded_payload: Option<Map<String, Value>>,
    #[serde(default)]
    pub rx_metadata: Vec<RxMetadata>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RxMetadata {
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub rssi: Option<Number>,
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub snr: Option<Number>,
}

/// The uplink's sensor and its sample, as an ingest body (one JSON object).
pub fn to_sample<'a>(catalog: &'a SensorCatalog, uplink: &Uplink) -> Result<(SensorRef<'a>, Vec<u8>), ApiError> {
    let device_id = &uplink.end_device_ids.device_id;
    let sensor = catalog
        .sensor_of_ttn_device(device_id)
        .ok_or_else(|| ApiError::new(ErrorCode::UnknownId, format!("no sensor of the sensors file has ttn.device_id \"{device_id}\"")))?;
    let message = &uplink.uplink_message;
    let payload = message.decoded_payload.as_ref().ok_or_else(|| {
        let problem = FieldProblem { index: None, field: Some("uplink_message.decoded_payload".into()), message: "is required".into() };
        ApiError::new(ErrorCode::InvalidField, "the uplink has no decoded_payload: give the device or application a payload formatter")
            .with_errors(vec![problem])
    })?;
    let renames = sensor.spec.ttn.as_ref().map(|ttn| &ttn.fields);
    let mut values = Map::new();
    for (key, value) in payload {
        let field = match renames.and_then(|fields| fields.get(key)) {
            Some(None) => continue,
            Some(Some(field)) => field,
            None => key,
        };
        // Two keys giving one field (a renamed key and one already named so): keeping either
        // would drop the other without a word.
        if values.insert(field.clone(), value.clone()).is_some() {
            let problem = FieldProblem {
                index: None,
                field: Some(format!("uplink_message.decoded_payload.{key}")),
                message: format!("gives the field {field}, which another key of the payload gives too"),
            };
            return Err(ApiError::new(ErrorCode::InvalidField, format!("two keys of the decoded payload give the field {field}"))
                .with_errors(vec![problem]));
        }
    }
    let declares = |name: &str| sensor.sensor_type.fields.iter().any(|field| field.name == name);
    if let Some(best) = best_gateway(&message.rx_metadata) {
        for (name, value) in [("rssi", &best.rssi), ("snr", &best.snr)] {
            if let (true, Some(value)) = (declares(name), value) {
                values.entry(name).or_insert_with(|| Value::Number(value.clone()));
            }
        }
    }
    // Without a session key (a device activated by personalisation never joins), the uplink's
    // own receive time stands in for it: a redelivered uplink keeps it, and a counter that
    // starts again after a power cycle is not taken for the uplinks it repeats.
    let session = message.session_key_id.as_deref().or(uplink.received_at.as_deref()).unwrap_or_default();
    let id = format!("{device_id}:{session}:{}", message.f_cnt.unwrap_or(0));
    let mut sample = Map::new();
    if let Some(received_at) = &uplink.received_at {
        sample.insert("ts".into(), Value::String(received_at.clone()));
    }
    sample.insert("id".into(), Value::String(id));
    sample.insert("values".into(), Value::Object(values));
    Ok((sensor, serde_json::to_vec(&sample).unwrap_or_default()))
}

/// The gateway that heard the uplink loudest.
fn best_gateway(gateways: &[RxMetadata]) -> Option<&RxMetadata> {
    let rssi = |gateway: &RxMetadata| gateway.rssi.as_ref().and_then(Number::as_f64).unwrap_or(f64::NEG_INFINITY);
    gateways.iter().max_by(|a, b| rssi(a).total_cmp(&rssi(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> SensorCatalog {
        SensorCatalog::load(std::path::Path::new("")).expect("example")
    }

    fn uplink(json: Value) -> Uplink {
        serde_json::from_value(json).expect("uplink")
    }

    #[test]
    fn maps_fields_takes_the_best_gateway_and_keys_by_session_and_counter() {
        let catalog = catalog();
        let message = uplink(serde_json::json!({
            "end_device_ids": {"device_id": "clairchen-17"},
            "received_at": "2026-11-30T09:12:44.123456789Z",
            "uplink_message": {"session_key_id": "c2Vzc2lvbi0x", "decoded_payload": {"co2": 812, "temp": 21.5, "hum": 38.0, "vbat": 3.6},
                "rx_metadata": [{"rssi": -97, "snr": 2.5}, {"rssi": -61, "snr": 9.25}, {"snr": 11.0}]}
        }));
        let (sensor, body) = to_sample(&catalog, &message).expect("sample");
        assert_eq!(&**sensor.id, "co2-lora-1");
        let sample: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(sample["id"], "clairchen-17:c2Vzc2lvbi0x:0", "f_cnt absent means 0");
        assert_eq!(sample["ts"], "2026-11-30T09:12:44.123456789Z");
        assert_eq!(
            sample["values"],
            serde_json::json!({"co2_ppm": 812, "temperature": 21.5, "humidity": 38.0, "battery": 3.6, "rssi": -61, "snr": 9.25})
        );
    }

    #[test]
    fn without_a_session_key_the_receive_time_keeps_restarted_counters_apart() {
        let catalog = catalog();
        let at = |received_at: &str| {
            let message = uplink(serde_json::json!({"end_device_ids": {"device_id": "clairchen-17"}, "received_at": received_at,
                "uplink_message": {"f_cnt": 3, "decoded_payload": {"co2": 500}}}));
            let (_, body) = to_sample(&catalog, &message).expect("sample");
            serde_json::from_slice::<Value>(&body).expect("json")["id"].as_str().map(str::to_owned)
        };
        assert_eq!(at("2026-11-30T09:00:00Z").as_deref(), Some("clairchen-17:2026-11-30T09:00:00Z:3"));
        assert_ne!(at("2026-11-30T09:00:00Z"), at("2026-12-01T09:00:00Z"), "counter 3 again, a day later, is another uplink");
    }

    #[test]
    fn two_keys_giving_one_field_are_refused_not_collapsed() {
        let catalog = catalog();
        let message = uplink(serde_json::json!({"end_device_ids": {"device_id": "clairchen-17"},
            "uplink_message": {"decoded_payload": {"co2": 812, "co2_ppm": 790}}}));
        let error = to_sample(&catalog, &message).expect_err("refused");
        assert_eq!(error.code(), ErrorCode::InvalidField);
        assert!(error.errors()[0].message.contains("co2_ppm"), "{:?}", error.errors());
    }

    #[test]
    fn unknown_devices_and_undecoded_uplinks_are_refused() {
        let catalog = catalog();
        let stranger = uplink(serde_json::json!({"end_device_ids": {"device_id": "who"}, "uplink_message": {"decoded_payload": {}}}));
        assert_eq!(to_sample(&catalog, &stranger).err().map(|e| e.code()), Some(ErrorCode::UnknownId));
        let raw = uplink(serde_json::json!({"end_device_ids": {"device_id": "clairchen-17"}, "uplink_message": {"f_cnt": 3}}));
        assert_eq!(to_sample(&catalog, &raw).err().map(|e| e.code()), Some(ErrorCode::InvalidField));
    }
}
