//! TTN's MQTT integration: uplink messages on `v3/{application}@{tenant}/devices/{device}/up`,
//! each taken like a webhook post. Every replica reads every uplink (TTN has no shared
//! subscriptions) and the idempotency key stores it once. A refused uplink is counted and
//! logged (TTN's broker takes no messages from us).

use super::connection::{Ack, Handler};
use super::retry::until_taken;
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

pub fn handler(ingest: Arc<Ingest>, context: AppContext, closing: CancellationToken) -> Handler {
    let shared = Arc::new((ingest, context, closing));
    Arc::new(move |publish| {
        let shared = shared.clone();
        Box::pin(async move {
            let (ingest, context, closing) = &*shared;
            take_uplink(ingest, context, closing, publish).await
        })
    })
}

async fn take_uplink(ingest: &Ingest, context: &AppContext, closing: &CancellationToken, publish: Publish) -> Ack {
    let (result, sensor_id) = match crate::ttn::read(&context.sensors, &publish.payload) {
        Ok((sensor, sample)) => (until_taken(ingest, context, closing, || crate::ttn::body(sensor, &sample)).await, sensor.id.to_string()),
        Err(error) => (Err(error), String::new()),
    };
    super::samples::answer(None, &sensor_id, BROKER, result).await
}
