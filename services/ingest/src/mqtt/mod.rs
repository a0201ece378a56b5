//! MQTT intake: sensors that publish to a broker (`mqtt.url`), and The Things Stack's MQTT
//! integration (`ttn.mqtt_url`). Each is one connection (see `connection`) that acknowledges a
//! message only once its samples are committed by the same intake as HTTP.

mod connection;
mod samples;
pub mod settings;
mod ttn;

use crate::Ingest;
use connection::Subscriber;
use settings::{MqttSettings, TtnSettings};
use srs_common::shutdown::Background;
use srs_common::AppContext;
use std::sync::Arc;

/// Connects to the brokers the settings name (none by default).
pub fn start(ingest: &Arc<Ingest>, ttn: &TtnSettings, context: &AppContext, background: &Background) -> anyhow::Result<()> {
    let mqtt = MqttSettings::from_settings(&context.settings)?;
    // Room for a message over the body limit, so that it is refused with a problem on the
    // errors topic; the broker drops larger ones (deployments cap them there too, see
    // docs/mqtt.md).
    let max_packet_bytes = u32::try_from(ingest.settings.max_body_bytes.saturating_mul(2).saturating_add(64 * 1024)).unwrap_or(u32::MAX);
    let mqtt_broker = mqtt.broker()?;
    // TTN's client id follows this replica's own, so replicas do not take each other's session.
    let replica = mqtt_broker.as_ref().map_or_else(settings::host_name, |broker| broker.client_id.clone());
    if let Some(broker) = mqtt_broker {
        let subscriber = Subscriber { name: samples::BROKER, broker, filters: vec![samples::filter(&mqtt.topic_root)], max_packet_bytes };
        let (ingest, context_for_handler, closing) = (ingest.clone(), context.clone(), background.closing.clone());
        let root = mqtt.topic_root.clone();
        let messages = move |client| -> connection::Handler {
            Arc::new(samples::SampleMessages { ingest, context: context_for_handler, root, closing, client })
        };
        connection::start(subscriber, messages, &context.readiness, background)?;
    }
    if let Some(broker) = ttn.broker(&replica)? {
        let subscriber = Subscriber { name: ttn::BROKER, broker, filters: vec![ttn::filter(&ttn.mqtt_username)], max_packet_bytes };
        let uplinks = ttn::TtnUplinks { ingest: ingest.clone(), context: context.clone(), closing: background.closing.clone() };
        connection::start(subscriber, move |_client| -> connection::Handler { Arc::new(uplinks) }, &context.readiness, background)?;
    }
    Ok(())
}
