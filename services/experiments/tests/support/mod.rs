//! A real experiments service for tests: the real HTTP stack on a free port, a real SQLite
//! file (or MongoDB when `SRS_TEST_MONGODB_URI` is set), and the in-process bus or RabbitMQ.
#![allow(dead_code)]

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use srs_common::auth::jwt::JwtKeys;
use srs_common::bus::DynBus;
use srs_common::http::{RunningServer, ServerBuilder};
use srs_common::model::Role;
use srs_common::sensors::SensorCatalog;
use srs_common::store::DynStore;
use srs_common::{AppContext, Settings};
use srs_experiments::{LoginLimits, NewUser};
use std::path::Path;
use std::sync::Arc;

pub const PASSWORD: &str = "correct horse battery";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Mongodb,
}

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub context: AppContext,
    /// The JWT key pair the service signs with, for tests that forge tokens.
    pub private_pem: String,
    pub public_pem: String,
    server: Option<RunningServer>,
    _dir: tempfile::TempDir,
}

/// Runs `$check(backend)` as a test on SQLite, and on MongoDB as an ignored test that
/// scripts/test.sh runs (`--run-ignored`) when `SRS_TEST_MONGODB_URI` is set — never reported
/// as passed when it did not run.
#[macro_export]
macro_rules! on_every_store {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    super::$check(super::support::Backend::Sqlite).await;
                }
            )*
        }
        mod mongodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                #[ignore = "needs SRS_TEST_MONGODB_URI (a MongoDB replica set; the GitLab pipeline has one)"]
                async fn $check() {
                    super::$check(super::support::Backend::Mongodb).await;
                }
            )*
        }
    };
}

/// A fresh store of `backend` (MongoDB: a database of its own).
pub async fn open_store(backend: Backend, dir: &Path) -> DynStore {
    match backend {
        Backend::Sqlite => Arc::new(srs_common::store::sqlite::SqliteStore::open(&dir.join("srs.db")).await.expect("open sqlite")),
        Backend::Mongodb => {
            let uri = std::env::var("SRS_TEST_MONGODB_URI").expect("SRS_TEST_MONGODB_URI");
            let database = format!("srs_test_{}", srs_common::model::new_id().replace('-', ""));
            Arc::new(srs_common::store::mongo::MongoStore::connect(&uri, &database).await.expect("connect to SRS_TEST_MONGODB_URI"))
        }
    }
}

impl TestApp {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(
            backend,
            Arc::new(srs_common::bus::memory::MemoryBus::new(5)),
            LoginLimits { per_account_per_minute: 1000, per_address_per_minute: 1000 },
        )
        .await
    }

    pub async fn start_with(backend: Backend, bus: DynBus, limits: LoginLimits) -> Self {
        Self::start_with_env(backend, bus, limits, &[]).await
    }

    /// As `start_with`, with settings given as `SRS__SECTION__KEY` variables.
    pub async fn start_with_env(backend: Backend, bus: DynBus, limits: LoginLimits, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = env.iter().map(|(key, value)| (key.to_string(), value.to_string()));
        let settings = Settings::load_from(dir.path(), None, env).expect("settings");
        let store = open_store(backend, dir.path()).await;
        let (private_pem, public_pem) = srs_common::auth::keys::generate_pem().expect("keys");
        let jwt = Arc::new(
            JwtKeys::from_pem(Some(private_pem.as_bytes()), public_pem.as_bytes(), &settings.auth.issuer, &settings.auth.audience)
                .expect("keys"),
        );
        let sensors = Arc::new(SensorCatalog::load(Path::new("")).expect("built-in sensors file"));
        let context = AppContext { settings: Arc::new(settings), store, bus, sensors, jwt };
        let server = ServerBuilder::new(context.clone())
            .mount(srs_experiments::mount(limits), srs_experiments::openapi())
            .bind("127.0.0.1:0".parse().expect("addr"))
            .expect("bind");
        let url = format!("http://{}", server.addr());
        Self { url, client: reqwest::Client::new(), context, private_pem, public_pem, server: Some(server), _dir: dir }
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }

    /// Creates a user straight in the store (as `srs user add` does) and signs them in.
    pub async fn user(&self, username: &str, role: Role) -> User {
        let new = NewUser { username: username.into(), password: PASSWORD.into(), role, email: None };
        let user = srs_experiments::create_user(&self.context.store, new).await.expect("create user");
        let tokens = self.login(username, PASSWORD).await;
        User {
            id: user.id,
            token: tokens["access_token"].as_str().expect("access token").to_owned(),
            refresh: tokens["refresh_token"].as_str().expect("refresh").to_owned(),
        }
    }

    pub async fn login(&self, username: &str, password: &str) -> Value {
        let (status, body) =
            self.call(Method::POST, "/api/v1/auth/login", None, Some(json!({"username": username, "password": password}))).await;
        assert_eq!(status, StatusCode::OK, "login {username}: {body}");
        body
    }

    /// Sends a request and returns the status and the JSON body (Null when empty).
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let problem = response.headers().get("content-type").is_some_and(|v| v.as_bytes() == b"application/problem+json");
        let text = response.text().await.expect("body");
        if status.is_client_error() || status.is_server_error() {
            assert!(problem, "{status} must be problem+json: {text}");
        }
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) })
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }
    pub async fn put(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }
    pub async fn patch(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }
    pub async fn delete(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// POSTs and expects `expected`, returning the body.
    pub async fn created(&self, token: &str, path: &str, body: Value) -> Value {
        let (status, answer) = self.post(token, path, body).await;
        assert_eq!(status, StatusCode::CREATED, "POST {path}: {answer}");
        answer
    }

    /// A sensor config, and an experiment owned by `owner` with one task and one participant.
    pub async fn experiment(&self, owner: &User, name: &str) -> Experiment {
        let config = self.created(&owner.token, "/api/v1/sensor-configs", json!({"name": format!("{name} sensors")})).await;
        let experiment = self.created(&owner.token, "/api/v1/experiments", json!({"name": name, "sensor_config_id": config["id"]})).await;
        let id = experiment["id"].as_str().expect("id").to_owned();
        let task = self.created(&owner.token, &format!("/api/v1/experiments/{id}/tasks"), json!({"name": "rest"})).await;
        let participant = self.created(&owner.token, &format!("/api/v1/experiments/{id}/participants"), json!({"code": "P01"})).await;
        Experiment {
            id,
            config_id: config["id"].as_str().expect("config id").to_owned(),
            task_id: task["id"].as_str().expect("task id").to_owned(),
            participant_id: participant["id"].as_str().expect("participant id").to_owned(),
        }
    }
}

pub struct User {
    pub id: String,
    pub token: String,
    pub refresh: String,
}

pub struct Experiment {
    pub id: String,
    pub config_id: String,
    pub task_id: String,
    pub participant_id: String,
}
