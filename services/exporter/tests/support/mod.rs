//! The export tests' lab (srs-testkit's, plus exporting it) and the experiments and exporter
//! services on one listener.
#![allow(dead_code)]

pub use srs_testkit::lab::*;

use serde_json::Value;
use srs_common::model::*;
use srs_common::sensors::SensorCatalog;
use srs_exporter::{export_experiment, ExportError};
use std::path::Path;
use std::sync::Arc;

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

/// Exports the lab's experiment with `filter` into `root`.
pub async fn export(lab: &Lab, root: &Path, filter: ExportFilter) -> Result<srs_exporter::Exported, ExportError> {
    export_experiment(&lab.store, &lab.sensors, root, &lab.experiment.id, (&new_id(), "a1"), &filter, |_, _| {
        std::ops::ControlFlow::Continue(())
    })
    .await
}
