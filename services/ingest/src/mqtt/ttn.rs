//! TTN's MQTT integration: uplink messages on `v3/{application}@{tenant}/devices/{device}/up`,
//! each taken like a webhook post. Every replica reads every uplink (TTN has no shared
//! subscriptions) and the idempotency key stores it once. A refused uplink is counted and
//! logged (TTN's broker takes no messages from us).

use super::connection::{Ack, Messages};
use crate::intake::{take, WhenUnavailable};
use crate::Ingest;
use rumqttc::v5::mqttbytes::v5::Publish;
use srs_common::AppContext;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub const BROKER: &str = "ttn_mqtt";

/// The uplink topics of the application `username` names (`{application}@{tenant}`), or of
/// every application the broker shows when no username is set.
pub fn filter(username: &str) -> String {
    let application = if username.is_empty() { "+" } else { username };
    format!("v3/{application}/devices/+/up")
}

/// The uplinks of TTN's MQTT integration.
pub struct TtnUplinks {
    pub ingest: Arc<Ingest>,
    pub context: AppContext,
    pub closing: CancellationToken,
}

#[async_trait::async_trait]
impl Messages for TtnUplinks {
    async fn take(&self, publish: Publish) -> Ack {
        let (result, sensor_id) = match crate::ttn::read(&self.context.sensors, &publish.payload) {
            Ok((sensor, sample)) => {
                let body = crate::ttn::body(sensor, &sample);
                (take(&self.ingest, &self.context, body, WhenUnavailable::RetryUntil(&self.closing)).await, sensor.id.to_string())
            }
            Err(error) => (Err(error), String::new()),
        };
        super::samples::answer(None, &sensor_id, BROKER, result).await
    }
}
