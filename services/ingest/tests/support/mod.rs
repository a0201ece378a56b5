//! A real lab for ingest tests: the experiments and ingest services in srs-testkit's harness (as
//! in `srs serve`), a real SQLite file and a bus — with an admin, an experiment whose config
//! disables `cam-2`, and helpers to record and to post samples.
#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::{json, Value};
use srs_common::model::Role;
use srs_testkit::harness::{pairs, TestServer};
use std::ops::Deref;

pub struct Lab {
    server: TestServer,
    pub token: String,
    pub experiment_id: String,
    pub participant_id: String,
    pub task_id: String,
}

impl Deref for Lab {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.server
    }
}

const SERVICES: &[&srs_common::service::Service] = &[&srs_ingest::SERVICE, &srs_experiments::SERVICE];

impl Lab {
    /// A lab on the in-process bus; `settings` are `SRS__...` overrides.
    pub async fn start(settings: &[(&str, &str)]) -> Self {
        Self::start_with(pairs(settings)).await
    }

    /// With settings built at run time (e.g. `srs_testkit::harness::amqp_settings()`).
    pub async fn start_with(settings: Vec<(String, String)>) -> Self {
        Self::start_in(tempfile::tempdir().expect("tempdir"), settings).await
    }

    /// A lab whose data directory is `dir` (a small filesystem, say).
    pub async fn start_in(dir: tempfile::TempDir, settings: Vec<(String, String)>) -> Self {
        let server = TestServer::start_in(dir, SERVICES, settings).await;
        let (_, token) = server.user("admin", Role::Admin).await;
        let mut lab = Lab { server, token, experiment_id: String::new(), participant_id: String::new(), task_id: String::new() };
        let config = lab.api("POST", "/api/v1/sensor-configs", json!({"name": "all but cam-2"})).await;
        let config_id = config["id"].as_str().expect("id").to_owned();
        lab.api("PUT", &format!("/api/v1/sensor-configs/{config_id}"), json!({"sensors": [{"id": "cam-2", "enabled": false}]})).await;
        let experiment = lab.api("POST", "/api/v1/experiments", json!({"name": "ingest", "sensor_config_id": config_id})).await;
        lab.experiment_id = experiment["id"].as_str().expect("id").to_owned();
        let id = lab.experiment_id.clone();
        lab.participant_id = lab.api("POST", &format!("/api/v1/experiments/{id}/participants"), json!({"code": "P01"})).await["id"]
            .as_str()
            .expect("id")
            .to_owned();
        lab.task_id = lab.api("POST", &format!("/api/v1/experiments/{id}/tasks"), json!({"name": "rest"})).await["id"]
            .as_str()
            .expect("id")
            .to_owned();
        lab.api("POST", &format!("/api/v1/experiments/{id}/activate"), json!({})).await;
        lab
    }

    /// The SQLite file, for tests that lock it from outside.
    pub fn db_path(&self) -> std::path::PathBuf {
        self.dir.join("srs.db")
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }

    /// An experiments API call that must succeed.
    pub async fn api(&self, method: &str, path: &str, body: Value) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let response =
            self.client.request(method, format!("{}{path}", self.url)).bearer_auth(&self.token).json(&body).send().await.expect("send");
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {answer}");
        answer
    }

    /// Starts a recording. Samples posted once this returns are stored in it: the store decides
    /// at commit, no event needs to arrive first.
    pub async fn start_recording(&self) -> String {
        let body = json!({"experiment_id": self.experiment_id, "participant_id": self.participant_id, "task_id": self.task_id});
        self.api("POST", "/api/v1/recordings", body).await["id"].as_str().expect("id").to_owned()
    }

    pub async fn stop_recording(&self, recording: &str) -> Value {
        self.api("POST", &format!("/api/v1/recordings/{recording}/stop"), json!({})).await
    }

    /// Posts a body; returns the status and the JSON answer.
    pub async fn post(&self, path: &str, content_type: &str, body: String, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.client.post(format!("{}{path}", self.url)).header("content-type", content_type).body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("send");
        let status = response.status();
        let problem = response.headers().get("content-type").is_some_and(|v| v.as_bytes() == b"application/problem+json");
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            assert!(problem, "{status} must be problem+json: {answer}");
        }
        (status, answer)
    }

    pub async fn post_json(&self, body: Value) -> (StatusCode, Value) {
        self.post("/api/v1/samples", "application/json", body.to_string(), None).await
    }

    /// Waits (up to 10 s) until the experiment has at least `count` samples; how many it has.
    pub async fn wait_stored(&self, count: u64) -> u64 {
        for _ in 0..200 {
            if self.stored().await >= count {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.stored().await
    }

    /// Samples stored for the experiment.
    pub async fn stored(&self) -> u64 {
        let query = srs_common::model::SampleQuery { experiment_id: self.experiment_id.clone(), ..Default::default() };
        self.context.store.count_samples(&query).await.expect("count")
    }
}

/// `n` ECG samples with ids `{prefix}:{i}`, 4 ms apart.
pub fn ecg(prefix: &str, n: usize) -> Value {
    let start = srs_common::time::now_ns() - 10_000_000_000;
    Value::Array((0..n).map(|i| json!({"sensor_id": "ecg-1", "ts": start + i as i64 * 4_000_000, "id": format!("{prefix}:{i}"), "values": {"lead_i": 0.1, "lead_ii": -0.2}})).collect())
}
