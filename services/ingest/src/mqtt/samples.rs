//! Messages on `{root}/samples/{sensor_id}`: the payload is a body like HTTP's (one sample, an
//! array, or NDJSON) for the sensor the topic names. Committed: acknowledged. Invalid: nothing
//! stored, the problem published to `{root}/errors/{sensor_id}` (QoS 0) and the message
//! acknowledged, as it can never become valid. A store or queue that cannot take it now: tried
//! again, unacknowledged meanwhile, so the broker's window holds the publishers back.

use super::connection::{Ack, Handler};
use super::retry::until_taken;
use crate::intake::{Body, IngestResult};
use crate::parse::Format;
use crate::Ingest;
use rumqttc::v5::mqttbytes::v5::Publish;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::AsyncClient;
use srs_common::{ApiError, AppContext};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub const BROKER: &str = "mqtt";

/// The shared subscription of every ingest replica under `root`.
pub fn filter(root: &str) -> String {
    format!("$share/srs-ingest/{root}/samples/+")
}

pub fn handler(ingest: Arc<Ingest>, context: AppContext, root: String, closing: CancellationToken, client: AsyncClient) -> Handler {
    let shared = Arc::new((ingest, context, root, closing, client));
    Arc::new(move |publish| {
        let shared = shared.clone();
        Box::pin(async move {
            let (ingest, context, root, closing, client) = &*shared;
            take_message(ingest, context, root, closing, client, publish).await
        })
    })
}

async fn take_message(
    ingest: &Ingest,
    context: &AppContext,
    root: &str,
    closing: &CancellationToken,
    client: &AsyncClient,
    publish: Publish,
) -> Ack {
    let topic = String::from_utf8_lossy(&publish.topic);
    // The subscription's `+` makes the rest one topic level.
    let sensor_id = topic.strip_prefix(root).and_then(|rest| rest.strip_prefix("/samples/")).unwrap_or_default();
    let result = match context.sensors.sensor(sensor_id) {
        None => Err(ApiError::not_found(format!("no sensor {sensor_id} in the sensors file"))),
        Some(sensor) => {
            let format = publish.properties.as_ref().and_then(|p| p.content_type.as_deref()).and_then(Format::from_content_type);
            let format = format.unwrap_or_else(|| Format::sniff(&publish.payload));
            let body = || Body { bytes: &publish.payload, format, path_sensor: Some(sensor), token_sensor: None };
            until_taken(ingest, context, closing, body).await
        }
    };
    answer(Some((client, root)), sensor_id, BROKER, result).await
}

/// Counts the outcome and logs a refusal, reporting it on `{root}/errors/{sensor_id}` when
/// `report` names the client and root. Shared with the TTN messages.
pub async fn answer(report: Option<(&AsyncClient, &str)>, sensor_id: &str, broker: &str, result: Result<IngestResult, ApiError>) -> Ack {
    crate::intake::count(&result);
    match result {
        Ok(outcome) => {
            crate::metrics::mqtt_samples(broker, outcome.accepted);
            Ack::Yes
        }
        Err(error) if error.code() == srs_common::ErrorCode::ShuttingDown => Ack::No,
        Err(error) => {
            crate::metrics::mqtt_rejected(broker, error.code().as_str());
            tracing::info!(broker, sensor_id, code = %error.code(), detail = error.detail(), "MQTT message refused; nothing stored");
            if let Some((client, root)) = report {
                let problem = serde_json::to_vec(&error.problem()).unwrap_or_default();
                if let Err(failure) = client.publish(format!("{root}/errors/{sensor_id}"), QoS::AtMostOnce, false, problem).await {
                    tracing::debug!(%failure, "problem not published");
                }
            }
            Ack::Yes
        }
    }
}
