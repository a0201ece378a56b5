//! The bus: events (topic fan-out to every interested replica) and jobs (durable work queues,
//! acknowledged only after the handler succeeds, dead-lettered after repeated failure). Two
//! backends: RabbitMQ (`amqp`, with our own connection supervisor) and `memory` for the
//! all-in-one binary and unit tests. RabbitMQ carries events and jobs, never the durable copy of
//! samples.

pub mod amqp;
mod event;
pub mod memory;
pub mod metrics;

pub use event::Event;

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// The broker cannot be reached (or did not confirm) in time; the caller may retry.
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    #[error("bus error: {0}")]
    Internal(String),
}

/// Handles one job. `Ok` acknowledges it; `Err` hands it back for redelivery.
pub type JobHandler = Arc<dyn Fn(Event) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// How many events a subscription buffers before the bus waits for its reader.
pub const SUBSCRIPTION_BUFFER: usize = 4_096;
/// How many transient messages a live subscription holds before it drops the oldest.
pub const LIVE_BUFFER: usize = 256;

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// "amqp" or "memory", for logs and metrics.
    fn backend(&self) -> &'static str;
    /// Whether the bus is connected; `/readyz` reports it.
    fn is_ready(&self) -> bool;
    /// Whether enqueued jobs outlive the process (a broker keeps them). The in-process bus loses
    /// its queue with the process, so job owners re-enqueue unfinished work at start-up.
    fn durable_jobs(&self) -> bool;
    /// Publishes events (routing key: the event type) and returns once all are confirmed.
    async fn publish(&self, events: &[Event]) -> Result<(), BusError>;
    /// A subscription of this replica to the event types matching any of `patterns`
    /// (AMQP topic syntax: `recording.*`, `export.#`, `#`). It survives reconnects; events
    /// published while the bus is disconnected are not delivered to it.
    async fn subscribe(&self, patterns: &[&str]) -> Result<Subscription, BusError>;
    /// Publishes on the transient stream (`live.*` types): not persisted, not confirmed, lost
    /// while the bus is down — for eyes (live values), never for the record.
    async fn publish_live(&self, events: &[Event]) -> Result<(), BusError>;
    /// A subscription to the transient stream. It drops messages rather than make anyone wait:
    /// a reader that lags loses some.
    async fn subscribe_live(&self, patterns: &[&str]) -> Result<Subscription, BusError>;
    /// Durably enqueues jobs on `queue` and returns once all are confirmed.
    async fn enqueue(&self, queue: &str, jobs: &[Event]) -> Result<(), BusError>;
    /// Runs `handler` for every job of `queue`, one at a time, until the worker is stopped.
    async fn work(&self, queue: &str, handler: JobHandler) -> Result<Worker, BusError>;
    /// A durable consumer of the events matching `patterns`: they collect in the work queue
    /// `queue` (bound to the event stream, so events published while no consumer runs wait
    /// there), and `handler` takes them one at a time as it takes jobs — acknowledged only
    /// once it succeeded, handed back otherwise. Replicas naming the same queue share its
    /// events: each goes to one of them. Returns once the queue is bound (or, without a
    /// broker, after the publish timeout; it binds on the next connection).
    async fn consume(&self, queue: &str, patterns: &[&str], handler: JobHandler) -> Result<Worker, BusError>;
    /// Takes up to `max` jobs from `queue`'s dead-letter queue.
    async fn take_dead_letters(&self, queue: &str, max: usize) -> Result<Vec<Event>, BusError>;
    /// Stops workers and subscriptions and closes the connection.
    async fn close(&self);
}

pub type DynBus = Arc<dyn Bus>;

/// Events delivered to one subscription.
pub struct Subscription {
    receiver: mpsc::Receiver<Event>,
    cancel: CancellationToken,
}

impl Subscription {
    pub(crate) fn new(receiver: mpsc::Receiver<Event>, cancel: CancellationToken) -> Self {
        Self { receiver, cancel }
    }

    /// The next event; `None` once the bus is closed.
    pub async fn recv(&mut self) -> Option<Event> {
        self.receiver.recv().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A running job consumer; stopping it lets the job in hand finish first.
pub struct Worker {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Worker {
    pub(crate) fn new(cancel: CancellationToken, task: tokio::task::JoinHandle<()>) -> Self {
        Self { cancel, task }
    }

    /// Stops taking jobs and waits for the one in hand to be handled and acknowledged.
    pub async fn stop(self) {
        self.cancel.cancel();
        let _ = self.task.await;
    }
}

/// Opens the bus the settings choose.
pub async fn open(settings: &crate::Settings) -> Result<DynBus, BusError> {
    use crate::settings::BusBackend;
    match settings.bus.backend {
        BusBackend::Memory => Ok(Arc::new(memory::MemoryBus::new(settings.bus.job_delivery_limit))),
        BusBackend::Amqp => Ok(Arc::new(amqp::AmqpBus::start(amqp::AmqpOptions::from_settings(&settings.bus)))),
    }
}
