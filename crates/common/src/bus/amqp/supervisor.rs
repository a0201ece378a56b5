//! The connection supervisor: one task that keeps a RabbitMQ connection up and everything
//! registered on it running.

use super::consumers::{self, Consumer};
use super::topology;
use super::{bounded, AmqpOptions};
use crate::bus::BusError;
use futures_util::StreamExt;
use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection, ConnectionProperties};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) struct Supervisor {
    pub(super) options: AmqpOptions,
    pub(super) shutdown: CancellationToken,
    state: watch::Sender<Option<Arc<Connected>>>,
    registry: Mutex<Vec<Consumer>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// One live connection: its confirm-mode publishing channel, the transient stream's channel, the work queues declared on it,
/// and a token cancelled when it is lost.
pub(super) struct Connected {
    pub(super) connection: Connection,
    pub(super) publisher: Channel,
    /// Publishes the transient stream, without confirms.
    pub(super) live_publisher: Channel,
    pub(super) lost: CancellationToken,
    declared: tokio::sync::Mutex<HashSet<String>>,
    delivery_limit: u32,
}

impl Connected {
    /// Declares `queue` (and its dead-letter queue) once per connection.
    pub(super) async fn ensure_work_queue(&self, queue: &str) -> Result<(), BusError> {
        let mut declared = self.declared.lock().await;
        if declared.contains(queue) {
            return Ok(());
        }
        // A failed declaration closes its channel, so it gets a channel of its own.
        let declare = async {
            let channel = self.connection.create_channel().await?;
            topology::declare_work_queue(&channel, queue, self.delivery_limit).await?;
            channel.close(200, "declared".into()).await
        };
        bounded(&format!("declare queue {queue}"), declare).await.map_err(|e| BusError::Unavailable(e.to_string()))?;
        declared.insert(queue.to_owned());
        Ok(())
    }
}

impl Supervisor {
    pub(super) fn start(options: AmqpOptions) -> Arc<Self> {
        let supervisor = Arc::new(Self {
            options,
            shutdown: CancellationToken::new(),
            state: watch::Sender::new(None),
            registry: Mutex::new(Vec::new()),
            task: Mutex::new(None),
        });
        let task = tokio::spawn(supervisor.clone().run());
        if let Ok(mut slot) = supervisor.task.lock() {
            *slot = Some(task);
        }
        supervisor
    }

    pub(super) fn is_connected(&self) -> bool {
        self.state.borrow().as_ref().is_some_and(|c| !c.lost.is_cancelled() && c.connection.status().connected())
    }

    /// The live connection, waiting up to `timeout` for one.
    pub(super) async fn connected(&self, timeout: Duration) -> Result<Arc<Connected>, BusError> {
        let mut state = self.state.subscribe();
        let wait = async {
            loop {
                if let Some(connected) = state.borrow_and_update().as_ref().filter(|c| !c.lost.is_cancelled()) {
                    return Some(connected.clone());
                }
                state.changed().await.ok()?;
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(Some(connected)) => Ok(connected),
            _ => Err(BusError::Unavailable("not connected to RabbitMQ".into())),
        }
    }

    /// Registers a consumer for every connection from now on, starting it now if connected.
    pub(super) fn register(&self, consumer: Consumer) {
        let Ok(mut registry) = self.registry.lock() else { return };
        if let Some(connected) = self.state.borrow().as_ref().filter(|c| !c.lost.is_cancelled()) {
            consumers::spawn(consumer.clone(), connected.clone());
        }
        registry.push(consumer);
    }

    pub(super) fn forget_cancelled(&self) {
        if let Ok(mut registry) = self.registry.lock() {
            registry.retain(|c| !c.is_cancelled());
        }
    }

    pub(super) async fn stop(&self) {
        self.shutdown.cancel();
        let task = self.task.lock().ok().and_then(|mut slot| slot.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    async fn run(self: Arc<Self>) {
        let mut backoff = MIN_BACKOFF;
        let mut ever_connected = false;
        while !self.shutdown.is_cancelled() {
            let attempt = tokio::select! {
                attempt = tokio::time::timeout(CONNECT_TIMEOUT, self.connect()) => attempt.unwrap_or_else(|_| Err("connection attempt timed out".into())),
                _ = self.shutdown.cancelled() => break,
            };
            match attempt {
                Ok(connected) => {
                    backoff = MIN_BACKOFF;
                    if ever_connected {
                        crate::bus::metrics::bus_reconnects().inc();
                    }
                    ever_connected = true;
                    tracing::info!("connected to RabbitMQ");
                    self.activate(&connected);
                    tokio::select! {
                        _ = connected.lost.cancelled() => tracing::warn!("lost the RabbitMQ connection; reconnecting"),
                        _ = self.shutdown.cancelled() => {}
                    }
                    self.state.send_replace(None);
                    connected.lost.cancel();
                    if self.shutdown.is_cancelled() {
                        let _ = bounded("close connection", connected.connection.close(200, "shutting down".into())).await;
                        break;
                    }
                    let _ = bounded("close connection", connected.connection.close(200, "reconnecting".into())).await;
                }
                Err(error) => tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "cannot connect to RabbitMQ"),
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = self.shutdown.cancelled() => break,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        self.state.send_replace(None);
    }

    /// Publishes the new connection and starts every registered consumer on it, under the
    /// registry lock so a consumer registering meanwhile starts exactly once.
    fn activate(&self, connected: &Arc<Connected>) {
        let Ok(mut registry) = self.registry.lock() else { return };
        registry.retain(|c| !c.is_cancelled());
        self.state.send_replace(Some(connected.clone()));
        for consumer in registry.iter() {
            consumers::spawn(consumer.clone(), connected.clone());
        }
    }

    async fn connect(&self) -> Result<Arc<Connected>, String> {
        let url = with_heartbeat(&self.options.url, self.options.heartbeat_secs);
        let properties = ConnectionProperties::default().with_connection_name("srs".into());
        let connection = bounded("connect", Connection::connect(&url, properties)).await.map_err(|e| e.to_string())?;
        let publisher = bounded("open channel", connection.create_channel()).await.map_err(|e| e.to_string())?;
        bounded("confirm mode", publisher.confirm_select(ConfirmSelectOptions::default())).await.map_err(|e| e.to_string())?;
        bounded("declare exchanges", topology::declare_exchanges(&publisher)).await.map_err(|e| e.to_string())?;
        let live_publisher = bounded("open channel", connection.create_channel()).await.map_err(|e| e.to_string())?;
        let lost = CancellationToken::new();
        watch_connection(&connection, lost.clone());
        Ok(Arc::new(Connected {
            connection,
            publisher,
            live_publisher,
            lost,
            declared: tokio::sync::Mutex::default(),
            delivery_limit: self.options.job_delivery_limit,
        }))
    }
}

/// Cancels `lost` when the connection reports an error or stops being connected.
fn watch_connection(connection: &Connection, lost: CancellationToken) {
    let mut events = connection.events_listener();
    let status = connection.status().clone();
    tokio::spawn(async move {
        let mut poll = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                event = events.next() => match event {
                    Some(lapin::Event::Error(error)) => {
                        tracing::warn!(%error, "RabbitMQ connection error");
                        break;
                    }
                    Some(_) => {}
                    None => break,
                },
                _ = poll.tick() => if !status.connected() { break },
                _ = lost.cancelled() => return,
            }
        }
        lost.cancel();
    });
}

/// The URL with `heartbeat=N` unless it sets one itself.
fn with_heartbeat(url: &str, heartbeat_secs: u16) -> String {
    if url.contains("heartbeat=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}heartbeat={heartbeat_secs}")
}

#[cfg(test)]
mod tests {
    use super::with_heartbeat;

    #[test]
    fn heartbeat_is_added_once() {
        assert_eq!(with_heartbeat("amqp://h:5672/%2f", 5), "amqp://h:5672/%2f?heartbeat=5");
        assert_eq!(with_heartbeat("amqp://h/%2f?frame_max=8192", 5), "amqp://h/%2f?frame_max=8192&heartbeat=5");
        assert_eq!(with_heartbeat("amqp://h/%2f?heartbeat=1", 5), "amqp://h/%2f?heartbeat=1");
    }
}
