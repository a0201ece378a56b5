//! A lab in a real SQLite file for export tests: an experiment with two participants (one code
//! no safe directory name), samples of four sensor types over two days, and the pyarrow check.
#![allow(dead_code)]

use serde_json::Value;
use srs_common::model::*;
use srs_common::sensors::SensorCatalog;
use srs_common::store::DynStore;
use srs_common::time::now;
use srs_exporter::{export_experiment, ExportError};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub const DAY_NS: i64 = 86_400_000_000_000;
/// 2026-11-20T00:00:00Z
pub const DAY_ONE: i64 = 1_795_132_800_000_000_000;

/// The pyarrow report on `dir` (see scripts/check_export.py).
pub fn pyarrow_report(dir: &Path) -> Value {
    serde_json::from_str(&srs_testkit::check_export(dir)).expect("report")
}

/// The rows per "participant/date/type" pyarrow finds in the export.
pub fn check_with_pyarrow(dir: &Path) -> BTreeMap<String, u64> {
    serde_json::from_value(pyarrow_report(dir)["rows"].clone()).expect("rows")
}

pub struct Lab {
    pub store: DynStore,
    pub sensors: SensorCatalog,
    pub experiment: Experiment,
    pub dir: tempfile::TempDir,
}

fn participant(code: &str) -> Participant {
    Participant { id: new_id(), code: code.into(), attributes: Default::default() }
}

/// A lab in a fresh SQLite file, owned by nobody in particular.
pub async fn lab() -> Lab {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = sqlite(dir.path()).await;
    Lab::on(store, dir, &new_id()).await
}

/// The SQLite store `srs.db` in `dir`.
pub async fn sqlite(dir: &Path) -> DynStore {
    Arc::new(srs_common::store::sqlite::SqliteStore::open(&dir.join("srs.db")).await.expect("store"))
}

impl Lab {
    /// An experiment owned by `owner_id` in `store` (whose files live in `dir`).
    pub async fn on(store: DynStore, dir: tempfile::TempDir, owner_id: &str) -> Lab {
        let sensors = SensorCatalog::load(Path::new("")).expect("sensors");
        let config = SensorConfig { id: new_id(), name: "all".into(), sensors: Vec::new(), created_at: now(), updated_at: now() };
        store.insert_sensor_config(&config).await.expect("config");
        let experiment = Experiment {
            id: new_id(),
            name: "export".into(),
            description: String::new(),
            owner_id: owner_id.to_owned(),
            sensor_config_id: config.id,
            tasks: vec![Task { id: new_id(), name: "rest".into(), description: String::new() }],
            operators: Vec::new(),
            // A code that is no safe directory name.
            participants: vec![participant("P01"), participant("P/02")],
            created_at: now(),
            version: 0,
        };
        store.insert_experiment(&experiment).await.expect("experiment");
        Lab { store, sensors, experiment, dir }
    }

    /// Records `per_sensor` samples of each of door-1, ecg-1, co2-1 and cam-1 for a participant,
    /// spread over two days, inserted out of time order.
    pub async fn record(&self, participant: usize, per_sensor: i64) {
        let experiment = &self.experiment;
        let recording = Recording {
            id: new_id(),
            experiment_id: experiment.id.clone(),
            participant_id: experiment.participants[participant].id.clone(),
            task_id: Some(experiment.tasks[0].id.clone()),
            started_at: now(),
            stopped_at: None,
        };
        self.store.start_recording(&recording).await.expect("start");
        let stamp = Arc::new(recording.stamp());
        let sensors = [("door-1", "door"), ("ecg-1", "ecg"), ("co2-1", "co2"), ("cam-1", "camera")];
        let mut samples = Vec::new();
        for i in (0..per_sensor).rev() {
            for (n, (sensor, sensor_type)) in sensors.iter().enumerate() {
                let values = match *sensor_type {
                    "door" => format!(r#"{{"open": {}}}"#, i % 2 == 0),
                    "ecg" => format!(r#"{{"lead_i": {}.25, "lead_ii": -1}}"#, i),
                    "co2" => format!(r#"{{"co2_ppm": {}, "temperature": 21.5}}"#, 400 + i),
                    _ => format!(r#"{{"frame": {i}, "file": "clip-{i}.mp4"}}"#),
                };
                samples.push(NewSample {
                    sensor_id: Arc::from(*sensor),
                    sensor_type: Arc::from(*sensor_type),
                    // Two days; participants interleave in time.
                    ts: DAY_ONE + i * (2 * DAY_NS / per_sensor) + n as i64 * 1_000 + participant as i64,
                    received_at: srs_common::time::now_ns(),
                    sample_id: (i % 3 == 0).then(|| format!("{sensor}:{participant}:{i}")),
                    values,
                    stamp: stamp.clone(),
                });
            }
        }
        self.store.insert_samples(samples).await.expect("insert");
        self.store.stop_recording(&recording.id, now()).await.expect("stop");
    }

    /// The store's own counts per "participant folder/date/type".
    pub async fn store_counts(&self, keep: impl Fn(&SampleStat) -> bool) -> BTreeMap<String, u64> {
        let folder = |id: &str| if self.experiment.participants[0].id == id { "P01" } else { "P_02" };
        let stats = self.store.sample_stats(&self.experiment.id).await.expect("stats");
        stats.iter().filter(|s| keep(s)).map(|s| (format!("{}/{}/{}", folder(&s.participant_id), s.date, s.sensor_type), s.count)).collect()
    }

    pub async fn export(&self, root: &Path, filter: ExportFilter) -> Result<srs_exporter::Exported, ExportError> {
        export_experiment(&self.store, &self.sensors, root, &self.experiment.id, &new_id(), &filter, |_, _| {}).await
    }
}

/// The experiments and exporter services on one listener (as in `srs serve`), over a real
/// SQLite file and a bus, with an admin signed in and a [`Lab`] experiment the admin owns.
pub struct App {
    pub url: String,
    pub client: reqwest::Client,
    pub context: srs_common::AppContext,
    pub token: String,
    pub admin_id: String,
    pub lab: Lab,
    pub background: srs_common::shutdown::Background,
    server: Option<srs_common::http::RunningServer>,
}

pub const PASSWORD: &str = "correct horse battery";

impl App {
    /// An app on the in-process bus; `settings` are `SRS__...` overrides.
    pub async fn start(settings: &[(&str, &str)]) -> App {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut vars: Vec<(String, String)> = vec![("SRS__DATA__DIR".into(), dir.path().display().to_string())];
        vars.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let settings = srs_common::Settings::load_from(dir.path(), None, vars).expect("settings");
        let bus: srs_common::bus::DynBus = Arc::new(srs_common::bus::memory::MemoryBus::new(settings.bus.job_delivery_limit));
        let store = sqlite(dir.path()).await;
        let jwt = Arc::new(srs_common::auth::jwt::JwtKeys::ephemeral(&settings.auth.issuer, &settings.auth.audience).expect("keys"));
        let sensors = Arc::new(SensorCatalog::load(Path::new("")).expect("sensors"));
        let context = srs_common::AppContext { settings: Arc::new(settings), store: store.clone(), bus, sensors, jwt };
        let background = srs_common::shutdown::Background::new();
        let limits = srs_experiments::LoginLimits { per_account_per_minute: 1000, per_address_per_minute: 1000 };
        let server = srs_common::http::ServerBuilder::new(context.clone())
            .mount(srs_experiments::mount(limits), srs_experiments::openapi())
            .mount(srs_exporter::start(&context, &background), srs_exporter::openapi())
            .bind("127.0.0.1:0".parse().expect("addr"))
            .expect("bind");
        let url = format!("http://{}", server.addr());
        let client = reqwest::Client::new();
        let admin = new_user(&context, "admin", Role::Admin).await;
        let token = login(&client, &url, "admin").await;
        let lab = Lab::on(store, dir, &admin).await;
        App { url, client, context, token, admin_id: admin, lab, background, server: Some(server) }
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        self.background.stop(std::time::Duration::from_secs(10)).await;
    }

    /// A user of `role`, signed in: (id, access token).
    pub async fn user(&self, username: &str, role: Role) -> (String, String) {
        let id = new_user(&self.context, username, role).await;
        (id, login(&self.client, &self.url, username).await)
    }

    pub async fn get(&self, token: &str, path: &str) -> (reqwest::StatusCode, Value) {
        let response = self.client.get(format!("{}{path}", self.url)).bearer_auth(token).send().await.expect("get");
        answer(response).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> (reqwest::StatusCode, Value) {
        let response = self.client.post(format!("{}{path}", self.url)).bearer_auth(token).json(&body).send().await.expect("post");
        answer(response).await
    }

    /// Asks for an export and waits (up to 60 s) until it is done or failed; returns its view.
    pub async fn export_and_wait(&self, body: Value) -> Value {
        let (status, accepted) = self.post(&self.token, "/api/v1/exports", body).await;
        assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{accepted}");
        assert_eq!(accepted["status"], "queued");
        self.wait_finished(accepted["id"].as_str().expect("id")).await
    }

    pub async fn wait_finished(&self, id: &str) -> Value {
        for _ in 0..600 {
            let (status, view) = self.get(&self.token, &format!("/api/v1/exports/{id}")).await;
            assert_eq!(status, reqwest::StatusCode::OK, "{view}");
            if view["status"] == "done" || view["status"] == "failed" {
                return view;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("export {id} did not finish within 60 s");
    }
}

async fn new_user(context: &srs_common::AppContext, username: &str, role: Role) -> String {
    let new = srs_experiments::NewUser { username: username.into(), password: PASSWORD.into(), role, email: None };
    srs_experiments::create_user(&context.store, new).await.expect("user").id
}

async fn login(client: &reqwest::Client, url: &str, username: &str) -> String {
    let body = serde_json::json!({"username": username, "password": PASSWORD});
    let answer: Value =
        client.post(format!("{url}/api/v1/auth/login")).json(&body).send().await.expect("login").json().await.expect("json");
    answer["access_token"].as_str().expect("access token").to_owned()
}

/// Status and JSON body; every error must be problem+json.
async fn answer(response: reqwest::Response) -> (reqwest::StatusCode, Value) {
    let status = response.status();
    let problem = response.headers().get("content-type").is_some_and(|v| v.as_bytes() == b"application/problem+json");
    let text = response.text().await.expect("body");
    if status.is_client_error() || status.is_server_error() {
        assert!(problem, "{status} must be problem+json: {text}");
    }
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}
