//! An MQTT 5 client for the tests, doing what `mosquitto_pub` and `mosquitto_sub` do: publish at
//! QoS 1 and wait for the broker's PUBACK, and read what arrives on a subscription. It talks to
//! the test Mosquitto (`SRS_TEST_MQTT_URL`, else 127.0.0.1:1883, which scripts/test.sh makes
//! sure answers) and fails loudly when none does.

use rumqttc::v5::mqttbytes::v5::{Packet, Publish, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use std::time::Duration;
use tokio::sync::mpsc;

/// The test broker's URL.
pub fn mqtt_url() -> String {
    std::env::var("SRS_TEST_MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into())
}

/// A topic root (`mqtt.topic_root`) no other test uses, so tests sharing the broker never see
/// each other's messages.
pub fn unique_root(name: &str) -> String {
    format!("test-{name}-{}", srs_common::model::new_id())
}

/// A connected client: PUBACKs and received messages come out of its channels.
pub struct TestClient {
    pub client: AsyncClient,
    acks: mpsc::UnboundedReceiver<u16>,
    messages: mpsc::UnboundedReceiver<Publish>,
    task: tokio::task::JoinHandle<()>,
}

impl TestClient {
    /// A clean session that goes away with the client.
    pub async fn connect(client_id: &str) -> Self {
        Self::connect_with(client_id, |_| {}).await
    }

    /// With `adjust` changing the options (a persistent session, say) before connecting.
    pub async fn connect_with(client_id: &str, adjust: impl FnOnce(&mut MqttOptions)) -> Self {
        Self::connect_to(&mqtt_url(), client_id, adjust).await
    }

    /// To the broker at `url` (a test's own) rather than the test broker.
    pub async fn connect_to(url: &str, client_id: &str, adjust: impl FnOnce(&mut MqttOptions)) -> Self {
        let parsed = reqwest::Url::parse(url).expect("an mqtt:// URL");
        let mut options = MqttOptions::new(client_id, parsed.host_str().unwrap_or("127.0.0.1"), parsed.port().unwrap_or(1883));
        options.set_keep_alive(Duration::from_secs(5)).set_max_packet_size(Some(64 * 1024 * 1024));
        adjust(&mut options);
        let (client, mut eventloop) = AsyncClient::new(options, 1024);
        let (ack_sender, acks) = mpsc::unbounded_channel();
        let (message_sender, messages) = mpsc::unbounded_channel();
        let (connected_sender, mut connected) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = connected_sender.send(Ok(()));
                    }
                    Ok(Event::Incoming(Packet::PubAck(ack))) => {
                        let _ = ack_sender.send(ack.pkid);
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let _ = message_sender.send(publish);
                    }
                    Ok(_) => {}
                    Err(error) => {
                        let _ = connected_sender.send(Err(error.to_string()));
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        });
        match tokio::time::timeout(Duration::from_secs(10), connected.recv()).await {
            Ok(Some(Ok(()))) => {}
            other => panic!("Mosquitto must answer at {url} (scripts/test.sh starts it): {other:?}"),
        }
        Self { client, acks, messages, task }
    }

    /// Publishes at QoS 1 and waits for the broker's PUBACK (one message in flight at a time).
    pub async fn publish_acked(&mut self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.publish_acked_with(topic, payload, None).await;
    }

    /// The same, with MQTT 5 properties (a content type, say).
    pub async fn publish_acked_with(&mut self, topic: &str, payload: impl Into<Vec<u8>>, properties: Option<PublishProperties>) {
        let payload: Vec<u8> = payload.into();
        match properties {
            Some(properties) => self.client.publish_with_properties(topic, QoS::AtLeastOnce, false, payload, properties).await,
            None => self.client.publish(topic, QoS::AtLeastOnce, false, payload).await,
        }
        .expect("publish");
        tokio::time::timeout(Duration::from_secs(10), self.acks.recv())
            .await
            .expect("the broker acknowledges within 10 s")
            .expect("PUBACK");
    }

    /// Subscribes at QoS 0 and waits until the broker has it.
    pub async fn subscribe(&mut self, filter: &str) {
        self.client.subscribe(filter, QoS::AtMostOnce).await.expect("subscribe");
        // A round trip through the broker: our own message on a private topic comes back once
        // the subscriptions before it are in place.
        let probe = format!("srs-test-probe/{}", srs_common::model::new_id());
        self.client.subscribe(probe.as_str(), QoS::AtMostOnce).await.expect("subscribe probe");
        self.publish_acked(&probe, "probe").await;
        loop {
            let message = self.next_message(Duration::from_secs(10)).await.expect("the probe comes back");
            if message.topic == probe.as_bytes() {
                return;
            }
        }
    }

    /// The next message that arrives within `wait`.
    pub async fn next_message(&mut self, wait: Duration) -> Option<Publish> {
        tokio::time::timeout(wait, self.messages.recv()).await.ok().flatten()
    }

    /// Disconnects; a persistent session stays with the broker.
    pub async fn disconnect(self) {
        let _ = self.client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.task.abort();
    }
}
