//! Device commands over real sockets: acked only when the device answers, 504 (and `timeout` in
//! the history) when it does not, 404 when it is not connected, nothing changed by a late ack,
//! and only the people running the active experiment (or admins) may send.

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

async fn ack(socket: &mut Socket, id: &Value, ok: bool, detail: &str) {
    let message = json!({"type": "ack", "id": id, "ok": ok, "detail": detail}).to_string();
    socket.send(Message::text(message)).await.expect("ack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_is_acked_only_by_the_device_and_kept_in_the_history() {
    let server = TestServer::start(SERVICES, &[]).await;
    let (admin_id, admin) = server.user("root", Role::Admin).await;
    let mut camera = device(&server, "cam-1", &admin).await;
    let post = {
        let (url, admin) = (format!("{}/api/v1/devices/cam-1/commands", server.url), admin.clone());
        tokio::spawn(async move {
            let body = json!({"command": "start_recording", "args": {"fps": 30}});
            srs_testkit::harness::answer(reqwest::Client::new().post(url).bearer_auth(admin).json(&body).send().await.expect("post")).await
        })
    };
    let command = next_text(&mut camera, Duration::from_secs(5)).await.expect("a command within 5 s");
    assert_eq!((command["type"].as_str(), command["command"].as_str()), (Some("command"), Some("start_recording")));
    assert_eq!(command["args"], json!({"fps": 30}));
    ack(&mut camera, &command["id"], true, "recording to disk 2").await;
    let (status, answer) = post.await.expect("answer");
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (answer["id"].clone(), answer["status"].as_str(), answer["ok"].as_bool()),
        (command["id"].clone(), Some("acked"), Some(true))
    );
    assert_eq!(answer["detail"], "recording to disk 2");
    assert!(answer["sent_at"].is_string() && answer["acked_at"].is_string());

    // A duplicate ack changes nothing.
    ack(&mut camera, &command["id"], false, "again").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, history) = server.get(&admin, "/api/v1/devices/cam-1/commands").await;
    assert_eq!(history.as_array().map(Vec::len), Some(1), "{history}");
    assert_eq!((history[0]["status"].as_str(), history[0]["ok"].as_bool()), (Some("acked"), Some(true)));
    assert_eq!(history[0]["sent_by"], admin_id.as_str());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ack_is_a_504_naming_the_command_and_a_late_ack_changes_nothing() {
    let server = TestServer::start(SERVICES, &[]).await;
    let (_, admin) = server.user("root", Role::Admin).await;
    let mut camera = device(&server, "cam-1", &admin).await;
    let (status, problem) = server.post(&admin, "/api/v1/devices/cam-1/commands", json!({"command": "snapshot", "timeout_ms": 300})).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::GATEWAY_TIMEOUT, Some("command_timeout")), "{problem}");
    let command = next_text(&mut camera, Duration::from_secs(5)).await.expect("a command within 5 s");
    assert_eq!(problem["command_id"], command["id"], "the problem names the command");
    ack(&mut camera, &command["id"], true, "too late").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, history) = server.get(&admin, "/api/v1/devices/cam-1/commands").await;
    assert_eq!((history[0]["id"].clone(), history[0]["status"].as_str()), (command["id"].clone(), Some("timeout")));
    assert!(history[0]["ok"].is_null());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_to_absent_devices_or_undeclared_commands_are_refused() {
    let server = TestServer::start(SERVICES, &[]).await;
    let (_, admin) = server.user("root", Role::Admin).await;
    let (status, problem) = server.post(&admin, "/api/v1/devices/cam-2/commands", json!({"command": "snapshot"})).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_connected")), "{problem}");
    let (_, history) = server.get(&admin, "/api/v1/devices/cam-2/commands").await;
    assert_eq!(history[0]["status"], "not_connected", "nothing is queued for later, and the attempt is kept");
    let (status, problem) = server.post(&admin, "/api/v1/devices/cam-2/commands", json!({"command": "self_destruct"})).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_command")), "{problem}");
    let (status, _) = server.post(&admin, "/api/v1/devices/cam-2/commands", json!({"command": "snapshot", "timeout_ms": 60001})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = server.post(&admin, "/api/v1/devices/cam-9/commands", json!({"command": "snapshot"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, problem) = server.get(&admin, "/api/v1/devices/cam-2/commands?limit=0").await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_query")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_those_running_the_active_experiment_may_send() {
    let server = TestServer::start(SERVICES, &[]).await;
    let (_, admin) = server.user("root", Role::Admin).await;
    let (_, owner) = server.user("erin", Role::Experimenter).await;
    let (operator_id, operator) = server.user("olga", Role::Operator).await;
    let (_, stranger) = server.user("sam", Role::Operator).await;
    let mut camera = device(&server, "cam-1", &admin).await;
    let send = |token: String| {
        let url = format!("{}/api/v1/devices/cam-1/commands", server.url);
        async move {
            let body = json!({"command": "snapshot", "timeout_ms": 2000});
            srs_testkit::harness::answer(reqwest::Client::new().post(url).bearer_auth(token).json(&body).send().await.expect("post")).await
        }
    };
    // No active experiment: admins only.
    let (status, problem) = send(operator.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");

    let config = server.created(&owner, "/api/v1/sensor-configs", json!({"name": "all"})).await;
    let experiment = server.created(&owner, "/api/v1/experiments", json!({"name": "Stress", "sensor_config_id": config["id"]})).await;
    let id = experiment["id"].as_str().expect("id");
    let (status, _) = server.put(&owner, &format!("/api/v1/experiments/{id}/operators"), json!({"user_ids": [operator_id]})).await;
    assert_eq!(status, StatusCode::OK);
    server.post(&owner, &format!("/api/v1/experiments/{id}/activate"), json!({})).await;

    // An operator of no active experiment learns nothing about it.
    let (status, problem) = send(stranger).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    assert!(!problem.to_string().contains(id), "{problem}");
    for token in [operator, owner] {
        let pending = tokio::spawn(send(token));
        let command = next_text(&mut camera, Duration::from_secs(5)).await.expect("a command within 5 s");
        ack(&mut camera, &command["id"], true, "ok").await;
        let (status, answer) = pending.await.expect("answer");
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    server.stop().await;
}
