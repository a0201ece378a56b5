//! Two `srs-control` processes sharing a store and RabbitMQ, as the distributed deployment runs
//! them: a command posted to one reaches a device connected to the other and the ack comes
//! back; when the holder is killed, its hold lapses and the device, reconnected to the
//! survivor, takes commands again.

mod support;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Child;
use std::time::Duration;
use support::Socket;
use tokio_tungstenite::tungstenite::Message;

const HOLD_SECS: u64 = 3;

fn control(dir: &Path) -> (Child, String) {
    let mut command = srs_testkit::service_command(env!("CARGO_BIN_EXE_srs-control"), dir);
    command
        .env("SRS__DATA__DIR", dir)
        .env("SRS__BUS__BACKEND", "amqp")
        .env("SRS__BUS__AMQP_URL", srs_testkit::amqp_url())
        .env("SRS__CONTROL__HOLD_SECS", HOLD_SECS.to_string());
    srs_testkit::spawn_listening(command, "srs-control")
}

async fn device(base: &str, sensor: &str) -> Socket {
    let url = format!("{}/api/v1/ws/devices/{sensor}", base.replacen("http://", "ws://", 1));
    tokio_tungstenite::connect_async(url).await.expect("connect").0
}

/// Posts a command to `base` while `socket` (if any) acks whatever it receives.
async fn command(base: &str, token: &str, socket: Option<&mut Socket>) -> (u16, Value) {
    let url = format!("{base}/api/v1/devices/cam-1/commands");
    let post = reqwest::Client::new().post(url).bearer_auth(token).json(&json!({"command": "snapshot", "timeout_ms": 3000})).send();
    let mut post = tokio::spawn(async move { srs_testkit::harness::answer(post.await.expect("post")).await });
    if let Some(socket) = socket {
        tokio::select! {
            _ = acks_until(socket, "snapshot") => {}
            answered = &mut post => panic!("answered before the device got the command: {answered:?}"),
        }
    }
    let (status, body) = post.await.expect("answer");
    (status.as_u16(), body)
}

/// Acks every command the device receives (other tests' recordings on the shared broker may
/// send it theirs) until `wanted` came; returns that one.
async fn acks_until(socket: &mut Socket, wanted: &str) -> Value {
    let read = async {
        loop {
            if let Message::Text(text) = socket.next().await.expect("open").expect("readable") {
                let command: Value = serde_json::from_str(&text).expect("json");
                let ack = json!({"type": "ack", "id": command["id"], "ok": true, "detail": "snapped"});
                socket.send(Message::text(ack.to_string())).await.expect("ack");
                if command["command"] == wanted {
                    return command;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.expect("the command reaches the device")
}

/// The sensor ids `GET /api/v1/devices` on `base` lists.
async fn listed(base: &str, token: &str) -> Vec<String> {
    let response = reqwest::Client::new().get(format!("{base}/api/v1/devices")).bearer_auth(token).send().await.expect("get");
    let devices: Value = response.json().await.expect("json");
    devices.as_array().expect("devices").iter().filter_map(|d| d["sensor_id"].as_str().map(str::to_owned)).collect()
}

fn key_pair(dir: &Path) {
    let jwt = dir.join("jwt");
    srs_common::auth::keys::write_pair(&jwt.join("private.pem"), &jwt.join("public.pem")).expect("keys");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_device_gets_a_recording_hook_once_whichever_replica_holds_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    key_pair(dir.path());
    let (a, url_a) = control(dir.path());
    let (b, url_b) = control(dir.path());
    let mut on_a = device(&url_a, "cam-1").await;
    let mut on_b = device(&url_b, "cam-2").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let bus = srs_testkit::amqp_bus().await;
    let recording_id = srs_common::model::new_id();
    let started = srs_common::events::RecordingStarted {
        recording_id: recording_id.clone(),
        experiment_id: srs_common::model::new_id(),
        participant_id: "p".into(),
        participant_code: "P01".into(),
        task_id: None,
        task_name: None,
        started_at: srs_common::time::now(),
        enabled_sensors: vec!["cam-1".into(), "cam-2".into()],
    };
    srs_common::bus::Bus::publish(&*bus, &[srs_common::events::event(srs_common::events::RECORDING_STARTED, &started)])
        .await
        .expect("publish");
    // Each camera, on either replica, gets this recording's start exactly once.
    for socket in [&mut on_a, &mut on_b] {
        let mut ours = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, socket.next()).await {
            if let Message::Text(text) = message {
                let command: Value = serde_json::from_str(&text).expect("json");
                socket.send(Message::text(json!({"type": "ack", "id": command["id"], "ok": true}).to_string())).await.expect("ack");
                if command["command"] == "start_recording" && command["args"]["recording_id"] == recording_id.as_str() {
                    ours += 1;
                }
            }
        }
        assert_eq!(ours, 1, "one start_recording per device and recording");
    }
    srs_common::bus::Bus::close(&*bus).await;
    assert!(srs_testkit::terminate(a).success());
    assert!(srs_testkit::terminate(b).success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_reach_the_device_on_another_replica_and_survive_its_death() {
    let dir = tempfile::tempdir().expect("tempdir");
    key_pair(dir.path());
    let token = srs_testkit::signed_access_token(&dir.path().join("jwt"), srs_common::model::Role::Admin);
    let (a, url_a) = control(dir.path());
    let (mut b, url_b) = control(dir.path());

    let mut camera = device(&url_b, "cam-1").await;
    // The hold is written before the socket is listed — by every replica, A too.
    for _ in 0..100 {
        if listed(&url_a, &token).await == ["cam-1"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(listed(&url_a, &token).await, ["cam-1"], "A lists the device B holds");
    let (status, answer) = command(&url_a, &token, Some(&mut camera)).await;
    assert_eq!((status, answer["status"].as_str(), answer["detail"].as_str()), (200, Some("acked"), Some("snapped")), "{answer}");

    // The holder dies without a word; once its hold lapses, the device is not connected.
    b.kill().expect("SIGKILL");
    b.wait().expect("reaped");
    tokio::time::sleep(Duration::from_secs(HOLD_SECS + 1)).await;
    let (status, problem) = command(&url_a, &token, None).await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("not_connected")), "{problem}");
    assert!(listed(&url_a, &token).await.is_empty(), "a dead replica's devices are not listed");

    // The device reconnects to the survivor, which takes it over at once.
    let mut camera = device(&url_a, "cam-1").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, answer) = command(&url_a, &token, Some(&mut camera)).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("acked")), "{answer}");
    let history: Value = reqwest::Client::new()
        .get(format!("{url_a}/api/v1/devices/cam-1/commands"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let statuses: Vec<&str> = history.as_array().expect("history").iter().filter_map(|c| c["status"].as_str()).collect();
    assert_eq!(statuses, ["acked", "not_connected", "acked"]);
    assert!(srs_testkit::terminate(a).success());
}
