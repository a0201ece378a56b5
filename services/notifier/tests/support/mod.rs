//! What the notifier tests share: a real HTTP receiver standing in for the webhook and Slack,
//! a lab whose sensors no other test posts for, the `srs-notifier` binary run as an admin runs
//! it, and waiting for a condition.
#![allow(dead_code)]

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};
use srs_testkit::harness::TestServer;
use std::future::Future;
use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// `/hook` (the webhook channel) or `/slack`.
    pub path: String,
    pub delivery: Option<String>,
    pub signature: Option<String>,
    pub body: Vec<u8>,
    /// Whether the receiver answered 200 (it refuses the first `refuse` requests to `/hook`).
    pub taken: bool,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// A receiver on a free port that answers 500 to the first `refuse` webhook requests.
    pub async fn start(refuse: usize) -> Self {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let refusals = Arc::new(AtomicUsize::new(refuse));
        let log = received.clone();
        let server = HttpServer::new(move || {
            let (log, refusals) = (log.clone(), refusals.clone());
            App::new().default_service(web::post().to(move |request: HttpRequest, body: web::Bytes| {
                let (log, refusals) = (log.clone(), refusals.clone());
                async move {
                    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                    let path = request.path().to_owned();
                    let refused =
                        path == "/hook" && refusals.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
                    let delivery = header("x-srs-delivery");
                    let signature = header("x-srs-signature");
                    log.lock().expect("lock").push(Received { path, delivery, signature, body: body.to_vec(), taken: !refused });
                    if refused {
                        HttpResponse::InternalServerError().body("not now")
                    } else {
                        HttpResponse::Ok().body("ok")
                    }
                }
            }))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .expect("bind");
        let url = format!("http://{}", server.addrs()[0]);
        tokio::spawn(server.run());
        Self { url, received }
    }

    pub fn all(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// The webhook messages taken, as JSON, that `keep` selects.
    pub fn messages(&self, keep: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.all().iter().filter(|r| r.path == "/hook" && r.taken).map(Received::json).filter(|m| keep(m)).collect()
    }

    /// The webhook messages taken about `subject`, as (rule, notice) in arrival order.
    pub fn notices(&self, subject: &str) -> Vec<(String, String)> {
        self.messages(|m| m["alert"]["subject"] == subject)
            .iter()
            .map(|m| (m["alert"]["rule"].as_str().unwrap_or("").to_owned(), m["notice"].as_str().unwrap_or("").to_owned()))
            .collect()
    }
}

/// The notifier settings of the tests: the webhook channel to `receiver`, short times, the
/// disk rule off unless a test turns it on, and a queue of the test's own (`queue`).
pub fn notifier_settings(receiver: &Receiver, queue: &str) -> Vec<(String, String)> {
    [
        ("SRS__NOTIFIER__WEBHOOK__URL", format!("{}/hook", receiver.url)),
        ("SRS__NOTIFIER__WEBHOOK__SECRET", "s3cret".into()),
        ("SRS__NOTIFIER__SILENCE_SECS", "2".into()),
        ("SRS__NOTIFIER__STARTUP_GRACE_SECS", "2".into()),
        ("SRS__NOTIFIER__DISK_FREE_MIN_MB", "0".into()),
        ("SRS__NOTIFIER__DISK_FREE_MIN_PERCENT", "0".into()),
        ("SRS__NOTIFIER__DISK_CHECK_SECS", "1".into()),
        ("SRS__NOTIFIER__QUEUE", queue.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A sensors file of `count` sensors (`{run}-0`, `{run}-1`, ...) of a one-field type, so that
/// no other test on the shared broker posts for them.
pub fn sensors_file(dir: &Path, run: &str, count: usize) -> (String, Vec<String>) {
    let ids: Vec<String> = (0..count).map(|i| format!("{run}-{i}")).collect();
    let sensors: Vec<Value> = ids.iter().map(|id| json!({"id": id, "type": "probe"})).collect();
    let file = json!({"sensor_types": [{"name": "probe", "fields": [{"name": "level", "type": "f64"}], "commands": ["snapshot"]}], "sensors": sensors});
    let path = dir.join(format!("sensors-{run}.json"));
    std::fs::write(&path, file.to_string()).expect("sensors file");
    (path.display().to_string(), ids)
}

/// An active experiment of `admin` whose config enables every sensor: (experiment, participant).
pub async fn active_experiment(server: &TestServer, admin: &str, name: &str) -> (String, String) {
    let config = server.created(admin, "/api/v1/sensor-configs", json!({"name": name})).await;
    let experiment = server.created(admin, "/api/v1/experiments", json!({"name": name, "sensor_config_id": config["id"]})).await;
    let id = experiment["id"].as_str().expect("id").to_owned();
    let participant = server.created(admin, &format!("/api/v1/experiments/{id}/participants"), json!({"code": "P01"})).await;
    let (status, body) = server.post(admin, &format!("/api/v1/experiments/{id}/activate"), json!({})).await;
    assert!(status.is_success(), "{body}");
    (id, participant["id"].as_str().expect("id").to_owned())
}

/// Starts a recording; returns its id.
pub async fn start_recording(server: &TestServer, admin: &str, experiment: &str, participant: &str) -> String {
    let recording = server.created(admin, "/api/v1/recordings", json!({"experiment_id": experiment, "participant_id": participant})).await;
    recording["id"].as_str().expect("id").to_owned()
}

/// Posts one sample for each of `sensors`, now.
pub async fn post_samples(server: &TestServer, sensors: &[String]) {
    let samples: Vec<Value> = sensors.iter().map(|id| json!({"sensor_id": id, "values": {"level": 1.0}})).collect();
    let response = server.client.post(format!("{}/api/v1/samples", server.url)).json(&samples).send().await.expect("post");
    assert!(response.status().is_success(), "{}", response.text().await.unwrap_or_default());
}

/// `srs-notifier` on the store in `dir` and the test broker, with `settings`; its base URL.
pub fn notifier_process(dir: &Path, settings: &[(String, String)]) -> (Child, String) {
    let mut command = srs_testkit::service_command(env!("CARGO_BIN_EXE_srs-notifier"), dir);
    command.env("SRS__DATA__DIR", dir);
    for (key, value) in srs_testkit::harness::amqp_settings().iter().chain(settings) {
        command.env(key, value);
    }
    srs_testkit::spawn_listening(command, "srs-notifier")
}

/// `GET {base}{path}` with `token`, as JSON.
pub async fn get_json(base: &str, token: &str, path: &str) -> Value {
    let response = reqwest::Client::new().get(format!("{base}{path}")).bearer_auth(token).send().await.expect("get");
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.expect("json")
}

/// Polls `condition` every 100 ms until it holds or `timeout` passes; says whether it held.
pub async fn eventually<F: Future<Output = bool>>(timeout: Duration, mut condition: impl FnMut() -> F) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
