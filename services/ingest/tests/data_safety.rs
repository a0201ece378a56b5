//! The quiet ways to lose samples, each reproduced through HTTP: samples without `ts` in one
//! request, the edges of a recording, and a full disk under the store.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::Lab;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn samples_without_ts_are_each_stored() {
    let lab = Lab::start(&[]).await;
    lab.start_recording().await;
    let door = json!({"sensor_id": "door-1", "values": {"open": true}});
    // An array, NDJSON and the per-sensor path, each with five samples of one sensor and no
    // `ts` or `id`, all at once: 15 samples, none taken for a duplicate of another.
    let array = json!([door, door, door, door, door]).to_string();
    let ndjson = format!("{door}\n").repeat(5);
    let per_sensor = json!(vec![json!({"values": {"open": false}}); 5]).to_string();
    let (a, b, c) = tokio::join!(
        lab.post("/api/v1/samples", "application/json", array, None),
        lab.post("/api/v1/samples", "application/x-ndjson", ndjson, None),
        lab.post("/api/v1/sensors/door-1/samples", "application/json", per_sensor, None),
    );
    for (status, answer) in [a, b, c] {
        assert_eq!((status, answer["stored"].as_u64(), answer["duplicates"].as_u64()), (StatusCode::OK, Some(5), Some(0)), "{answer}");
    }
    // A batch of 10,000 spans 10 µs of receive times; the next request must not land inside it.
    let big = json!(vec![door.clone(); 10_000]).to_string();
    let (big_answer, small_answer) = tokio::join!(
        lab.post("/api/v1/samples", "application/json", big, None),
        lab.post("/api/v1/samples", "application/json", json!([door, door]).to_string(), None),
    );
    assert_eq!(big_answer.1["stored"], 10_000, "{}", big_answer.1);
    assert_eq!(small_answer.1["stored"], 2, "{}", small_answer.1);
    assert_eq!(lab.stored().await, 10_017);
    lab.stop().await;
}

/// Posts one sample to the ingest at `base`.
async fn post_one(lab: &Lab, base: &str, sample: serde_json::Value) -> (StatusCode, serde_json::Value) {
    let response = lab.client.post(format!("{base}/api/v1/samples")).json(&sample).send().await.expect("post");
    let status = response.status();
    (status, response.json().await.expect("json"))
}

/// 50 start/stop cycles: a sample posted (to the ingest at `ingest`) right after a start's 201
/// is in that recording, one posted right after a stop's 200 is in none.
async fn recording_edges_are_exact(lab: Lab, ingest: &str) {
    for cycle in 0..50 {
        let recording = lab.start_recording().await;
        let (status, first) =
            post_one(&lab, ingest, json!({"sensor_id": "door-1", "id": format!("start-{cycle}"), "values": {"open": true}})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (first["stored"].as_u64(), first["recording_id"].as_str()),
            (Some(1), Some(recording.as_str())),
            "cycle {cycle}: {first}"
        );
        let stopped = lab.stop_recording(&recording).await;
        assert_eq!(stopped["sample_count"], 1, "cycle {cycle}");
        let (_, after) =
            post_one(&lab, ingest, json!({"sensor_id": "door-1", "id": format!("stop-{cycle}"), "values": {"open": false}})).await;
        assert_eq!((after["stored"].as_u64(), after["recording_id"].is_null()), (Some(0), true), "cycle {cycle}: {after}");
        let count = lab.context.store.count_recording_samples(&recording).await.expect("count");
        assert_eq!(count, 1, "cycle {cycle}: nothing after the stop joined the recording");
    }
    assert_eq!(lab.stored().await, 50);
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recording_edges_are_exact_on_the_in_process_bus() {
    let lab = Lab::start(&[]).await;
    let ingest = lab.url.clone();
    recording_edges_are_exact(lab, &ingest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recording_edges_are_exact_with_events_over_rabbitmq() {
    // The lifecycle events travel through the broker (slower than the in-process bus): ingest
    // must not need them to attribute a sample.
    let lab = Lab::start_with(srs_testkit::harness::amqp_settings()).await;
    let ingest = lab.url.clone();
    recording_edges_are_exact(lab, &ingest).await;
}

/// The distributed deployment: experiments here, `srs-ingest` a process of its own on the same
/// store and RabbitMQ. Ingest learns of no start or stop before it commits, and needs not.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recording_edges_are_exact_with_ingest_in_another_process() {
    let lab = Lab::start_with(srs_testkit::harness::amqp_settings()).await;
    // The same data directory: the same SQLite file and JWT keys.
    let data_dir = lab.dir.clone();
    let mut command = srs_testkit::service_command(env!("CARGO_BIN_EXE_srs-ingest"), &data_dir);
    command.env("SRS__DATA__DIR", &data_dir).env("SRS__BUS__BACKEND", "amqp").env("SRS__BUS__AMQP_URL", srs_testkit::amqp_url());
    let (child, ingest) = srs_testkit::spawn_listening(command, "srs-ingest");
    recording_edges_are_exact(lab, &ingest).await;
    assert!(srs_testkit::terminate(child).success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_is_a_503_until_space_returns() {
    let disk = srs_testkit::small_disk::SmallDisk::mount("8m");
    let lab = Lab::start_in(tempfile::tempdir_in(disk.path()).expect("data dir"), Vec::new()).await;
    lab.start_recording().await;
    let filler = disk.fill();
    let mut acknowledged = 0;
    let mut full = None;
    for round in 0..400 {
        let (status, answer) = lab.post_json(support::ecg(&format!("r{round}"), 500)).await;
        match status {
            StatusCode::OK => acknowledged += answer["stored"].as_u64().expect("stored"),
            _ => {
                full = Some((status, answer));
                break;
            }
        }
    }
    let (status, problem) = full.expect("the disk fills up");
    assert_eq!((status, problem["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("store_full")), "{problem}");
    assert!(!problem["detail"].as_str().unwrap_or_default().contains(disk.path().to_str().unwrap_or("/")), "no paths: {problem}");
    let ready = lab.client.get(format!("{}/readyz", lab.url)).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: serde_json::Value = ready.json().await.expect("json");
    assert!(ready["detail"].as_str().is_some_and(|d| d.contains("store: full")), "{ready}");
    // Still full: still 503, never "shutting down".
    let (status, again) = lab.post_json(support::ecg("again", 500)).await;
    assert_eq!((status, again["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("store_full")), "{again}");

    std::fs::remove_file(filler).expect("free the space");
    let (status, answer) = lab.post_json(support::ecg("after", 500)).await;
    assert_eq!((status, answer["stored"].as_u64()), (StatusCode::OK, Some(500)), "ingest recovers by itself: {answer}");
    acknowledged += 500;
    let ready = lab.client.get(format!("{}/readyz", lab.url)).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(lab.stored().await, acknowledged, "every acknowledged sample is stored, nothing else");
    lab.stop().await;
}
