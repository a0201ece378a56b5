//! `disk_low` on the real data directory: a threshold above the free space fires one alert,
//! which survives a restart (nothing is sent again), and a threshold lowered below it resolves
//! the alert once.

mod support;

use srs_testkit::harness::TestServer;
use std::time::Duration;
use support::*;

async fn notifier(data: &std::path::Path, receiver: &Receiver, min_mb: &str) -> TestServer {
    let mut settings = notifier_settings(receiver, "notifier.events");
    settings.push(("SRS__DATA__DIR".into(), data.display().to_string()));
    settings.push(("SRS__NOTIFIER__DISK_FREE_MIN_MB".into(), min_mb.into()));
    TestServer::start_with(&[&srs_notifier::SERVICE], settings).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_low_fires_above_the_free_space_and_resolves_below_it() {
    let receiver = Receiver::start(0).await;
    let data = tempfile::tempdir().expect("tempdir");
    let subject = data.path().display().to_string();
    // More than any disk here has free (1 EiB).
    let server = notifier(data.path(), &receiver, "1099511627776").await;
    assert!(eventually(Duration::from_secs(10), || async { !receiver.notices(&subject).is_empty() }).await, "disk_low fires");
    let message = receiver.messages(|m| m["alert"]["subject"] == subject.as_str()).remove(0);
    assert_eq!((message["alert"]["rule"].as_str(), message["notice"].as_str()), (Some("disk_low"), Some("fired")));
    assert!(message["alert"]["message"].as_str().is_some_and(|m| m.contains("MiB free")), "{message}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.stop().await;
    let server = notifier(data.path(), &receiver, "1099511627776").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.notices(&subject).len(), 1, "checked every second, restarted: still one alert");
    server.stop().await;

    let server = notifier(data.path(), &receiver, "0").await;
    assert!(eventually(Duration::from_secs(10), || async { receiver.notices(&subject).len() >= 2 }).await, "resolved");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let notices: Vec<String> = receiver.notices(&subject).into_iter().map(|(_, notice)| notice).collect();
    assert_eq!(notices, ["fired", "resolved"]);
    server.stop().await;
}
