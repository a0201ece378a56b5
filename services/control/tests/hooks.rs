//! The recording hooks: a recording started and stopped through the experiments API makes each
//! connected, enabled camera receive start_recording / stop_recording once, and every outcome
//! (acked, not acknowledged) lands in the logbook with the recording's id.

mod support;

use futures_util::SinkExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use srs_common::model::Role;
use srs_testkit::harness::TestServer;
use std::time::Duration;
use support::{device, next_text, Socket};
use tokio_tungstenite::tungstenite::Message;

const SERVICES: &[&srs_common::service::Service] = &[&srs_control::SERVICE, &srs_experiments::SERVICE];

async fn ack(socket: &mut Socket, command: &Value) {
    socket.send(Message::text(json!({"type": "ack", "id": command["id"], "ok": true}).to_string())).await.expect("ack");
}

/// An active experiment of `admin` whose config has `disabled` switched off: (id, participant).
async fn active_experiment(server: &TestServer, admin: &str, disabled: &[&str]) -> (String, String) {
    let config = server.created(admin, "/api/v1/sensor-configs", json!({"name": "cams"})).await;
    let switches: Vec<Value> = disabled.iter().map(|id| json!({"id": id, "enabled": false})).collect();
    let (status, _) =
        server.put(admin, &format!("/api/v1/sensor-configs/{}", config["id"].as_str().expect("id")), json!({"sensors": switches})).await;
    assert_eq!(status, StatusCode::OK);
    let experiment = server.created(admin, "/api/v1/experiments", json!({"name": "Hooks", "sensor_config_id": config["id"]})).await;
    let id = experiment["id"].as_str().expect("id").to_owned();
    let participant = server.created(admin, &format!("/api/v1/experiments/{id}/participants"), json!({"code": "P01"})).await;
    server.post(admin, &format!("/api/v1/experiments/{id}/activate"), json!({})).await;
    (id, participant["id"].as_str().expect("id").to_owned())
}

/// The logbook lines of `recording`, waiting (up to 5 s) until there are `count`.
async fn log_lines(server: &TestServer, admin: &str, experiment: &str, recording: &str, count: usize) -> Vec<String> {
    for _ in 0..100 {
        let (_, entries) = server.get(admin, &format!("/api/v1/experiments/{experiment}/logbook")).await;
        let lines: Vec<String> = entries
            .as_array()
            .expect("entries")
            .iter()
            .filter(|e| e["recording_id"] == recording)
            .map(|e| e["message"].as_str().expect("message").to_owned())
            .collect();
        if lines.len() >= count {
            let mut lines = lines;
            lines.sort();
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the logbook never got {count} lines for {recording}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cameras_start_and_stop_with_the_recording_and_the_logbook_says_how_it_went() {
    let server = TestServer::start(SERVICES, &[("SRS__CONTROL__HOOK_TIMEOUT_MS", "500")]).await;
    let (_, admin) = server.user("root", Role::Admin).await;
    let (experiment, participant) = active_experiment(&server, &admin, &[]).await;
    let mut willing = device(&server, "cam-1", &admin).await;
    let mut silent = device(&server, "cam-2", &admin).await;

    let recording = server.created(&admin, "/api/v1/recordings", json!({"experiment_id": experiment, "participant_id": participant})).await;
    let recording_id = recording["id"].as_str().expect("id");
    let start = next_text(&mut willing, Duration::from_secs(5)).await.expect("start_recording");
    assert_eq!((start["command"].as_str(), start["args"]["recording_id"].as_str()), (Some("start_recording"), Some(recording_id)));
    ack(&mut willing, &start).await;
    let unanswered = next_text(&mut silent, Duration::from_secs(5)).await.expect("cam-2 gets it too");
    assert_eq!(unanswered["command"], "start_recording");
    assert_eq!(
        log_lines(&server, &admin, &experiment, recording_id, 2).await,
        ["cam-1 acknowledged start_recording", "cam-2 did not acknowledge start_recording within 0.5 s"]
    );
    assert!(next_text(&mut willing, Duration::from_millis(500)).await.is_none(), "sent once");

    let (status, _) = server.post(&admin, &format!("/api/v1/recordings/{recording_id}/stop"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let stop = next_text(&mut willing, Duration::from_secs(5)).await.expect("stop_recording");
    assert_eq!(stop["command"], "stop_recording");
    ack(&mut willing, &stop).await;
    let lines = log_lines(&server, &admin, &experiment, recording_id, 4).await;
    assert!(lines.contains(&"cam-1 acknowledged stop_recording".to_owned()), "{lines:?}");
    // The history shows who sent them.
    let (_, history) = server.get(&admin, "/api/v1/devices/cam-1/commands").await;
    assert_eq!(history[0]["sent_by"], "control");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_the_config_disables_is_left_alone() {
    let server = TestServer::start(SERVICES, &[("SRS__CONTROL__HOOK_TIMEOUT_MS", "500")]).await;
    let (_, admin) = server.user("root", Role::Admin).await;
    let (experiment, participant) = active_experiment(&server, &admin, &["cam-2"]).await;
    let mut enabled = device(&server, "cam-1", &admin).await;
    let mut disabled = device(&server, "cam-2", &admin).await;
    let recording = server.created(&admin, "/api/v1/recordings", json!({"experiment_id": experiment, "participant_id": participant})).await;
    let start = next_text(&mut enabled, Duration::from_secs(5)).await.expect("start_recording");
    ack(&mut enabled, &start).await;
    assert!(next_text(&mut disabled, Duration::from_secs(1)).await.is_none(), "cam-2 is not part of this config");
    let lines = log_lines(&server, &admin, &experiment, recording["id"].as_str().expect("id"), 1).await;
    assert_eq!(lines, ["cam-1 acknowledged start_recording"]);
    server.stop().await;
}
