//! MQTT intake as processes, against the real Mosquitto:
//! - SIGKILL of `srs serve` while a sensor publishes QoS 1 batches: after the restart, every
//!   message the broker acknowledged to the sensor is stored exactly once — what the dead
//!   process had not acknowledged, and what arrived while it was down, comes again through its
//!   persistent session, and what it had stored before is not stored twice;
//! - two ingest processes on one shared subscription split the messages and store each once.

mod support;

use serde_json::{json, Value};
use srs_testkit::mqtt::{mqtt_url, unique_root, TestClient};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

fn batch(tag: &str, number: usize, size: usize) -> String {
    let base = srs_common::time::now_ns() - 60_000_000_000;
    let samples: Vec<Value> = (0..size)
        .map(|i| json!({"ts": base + (number * size + i) as i64, "id": format!("{tag}:{number}:{i}"), "values": {"lead_i": i as f64 / 10.0}}))
        .collect();
    Value::Array(samples).to_string()
}

fn mqtt_env(root: &str, client_id: &str) -> Vec<(String, String)> {
    vec![
        ("SRS__MQTT__URL".into(), mqtt_url()),
        ("SRS__MQTT__TOPIC_ROOT".into(), root.into()),
        ("SRS__MQTT__CLIENT_ID".into(), client_id.into()),
        // Long enough for the restart; the test broker need not keep it for a day.
        ("SRS__MQTT__SESSION_EXPIRY_SECS".into(), "120".into()),
    ]
}

fn serve_with(dir: &Path, env: &[(String, String)], services: Option<&str>) -> (std::process::Child, String) {
    let mut command = srs(dir);
    command.args(["serve", "--listen", "127.0.0.1:0", "--data-dir", "data"]).envs(env.iter().map(|(k, v)| (k, v)));
    if let Some(services) = services {
        command.args(["--services", services]);
    }
    srs_testkit::spawn_listening(command, "srs")
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let (status, body) = srs_testkit::wait_readyz(client, base, 200, Duration::from_secs(15)).await;
    assert_eq!(status, 200, "{base} never became ready (is its broker connected?): {body}");
}

/// Waits until the store holds `expected` distinct ids (or 60 s pass) and returns the copies.
async fn wait_for_copies(dir: &Path, experiment: &str, expected: usize) -> HashMap<String, usize> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let copies = copies_by_id(dir, experiment).await;
        if copies.len() >= expected || std::time::Instant::now() > deadline {
            return copies;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_the_broker_acknowledged_survive_sigkill_exactly_once() {
    const SIZE: usize = 100;
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(user_add(dir.path(), "admin", "a long secret").status.success());
    let root = unique_root("crash");
    let env = mqtt_env(&root, &format!("{root}-srs"));
    let (mut child, base) = serve_with(dir.path(), &env, None);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let (experiment, recording) = lab(&client, &base).await;
    wait_for_recording(&client, &base, &recording).await;
    wait_ready(&client, &base).await;

    // The sensor: a persistent session, one QoS 1 batch in flight, each counted once PUBACKed.
    let mut sensor = TestClient::connect_with(&format!("{root}-sensor"), |options| {
        options.set_clean_start(false).set_session_expiry_interval(Some(300));
    })
    .await;
    let acknowledged: Arc<Mutex<Vec<usize>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let topic = format!("{root}/samples/ecg-1");
    let publisher = {
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        tokio::spawn(async move {
            for number in 0.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                sensor.publish_acked(&topic, batch("m", number, SIZE)).await;
                acknowledged.lock().expect("lock").push(number);
                // A sensor's pace (200 batches a second), which keeps what waits for the dead
                // process within the test broker's default queue of 1000 messages per client.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            sensor.disconnect().await;
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before_kill = acknowledged.lock().expect("lock").len();
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    // The sensor goes on while SRS is down: the broker keeps those for SRS's session.
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::SeqCst);
    publisher.await.expect("publisher");
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(
        before_kill >= 5 && acknowledged.len() > before_kill,
        "published before ({before_kill}) and after the kill ({})",
        acknowledged.len()
    );

    let (child, _base) = serve_with(dir.path(), &env, None);
    let copies = wait_for_copies(dir.path(), &experiment, acknowledged.len() * SIZE).await;
    eprintln!("stored {} of {}", copies.len(), acknowledged.len() * SIZE);
    assert!(terminate(child).success());
    let missing: Vec<String> = acknowledged
        .iter()
        .flat_map(|number| (0..SIZE).map(move |i| format!("m:{number}:{i}")))
        .filter(|id| !copies.contains_key(id))
        .take(5)
        .collect();
    assert!(missing.is_empty(), "acknowledged by the broker but lost: {missing:?}");
    assert_eq!(copies.len(), acknowledged.len() * SIZE, "nothing but what was published");
    assert!(copies.values().all(|n| *n == 1), "every sample stored exactly once");
    eprintln!("{} batches acknowledged by the broker ({before_kill} before SIGKILL); all stored once", acknowledged.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_ingest_processes_split_a_shared_subscription_and_store_each_message_once() {
    const MESSAGES: usize = 300;
    const SIZE: usize = 10;
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(user_add(dir.path(), "admin", "a long secret").status.success());
    let root = unique_root("shared");
    let (first, first_base) = serve_with(dir.path(), &mqtt_env(&root, &format!("{root}-a")), None);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let (experiment, recording) = lab(&client, &first_base).await;
    let (second, second_base) = serve_with(dir.path(), &mqtt_env(&root, &format!("{root}-b")), Some("ingest"));
    for base in [&first_base, &second_base] {
        wait_for_recording(&client, base, &recording).await;
        wait_ready(&client, base).await;
    }

    let mut sensor = TestClient::connect(&format!("{root}-sensor")).await;
    for number in 0..MESSAGES {
        sensor.publish_acked(&format!("{root}/samples/ecg-1"), batch("s", number, SIZE)).await;
    }
    sensor.disconnect().await;
    let copies = wait_for_copies(dir.path(), &experiment, MESSAGES * SIZE).await;
    let first_took = srs_testkit::metric(&client, &first_base, "srs_ingest_mqtt_messages_total{broker=\"mqtt\"}").await;
    let second_took = srs_testkit::metric(&client, &second_base, "srs_ingest_mqtt_messages_total{broker=\"mqtt\"}").await;
    assert!(terminate(second).success() && terminate(first).success());
    assert_eq!(copies.len(), MESSAGES * SIZE);
    assert!(copies.values().all(|n| *n == 1), "every sample stored exactly once");
    assert!(first_took > 0.0 && second_took > 0.0, "both replicas took messages: {first_took} and {second_took}");
    assert_eq!(first_took + second_took, MESSAGES as f64, "each message went to one replica");
    eprintln!("replica a took {first_took} messages, replica b {second_took}");
}
