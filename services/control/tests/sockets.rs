//! Device sockets and the status socket over real WebSockets, with the control and experiments
//! services in srs-testkit's harness.

mod support;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use srs_common::model::Role;
use srs_testkit::harness::TestServer;
use std::time::Duration;
use support::{ws_url, Socket};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

const SERVICES: &[&srs_common::service::Service] = &[&srs_control::SERVICE, &srs_experiments::SERVICE];

async fn connect(server: &TestServer, path: &str) -> Socket {
    tokio_tungstenite::connect_async(ws_url(server, path)).await.unwrap_or_else(|e| panic!("connect {path}: {e}")).0
}

/// The HTTP status a refused WebSocket handshake was answered with.
async fn refused(request: impl IntoClientRequest + Unpin) -> u16 {
    match tokio_tungstenite::connect_async(request).await {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected the handshake to be refused"),
    }
}

/// Reads until the server's close frame; returns its code and reason.
async fn close_of(socket: &mut Socket) -> (CloseCode, String) {
    let read = async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Close(Some(frame))) => return (frame.code, frame.reason.to_string()),
                Ok(Message::Close(None)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        panic!("the socket ended without a close frame");
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.expect("closed within 10 s")
}

/// The next text message, as JSON, within 5 s.
async fn next(socket: &mut Socket) -> Result<Value, tokio::time::error::Elapsed> {
    let read = async {
        loop {
            if let Message::Text(text) = socket.next().await.expect("a message").expect("readable") {
                return serde_json::from_str::<Value>(&text).expect("json");
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read).await
}

/// Waits (up to 5 s) until `GET /api/v1/devices` satisfies `done`.
async fn devices_until(server: &TestServer, token: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let (status, devices) = server.get(token, "/api/v1/devices").await;
        assert_eq!(status, StatusCode::OK, "{devices}");
        if done(&devices) {
            return devices;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("devices never got there: {}", server.get(token, "/api/v1/devices").await.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_reports_its_status_and_a_second_socket_replaces_the_first() {
    let server = TestServer::start(SERVICES, &[]).await;
    let (_, token) = server.user("ada", Role::Operator).await;
    let mut events = server.context.bus.subscribe(&["device.connected", "device.disconnected"]).await.expect("subscribe");
    let mut first = connect(&server, "/api/v1/ws/devices/cam-1").await;
    first.send(Message::text(r#"{"type": "status", "state": {"recording": false, "battery": 87}}"#)).await.expect("send");
    let devices = devices_until(&server, &token, |d| d[0]["last_status"].is_object()).await;
    assert_eq!((devices[0]["sensor_id"].as_str(), devices[0]["type"].as_str()), (Some("cam-1"), Some("camera")));
    assert_eq!(devices[0]["last_status"], json!({"recording": false, "battery": 87}));
    assert!(devices[0]["connected_at"].is_string() && devices[0]["last_status_at"].is_string());

    let mut second = connect(&server, "/api/v1/ws/devices/cam-1").await;
    assert_eq!(close_of(&mut first).await, (CloseCode::from(4000), "replaced".to_owned()));
    let devices = devices_until(&server, &token, |d| d[0]["last_status"].is_null()).await;
    assert_eq!(devices.as_array().map(Vec::len), Some(1), "one socket per sensor: {devices}");

    second.close(None).await.expect("close");
    devices_until(&server, &token, |d| d.as_array().is_some_and(Vec::is_empty)).await;
    // One connection and one disconnection: the replacement is neither.
    let mut kinds = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(500), events.recv()).await {
        assert_eq!(event.payload["sensor_id"], "cam-1");
        kinds.push(event.kind);
    }
    assert_eq!(kinds, ["device.connected", "device.disconnected"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_tokens_are_checked_before_the_socket_opens() {
    let settings = [("SRS__CONTROL__REQUIRE_DEVICE_TOKEN", "true"), ("SRS__CONTROL__DEVICE_TOKEN_CACHE_SECS", "0")];
    let server = TestServer::start(SERVICES, &settings).await;
    let (_, admin) = server.user("root", Role::Admin).await;
    let issued = server.created(&admin, "/api/v1/sensors/cam-1/tokens", json!({})).await;
    let device_token = issued["token"].as_str().expect("token");

    assert_eq!(refused(ws_url(&server, "/api/v1/ws/devices/cam-1")).await, 401, "no token");
    assert_eq!(refused(ws_url(&server, "/api/v1/ws/devices/cam-1?token=srs_dt_guess")).await, 401, "unknown token");
    assert_eq!(refused(ws_url(&server, &format!("/api/v1/ws/devices/cam-2?token={device_token}"))).await, 403, "another sensor's");
    assert_eq!(refused(ws_url(&server, &format!("/api/v1/ws/devices/cam-9?token={device_token}"))).await, 404, "no such sensor");

    let mut by_query = connect(&server, &format!("/api/v1/ws/devices/cam-1?token={device_token}")).await;
    by_query.close(None).await.expect("close");
    let mut request = ws_url(&server, "/api/v1/ws/devices/cam-1").into_client_request().expect("request");
    request.headers_mut().insert("authorization", format!("Bearer {device_token}").parse().expect("header"));
    let (mut by_header, _) = tokio_tungstenite::connect_async(request).await.expect("connect with the header");
    by_header.close(None).await.expect("close");

    // Revoked: refused from then on (the cache is off here).
    let token_id = issued["id"].as_str().expect("id");
    let (status, _) = server.delete(&admin, &format!("/api/v1/sensors/cam-1/tokens/{token_id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(refused(ws_url(&server, &format!("/api/v1/ws/devices/cam-1?token={device_token}"))).await, 401, "revoked");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_oversized_devices_are_closed() {
    let settings = [("SRS__CONTROL__PING_SECS", "1"), ("SRS__CONTROL__SILENCE_SECS", "2"), ("SRS__CONTROL__MAX_MESSAGE_BYTES", "1024")];
    let server = TestServer::start(SERVICES, &settings).await;
    let (_, token) = server.user("ada", Role::Operator).await;
    // Reads nothing, so it answers no ping: the server hangs up on it (its close frame may be
    // lost to the client's late pongs, so the server's list is what counts).
    let _silent = connect(&server, "/api/v1/ws/devices/cam-1").await;
    devices_until(&server, &token, |d| d.as_array().is_some_and(|d| d.len() == 1)).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (_, devices) = server.get(&token, "/api/v1/devices").await;
    assert_eq!(devices, json!([]), "closed after 2 s of silence");

    let mut chatty = connect(&server, "/api/v1/ws/devices/cam-2").await;
    chatty.send(Message::text(format!(r#"{{"type": "status", "state": {{"note": "{}"}}}}"#, "x".repeat(2000)))).await.expect("send");
    assert_eq!(close_of(&mut chatty).await.0, CloseCode::Size);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_every_socket_without_waiting_for_them() {
    let server = TestServer::start(SERVICES, &[("SRS__SERVER__SHUTDOWN_TIMEOUT_SECS", "120")]).await;
    let mut device = connect(&server, "/api/v1/ws/devices/cam-1").await;
    let mut status = connect(&server, "/api/v1/ws/status").await;
    let started = std::time::Instant::now();
    let stopping = tokio::spawn(server.stop());
    assert_eq!(close_of(&mut device).await, (CloseCode::Away, "shutting down".to_owned()));
    assert_eq!(close_of(&mut status).await.0, CloseCode::Away);
    stopping.await.expect("stopped");
    // Had the drain waited for the sockets, it would have taken the whole 120 s timeout.
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_socket_pushes_the_active_state_on_connect_and_on_change() {
    let server = TestServer::start(SERVICES, &[]).await;
    let (_, admin) = server.user("root", Role::Admin).await;
    let mut status = connect(&server, "/api/v1/ws/status").await;
    assert_eq!(next(&mut status).await.expect("on connect"), json!({"experiment": null, "recording": null}));

    let config = server.created(&admin, "/api/v1/sensor-configs", json!({"name": "all"})).await;
    let experiment = server.created(&admin, "/api/v1/experiments", json!({"name": "Stress", "sensor_config_id": config["id"]})).await;
    let id = experiment["id"].as_str().expect("id");
    let participant = server.created(&admin, &format!("/api/v1/experiments/{id}/participants"), json!({"code": "P07"})).await;
    server.post(&admin, &format!("/api/v1/experiments/{id}/activate"), json!({})).await;
    let activated = next(&mut status).await.expect("on activation");
    assert_eq!(activated, json!({"experiment": {"id": id, "name": "Stress"}, "recording": null}));
    let recording = server.created(&admin, "/api/v1/recordings", json!({"experiment_id": id, "participant_id": participant["id"]})).await;
    let recording_state = next(&mut status).await.expect("on the recording's start");
    assert_eq!(recording_state["recording"]["id"], recording["id"]);
    assert_eq!(recording_state["recording"]["participant_code"], "P07");

    // A plain HTTP request is told to upgrade, as problem+json.
    let (code, problem) = server.call(reqwest::Method::GET, "/api/v1/ws/status", None, None).await;
    assert_eq!((code.as_u16(), problem["code"].as_str()), (426, Some("upgrade_required")));
    server.stop().await;
}
