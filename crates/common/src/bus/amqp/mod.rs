//! The RabbitMQ bus. A supervisor task owns the connection: it connects with backoff
//! (0.5 s .. 10 s), declares the topology, starts every registered subscription and worker on
//! the new connection, and reports not-ready while disconnected. lapin's own auto-recovery is
//! deliberately not used.

mod consumers;
mod supervisor;
mod topology;

pub use topology::{dead_letter_queue, DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, LIVE_EXCHANGE};

use self::supervisor::{Connected, Supervisor};
use super::{Bus, BusError, Event, JobHandler, Subscription, Worker, LIVE_BUFFER, SUBSCRIPTION_BUFFER};
use async_trait::async_trait;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions};
use lapin::BasicProperties;
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, Clone)]
pub struct AmqpOptions {
    pub url: String,
    pub heartbeat_secs: u16,
    pub publish_timeout: Duration,
    pub job_delivery_limit: u32,
}

impl AmqpOptions {
    pub fn from_settings(bus: &crate::settings::BusSettings) -> Self {
        Self {
            url: bus.amqp_url.expose_secret().to_owned(),
            heartbeat_secs: bus.heartbeat_secs,
            publish_timeout: Duration::from_millis(bus.publish_timeout_ms),
            job_delivery_limit: bus.job_delivery_limit,
        }
    }
}

/// Upper bound of one broker round trip. On a connection that died without a clean close,
/// lapin may otherwise wait forever; a bounded call turns that into a reconnect.
const BROKER_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs one broker call with [`BROKER_CALL_TIMEOUT`].
pub(super) async fn bounded<T, E: std::fmt::Display>(
    what: &str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(BROKER_CALL_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(anyhow::anyhow!("{what}: {error}")),
        Err(_) => Err(anyhow::anyhow!("{what}: no answer from the broker in {} s", BROKER_CALL_TIMEOUT.as_secs())),
    }
}

pub struct AmqpBus {
    supervisor: Arc<Supervisor>,
}

impl AmqpBus {
    /// Starts the supervisor; the bus becomes ready once the first connection is up.
    pub fn start(options: AmqpOptions) -> Self {
        Self { supervisor: Supervisor::start(options) }
    }

    /// Waits up to `timeout` for the bus to be connected.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), BusError> {
        self.supervisor.connected(timeout).await.map(|_| ())
    }

    /// Registers a subscription for every connection and waits (up to the publish timeout) for
    /// its queue to be bound — connected or not yet — so that an event published after this
    /// returns reaches it. Without a broker in that time it binds on the next connection.
    async fn register_subscription(&self, patterns: &[&str], live: bool, buffer: usize) -> Subscription {
        let (sender, receiver) = mpsc::channel(buffer);
        let cancel = self.supervisor.shutdown.child_token();
        let patterns = patterns.iter().map(|p| p.to_string()).collect();
        let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
        let spec =
            consumers::SubscriptionSpec { patterns, live, sender, cancel: cancel.clone(), bound: std::sync::Mutex::new(Some(bound_tx)) };
        self.supervisor.register(consumers::Consumer::Subscription(Arc::new(spec)));
        let _ = tokio::time::timeout(self.supervisor.options.publish_timeout, bound_rx).await;
        Subscription::new(receiver, cancel)
    }

    /// Registers a worker on `queue` (bound to the event stream by `bindings`, if any) for
    /// every connection; waits for its first start like [`AmqpBus::register_subscription`].
    async fn start_worker(&self, queue: &str, bindings: &[&str], handler: JobHandler) -> Worker {
        let cancel = self.supervisor.shutdown.child_token();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
        let spec = Arc::new(consumers::WorkerSpec {
            queue: queue.to_owned(),
            bindings: bindings.iter().map(|b| b.to_string()).collect(),
            bound: std::sync::Mutex::new(Some(bound_tx)),
            handler,
            cancel: cancel.clone(),
            _done: done_tx,
        });
        self.supervisor.register(consumers::Consumer::Worker(spec));
        if !bindings.is_empty() {
            let _ = tokio::time::timeout(self.supervisor.options.publish_timeout, bound_rx).await;
        }
        // The spec (and so `_done`) lives while a consumer task or the registry holds it; the
        // task below ends when the worker is cancelled and every in-flight handler has returned.
        let supervisor = self.supervisor.clone();
        let waiter_cancel = cancel.clone();
        let task = tokio::spawn(async move {
            waiter_cancel.cancelled().await;
            supervisor.forget_cancelled();
            let _ = done_rx.await;
        });
        Worker::new(cancel, task)
    }

    /// Publishes `messages` (routing key, event) on `exchange` and waits for every confirm,
    /// retrying the whole batch on the next connection if this one breaks before confirming.
    async fn publish_confirmed(
        &self,
        exchange: &str,
        mandatory: bool,
        messages: &[(&str, &Event)],
        declare_queue: Option<&str>,
    ) -> Result<(), BusError> {
        let deadline = tokio::time::Instant::now() + self.supervisor.options.publish_timeout;
        let payloads = messages
            .iter()
            .map(|(key, event)| serde_json::to_vec(event).map(|p| (*key, *event, p)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| BusError::Internal(format!("encode event: {e}")))?;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let connected = self.supervisor.connected(remaining).await?;
            if let Some(queue) = declare_queue {
                if let Err(error) = connected.ensure_work_queue(queue).await {
                    self.retry_or_fail(deadline, &error).await?;
                    continue;
                }
            }
            let attempt = tokio::time::timeout(remaining, publish_batch(&connected, exchange, mandatory, &payloads)).await;
            match attempt.unwrap_or_else(|_| Err(BusError::Unavailable("no confirm from the broker in time".into()))) {
                Ok(()) => return Ok(()),
                Err(error) => self.retry_or_fail(deadline, &error).await?,
            }
        }
    }

    async fn retry_or_fail(&self, deadline: tokio::time::Instant, error: &BusError) -> Result<(), BusError> {
        tracing::warn!(%error, "publish not confirmed; retrying");
        if tokio::time::Instant::now() >= deadline {
            return Err(error.clone());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(())
    }
}

async fn publish_batch(
    connected: &Connected,
    exchange: &str,
    mandatory: bool,
    payloads: &[(&str, &Event, Vec<u8>)],
) -> Result<(), BusError> {
    let unavailable = |e: lapin::Error| BusError::Unavailable(e.to_string());
    let mut confirms = Vec::with_capacity(payloads.len());
    for (routing_key, event, payload) in payloads {
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(event.id.as_str().into())
            .with_type(event.kind.as_str().into());
        let options = BasicPublishOptions { mandatory, ..BasicPublishOptions::default() };
        let confirm = connected
            .publisher
            .basic_publish(exchange.into(), (*routing_key).into(), options, payload, properties)
            .await
            .map_err(unavailable)?;
        confirms.push(confirm);
    }
    for confirm in confirms {
        let confirmation = confirm.await.map_err(unavailable)?;
        if !confirmation.is_ack() {
            return Err(BusError::Unavailable("the broker refused a message (nack)".into()));
        }
        if confirmation.take_message().is_some() {
            return Err(BusError::Internal("the broker could not route a message".into()));
        }
    }
    Ok(())
}

#[async_trait]
impl Bus for AmqpBus {
    fn backend(&self) -> &'static str {
        "amqp"
    }

    fn durable_jobs(&self) -> bool {
        true
    }

    fn is_ready(&self) -> bool {
        self.supervisor.is_connected()
    }

    async fn publish(&self, events: &[Event]) -> Result<(), BusError> {
        let messages: Vec<_> = events.iter().map(|e| (e.kind.as_str(), e)).collect();
        self.publish_confirmed(EVENTS_EXCHANGE, false, &messages, None).await
    }

    async fn subscribe(&self, patterns: &[&str]) -> Result<Subscription, BusError> {
        Ok(self.register_subscription(patterns, false, SUBSCRIPTION_BUFFER).await)
    }

    async fn publish_live(&self, events: &[Event]) -> Result<(), BusError> {
        // Never waits for a connection: a live frame that cannot go now is worthless later.
        let connected = self.supervisor.connected(Duration::ZERO).await?;
        for event in events {
            let payload = serde_json::to_vec(event).map_err(|e| BusError::Internal(format!("encode event: {e}")))?;
            let properties = BasicProperties::default().with_delivery_mode(1).with_content_type("application/json".into());
            let publish = connected.live_publisher.basic_publish(
                LIVE_EXCHANGE.into(),
                event.kind.as_str().into(),
                BasicPublishOptions::default(),
                &payload,
                properties,
            );
            bounded("publish live", publish).await.map_err(|e| BusError::Unavailable(e.to_string()))?;
        }
        Ok(())
    }

    async fn subscribe_live(&self, patterns: &[&str]) -> Result<Subscription, BusError> {
        Ok(self.register_subscription(patterns, true, LIVE_BUFFER).await)
    }

    async fn enqueue(&self, queue: &str, jobs: &[Event]) -> Result<(), BusError> {
        let messages: Vec<_> = jobs.iter().map(|e| (queue, e)).collect();
        self.publish_confirmed("", true, &messages, Some(queue)).await
    }

    async fn work(&self, queue: &str, handler: JobHandler) -> Result<Worker, BusError> {
        Ok(self.start_worker(queue, &[], handler).await)
    }

    async fn consume(&self, queue: &str, patterns: &[&str], handler: JobHandler) -> Result<Worker, BusError> {
        Ok(self.start_worker(queue, patterns, handler).await)
    }

    async fn take_dead_letters(&self, queue: &str, max: usize) -> Result<Vec<Event>, BusError> {
        let connected = self.supervisor.connected(self.supervisor.options.publish_timeout).await?;
        connected.ensure_work_queue(queue).await?;
        let dead = dead_letter_queue(queue);
        let unavailable = |e: anyhow::Error| BusError::Unavailable(e.to_string());
        let channel = bounded("open channel", connected.connection.create_channel()).await.map_err(unavailable)?;
        let mut events = Vec::new();
        while events.len() < max {
            let message = bounded("get dead letter", channel.basic_get(dead.as_str().into(), BasicGetOptions::default()))
                .await
                .map_err(unavailable)?;
            let Some(message) = message else { break };
            match serde_json::from_slice::<Event>(&message.delivery.data) {
                Ok(event) => events.push(event),
                Err(error) => tracing::warn!(%error, queue = %dead, "dropping undecodable dead letter"),
            }
            bounded("ack dead letter", message.delivery.ack(BasicAckOptions::default())).await.map_err(unavailable)?;
        }
        let _ = bounded("close channel", channel.close(200, "done".into())).await;
        Ok(events)
    }

    async fn close(&self) {
        self.supervisor.stop().await;
    }
}

/// Deletes work queues and their dead-letter queues on the broker at `url` (test and tooling
/// clean-up: quorum queues outlive every process). Best effort, and bounded to 10 s so a
/// clean-up never hangs its caller.
pub async fn delete_work_queues(url: &str, queues: &[&str]) {
    if queues.is_empty() {
        return;
    }
    let cleanup = async {
        let connection = lapin::Connection::connect(url, lapin::ConnectionProperties::default()).await.ok()?;
        if let Ok(channel) = connection.create_channel().await {
            for queue in queues {
                for name in [queue.to_string(), dead_letter_queue(queue)] {
                    let _ = channel.queue_delete(name.as_str().into(), lapin::options::QueueDeleteOptions::default()).await;
                }
            }
        }
        connection.close(200, "done".into()).await.ok()
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), cleanup).await;
}
