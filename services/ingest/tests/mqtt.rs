//! MQTT and The Things Network intake against the real Mosquitto: samples published at QoS 1
//! during a recording are stored with it, and a retried publish once; bad payloads store
//! nothing and are reported on `{root}/errors/{sensor_id}` with HTTP's codes; a TTN uplink is
//! stored from the webhook (its secret checked) and from TTN's MQTT topic; a message the store
//! cannot take yet is held and committed once, not refused; `/readyz` reports a configured
//! broker that does not answer. Each test has its own topic root and client ids.

mod support;

use futures_util::TryStreamExt;
use reqwest::StatusCode;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use serde_json::{json, Value};
use srs_common::model::SampleQuery;
use srs_testkit::mqtt::{mqtt_url, unique_root, TestClient};
use srs_testkit::wait_readyz;
use std::time::Duration;
use support::{ecg, Lab};

fn mqtt_settings(root: &str) -> Vec<(String, String)> {
    vec![
        ("SRS__MQTT__URL".into(), mqtt_url()),
        ("SRS__MQTT__TOPIC_ROOT".into(), root.into()),
        ("SRS__MQTT__CLIENT_ID".into(), format!("{root}-ingest")),
        // The test's session need not outlive it at the shared test broker.
        ("SRS__MQTT__SESSION_EXPIRY_SECS".into(), "60".into()),
    ]
}

/// Waits until `/readyz` says ready (the broker connected and subscribed); its answer.
async fn wait_ready(lab: &Lab) -> Value {
    let (status, body) = wait_readyz(&lab.client, &lab.url, 200, Duration::from_secs(10)).await;
    assert_eq!(status, 200, "ingest never became ready: {body}");
    body
}

/// Waits until the experiment has `count` samples, then checks no more arrive.
async fn wait_stored(lab: &Lab, count: u64) {
    lab.wait_stored(count).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(lab.stored().await, count);
}

async fn metric(lab: &Lab, name: &str) -> f64 {
    srs_testkit::metric(&lab.client, &lab.url, name).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn samples_published_during_a_recording_are_stored_once() {
    let root = unique_root("samples");
    let lab = Lab::start_with(mqtt_settings(&root)).await;
    let ready = wait_ready(&lab).await;
    assert_eq!(ready["brokers"]["mqtt"], "ok", "{ready}");
    let recording = lab.start_recording().await;
    let mut sensor = TestClient::connect(&format!("{root}-sensor")).await;

    // An array, one object, and NDJSON (told by its content type, and found without one).
    let batch = ecg("mqtt", 100)
        .as_array()
        .expect("batch")
        .iter()
        .map(|s| json!({"ts": s["ts"], "id": s["id"], "values": s["values"]}))
        .collect::<Vec<_>>();
    sensor.publish_acked(&format!("{root}/samples/ecg-1"), Value::Array(batch.clone()).to_string()).await;
    sensor.publish_acked(&format!("{root}/samples/door-1"), json!({"values": {"open": true}}).to_string()).await;
    let lines = "{\"id\": \"co2:1\", \"values\": {\"co2_ppm\": 612}}\n{\"id\": \"co2:2\", \"values\": {\"co2_ppm\": 615}}\n";
    let ndjson = PublishProperties { content_type: Some("application/x-ndjson".into()), ..Default::default() };
    sensor.publish_acked_with(&format!("{root}/samples/co2-1"), lines, Some(ndjson)).await;
    sensor
        .publish_acked(
            &format!("{root}/samples/co2-1"),
            "{\"id\": \"co2:3\", \"values\": {\"co2_ppm\": 1}}\n{\"id\": \"co2:4\", \"values\": {\"co2_ppm\": 2}}",
        )
        .await;
    wait_stored(&lab, 105).await;

    // The sensor did not get our PUBACK in time and publishes the batch again: stored once.
    sensor.publish_acked(&format!("{root}/samples/ecg-1"), Value::Array(batch).to_string()).await;
    sensor.publish_acked(&format!("{root}/samples/door-1"), json!({"id": "door:1", "values": {"open": false}}).to_string()).await;
    wait_stored(&lab, 106).await;
    assert_eq!(metric(&lab, "srs_ingest_samples_duplicate_total").await, 100.0);
    assert_eq!(metric(&lab, "srs_ingest_mqtt_messages_total{broker=\"mqtt\"}").await, 6.0);
    assert_eq!(metric(&lab, "srs_ingest_mqtt_samples_total{broker=\"mqtt\"}").await, 206.0);

    let query = SampleQuery { experiment_id: lab.experiment_id.clone(), ..Default::default() };
    let samples: Vec<_> =
        lab.context.store.stream_samples(query).try_collect::<Vec<_>>().await.expect("read").into_iter().flatten().collect();
    assert!(samples.iter().all(|s| *s.recording_id == *recording && *s.participant_id == *lab.participant_id));
    let ecg_sample = samples.iter().find(|s| s.sample_id.as_deref() == Some("mqtt:7")).expect("by id");
    assert_eq!(&*ecg_sample.sensor_id, "ecg-1");
    // The webhook is off: no secret is set.
    let (status, answer) = lab.post("/api/v1/ttn/uplink", "application/json", "{}".into(), None).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    sensor.disconnect().await;
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_payloads_store_nothing_and_are_reported_on_the_errors_topic() {
    let root = unique_root("errors");
    let mut settings = mqtt_settings(&root);
    settings.push(("SRS__INGEST__MAX_BODY_BYTES".into(), "4096".into()));
    let lab = Lab::start_with(settings).await;
    wait_ready(&lab).await;
    lab.start_recording().await;
    let mut developer = TestClient::connect(&format!("{root}-watcher")).await;
    developer.subscribe(&format!("{root}/errors/#")).await;
    let mut sensor = TestClient::connect(&format!("{root}-sensor")).await;

    let too_large = json!([{"values": {"open": true}, "id": "x".repeat(5000)}]).to_string();
    let cases: [(&str, String, &str, u64); 5] = [
        ("door-1", "{\"values\": {\"open\": tru".into(), "malformed_json", 400),
        ("nope", json!({"values": {"open": true}}).to_string(), "not_found", 404),
        ("door-1", json!([{"values": {"open": true}}, {"values": {"open": "yes"}}]).to_string(), "invalid_samples", 422),
        ("door-1", "{\"values\": {\"open\": true}}\n{\"values\": 5}\n".into(), "invalid_samples", 422),
        ("door-1", too_large, "body_too_large", 413),
    ];
    for (sensor_id, payload, code, status) in &cases {
        sensor.publish_acked(&format!("{root}/samples/{sensor_id}"), payload.clone()).await;
        let message = developer.next_message(Duration::from_secs(10)).await.unwrap_or_else(|| panic!("a problem for {code}"));
        assert_eq!(String::from_utf8_lossy(&message.topic), format!("{root}/errors/{sensor_id}"));
        let problem: Value = serde_json::from_slice(&message.payload).expect("problem JSON");
        assert_eq!((problem["code"].as_str(), problem["status"].as_u64()), (Some(*code), Some(*status)), "{problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()), "{problem}");
        if *code == "invalid_samples" {
            let errors = problem["errors"].as_array().expect("per-item errors");
            assert_eq!(errors[0]["index"], 1, "the second sample is the bad one: {problem}");
        }
    }
    assert_eq!(metric(&lab, "srs_ingest_mqtt_rejected_total{broker=\"mqtt\",reason=\"invalid_samples\"}").await, 2.0);
    assert_eq!(lab.stored().await, 0, "nothing of a bad payload is stored");
    sensor.disconnect().await;
    developer.disconnect().await;
    lab.stop().await;
}

fn uplink_fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/ttn-uplink.json")).expect("fixture")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ttn_uplinks_are_stored_from_the_webhook_and_from_mqtt() {
    let application = format!("{}@ttn", unique_root("ttn"));
    let settings = vec![
        ("SRS__TTN__WEBHOOK_SECRET".to_owned(), "lab webhook secret".to_owned()),
        ("SRS__TTN__MQTT_URL".into(), mqtt_url()),
        ("SRS__TTN__MQTT_USERNAME".into(), application.clone()),
        ("SRS__TTN__MQTT_PASSWORD".into(), "NNSXS.TEST-KEY".into()),
    ];
    let lab = Lab::start_with(settings).await;
    let ready = wait_ready(&lab).await;
    assert_eq!(ready["brokers"]["ttn_mqtt"], "ok", "{ready}");
    lab.start_recording().await;
    let webhook = |secret: Option<&'static str>, body: Value| {
        let mut request = lab.client.post(format!("{}/api/v1/ttn/uplink", lab.url)).json(&body);
        if let Some(secret) = secret {
            request = request.header("X-SRS-TTN-Secret", secret);
        }
        async move {
            let response = request.send().await.expect("send");
            (response.status(), response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let fixture = uplink_fixture();
    assert_eq!(webhook(None, fixture.clone()).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(webhook(Some("lab webhook secreT"), fixture.clone()).await.0, StatusCode::UNAUTHORIZED);
    let mut stranger = fixture.clone();
    stranger["end_device_ids"]["device_id"] = json!("someone-else");
    let (status, problem) = webhook(Some("lab webhook secret"), stranger).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_id")), "{problem}");
    // JSON that is no uplink, and an uplink whose payload gives one field twice (`co2` renamed
    // to `co2_ppm`, and `co2_ppm` itself): refused, naming the field, never collapsed.
    let (status, problem) = webhook(Some("lab webhook secret"), json!({"hello": "world"})).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field")), "{problem}");
    let mut twice = fixture.clone();
    twice["uplink_message"]["decoded_payload"]["co2_ppm"] = json!(790);
    let (status, problem) = webhook(Some("lab webhook secret"), twice).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field")), "{problem}");
    let mut unfit = fixture.clone();
    unfit["uplink_message"]["decoded_payload"]["co2"] = json!("high");
    let (status, problem) = webhook(Some("lab webhook secret"), unfit).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_samples")), "{problem}");
    assert_eq!(lab.stored().await, 0);

    let (status, answer) = webhook(Some("lab webhook secret"), fixture.clone()).await;
    assert_eq!((status, answer["stored"].as_u64()), (StatusCode::OK, Some(1)), "{answer}");
    let (_, answer) = webhook(Some("lab webhook secret"), fixture.clone()).await;
    assert_eq!((answer["stored"].as_u64(), answer["duplicates"].as_u64()), (Some(0), Some(1)), "TTN delivered it twice: {answer}");
    // After a rejoin the counter starts again under a new session key: a new uplink, not a duplicate.
    let mut rejoined = fixture.clone();
    rejoined["uplink_message"]["session_key_id"] = json!("AZN0nBq7u1XrU0a2cD3eFg==");
    rejoined["uplink_message"]["f_cnt"] = json!(4711);
    rejoined["received_at"] = json!("2026-11-30T10:40:02.5Z");
    assert_eq!(webhook(Some("lab webhook secret"), rejoined).await.1["stored"], 1);

    // The same message shape from TTN's MQTT integration, a later frame.
    let mut later = fixture.clone();
    later["uplink_message"]["f_cnt"] = json!(4712);
    later["received_at"] = json!("2026-11-30T09:17:44.2Z");
    let mut ttn = TestClient::connect(&format!("{application}-ttn-broker")).await;
    ttn.publish_acked(&format!("v3/{application}/devices/clairchen-17/up"), later.to_string()).await;
    wait_stored(&lab, 3).await;

    let query = SampleQuery { experiment_id: lab.experiment_id.clone(), ..Default::default() };
    let mut samples: Vec<_> =
        lab.context.store.stream_samples(query).try_collect::<Vec<_>>().await.expect("read").into_iter().flatten().collect();
    samples.sort_by_key(|s| s.ts);
    let ids: Vec<_> = samples.iter().map(|s| s.sample_id.clone().unwrap_or_default()).collect();
    assert_eq!(
        ids,
        [
            "clairchen-17:AZN0m9r3kQ2vX8bC1dE4fA==:4711",
            "clairchen-17:AZN0m9r3kQ2vX8bC1dE4fA==:4712",
            "clairchen-17:AZN0nBq7u1XrU0a2cD3eFg==:4711"
        ]
    );
    assert_eq!(samples[0].ts, 1_796_029_964_187_204_312, "ts is the uplink's received_at");
    let values: Value = serde_json::from_str(&samples[0].values.to_json()).expect("values");
    assert_eq!(values, json!({"co2_ppm": 812, "temperature": 21.5, "humidity": 38.5, "battery": 3.61, "rssi": -61, "snr": 9.25}));
    ttn.disconnect().await;
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_configured_broker_that_does_not_answer_makes_ingest_not_ready() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let lab = Lab::start(&[("SRS__MQTT__URL", &format!("mqtt://127.0.0.1:{port}")), ("SRS__MQTT__PASSWORD", "hunter2")]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let response = lab.client.get(format!("{}/readyz", lab.url)).send().await.expect("readyz");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let problem: Value = response.json().await.expect("problem");
    assert_eq!(problem["detail"], "mqtt: not connected", "{problem}");
    assert!(metric(&lab, "srs_ingest_mqtt_reconnects_total{broker=\"mqtt\"}").await >= 1.0);
    assert_eq!(metric(&lab, "srs_ingest_mqtt_connected{broker=\"mqtt\"}").await, 0.0);
    // HTTP ingest goes on meanwhile.
    assert_eq!(lab.post_json(ecg("http", 3)).await.0, StatusCode::OK);
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_the_store_cannot_take_yet_is_held_and_committed_once() {
    let root = unique_root("held");
    let lab = Lab::start_with(mqtt_settings(&root)).await;
    wait_ready(&lab).await;
    lab.start_recording().await;
    let mut developer = TestClient::connect(&format!("{root}-watcher")).await;
    developer.subscribe(&format!("{root}/errors/#")).await;
    let mut sensor = TestClient::connect(&format!("{root}-sensor")).await;

    // Another process holds SQLite's write lock past the store's busy timeout (10 s): the first
    // commit fails as store_unavailable, and ingest tries again instead of refusing.
    let blocker = rusqlite::Connection::open(lab.db_path()).expect("open");
    blocker.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let five: Vec<Value> = (0..5).map(|i| json!({"values": {"lead_i": i}})).collect();
    sensor.publish_acked(&format!("{root}/samples/ecg-1"), Value::Array(five).to_string()).await;
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(lab.stored().await, 0, "nothing while the store is locked");
    blocker.execute_batch("COMMIT").expect("unlock");
    wait_stored(&lab, 5).await;

    assert!(developer.next_message(Duration::from_millis(500)).await.is_none(), "held, not refused: no problem published");
    assert_eq!(metric(&lab, "srs_ingest_mqtt_samples_total{broker=\"mqtt\"}").await, 5.0);
    // Parsed, checked and counted once, however often the commit was tried.
    let status = lab.client.get(format!("{}/api/v1/sensors/status", lab.url)).bearer_auth(&lab.token).send().await.expect("status");
    let status: Vec<Value> = status.json().await.expect("json");
    let ecg = status.iter().find(|s| s["sensor_id"] == "ecg-1").expect("ecg-1");
    assert_eq!(ecg["samples_last_minute"], 5, "{ecg}");
    sensor.disconnect().await;
    developer.disconnect().await;
    lab.stop().await;
}
