//! Helpers shared by the bus test suites.
#![allow(dead_code)]

pub mod proxy;

use srs_common::bus::amqp::{AmqpBus, AmqpOptions};
use srs_common::bus::{Bus, Event, JobHandler};
use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The broker the tests use; `scripts/test.sh` makes sure one answers there.
pub fn amqp_url() -> String {
    std::env::var("SRS_TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

pub fn amqp_options(url: &str, delivery_limit: u32) -> AmqpOptions {
    AmqpOptions { url: url.to_owned(), heartbeat_secs: 2, publish_timeout: Duration::from_secs(30), job_delivery_limit: delivery_limit }
}

/// A connected AMQP bus; fails loudly when no broker answers.
pub async fn amqp_bus(url: &str, delivery_limit: u32) -> AmqpBus {
    let bus = AmqpBus::start(amqp_options(url, delivery_limit));
    bus.wait_ready(Duration::from_secs(15))
        .await
        .unwrap_or_else(|e| panic!("RabbitMQ must answer at {url} (scripts/test.sh starts it): {e}"));
    bus
}

/// A queue name no other test uses.
pub fn unique_queue(name: &str) -> String {
    format!("test.{name}.{}", srs_common::model::new_id())
}

/// Deletes test queues (and their dead-letter queues) so runs do not pile them up.
pub async fn delete_queues(queues: &[&str]) {
    srs_common::bus::amqp::delete_work_queues(&amqp_url(), queues).await;
}

/// Ids of the events a handler has seen, and how many calls it got.
#[derive(Clone, Default)]
pub struct Seen {
    pub ids: Arc<Mutex<Vec<String>>>,
}

impl Seen {
    pub fn handler(&self, outcome: impl Fn(&Event, usize) -> Result<(), String> + Send + Sync + 'static) -> JobHandler {
        let ids = self.ids.clone();
        let outcome = Arc::new(outcome);
        Arc::new(move |event: Event| {
            let ids = ids.clone();
            let outcome = outcome.clone();
            Box::pin(async move {
                let calls = {
                    let mut ids = ids.lock().expect("lock");
                    ids.push(event.id.clone());
                    ids.iter().filter(|id| **id == event.id).count()
                };
                outcome(&event, calls)
            })
        })
    }

    pub fn calls(&self) -> usize {
        self.ids.lock().expect("lock").len()
    }

    pub fn distinct(&self) -> HashSet<String> {
        self.ids.lock().expect("lock").iter().cloned().collect()
    }
}

/// Polls `condition` until it holds or `timeout` passes.
pub async fn eventually<F: Future<Output = bool>>(timeout: Duration, mut condition: impl FnMut() -> F) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    condition().await
}

pub fn job(kind: &str, n: usize) -> Event {
    Event::new(kind, serde_json::json!({ "n": n }))
}

pub async fn close(bus: &dyn Bus) {
    bus.close().await;
}
