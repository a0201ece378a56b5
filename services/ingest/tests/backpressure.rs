//! Back-pressure: a full ingest queue and an unavailable store are answered 503 with
//! Retry-After (never unbounded memory, never a hang), and ingest recovers by itself.

mod support;

use reqwest::StatusCode;
use std::time::Duration;
use support::{ecg, Lab};

async fn post_raw(lab: &Lab, body: serde_json::Value) -> reqwest::Response {
    lab.client.post(format!("{}/api/v1/samples", lab.url)).json(&body).send().await.expect("send")
}

fn retry_after(response: &reqwest::Response) -> Option<u64> {
    response.headers().get("retry-after")?.to_str().ok()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_queue_and_locked_store_answer_503_with_retry_after() {
    let lab = Lab::start(&[("SRS__INGEST__QUEUE_CAPACITY", "1000"), ("SRS__INGEST__MAX_SAMPLES_PER_REQUEST", "1000")]).await;
    lab.start_recording().await;
    // Another process takes SQLite's write lock, so the writer waits with the first request's
    // 1,000 samples: the queue is full.
    let blocker = rusqlite::Connection::open(lab.db_path()).expect("open");
    blocker.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let first = tokio::spawn({
        let (client, url, body) = (lab.client.clone(), format!("{}/api/v1/samples", lab.url), ecg("queued", 1000));
        async move { client.post(url).json(&body).send().await.expect("send") }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = post_raw(&lab, ecg("extra", 1)).await;
    assert_eq!((refused.status(), retry_after(&refused)), (StatusCode::SERVICE_UNAVAILABLE, Some(1)));
    assert_eq!(refused.json::<serde_json::Value>().await.expect("problem")["code"], "queue_full");
    blocker.execute_batch("COMMIT").expect("unlock");
    let first = first.await.expect("first request");
    assert_eq!(first.status(), StatusCode::OK, "the queued request completes once the store is free");
    assert_eq!(first.json::<serde_json::Value>().await.expect("answer")["stored"], 1000);

    // A store that stays locked beyond its busy timeout (10 s) is unavailable: 503, nothing half-done.
    blocker.execute_batch("BEGIN IMMEDIATE").expect("lock again");
    let unavailable = post_raw(&lab, ecg("blocked", 5)).await;
    assert_eq!((unavailable.status(), retry_after(&unavailable)), (StatusCode::SERVICE_UNAVAILABLE, Some(1)));
    assert_eq!(unavailable.json::<serde_json::Value>().await.expect("problem")["code"], "store_unavailable");
    blocker.execute_batch("COMMIT").expect("unlock");
    let retried = post_raw(&lab, ecg("blocked", 5)).await;
    assert_eq!(retried.status(), StatusCode::OK, "ingest recovers by itself");
    assert_eq!(retried.json::<serde_json::Value>().await.expect("answer")["stored"], 5, "the failed attempt stored nothing");
    assert_eq!(lab.stored().await, 1005);
    lab.stop().await;
}
