//! Messages on `{root}/samples/{sensor_id}`: the payload is a body like HTTP's (one sample, an
//! array, or NDJSON) for the sensor the topic names. Committed: acknowledged. Invalid: nothing
//! stored, the problem published to `{root}/errors/{sensor_id}` (QoS 0) and the message
//! acknowledged, as it can never become valid. A store or queue that cannot take it now: tried
//! again, unacknowledged meanwhile, so the broker's window holds the publishers back.

use super::connection::{Ack, Messages};
use crate::intake::{take, Body, IngestResult, WhenUnavailable};
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

/// The sensors' messages of one topic root.
pub struct SampleMessages {
    pub ingest: Arc<Ingest>,
    pub context: AppContext,
    pub root: String,
    pub closing: CancellationToken,
    /// Publishes the problems.
    pub client: AsyncClient,
}

#[async_trait::async_trait]
impl Messages for SampleMessages {
    async fn take(&self, publish: Publish) -> Ack {
        let topic = String::from_utf8_lossy(&publish.topic);
        // The subscription's `+` makes the rest one topic level.
        let sensor_id = topic.strip_prefix(self.root.as_str()).and_then(|rest| rest.strip_prefix("/samples/")).unwrap_or_default();
        let result = match self.context.sensors.sensor(sensor_id) {
            None => Err(ApiError::not_found(format!("no sensor {sensor_id} in the sensors file"))),
            Some(sensor) => {
                let content_type = publish.properties.as_ref().and_then(|p| p.content_type.as_deref());
                let format = content_type.and_then(Format::from_content_type).unwrap_or_else(|| Format::sniff(&publish.payload));
                let body = Body { bytes: &publish.payload, format, path_sensor: Some(sensor), token_sensor: None };
                take(&self.ingest, &self.context, body, WhenUnavailable::RetryUntil(&self.closing)).await
            }
        };
        answer(Some((&self.client, &self.root)), sensor_id, BROKER, result).await
    }
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
            // Counted, like HTTP's refusals; a device that sends nothing but bad messages
            // must not fill the log.
            tracing::debug!(broker, sensor_id, code = %error.code(), detail = error.detail(), "MQTT message refused; nothing stored");
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
