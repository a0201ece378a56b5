//! Samples are stored with the running recording's experiment, participant, task and recording;
//! outside a recording, or for a disabled sensor, they feed the live view only. A retried
//! request is stored once.

mod support;

use futures_util::TryStreamExt;
use reqwest::StatusCode;
use serde_json::json;
use srs_common::model::SampleQuery;
use support::{ecg, Lab};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn samples_are_stamped_with_the_running_recording() {
    let lab = Lab::start(&[]).await;
    // Nothing records yet: accepted for the live view, not stored.
    let (status, answer) = lab.post_json(ecg("before", 5)).await;
    assert_eq!(
        (status, answer["accepted"].as_u64(), answer["stored"].as_u64(), answer["recording_id"].is_null()),
        (StatusCode::OK, Some(5), Some(0), true)
    );

    let recording = lab.start_recording().await;
    let (_, answer) = lab.post_json(ecg("during", 250)).await;
    assert_eq!((answer["stored"].as_u64(), answer["duplicates"].as_u64()), (Some(250), Some(0)));
    assert_eq!(answer["recording_id"], recording.as_str());
    // One object, NDJSON, and the path form all store.
    let (_, answer) =
        lab.post("/api/v1/samples", "application/json", json!({"sensor_id": "door-1", "values": {"open": true}}).to_string(), None).await;
    assert_eq!(answer["stored"], 1);
    let lines = "{\"sensor_id\": \"co2-1\", \"values\": {\"co2_ppm\": 612}}\n{\"sensor_id\": \"co2-1\", \"ts\": \"2026-11-23T10:00:00Z\", \"values\": {\"co2_ppm\": 615}}\n";
    let (status, answer) = lab.post("/api/v1/samples", "application/x-ndjson", lines.into(), None).await;
    assert_eq!((status, answer["stored"].as_u64()), (StatusCode::OK, Some(2)), "{answer}");
    let (_, answer) = lab
        .post(
            "/api/v1/sensors/buttons-1/samples",
            "application/json",
            json!([{"values": {"button": 1, "pressed": true}}]).to_string(),
            None,
        )
        .await;
    assert_eq!(answer["stored"], 1, "{answer}");
    // cam-2 is disabled in the experiment's config.
    let (_, answer) = lab.post_json(json!({"sensor_id": "cam-2", "values": {"frame": 7}})).await;
    assert_eq!((answer["accepted"].as_u64(), answer["stored"].as_u64()), (Some(1), Some(0)));

    let stopped = lab.stop_recording(&recording).await;
    assert_eq!(stopped["sample_count"], 254, "250 ECG, a door, two CO2 and a button sample");
    let (_, answer) = lab.post_json(ecg("after", 5)).await;
    assert_eq!((answer["stored"].as_u64(), answer["recording_id"].is_null()), (Some(0), true));

    // Every stored sample carries the recording's experiment, participant, task and id.
    let query = SampleQuery { experiment_id: lab.experiment_id.clone(), ..Default::default() };
    let chunks: Vec<_> = lab.context.store.stream_samples(query).try_collect().await.expect("read");
    let samples: Vec<_> = chunks.into_iter().flatten().collect();
    assert_eq!(samples.len(), 254);
    assert!(samples.iter().all(|s| *s.recording_id == *recording
        && *s.participant_id == *lab.participant_id
        && s.task_id.as_deref() == Some(lab.task_id.as_str())));
    let ecg_sample = samples.iter().find(|s| s.sample_id.as_deref() == Some("during:0")).expect("by id");
    assert_eq!(&*ecg_sample.sensor_type, "ecg");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&ecg_sample.values.to_json()).expect("json"),
        json!({"lead_i": 0.1, "lead_ii": -0.2})
    );
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retried_requests_are_stored_once() {
    let lab = Lab::start(&[]).await;
    lab.start_recording().await;
    let batch = ecg("retry", 500);
    let (_, first) = lab.post_json(batch.clone()).await;
    let (_, again) = lab.post_json(batch.clone()).await;
    assert_eq!((first["stored"].as_u64(), again["stored"].as_u64(), again["duplicates"].as_u64()), (Some(500), Some(0), Some(500)));
    // The same new request sent concurrently, several times: stored once in all.
    let concurrent = ecg("concurrent", 300);
    let answers = futures_util::future::join_all((0..4).map(|_| lab.post_json(concurrent.clone()))).await;
    let stored: u64 = answers
        .iter()
        .map(|(status, a)| {
            assert_eq!(*status, StatusCode::OK);
            a["stored"].as_u64().expect("stored")
        })
        .sum();
    let duplicates: u64 = answers.iter().filter_map(|(_, a)| a["duplicates"].as_u64()).sum();
    assert_eq!((stored, duplicates), (300, 900));
    // Without ids, the same sensor and ts is the same sample.
    let no_id = json!([{"sensor_id": "door-1", "ts": 1_763_892_000_000_000_000i64, "values": {"open": true}}, {"sensor_id": "door-1", "ts": 1_763_892_000_000_000_000i64, "values": {"open": false}}]);
    let (_, answer) = lab.post_json(no_id).await;
    assert_eq!((answer["stored"].as_u64(), answer["duplicates"].as_u64()), (Some(1), Some(1)));
    assert_eq!(lab.stored().await, 801);
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn status_and_activity_summarise_each_sensor() {
    let lab = Lab::start(&[]).await;
    let mut activity = lab.context.bus.subscribe(&["sensor.activity"]).await.expect("subscribe");
    let samples: Vec<_> = (0..40).map(|i| json!({"sensor_id": "imu-left", "ts": srs_common::time::now_ns() - 50_000_000 - i, "values": {"acc_x": 0.0, "acc_y": 0.0, "acc_z": 9.81}})).collect();
    for chunk in samples.chunks(10) {
        let (status, answer) = lab.post_json(json!(chunk)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let event =
        tokio::time::timeout(std::time::Duration::from_secs(5), activity.recv()).await.expect("activity within 5 s").expect("event");
    assert_eq!(
        (event.kind.as_str(), event.payload["sensor_id"].as_str(), event.payload["samples"].as_u64()),
        ("sensor.activity", Some("imu-left"), Some(40))
    );
    assert!(event.payload["rate_hz"].as_f64().is_some_and(|r| r > 0.0));
    // One event per sensor per second, not one per request or sample.
    assert!(tokio::time::timeout(std::time::Duration::from_millis(300), activity.recv()).await.is_err());

    let statuses: serde_json::Value = lab
        .client
        .get(format!("{}/api/v1/sensors/status", lab.url))
        .bearer_auth(&lab.token)
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    let imu = statuses.as_array().expect("list").iter().find(|s| s["sensor_id"] == "imu-left").expect("imu-left").clone();
    assert_eq!((imu["type"].as_str(), imu["samples_last_minute"].as_u64()), (Some("imu"), Some(40)));
    assert!(imu["last_seen"].is_string());
    assert!(imu["clock_offset_ms"].as_f64().is_some_and(|ms| (49.0..1_000.0).contains(&ms)), "{imu}");
    let door = statuses.as_array().expect("list").iter().find(|s| s["sensor_id"] == "door-1").expect("door-1").clone();
    assert!(door["last_seen"].is_null());
    let unauthenticated = lab.client.get(format!("{}/api/v1/sensors/status", lab.url)).send().await.expect("status");
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn device_tokens_bind_a_post_to_one_sensor() {
    let lab = Lab::start(&[("SRS__INGEST__REQUIRE_DEVICE_TOKEN", "true"), ("SRS__INGEST__DEVICE_TOKEN_CACHE_SECS", "0")]).await;
    let issued = lab.api("POST", "/api/v1/sensors/door-1/tokens", json!({})).await;
    let token = issued["token"].as_str().expect("token");
    let door = json!({"sensor_id": "door-1", "values": {"open": true}}).to_string();
    let (status, problem) = lab.post("/api/v1/samples", "application/json", door.clone(), None).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    assert_eq!(lab.post("/api/v1/samples", "application/json", door.clone(), Some("srs_dt_wrong")).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(lab.post("/api/v1/samples", "application/json", door.clone(), Some(token)).await.0, StatusCode::OK);
    assert_eq!(
        lab.post("/api/v1/sensors/door-1/samples", "application/json", json!({"values": {"open": false}}).to_string(), Some(token)).await.0,
        StatusCode::OK
    );
    let other = json!({"sensor_id": "ecg-1", "values": {"lead_i": 1.0}}).to_string();
    let (status, problem) = lab.post("/api/v1/samples", "application/json", other, Some(token)).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    lab.api("DELETE", &format!("/api/v1/sensors/door-1/tokens/{}", issued["id"].as_str().expect("id")), json!(null)).await;
    assert_eq!(lab.post("/api/v1/samples", "application/json", door, Some(token)).await.0, StatusCode::UNAUTHORIZED, "revoked");
    lab.stop().await;
}
