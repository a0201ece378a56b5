//! RabbitMQ-only behaviour: the supervisor's reconnect. The connection runs through a proxy
//! that the test cuts mid-stream and restores; every confirmed job must still be delivered,
//! the bus reports not-ready while down, and subscriptions resume by themselves.

mod support;

use srs_common::bus::amqp::AmqpBus;
use srs_common::bus::{Bus, Event};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::proxy::{broker_addr, ChaosProxy};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_confirmed_job_is_delivered_across_a_lost_connection() {
    let broker = amqp_url();
    let proxy = ChaosProxy::start(broker_addr(&broker)).await;
    let bus = Arc::new(amqp_bus(&proxy.url(&broker), 5).await);
    let queue = unique_queue("reconnect");
    let reconnects_before = srs_common::bus::metrics::bus_reconnects().get();

    let received = Seen::default();
    let worker = bus.work(&queue, received.handler(|_, _| Ok(()))).await.expect("work");
    let mut live = bus.subscribe(&["test.ping"]).await.expect("subscribe");

    // A publisher keeps enqueueing; it records the jobs the broker confirmed.
    let confirmed: Arc<Mutex<Vec<String>>> = Arc::default();
    let publisher = {
        let (bus, queue, confirmed) = (bus.clone(), queue.clone(), confirmed.clone());
        tokio::spawn(async move {
            let mut failures = 0;
            for n in 0..300 {
                let job = job("test.job", n);
                match bus.enqueue(&queue, std::slice::from_ref(&job)).await {
                    Ok(()) => confirmed.lock().expect("lock").push(job.id),
                    Err(_) => failures += 1,
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            failures
        })
    };

    assert!(eventually(Duration::from_secs(20), || async { confirmed.lock().expect("lock").len() >= 80 }).await);
    proxy.cut();
    assert!(eventually(Duration::from_secs(10), || async { !bus.is_ready() }).await, "not ready while the broker is unreachable");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!bus.is_ready());
    proxy.restore();
    assert!(eventually(Duration::from_secs(20), || async { bus.is_ready() }).await, "reconnects by itself");

    let failures = publisher.await.expect("publisher");
    assert_eq!(failures, 0, "publishes wait for the reconnect within the publish timeout");
    let confirmed: Vec<String> = confirmed.lock().expect("lock").clone();
    assert_eq!(confirmed.len(), 300);
    let all_delivered = eventually(Duration::from_secs(30), || async { confirmed.iter().all(|id| received.distinct().contains(id)) }).await;
    let missing = confirmed.iter().filter(|id| !received.distinct().contains(*id)).count();
    assert!(all_delivered, "{missing} confirmed jobs were never delivered");
    assert!(srs_common::bus::metrics::bus_reconnects().get() > reconnects_before);

    // The subscription was re-declared on the new connection.
    let ping = Event::new("test.ping", serde_json::json!({}));
    bus.publish(std::slice::from_ref(&ping)).await.expect("publish");
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match live.recv().await {
                Some(event) if event.id == ping.id => return true,
                Some(_) => continue,
                None => return false,
            }
        }
    })
    .await;
    assert_eq!(got, Ok(true), "subscription resumed after the reconnect");

    worker.stop().await;
    bus.close().await;
    delete_queues(&[&queue]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_means_not_ready_and_unavailable() {
    // Nothing listens on this port: bind one and close it again.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let mut options = amqp_options(&format!("amqp://guest:guest@127.0.0.1:{port}/%2f"), 3);
    options.publish_timeout = Duration::from_millis(700);
    let bus = AmqpBus::start(options);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!bus.is_ready());
    let started = std::time::Instant::now();
    let error = bus.publish(&[Event::new("test.x", serde_json::json!({}))]).await.expect_err("no broker");
    assert!(matches!(error, srs_common::bus::BusError::Unavailable(_)), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5), "gives up after the publish timeout");
    bus.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_made_before_the_broker_answered_gets_what_is_published_after_it() {
    // The bus is started and subscribed at once, as a service does at start-up: `subscribe`
    // returns only once its queue is bound, so the event published next is not lost.
    let bus = AmqpBus::start(amqp_options(&amqp_url(), 3));
    let kind = format!("test.startup.{}", srs_common::model::new_id());
    let mut subscription = bus.subscribe(&[kind.as_str()]).await.expect("subscribe");
    let event = Event::new(kind.clone(), serde_json::json!({"n": 1}));
    bus.publish(std::slice::from_ref(&event)).await.expect("publish");
    let received = tokio::time::timeout(Duration::from_secs(10), subscription.recv()).await.ok().flatten();
    assert_eq!(received, Some(event));
    bus.close().await;
}
