//! The live feed over real sockets: who may open it (token, origin), what it carries (device
//! and recording events, one activity frame a second from ingest), and that a client that never
//! reads holds up nobody.

mod support;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use srs_common::model::Role;
use srs_testkit::harness::TestServer;
use std::time::Duration;
use support::{ws_url, Socket};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

const SERVICES: &[&srs_common::service::Service] = &[&srs_ingest::SERVICE, &srs_experiments::SERVICE, &srs_control::SERVICE];

async fn live(server: &TestServer, token: &str) -> Socket {
    tokio_tungstenite::connect_async(ws_url(server, &format!("/api/v1/ws/live?access_token={token}"))).await.expect("connect").0
}

/// The next frame of `kind` within 5 s (others are skipped).
async fn frame_of(socket: &mut Socket, kind: &str) -> Value {
    let read = async {
        loop {
            if let Message::Text(text) = socket.next().await.expect("open").expect("readable") {
                let frame: Value = serde_json::from_str(&text).expect("json");
                if frame["type"] == kind {
                    return frame;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read).await.unwrap_or_else(|_| panic!("no {kind} frame within 5 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_feed_carries_devices_recordings_and_activity() {
    let server = TestServer::start(SERVICES, &[]).await;
    let (_, admin) = server.user("root", Role::Admin).await;
    let mut feed = live(&server, &admin).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (mut camera, _) = tokio_tungstenite::connect_async(ws_url(&server, "/api/v1/ws/devices/cam-1")).await.expect("device");
    let connected = frame_of(&mut feed, "device_connected").await;
    assert_eq!((connected["sensor_id"].as_str(), connected["type"].as_str()), (Some("cam-1"), Some("device_connected")));
    futures_util::SinkExt::send(&mut camera, Message::text(r#"{"type": "status", "state": {"recording": false}}"#)).await.expect("status");
    let status = frame_of(&mut feed, "device_status").await;
    assert_eq!(status["state"], json!({"recording": false}));

    let config = server.created(&admin, "/api/v1/sensor-configs", json!({"name": "all"})).await;
    let experiment = server.created(&admin, "/api/v1/experiments", json!({"name": "Live", "sensor_config_id": config["id"]})).await;
    let id = experiment["id"].as_str().expect("id");
    let participant = server.created(&admin, &format!("/api/v1/experiments/{id}/participants"), json!({"code": "P01"})).await;
    server.post(&admin, &format!("/api/v1/experiments/{id}/activate"), json!({})).await;
    let recording = server.created(&admin, "/api/v1/recordings", json!({"experiment_id": id, "participant_id": participant["id"]})).await;
    let started = frame_of(&mut feed, "recording_started").await;
    assert_eq!(started["recording_id"], recording["id"]);

    let now = srs_common::time::now_ns();
    let samples: Vec<Value> = (0..25)
        .map(|i| json!({"sensor_id": "ecg-1", "ts": now - 100_000_000 + i * 4_000_000, "values": {"lead_i": 0.1, "lead_ii": 0.2}}))
        .collect();
    let (status, answer) = server.call(reqwest::Method::POST, "/api/v1/samples", None, Some(json!(samples))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let activity = frame_of(&mut feed, "activity").await;
    let ecg = activity["sensors"].as_array().expect("sensors").iter().find(|s| s["sensor_id"] == "ecg-1").cloned().expect("ecg-1 active");
    assert_eq!(ecg["samples"], 25);
    assert!(activity["at"].is_string());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_signed_in_users_from_allowed_pages_get_the_feed() {
    let server = TestServer::start(SERVICES, &[("SRS__CONTROL__ALLOWED_ORIGINS", "https://console.lab.example")]).await;
    let (_, token) = server.user("ada", Role::Operator).await;
    // No token, or a bad one: the socket opens and closes with 1008.
    for path in ["/api/v1/ws/live", "/api/v1/ws/live?access_token=not-a-token"] {
        let (mut socket, _) = tokio_tungstenite::connect_async(ws_url(&server, path)).await.expect("connect");
        let closed = tokio::time::timeout(Duration::from_secs(5), socket.next()).await.expect("closed soon");
        match closed {
            Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Policy, "{path}"),
            other => panic!("{path}: expected a 1008 close, got {other:?}"),
        }
    }
    // The token as the WebSocket subprotocol, as browsers send it.
    let mut request = ws_url(&server, "/api/v1/ws/live").into_client_request().expect("request");
    request.headers_mut().insert("sec-websocket-protocol", format!("bearer, {token}").parse().expect("header"));
    let (_, response) = tokio_tungstenite::connect_async(request).await.expect("subprotocol");
    assert_eq!(response.headers()["sec-websocket-protocol"], "bearer");
    // Pages of other origins are refused before the upgrade; allowed ones and this server's own are not.
    let with_origin = |origin: &str| {
        let mut request = ws_url(&server, &format!("/api/v1/ws/live?access_token={token}")).into_client_request().expect("request");
        request.headers_mut().insert("origin", origin.parse().expect("origin"));
        request
    };
    match tokio_tungstenite::connect_async(with_origin("https://evil.example")).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|(_, r)| r.status())),
    }
    tokio_tungstenite::connect_async(with_origin("https://console.lab.example")).await.expect("allowed origin");
    tokio_tungstenite::connect_async(with_origin(&server.url)).await.expect("same origin");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_holds_up_nobody() {
    let server = TestServer::start(SERVICES, &[]).await;
    let (_, token) = server.user("ada", Role::Operator).await;
    let _stalled = live(&server, &token).await;
    let mut healthy = live(&server, &token).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Forty device connections, each an event for every live socket.
    for round in 0..20 {
        for sensor in ["cam-1", "cam-2"] {
            let (mut device, _) =
                tokio_tungstenite::connect_async(ws_url(&server, &format!("/api/v1/ws/devices/{sensor}"))).await.expect("device");
            let _ = device.close(None).await;
            let connected = frame_of(&mut healthy, "device_connected").await;
            assert_eq!(connected["sensor_id"], sensor, "round {round}");
            assert!(connected.get("dropped").is_none(), "the healthy client lost nothing");
        }
    }
    server.stop().await;
}
