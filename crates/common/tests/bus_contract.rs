//! The bus contract: the in-process bus and the RabbitMQ bus (against the real broker on
//! 127.0.0.1:5672, or `SRS_TEST_AMQP_URL`) behave the same.

mod support;

use srs_common::bus::memory::MemoryBus;
use srs_common::bus::{Bus, Event};
use std::sync::Arc;
use std::time::Duration;
use support::*;

const DELIVERY_LIMIT: u32 = 3;

struct Fixture {
    bus: Arc<dyn Bus>,
    queues: Vec<String>,
}

impl Fixture {
    async fn memory() -> Self {
        Self { bus: Arc::new(MemoryBus::new(DELIVERY_LIMIT)), queues: vec![] }
    }
    async fn amqp() -> Self {
        Self { bus: Arc::new(amqp_bus(&amqp_url(), DELIVERY_LIMIT).await), queues: vec![] }
    }
    fn queue(&mut self, name: &str) -> String {
        let queue = unique_queue(name);
        self.queues.push(queue.clone());
        queue
    }
    async fn finish(self) {
        self.bus.close().await;
        let names: Vec<&str> = self.queues.iter().map(String::as_str).collect();
        delete_queues(&names).await;
    }
}

macro_rules! contract {
    ($($check:ident),* $(,)?) => {
        mod memory { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() { super::$check(super::Fixture::memory().await).await; }
        )* }
        mod amqp { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() { super::$check(super::Fixture::amqp().await).await; }
        )* }
    };
}

contract!(
    events_fan_out_to_every_matching_subscription,
    failed_jobs_are_redelivered_until_they_succeed,
    jobs_that_keep_failing_are_dead_lettered_without_blocking_the_queue,
    each_job_goes_to_one_worker,
    stopping_a_worker_finishes_the_job_in_hand,
    the_transient_stream_delivers_apart_and_loses_rather_than_waits,
    a_durable_consumer_shares_its_events_and_keeps_them_while_it_is_away,
);

async fn recv(subscription: &mut srs_common::bus::Subscription) -> Option<Event> {
    tokio::time::timeout(Duration::from_secs(10), subscription.recv()).await.ok().flatten()
}

async fn events_fan_out_to_every_matching_subscription(fixture: Fixture) {
    let bus = fixture.bus.clone();
    // Two replicas of a service each get every recording event; another only exports.
    let mut replica_a = bus.subscribe(&["recording.*"]).await.expect("subscribe");
    let mut replica_b = bus.subscribe(&["recording.*"]).await.expect("subscribe");
    let mut exports = bus.subscribe(&["export.#"]).await.expect("subscribe");
    let started = Event::new("recording.started", serde_json::json!({"recording_id": "r1", "participant": "P01"}));
    let completed = Event::new("export.completed", serde_json::json!({"export_id": "x"}));
    bus.publish(&[started.clone(), completed.clone()]).await.expect("publish");
    assert_eq!(recv(&mut replica_a).await, Some(started.clone()));
    assert_eq!(recv(&mut replica_b).await, Some(started));
    assert_eq!(recv(&mut exports).await, Some(completed));
    // Nothing else arrives: subscriptions get only what they match.
    let stopped = Event::new("recording.stopped", serde_json::json!({}));
    bus.publish(std::slice::from_ref(&stopped)).await.expect("publish");
    assert_eq!(recv(&mut replica_a).await.map(|e| e.kind), Some("recording.stopped".to_owned()));
    assert!(tokio::time::timeout(Duration::from_millis(300), exports.recv()).await.is_err());
    fixture.finish().await;
}

async fn failed_jobs_are_redelivered_until_they_succeed(mut fixture: Fixture) {
    let queue = fixture.queue("retry");
    let seen = Seen::default();
    // Every job fails on its first delivery and succeeds on the second.
    let worker =
        fixture.bus.work(&queue, seen.handler(|_, calls| if calls == 1 { Err("transient".into()) } else { Ok(()) })).await.expect("work");
    let jobs: Vec<Event> = (0..5).map(|n| job("export.requested", n)).collect();
    fixture.bus.enqueue(&queue, &jobs).await.expect("enqueue");
    assert!(eventually(Duration::from_secs(20), || async { seen.calls() >= 10 }).await, "calls: {}", seen.calls());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(seen.calls(), 10, "acknowledged jobs are not delivered again");
    assert_eq!(seen.distinct().len(), 5);
    worker.stop().await;
    assert!(fixture.bus.take_dead_letters(&queue, 10).await.expect("dead letters").is_empty());
    fixture.finish().await;
}

async fn jobs_that_keep_failing_are_dead_lettered_without_blocking_the_queue(mut fixture: Fixture) {
    let queue = fixture.queue("poison");
    let seen = Seen::default();
    let poison = job("export.requested", 0);
    let poison_id = poison.id.clone();
    let handler = seen.handler(move |event, _| if event.id == poison_id { Err("corrupt experiment".into()) } else { Ok(()) });
    let worker = fixture.bus.work(&queue, handler).await.expect("work");
    let good = job("export.requested", 1);
    fixture.bus.enqueue(&queue, &[poison.clone(), good.clone()]).await.expect("enqueue");
    assert!(eventually(Duration::from_secs(20), || async { seen.distinct().contains(&good.id) }).await, "the good job is handled");
    let mut dead = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while dead.is_empty() && tokio::time::Instant::now() < deadline {
        dead.extend(fixture.bus.take_dead_letters(&queue, 10).await.expect("dead letters"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(dead, vec![poison.clone()]);
    let poison_calls = seen.ids.lock().expect("lock").iter().filter(|id| **id == poison.id).count();
    assert_eq!(poison_calls, DELIVERY_LIMIT as usize, "handled exactly delivery-limit times");
    worker.stop().await;
    fixture.finish().await;
}

async fn a_durable_consumer_shares_its_events_and_keeps_them_while_it_is_away(mut fixture: Fixture) {
    let queue = fixture.queue("consume");
    let (first, second) = (Seen::default(), Seen::default());
    // A notifier's two replicas: each event goes to one of them (handing back a failed one is
    // the job path, tested above).
    let patterns = ["export.*", "device.disconnected"];
    let replica_a = fixture.bus.consume(&queue, &patterns, first.handler(|_, _| Ok(()))).await.expect("consume");
    let replica_b = fixture.bus.consume(&queue, &patterns, second.handler(|_, _| Ok(()))).await.expect("consume");
    let mut wanted: Vec<Event> = (0..20).map(|n| job("export.completed", n)).collect();
    wanted.push(job("device.disconnected", 20));
    let mut published = wanted.clone();
    published.push(job("device.connected", 21));
    fixture.bus.publish(&published).await.expect("publish");
    let handled = || first.distinct().union(&second.distinct()).cloned().collect::<std::collections::HashSet<String>>();
    assert!(eventually(Duration::from_secs(20), || async { handled().len() >= wanted.len() }).await, "handled {}", handled().len());
    replica_a.stop().await;
    replica_b.stop().await;
    let ids: std::collections::HashSet<String> = wanted.iter().map(|e| e.id.clone()).collect();
    assert_eq!(handled(), ids, "every matching event is handled, nothing else");
    let (calls_a, calls_b) = (first.calls(), second.calls());
    assert!(first.distinct().is_disjoint(&second.distinct()), "an event handled by one replica is not handled by the other");
    // Published while no replica runs: kept for the next one.
    let later = job("export.failed", 22);
    fixture.bus.publish(std::slice::from_ref(&later)).await.expect("publish");
    let third = Seen::default();
    let replica_c = fixture.bus.consume(&queue, &["export.*"], third.handler(|_, _| Ok(()))).await.expect("consume");
    assert!(eventually(Duration::from_secs(20), || async { third.distinct().contains(&later.id) }).await, "kept while away");
    replica_c.stop().await;
    assert_eq!((first.calls(), second.calls(), third.calls()), (calls_a, calls_b, 1));
    fixture.finish().await;
}

async fn each_job_goes_to_one_worker(mut fixture: Fixture) {
    let queue = fixture.queue("compete");
    let (first, second) = (Seen::default(), Seen::default());
    let slow = |_: &Event, _| {
        std::thread::sleep(Duration::from_millis(2));
        Ok(())
    };
    let worker_a = fixture.bus.work(&queue, first.handler(slow)).await.expect("work");
    let worker_b = fixture.bus.work(&queue, second.handler(slow)).await.expect("work");
    let jobs: Vec<Event> = (0..200).map(|n| job("export.requested", n)).collect();
    fixture.bus.enqueue(&queue, &jobs).await.expect("enqueue");
    assert!(eventually(Duration::from_secs(30), || async { first.calls() + second.calls() >= 200 }).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all: std::collections::HashSet<String> = first.distinct().union(&second.distinct()).cloned().collect();
    assert_eq!(first.calls() + second.calls(), 200, "no job is handled twice");
    assert_eq!(all.len(), 200);
    worker_a.stop().await;
    worker_b.stop().await;
    fixture.finish().await;
}

async fn stopping_a_worker_finishes_the_job_in_hand(mut fixture: Fixture) {
    let queue = fixture.queue("drain");
    let finished = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let done = finished.clone();
    let handler: srs_common::bus::JobHandler = Arc::new(move |_| {
        let done = done.clone();
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        })
    });
    let worker = fixture.bus.work(&queue, handler).await.expect("work");
    fixture.bus.enqueue(&queue, &[job("export.requested", 0), job("export.requested", 1)]).await.expect("enqueue");
    tokio::time::sleep(Duration::from_millis(200)).await;
    worker.stop().await;
    assert_eq!(
        finished.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the job in hand finished before stop returned; the next was not started"
    );
    // The second job is still queued for the next worker.
    let seen = Seen::default();
    let next = fixture.bus.work(&queue, seen.handler(|_, _| Ok(()))).await.expect("work");
    assert!(eventually(Duration::from_secs(10), || async { seen.calls() == 1 }).await);
    next.stop().await;
    fixture.finish().await;
}

async fn the_transient_stream_delivers_apart_and_loses_rather_than_waits(fixture: Fixture) {
    let bus = fixture.bus.clone();
    // Kinds of this run only: other tests share the broker.
    let kind = format!("live.test{}", srs_common::model::new_id());
    let mut live = bus.subscribe_live(&[kind.as_str()]).await.expect("subscribe live");
    let mut durable = bus.subscribe(&[kind.as_str()]).await.expect("subscribe");
    let first = Event::new(kind.clone(), serde_json::json!({"n": 0}));
    bus.publish_live(std::slice::from_ref(&first)).await.expect("publish live");
    assert_eq!(recv(&mut live).await, Some(first));
    assert!(tokio::time::timeout(Duration::from_millis(300), durable.recv()).await.is_err(), "the streams are apart");

    // A reader that does not read: publishing never waits for it, and it loses the overflow.
    let published = srs_common::bus::LIVE_BUFFER * 4;
    let flood: Vec<Event> = (0..published).map(|n| Event::new(kind.clone(), serde_json::json!({"n": n}))).collect();
    tokio::time::timeout(Duration::from_secs(10), bus.publish_live(&flood)).await.expect("never waits").expect("published");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut received = 0;
    while tokio::time::timeout(Duration::from_millis(300), live.recv()).await.is_ok_and(|e| e.is_some()) {
        received += 1;
    }
    assert!(received > 0 && received < published, "{received} of {published} arrived");
    fixture.finish().await;
}
