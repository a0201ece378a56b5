//! Crash safety of ingest: `srs serve` is killed with SIGKILL while several clients post
//! samples with ids; after a restart every sample that got a 200 is stored exactly once, and
//! retrying the unanswered requests stores the rest, each once.

mod support;

use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

const CLIENTS: usize = 4;
const BATCH: usize = 100;

fn batch(client: usize, number: usize) -> Value {
    let base = srs_common::time::now_ns() - 60_000_000_000;
    Value::Array(
        (0..BATCH)
            .map(|i| json!({"sensor_id": "ecg-1", "ts": base + (number * BATCH + i) as i64, "id": format!("c{client}:{number}:{i}"), "values": {"lead_i": i as f64 / 10.0}}))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_samples_survive_sigkill_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(user_add(dir.path(), "admin", "a long secret").status.success());
    let (mut child, base) = serve(dir.path(), &[]);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let (experiment, recording) = lab(&client, &base).await;
    wait_for_recording(&client, &base, &recording).await;

    let acknowledged: Arc<Mutex<HashSet<String>>> = Arc::default();
    let unanswered: Arc<Mutex<Vec<Value>>> = Arc::default();
    let dead = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (client, base, acknowledged, unanswered, dead) =
                (client.clone(), base.clone(), acknowledged.clone(), unanswered.clone(), dead.clone());
            tokio::spawn(async move {
                for number in 0.. {
                    let body = batch(c, number);
                    match client.post(format!("{base}/api/v1/samples")).json(&body).send().await {
                        Ok(response) if response.status() == 200 => {
                            let answer: Value = response.json().await.expect("answer");
                            assert_eq!(
                                answer["stored"].as_u64().unwrap_or(0) + answer["duplicates"].as_u64().unwrap_or(0),
                                BATCH as u64,
                                "{answer}"
                            );
                            let ids = body.as_array().expect("batch").iter().filter_map(|s| s["id"].as_str().map(str::to_owned));
                            acknowledged.lock().expect("lock").extend(ids);
                        }
                        // Killed mid-request (or any other failure): the client does not know, so it will retry.
                        _ => {
                            unanswered.lock().expect("lock").push(body);
                            if dead.load(Ordering::SeqCst) {
                                return;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    dead.store(true, Ordering::SeqCst);
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    for client in clients {
        client.await.expect("client task");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(acknowledged.len() >= BATCH, "the clients got answers before the kill");

    // Restart on the same data: the recording still runs; retry what was not answered.
    let (child, base) = serve(dir.path(), &[]);
    wait_for_recording(&client, &base, &recording).await;
    let retries = unanswered.lock().expect("lock").clone();
    for body in &retries {
        let response = client.post(format!("{base}/api/v1/samples")).json(body).send().await.expect("retry");
        assert_eq!(response.status(), 200);
    }
    assert!(terminate(child).success());

    let copies = copies_by_id(dir.path(), &experiment).await;
    let missing: Vec<_> = acknowledged.iter().filter(|id| !copies.contains_key(*id)).take(5).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?} (of {})", acknowledged.len());
    assert!(copies.values().all(|n| *n == 1), "every sample stored exactly once");
    let retried: usize = retries.iter().map(|b| b.as_array().map_or(0, Vec::len)).sum();
    assert_eq!(copies.len(), acknowledged.len() + retried - overlap(&acknowledged, &retries), "acknowledged plus retried, nothing else");
    eprintln!("acknowledged {} samples before SIGKILL, retried {retried} afterwards; all stored once", acknowledged.len());
}

/// Samples both acknowledged and retried (none expected, but counted rather than assumed).
fn overlap(acknowledged: &HashSet<String>, retries: &[Value]) -> usize {
    retries
        .iter()
        .flat_map(|b| b.as_array().cloned().unwrap_or_default())
        .filter(|s| s["id"].as_str().is_some_and(|id| acknowledged.contains(id)))
        .count()
}
