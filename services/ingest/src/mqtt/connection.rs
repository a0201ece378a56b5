//! One MQTT 5 broker connection that takes messages in at least once: QoS 1 with manual
//! acknowledgement, and a persistent session, so a message is PUBACKed only after its handler
//! says so (its samples are committed), and what a crash left unacknowledged comes again.
//!
//! - Messages are handled concurrently (their samples meet in the same group commit) but
//!   acknowledged in the order they came, as MQTT asks of a receiver.
//! - A lost connection is retried with backoff; each connection gets a new generation, and an
//!   acknowledgement from an older one is dropped: the broker delivers that message again on
//!   the new connection (same packet id), and the redelivered copy is the one acknowledged — a
//!   second PUBACK for a packet id could otherwise acknowledge a newer message that reused it.
//! - On shutdown it stops taking messages, lets the handled ones finish and be acknowledged,
//!   and disconnects; anything later comes again after the restart.

use super::settings::Broker;
use crate::metrics;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, Publish};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use secrecy::ExposeSecret;
use srs_common::readiness::ReadinessChecks;
use srs_common::shutdown::Background;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const FIRST_RETRY: Duration = Duration::from_millis(250);
const LAST_RETRY: Duration = Duration::from_secs(30);
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Messages the broker may have on their way to us at once (MQTT 5 Receive Maximum): enough for
/// a full group commit of small messages.
const RECEIVE_MAXIMUM: u16 = 1000;
/// How long shutdown waits for the handled messages' commits before disconnecting.
const DRAIN: Duration = Duration::from_secs(5);

/// Whether a handled message is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// Done with: committed, a duplicate, or refused for good (reported).
    Yes,
    /// Not done (shutting down): left for the broker to deliver again.
    No,
}

/// What takes a connection's messages in.
#[async_trait::async_trait]
pub trait Messages: Send + Sync + 'static {
    /// Handles one message; says whether it may be acknowledged.
    async fn take(&self, publish: Publish) -> Ack;
}

pub type Handler = Arc<dyn Messages>;

/// What to connect to and subscribe.
pub struct Subscriber {
    /// `mqtt` or `ttn_mqtt`: its name in `/readyz` and the metrics' `broker` label.
    pub name: &'static str,
    pub broker: Broker,
    pub filters: Vec<String>,
    /// Largest packet we take (told to the broker in CONNECT).
    pub max_packet_bytes: u32,
}

const DISCONNECTED: u8 = 0;
const CONNECTED: u8 = 1;
const REFUSED: u8 = 2;

/// Connects and stays connected until shutdown; `make_handler` gets the client (to publish with).
pub fn start(
    subscriber: Subscriber,
    make_handler: impl FnOnce(AsyncClient) -> Handler,
    readiness: &ReadinessChecks,
    background: &Background,
) -> anyhow::Result<()> {
    let options = options(&subscriber)?;
    let (client, eventloop) = AsyncClient::new(options, usize::from(RECEIVE_MAXIMUM) * 2);
    let handler = make_handler(client.clone());
    let state = Arc::new(AtomicU8::new(DISCONNECTED));
    let seen = state.clone();
    readiness.add(
        subscriber.name,
        Arc::new(move || match seen.load(Ordering::Relaxed) {
            CONNECTED => Ok(()),
            REFUSED => Err("the broker refused the subscription".to_owned()),
            _ => Err("not connected".to_owned()),
        }),
    );
    metrics::mqtt_connected(subscriber.name, false);
    background.spawn(run(subscriber, client, eventloop, handler, state, background.closing.clone()));
    Ok(())
}

fn options(subscriber: &Subscriber) -> anyhow::Result<MqttOptions> {
    let broker = &subscriber.broker;
    let tls = broker.url.scheme() == "mqtts";
    let host = broker.url.host_str().unwrap_or_default().to_owned();
    let port = broker.url.port().unwrap_or(if tls { 8883 } else { 1883 });
    let mut options = MqttOptions::new(broker.client_id.clone(), host, port);
    options
        .set_keep_alive(KEEP_ALIVE)
        .set_clean_start(false)
        .set_session_expiry_interval(Some(broker.session_expiry_secs))
        .set_receive_maximum(Some(RECEIVE_MAXIMUM))
        .set_max_packet_size(Some(subscriber.max_packet_bytes))
        .set_manual_acks(true);
    if !broker.username.is_empty() {
        options.set_credentials(broker.username.clone(), broker.password.expose_secret().to_owned());
    }
    if tls {
        // Two TLS providers are linked in (the AMQP and SMTP clients bring their own); rustls
        // needs one chosen before it builds a configuration. Installing twice is harmless.
        let _ = rumqttc::tokio_rustls::rustls::crypto::aws_lc_rs::default_provider().install_default();
        let transport = match &broker.ca_certificate {
            Some(path) => {
                let ca = std::fs::read(path).map_err(|e| anyhow::anyhow!("mqtt.ca_certificate: cannot read {}: {e}", path.display()))?;
                rumqttc::Transport::tls(ca, None, None)
            }
            None => rumqttc::Transport::tls_with_default_config(),
        };
        options.set_transport(transport);
    }
    Ok(options)
}

struct Handled {
    generation: u64,
    publish: Publish,
    outcome: JoinHandle<Ack>,
}

async fn run(
    subscriber: Subscriber,
    client: AsyncClient,
    mut eventloop: EventLoop,
    handler: Handler,
    state: Arc<AtomicU8>,
    closing: CancellationToken,
) {
    let name = subscriber.name;
    let generation = Arc::new(AtomicU64::new(0));
    let (handled, in_order) = mpsc::unbounded_channel();
    let mut acker = tokio::spawn(acknowledge_in_order(client.clone(), in_order, generation.clone()));
    let mut retry = FIRST_RETRY;
    loop {
        let event = tokio::select! {
            () = closing.cancelled() => break,
            event = eventloop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                retry = FIRST_RETRY;
                // Subscribing again is harmless when the session kept the subscriptions. Never
                // waiting here: only this loop's polling empties the client's request queue.
                let filters = subscriber.filters.iter().map(|filter| Filter::new(filter.clone(), QoS::AtLeastOnce));
                if let Err(error) = client.try_subscribe_many(filters) {
                    tracing::warn!(broker = name, %error, "cannot subscribe");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(answer))) => {
                let granted =
                    answer.return_codes.iter().all(|code| matches!(code, rumqttc::v5::mqttbytes::v5::SubscribeReasonCode::Success(_)));
                if granted {
                    tracing::info!(broker = name, filters = ?subscriber.filters, "subscribed");
                    state.store(CONNECTED, Ordering::Relaxed);
                    metrics::mqtt_connected(name, true);
                } else {
                    tracing::error!(broker = name, codes = ?answer.return_codes, "the broker refused the subscription (check its ACL)");
                    state.store(REFUSED, Ordering::Relaxed);
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                metrics::mqtt_message(name);
                let (handler, message) = (handler.clone(), publish.clone());
                let outcome = tokio::spawn(async move { handler.take(message).await });
                let _ = handled.send(Handled { generation: generation.load(Ordering::SeqCst), publish, outcome });
            }
            Ok(_) => {}
            Err(error) => {
                // Acknowledgements still on their way belong to the lost connection.
                generation.fetch_add(1, Ordering::SeqCst);
                state.store(DISCONNECTED, Ordering::Relaxed);
                metrics::mqtt_connected(name, false);
                metrics::mqtt_reconnect(name);
                tracing::warn!(broker = name, %error, retry_in_ms = retry.as_millis() as u64, "MQTT connection lost or refused; retrying");
                tokio::select! {
                    () = closing.cancelled() => break,
                    () = tokio::time::sleep(retry) => {}
                }
                retry = (retry * 2).min(LAST_RETRY);
            }
        }
    }
    // Shutdown: nothing new is handled; what was is committed and acknowledged, then goodbye.
    drop(handled);
    let deadline = tokio::time::sleep(DRAIN);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut acker => break,
            () = &mut deadline => break,
            event = eventloop.poll() => if event.is_err() { break },
        }
    }
    if client.try_disconnect().is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Ok(event) = eventloop.poll().await {
                if matches!(event, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                    break;
                }
            }
        })
        .await;
    }
    state.store(DISCONNECTED, Ordering::Relaxed);
    metrics::mqtt_connected(name, false);
}

async fn acknowledge_in_order(client: AsyncClient, mut in_order: mpsc::UnboundedReceiver<Handled>, generation: Arc<AtomicU64>) {
    while let Some(Handled { generation: received_in, publish, outcome }) = in_order.recv().await {
        let ack = outcome.await.unwrap_or(Ack::No);
        if ack == Ack::Yes && received_in == generation.load(Ordering::SeqCst) {
            if let Err(error) = client.ack(&publish).await {
                tracing::debug!(%error, "acknowledgement not sent; the broker delivers the message again");
            }
        }
    }
}
