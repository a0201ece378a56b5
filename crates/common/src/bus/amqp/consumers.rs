//! Consumers started on each connection: per-replica event subscriptions and job workers.

use super::bounded;
use super::supervisor::Connected;
use super::topology::{live_queue_arguments, EVENTS_EXCHANGE, LIVE_EXCHANGE};
use crate::bus::{Event, JobHandler, LIVE_BUFFER};
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How many unacknowledged events a subscription may hold.
const SUBSCRIPTION_PREFETCH: u16 = 256;

pub(super) struct SubscriptionSpec {
    pub(super) patterns: Vec<String>,
    /// On the transient stream: a bounded queue the broker trims, no acks, no waiting.
    pub(super) live: bool,
    pub(super) sender: mpsc::Sender<Event>,
    pub(super) cancel: CancellationToken,
    /// Told once the first consumer is bound, so `subscribe` returns only when events flow.
    pub(super) bound: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

pub(super) struct WorkerSpec {
    pub(super) queue: String,
    /// Event patterns the queue is bound to on the event stream (none for a job queue).
    pub(super) bindings: Vec<String>,
    /// Told once the queue is bound and consumed, so `consume` returns only when events flow.
    pub(super) bound: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    pub(super) handler: JobHandler,
    pub(super) cancel: CancellationToken,
    /// Dropped with the last holder of the spec; `Worker::stop` waits for that.
    pub(super) _done: tokio::sync::oneshot::Sender<()>,
}

#[derive(Clone)]
pub(super) enum Consumer {
    Subscription(Arc<SubscriptionSpec>),
    Worker(Arc<WorkerSpec>),
}

impl Consumer {
    pub(super) fn is_cancelled(&self) -> bool {
        match self {
            Consumer::Subscription(spec) => spec.cancel.is_cancelled() || spec.sender.is_closed(),
            Consumer::Worker(spec) => spec.cancel.is_cancelled(),
        }
    }
}

/// Runs `consumer` on `connected` until it is cancelled or the connection is lost.
pub(super) fn spawn(consumer: Consumer, connected: Arc<Connected>) {
    tokio::spawn(async move {
        let result = match &consumer {
            Consumer::Subscription(spec) => run_subscription(spec, &connected).await,
            Consumer::Worker(spec) => run_worker(spec, &connected).await,
        };
        if let Err(error) = result {
            if !connected.lost.is_cancelled() {
                tracing::warn!(%error, "bus consumer failed; reconnecting");
                connected.lost.cancel();
            }
        }
    });
}

async fn run_subscription(spec: &SubscriptionSpec, connected: &Connected) -> anyhow::Result<()> {
    let (exchange, arguments) =
        if spec.live { (LIVE_EXCHANGE, live_queue_arguments(LIVE_BUFFER)) } else { (EVENTS_EXCHANGE, FieldTable::default()) };
    let setup = async {
        let channel = connected.connection.create_channel().await?;
        let options = QueueDeclareOptions { exclusive: true, auto_delete: true, ..QueueDeclareOptions::default() };
        let queue = channel.queue_declare("".into(), options, arguments).await?;
        let queue_name = queue.name().clone();
        for pattern in &spec.patterns {
            let key = pattern.as_str().into();
            channel.queue_bind(queue_name.clone(), exchange.into(), key, QueueBindOptions::default(), FieldTable::default()).await?;
        }
        channel.basic_qos(SUBSCRIPTION_PREFETCH, BasicQosOptions::default()).await?;
        let consume = BasicConsumeOptions { no_ack: spec.live, ..BasicConsumeOptions::default() };
        let deliveries = channel.basic_consume(queue_name, "".into(), consume, FieldTable::default()).await?;
        Ok::<_, lapin::Error>((channel, deliveries))
    };
    let (channel, mut deliveries) = bounded("subscribe", setup).await?;
    if let Some(bound) = spec.bound.lock().ok().and_then(|mut bound| bound.take()) {
        let _ = bound.send(());
    }
    while let Some(delivery) = next_delivery(&spec.cancel, connected, &mut deliveries).await? {
        let Some(event) = decode(&delivery) else {
            if !spec.live {
                bounded("ack", delivery.ack(BasicAckOptions::default())).await?;
            }
            continue;
        };
        if spec.live {
            // A full buffer loses this message: the transient stream never waits for a reader.
            if let Err(mpsc::error::TrySendError::Closed(_)) = spec.sender.try_send(event) {
                spec.cancel.cancel();
            }
            continue;
        }
        if spec.sender.send(event).await.is_err() {
            spec.cancel.cancel();
        }
        bounded("ack", delivery.ack(BasicAckOptions::default())).await?;
    }
    let _ = bounded("close channel", channel.close(200, "unsubscribed".into())).await;
    Ok(())
}

async fn run_worker(spec: &WorkerSpec, connected: &Connected) -> anyhow::Result<()> {
    connected.ensure_work_queue(&spec.queue).await?;
    let setup = async {
        let channel = connected.connection.create_channel().await?;
        // One job at a time per worker: a crash returns at most one job to the queue.
        channel.basic_qos(1, BasicQosOptions::default()).await?;
        for pattern in &spec.bindings {
            let (queue, key) = (spec.queue.as_str().into(), pattern.as_str().into());
            channel.queue_bind(queue, EVENTS_EXCHANGE.into(), key, QueueBindOptions::default(), FieldTable::default()).await?;
        }
        let queue = spec.queue.as_str().into();
        let deliveries = channel.basic_consume(queue, "".into(), BasicConsumeOptions::default(), FieldTable::default()).await?;
        Ok::<_, lapin::Error>((channel, deliveries))
    };
    let (channel, mut deliveries) = bounded("start worker", setup).await?;
    if let Some(bound) = spec.bound.lock().ok().and_then(|mut bound| bound.take()) {
        let _ = bound.send(());
    }
    while let Some(delivery) = next_delivery(&spec.cancel, connected, &mut deliveries).await? {
        let Some(job) = decode(&delivery) else {
            // A message that is not an event can never succeed: dead-letter it at once.
            bounded("reject", delivery.nack(BasicNackOptions { requeue: false, ..BasicNackOptions::default() })).await?;
            continue;
        };
        let (id, kind) = (job.id.clone(), job.kind.clone());
        match (spec.handler)(job).await {
            Ok(()) => {
                bounded("ack", delivery.ack(BasicAckOptions::default())).await?;
            }
            Err(error) => {
                tracing::warn!(job.id = %id, job.type = %kind, queue = %spec.queue, %error, "job failed; handing it back");
                bounded("nack", delivery.nack(BasicNackOptions { requeue: true, ..BasicNackOptions::default() })).await?;
            }
        }
    }
    let _ = bounded("close channel", channel.close(200, "worker stopped".into())).await;
    Ok(())
}

/// The next delivery; `None` once the consumer is cancelled or the connection is lost.
async fn next_delivery(
    cancel: &CancellationToken,
    connected: &Connected,
    deliveries: &mut lapin::Consumer,
) -> anyhow::Result<Option<Delivery>> {
    tokio::select! {
        _ = cancel.cancelled() => Ok(None),
        _ = connected.lost.cancelled() => Ok(None),
        delivery = deliveries.next() => match delivery {
            Some(delivery) => Ok(Some(delivery?)),
            None => anyhow::bail!("the broker ended the consumer"),
        },
    }
}

fn decode(delivery: &Delivery) -> Option<Event> {
    match serde_json::from_slice(&delivery.data) {
        Ok(event) => Some(event),
        Err(error) => {
            tracing::warn!(%error, routing_key = %delivery.routing_key, "undecodable bus message");
            None
        }
    }
}
