//! What the control tests share: a WebSocket client of a test server, a device that is
//! connected once the server lists it, and reading the next JSON message.
#![allow(dead_code)]

use futures_util::StreamExt;
use serde_json::Value;
use srs_testkit::harness::TestServer;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The `ws://` URL of `path` on `server`.
pub fn ws_url(server: &TestServer, path: &str) -> String {
    format!("{}{path}", server.url.replacen("http://", "ws://", 1))
}

/// A device socket of `sensor`, returned once `GET /api/v1/devices` lists it.
pub async fn device(server: &TestServer, sensor: &str, token: &str) -> Socket {
    let (socket, _) = tokio_tungstenite::connect_async(ws_url(server, &format!("/api/v1/ws/devices/{sensor}"))).await.expect("connect");
    for _ in 0..100 {
        let (_, devices) = server.get(token, "/api/v1/devices").await;
        if devices.as_array().is_some_and(|d| d.iter().any(|d| d["sensor_id"] == sensor)) {
            return socket;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{sensor} never showed as connected");
}

/// The next text message as JSON, if one comes within `wait`.
pub async fn next_text(socket: &mut Socket, wait: Duration) -> Option<Value> {
    let read = async {
        loop {
            if let Message::Text(text) = socket.next().await.expect("open").expect("readable") {
                return serde_json::from_str::<Value>(&text).expect("json");
            }
        }
    };
    tokio::time::timeout(wait, read).await.ok()
}
