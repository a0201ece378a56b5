//! Bus benchmark (scripts/bench-store.sh): confirmed publishes per second to the real RabbitMQ,
//! persistent jobs on a durable quorum queue — one confirm per message (the baseline) against
//! batches of events confirmed together, in one run.
//!
//! SRS_BENCH_AMQP_URL picks the broker (default 127.0.0.1:5672); SRS_BENCH_EVENTS the count.

use srs_common::bus::amqp::{AmqpBus, AmqpOptions};
use srs_common::bus::{Bus, Event};
use std::time::{Duration, Instant};

const BATCH: usize = 100;

fn events(count: usize) -> Vec<Event> {
    // ~200-byte payloads, like an activity or export progress event.
    (0..count)
        .map(|n| Event::new("bench.job", serde_json::json!({"sensor_id": "ecg-1", "samples": n, "last_ts": "2026-11-23T10:00:00.123456789Z", "rate_hz": 250.0, "pad": "x".repeat(40)})))
        .collect()
}

async fn rate(bus: &AmqpBus, queue: &str, events: &[Event], batch: usize) -> f64 {
    let started = Instant::now();
    for chunk in events.chunks(batch) {
        bus.enqueue(queue, chunk).await.expect("confirmed enqueue");
    }
    events.len() as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let url = std::env::var("SRS_BENCH_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let count: usize = std::env::var("SRS_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let options = AmqpOptions { url: url.clone(), heartbeat_secs: 10, publish_timeout: Duration::from_secs(30), job_delivery_limit: 5 };
    let bus = AmqpBus::start(options);
    bus.wait_ready(Duration::from_secs(15)).await.unwrap_or_else(|e| panic!("RabbitMQ must answer at {url}: {e}"));
    let queue = format!("bench.publish.{}", srs_common::model::new_id());
    println!("bus publish benchmark: persistent ~200-byte events on a durable quorum queue");
    let single_count = (count / 10).max(100);
    let single = rate(&bus, &queue, &events(single_count), 1).await;
    println!("  one confirm per message ({single_count} events):    {single:>10.0} msg/s");
    let batched = rate(&bus, &queue, &events(count), BATCH).await;
    println!("  batches of {BATCH} confirmed together ({count} events): {batched:>10.0} msg/s");
    println!("  ratio batched / one-by-one:                  {:>10.2}x", batched / single);
    bus.close().await;
    if let Ok(connection) = lapin::Connection::connect(&url, lapin::ConnectionProperties::default()).await {
        if let Ok(channel) = connection.create_channel().await {
            for name in [queue.clone(), srs_common::bus::amqp::dead_letter_queue(&queue)] {
                let _ = channel.queue_delete(name.as_str().into(), lapin::options::QueueDeleteOptions::default()).await;
            }
        }
        let _ = connection.close(200, "done".into()).await;
    }
}
