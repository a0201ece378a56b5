//! What SRS declares on RabbitMQ. Every declaration is idempotent, so the supervisor simply
//! repeats them after each reconnect.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

/// Topic exchange for events; the routing key is the event type.
pub const EVENTS_EXCHANGE: &str = "srs.events";
/// Topic exchange for the transient stream (live values): not durable, messages not persisted.
pub const LIVE_EXCHANGE: &str = "srs.live";
/// Direct exchange receiving dead-lettered jobs; the routing key is the job queue's name.
pub const DEAD_LETTER_EXCHANGE: &str = "srs.dead";

pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dead")
}

pub async fn declare_exchanges(channel: &Channel) -> lapin::Result<()> {
    let durable = ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() };
    channel.exchange_declare(EVENTS_EXCHANGE.into(), ExchangeKind::Topic, durable, FieldTable::default()).await?;
    channel.exchange_declare(DEAD_LETTER_EXCHANGE.into(), ExchangeKind::Direct, durable, FieldTable::default()).await?;
    channel.exchange_declare(LIVE_EXCHANGE.into(), ExchangeKind::Topic, ExchangeDeclareOptions::default(), FieldTable::default()).await
}

/// Arguments of a live subscription's queue: the broker keeps at most `max_length` messages
/// for it and drops the oldest beyond that, so a lagging reader never backs up the stream.
pub fn live_queue_arguments(max_length: usize) -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert("x-max-length".into(), AMQPValue::LongInt(max_length.min(i32::MAX as usize) as i32));
    arguments.insert("x-overflow".into(), long_string("drop-head"));
    arguments
}

/// A durable quorum work queue that dead-letters a job after `delivery_limit` failed deliveries,
/// and its dead-letter queue.
pub async fn declare_work_queue(channel: &Channel, queue: &str, delivery_limit: u32) -> lapin::Result<()> {
    let durable = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
    let dead = dead_letter_queue(queue);
    channel.queue_declare(dead.as_str().into(), durable, quorum()).await?;
    channel
        .queue_bind(dead.as_str().into(), DEAD_LETTER_EXCHANGE.into(), queue.into(), QueueBindOptions::default(), FieldTable::default())
        .await?;
    let mut arguments = quorum();
    arguments.insert("x-dead-letter-exchange".into(), long_string(DEAD_LETTER_EXCHANGE));
    arguments.insert("x-dead-letter-routing-key".into(), long_string(queue));
    // RabbitMQ counts redeliveries: a job handed out `delivery_limit` times has been
    // redelivered `delivery_limit - 1` times.
    arguments.insert("x-delivery-limit".into(), AMQPValue::LongInt(delivery_limit.saturating_sub(1).min(i32::MAX as u32) as i32));
    channel.queue_declare(queue.into(), durable, arguments).await?;
    Ok(())
}

fn quorum() -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert(ShortString::from("x-queue-type"), long_string("quorum"));
    arguments
}

fn long_string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}
