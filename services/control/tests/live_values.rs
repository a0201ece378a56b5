//! Live values over real sockets, on the in-process bus and on the real RabbitMQ: a client
//! subscribed at 50 Hz gets exactly API.md's min/max decimation of a posted signal with spikes
//! (every field: floats, integers, booleans, strings, and a gap), within a second of the post,
//! while a client that never reads is flooded with values of other sensors — it loses frames,
//! the healthy one loses none.
//!
//! Each test has a sensors file of its own with sensor ids no other test uses, so tests that
//! share the broker cannot mix their values.

mod support;

use futures_util::SinkExt;
use serde_json::{json, Value};
use srs_common::model::Role;
use srs_testkit::harness::{amqp_settings, TestServer};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::{next_text, ws_url, Socket};
use tokio_tungstenite::tungstenite::Message;

const SERVICES: &[&srs_common::service::Service] = &[&srs_ingest::SERVICE, &srs_experiments::SERVICE, &srs_control::SERVICE];
const MS: i64 = 1_000_000;
/// 50 Hz: buckets of 40 ms.
const BUCKET: i64 = 40 * MS;
const FLOOD_SENSORS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_are_the_exact_decimation_on_the_in_process_bus() {
    exact_decimation(Vec::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_are_the_exact_decimation_through_rabbitmq() {
    exact_decimation(amqp_settings()).await;
}

/// A sensors file with one probe (every field type) and the flood sensors, ids unique to this run.
fn sensors_file(dir: &std::path::Path, run: &str) -> std::path::PathBuf {
    let mut sensors = vec![json!({"id": format!("probe-{run}"), "type": "probe"})];
    sensors.extend((0..FLOOD_SENSORS).map(|i| json!({"id": format!("flood-{run}-{i}"), "type": "blob"})));
    let file = json!({
        "sensor_types": [
            {"name": "probe", "fields": [
                {"name": "level", "type": "f64"}, {"name": "count", "type": "i64"},
                {"name": "on", "type": "bool"}, {"name": "state", "type": "string"}
            ]},
            {"name": "blob", "fields": [{"name": "text", "type": "string"}]}
        ],
        "sensors": sensors,
    });
    let path = dir.join(format!("sensors-{run}.json"));
    std::fs::write(&path, file.to_string()).expect("sensors file");
    path
}

/// The known signal: 250 Hz for 2.4 s, spikes up and down, steps in the integer, boolean and
/// string fields, and 64 ms without `level` (so at least one bucket has none).
fn signal(t0: i64) -> Vec<(i64, Value)> {
    (0..600i64)
        .map(|i| {
            let mut level = (i as f64 / 10.0).sin();
            if i % 53 == 0 {
                level += 8.0;
            }
            if i % 71 == 0 {
                level -= 8.0;
            }
            let mut values = json!({"count": i / 7, "on": (i / 30) % 2 == 0, "state": format!("s{}", i / 45)});
            if !(100..116).contains(&i) {
                values["level"] = json!(level);
            }
            (t0 + i * 4 * MS, values)
        })
        .collect()
}

/// API.md's decimation of `samples` at 50 Hz, computed here from scratch: per bucket its start
/// and middle, and per field the minimum then the maximum (strings: the last value twice).
fn decimate(samples: &[(i64, Value)]) -> (Vec<i64>, BTreeMap<String, Vec<Value>>) {
    let mut buckets: BTreeMap<i64, Vec<&Value>> = BTreeMap::new();
    for (ts, values) in samples {
        buckets.entry(ts - ts.rem_euclid(BUCKET)).or_default().push(values);
    }
    let ts = buckets.keys().flat_map(|start| [*start, start + BUCKET / 2]).collect();
    let mut fields = BTreeMap::new();
    for field in ["level", "count", "on", "state"] {
        let column: &mut Vec<Value> = fields.entry(field.to_owned()).or_default();
        for values in buckets.values() {
            let present: Vec<&Value> = values.iter().filter_map(|v| v.get(field)).collect();
            let pair = match present.last() {
                None => [Value::Null, Value::Null],
                Some(Value::String(last)) => [json!(last), json!(last)],
                Some(_) => {
                    let numbers =
                        present.iter().map(|v| v.as_f64().or_else(|| v.as_bool().map(|b| f64::from(u8::from(b)))).expect("number"));
                    let (min, max) = numbers.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
                    [json!(min), json!(max)]
                }
            };
            column.extend(pair);
        }
    }
    (ts, fields)
}

/// Equal as JSON, numbers by value (an integer field's 3 is the 3.0 computed here).
fn same(got: &Value, want: &Value) -> bool {
    match (got.as_f64(), want.as_f64()) {
        (Some(got), Some(want)) => got == want,
        _ => got == want,
    }
}

async fn live(server: &TestServer, token: &str) -> Socket {
    tokio_tungstenite::connect_async(ws_url(server, &format!("/api/v1/ws/live?access_token={token}"))).await.expect("connect").0
}

/// A live socket whose receive buffer is tiny and which is never read: the server soon cannot
/// write to it.
async fn stalled(server: &TestServer, token: &str) -> Socket {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(2048).expect("small buffer");
    let address = server.url.trim_start_matches("http://").parse().expect("address");
    let stream = socket.connect(address).await.expect("connect");
    let url = ws_url(server, &format!("/api/v1/ws/live?access_token={token}"));
    let (socket, _) = tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream)).await.expect("upgrade");
    socket
}

async fn subscribe(socket: &mut Socket, sensors: &[String], max_hz: u32) -> Value {
    let message = json!({"type": "subscribe", "sensors": sensors, "max_hz": max_hz});
    socket.send(Message::text(message.to_string())).await.expect("subscribe");
    loop {
        let answer = next_text(socket, Duration::from_secs(5)).await.expect("an answer");
        if answer["type"] == "subscribed" {
            return answer;
        }
    }
}

async fn post(server: &TestServer, sensor: &str, samples: &[(i64, Value)]) {
    let body: Vec<Value> = samples.iter().map(|(ts, values)| json!({"ts": ts, "values": values})).collect();
    let (status, answer) = server.call(reqwest::Method::POST, &format!("/api/v1/sensors/{sensor}/samples"), None, Some(json!(body))).await;
    assert_eq!(status, 200, "{answer}");
}

/// The values frames of `sensor` on `socket` until `deadline` or until `points` points came.
async fn collect(
    socket: &mut Socket,
    sensor: &str,
    points: usize,
    deadline: Instant,
) -> (Vec<i64>, BTreeMap<String, Vec<Value>>, Vec<Value>) {
    let (mut ts, mut fields, mut frames) = (Vec::new(), BTreeMap::<String, Vec<Value>>::new(), Vec::new());
    while ts.len() < points {
        let wait = deadline.saturating_duration_since(Instant::now());
        let Some(frame) = next_text(socket, wait).await else { break };
        if frame["type"] != "values" || frame["sensor_id"] != sensor {
            continue;
        }
        ts.extend(frame["ts"].as_array().expect("ts").iter().map(|t| t.as_i64().expect("ns")));
        for (name, column) in frame["fields"].as_object().expect("fields") {
            fields.entry(name.clone()).or_default().extend(column.as_array().expect("column").iter().cloned());
        }
        frames.push(frame);
    }
    (ts, fields, frames)
}

async fn exact_decimation(bus: Vec<(String, String)>) {
    let run = srs_common::model::new_id();
    let dir = tempfile::tempdir().expect("dir");
    let mut settings = bus;
    settings.push(("SRS__SENSORS__FILE".into(), sensors_file(dir.path(), &run).display().to_string()));
    let server = TestServer::start_with(SERVICES, settings).await;
    let (_, token) = server.user("ada", Role::Operator).await;
    let probe = format!("probe-{run}");
    let floods: Vec<String> = (0..FLOOD_SENSORS).map(|i| format!("flood-{run}-{i}")).collect();

    // The stalled client wants everything at the full rate; the healthy one the probe at 50 Hz.
    let mut stalled = stalled(&server, &token).await;
    let mut everything = floods.clone();
    everything.push(probe.clone());
    let message = json!({"type": "subscribe", "sensors": everything, "max_hz": 500});
    stalled.send(Message::text(message.to_string())).await.expect("subscribe");
    let mut healthy = live(&server, &token).await;
    let answer = subscribe(&mut healthy, &[probe.clone(), "no-such-sensor".into()], 60).await;
    assert_eq!(
        (answer["sensors"].clone(), answer["max_hz"].clone(), answer["unknown"].clone()),
        (json!([probe]), json!(50), json!(["no-such-sensor"]))
    );

    // Once ingest knows the probe is watched, a lone early sample comes back (flushed when idle).
    let now = srs_common::time::now_ns();
    let t0 = now - 3_000 * MS - now.rem_euclid(BUCKET) + 1_500_000;
    let warm_up = (t0 - 5_000 * MS, json!({"count": 1}));
    let ready = Instant::now() + Duration::from_secs(10);
    loop {
        post(&server, &probe, std::slice::from_ref(&warm_up)).await;
        let (ts, _, _) = collect(&mut healthy, &probe, 2, Instant::now() + Duration::from_millis(700)).await;
        if !ts.is_empty() {
            assert_eq!(ts[0], warm_up.0 - warm_up.0.rem_euclid(BUCKET));
            break;
        }
        assert!(Instant::now() < ready, "live values never started");
    }

    // The flood: every flood sensor at 250 Hz with long strings (megabytes a second for the
    // stalled client, more than its socket buffers hold), posted in real time meanwhile.
    let flood = {
        let (client, url, floods) = (server.client.clone(), server.url.clone(), floods.clone());
        tokio::spawn(async move {
            for round in 0..40i64 {
                let start = srs_common::time::now_ns();
                for sensor in &floods {
                    let body: Vec<Value> = (0..25)
                        .map(|i| json!({"ts": start + i * 4 * MS, "values": {"text": format!("{round}-{i}-{}", "x".repeat(1_500))}}))
                        .collect();
                    let response = client.post(format!("{url}/api/v1/sensors/{sensor}/samples")).json(&body).send().await.expect("flood");
                    assert_eq!(response.status(), 200);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let samples = signal(t0);
    for part in samples.chunks(150) {
        post(&server, &probe, part).await;
    }
    let posted = Instant::now();
    let (expected_ts, expected_fields) = decimate(&samples);
    let (ts, fields, frames) = collect(&mut healthy, &probe, expected_ts.len(), posted + Duration::from_secs(1)).await;
    assert_eq!(ts.len(), expected_ts.len(), "every point within 1 s of the post ({} frames)", frames.len());
    assert_eq!(ts, expected_ts);
    for (name, column) in &expected_fields {
        let got = fields.get(name).unwrap_or_else(|| panic!("no field {name}"));
        assert_eq!(got.len(), column.len(), "field {name}");
        for (point, (got, want)) in got.iter().zip(column).enumerate() {
            assert!(same(got, want), "field {name}, point {point} (ts {}): got {got}, want {want}", ts[point]);
        }
    }
    assert!(frames.iter().all(|f| f.get("dropped").is_none()), "the healthy client lost nothing");
    assert!(frames.iter().all(|f| f["at"].is_string()));

    // A long frame (kilobytes of strings) arrives whole and intact.
    subscribe(&mut healthy, &floods[..1], 25).await;
    let (_, fields, frames) = collect(&mut healthy, &floods[0], 16, Instant::now() + Duration::from_secs(3)).await;
    let longest = frames.iter().map(|f| f.to_string().len()).max().unwrap_or(0);
    assert!(longest > 4_096, "a frame of {longest} bytes");
    let text = fields["text"].iter().find_map(Value::as_str).expect("text values");
    assert!(text.len() > 1_500 && text.ends_with(&"x".repeat(1_500)), "{text}");
    flood.await.expect("flood posted");

    // The stall was real: the server dropped frames for the client that never reads.
    let metrics = server.client.get(format!("{}/metrics", server.url)).send().await.expect("metrics").text().await.expect("text");
    let dropped: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("srs_live_dropped_frames_total "))
        .and_then(|n| n.trim().parse().ok())
        .expect("dropped frames metric");
    assert!(dropped > 0.0, "the stalled client never filled its queue");
    // Gone, as a dead browser tab's socket goes (the server cannot flush its bytes otherwise).
    drop(stalled);
    server.stop().await;
}
