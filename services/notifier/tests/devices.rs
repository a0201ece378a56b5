//! `device_disconnected` against the real control service, all in one process as `srs serve`
//! runs it (in-process bus, SQLite): a device that drops its socket during a recording raises
//! one alert, with the recording's facts, and one `resolved` when it connects again; one that
//! comes and goes outside recordings alerts nobody; the operators' live socket shows both; a
//! rule switched off (`sensor_silent` here) stays quiet.

mod support;

use futures_util::StreamExt;
use serde_json::Value;
use srs_common::model::Role;
use srs_testkit::harness::TestServer;
use std::time::Duration;
use support::*;
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn ws(server: &TestServer, path: &str) -> String {
    format!("{}{path}", server.url.replacen("http://", "ws://", 1))
}

/// A device socket of `sensor`, once `GET /api/v1/devices` lists it.
async fn connect(server: &TestServer, token: &str, sensor: &str) -> Socket {
    let (socket, _) = tokio_tungstenite::connect_async(ws(server, &format!("/api/v1/ws/devices/{sensor}"))).await.expect("connect");
    let listed = eventually(Duration::from_secs(5), || async {
        let (_, devices) = server.get(token, "/api/v1/devices").await;
        devices.as_array().is_some_and(|d| d.iter().any(|d| d["sensor_id"] == sensor))
    })
    .await;
    assert!(listed, "{sensor} never showed as connected");
    socket
}

/// Closes the device's socket and waits until control no longer lists it.
async fn disconnect(server: &TestServer, token: &str, sensor: &str, mut socket: Socket) {
    socket.close(None).await.expect("close");
    let gone = eventually(Duration::from_secs(5), || async {
        let (_, devices) = server.get(token, "/api/v1/devices").await;
        devices.as_array().is_some_and(|d| d.iter().all(|d| d["sensor_id"] != sensor))
    })
    .await;
    assert!(gone, "{sensor} is still listed");
}

/// The next `alert` frame of the live socket, within 10 s.
async fn next_alert(live: &mut Socket) -> Value {
    let read = async {
        loop {
            if let Message::Text(text) = live.next().await.expect("open").expect("readable") {
                let frame: Value = serde_json::from_str(&text).expect("json");
                if frame["type"] == "alert" {
                    return frame;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.expect("an alert frame")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_lost_during_a_recording_alerts_until_it_is_back() {
    let receiver = Receiver::start(0).await;
    let files = tempfile::tempdir().expect("tempdir");
    let (sensors_file, ids) = sensors_file(files.path(), "cam", 1);
    let mut settings = notifier_settings(&receiver, "notifier.events");
    settings.push(("SRS__SENSORS__FILE".into(), sensors_file));
    // The camera posts no samples: with sensor_silent off, only the device rule speaks.
    settings.push(("SRS__NOTIFIER__RULES_DISABLED".into(), "sensor_silent,export_completed".into()));
    let services = [&srs_control::SERVICE, &srs_experiments::SERVICE, &srs_notifier::SERVICE];
    let server = TestServer::start_with(&services, settings).await;
    let (_, admin) = server.user("root", Role::Admin).await;
    let (experiment, participant) = active_experiment(&server, &admin, "Devices").await;
    let camera = ids[0].clone();
    let url = format!("{}?access_token={admin}", ws(&server, "/api/v1/ws/live"));
    let (mut live, _) = tokio_tungstenite::connect_async(url).await.expect("live socket");

    // Outside a recording a device may come and go.
    let socket = connect(&server, &admin, &camera).await;
    disconnect(&server, &admin, &camera, socket).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(receiver.notices(&camera).is_empty(), "{:?}", receiver.all());

    let socket = connect(&server, &admin, &camera).await;
    let recording = start_recording(&server, &admin, &experiment, &participant).await;
    disconnect(&server, &admin, &camera, socket).await;
    assert!(eventually(Duration::from_secs(10), || async { !receiver.notices(&camera).is_empty() }).await, "the alert arrives");
    let message = receiver.messages(|m| m["alert"]["subject"] == camera.as_str()).remove(0);
    assert_eq!((message["alert"]["rule"].as_str(), message["notice"].as_str()), (Some("device_disconnected"), Some("fired")));
    assert_eq!(message["alert"]["details"]["experiment"], "Devices");
    assert_eq!(message["alert"]["details"]["participant"], "P01");
    assert_eq!(message["link"], format!("/console/recordings/{recording}"));
    let frame = next_alert(&mut live).await;
    assert_eq!(
        (frame["alert"].as_str(), frame["rule"].as_str(), frame["subject"].as_str()),
        (Some("fired"), Some("device_disconnected"), Some(camera.as_str()))
    );

    let _socket = connect(&server, &admin, &camera).await;
    assert!(eventually(Duration::from_secs(10), || async { receiver.notices(&camera).len() >= 2 }).await, "resolved");
    let frame = next_alert(&mut live).await;
    assert_eq!((frame["alert"].as_str(), frame["state"].as_str()), (Some("resolved"), Some("resolved")));
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Switched off: the camera never posted, and yet no sensor_silent.
    let notices: Vec<String> = receiver.notices(&camera).into_iter().map(|(rule, notice)| format!("{rule} {notice}")).collect();
    assert_eq!(notices, ["device_disconnected fired", "device_disconnected resolved"]);

    let (_, alerts) = server.get(&admin, "/api/v1/notifications?limit=10").await;
    let alert = &alerts.as_array().expect("alerts")[0];
    assert_eq!((alert["rule"].as_str(), alert["state"].as_str()), (Some("device_disconnected"), Some("resolved")), "{alert}");
    let deliveries: Vec<(&str, &str)> = alert["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .map(|d| (d["notice"].as_str().unwrap_or(""), d["status"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(deliveries, [("fired", "delivered"), ("resolved", "delivered")]);
    let metrics = server.client.get(format!("{}/metrics", server.url)).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains(r#"srs_alerts_total{rule="device_disconnected"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"srs_alert_delivery_attempts_total{channel="webhook",outcome="delivered"} 2"#), "{metrics}");
    server.stop().await;
}
