//! The one in-process test harness: any set of services started exactly as `srs serve` and the
//! `srs-<name>` binaries start them — settings through the loader, `AppContext::open` (store,
//! bus and JWT keys from the settings), `service::start` on port 0 — in a data directory of
//! its own, with helpers to sign in and call the API.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use srs_common::http::RunningServer;
use srs_common::model::{new_id, Role, User};
use srs_common::service::{self, Service, Started};
use srs_common::shutdown::Background;
use srs_common::{AppContext, Settings};
use std::net::TcpListener;
use std::path::PathBuf;

/// The password of every user [`TestServer::user`] creates.
pub const PASSWORD: &str = "correct horse battery";

/// Settings every test server starts with (a test's own come after and win): logins are not
/// throttled unless a test asks, since one test signs in many users from one address.
const TEST_DEFAULTS: &[(&str, &str)] =
    &[("SRS__AUTH__LOGIN_ATTEMPTS_PER_ACCOUNT_PER_MINUTE", "1000"), ("SRS__AUTH__LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE", "1000")];

/// Which store a test server uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// A database of its own on `SRS_TEST_MONGODB_URI` (a replica set).
    Mongodb,
}

impl Backend {
    /// The `SRS__STORE__...` settings that choose this backend.
    pub fn settings(self) -> Vec<(String, String)> {
        match self {
            Backend::Sqlite => Vec::new(),
            Backend::Mongodb => {
                let uri = std::env::var("SRS_TEST_MONGODB_URI").expect("SRS_TEST_MONGODB_URI");
                let database = format!("srs_test_{}", new_id().replace('-', ""));
                vec![
                    ("SRS__STORE__BACKEND".into(), "mongodb".into()),
                    ("SRS__STORE__MONGODB_URI".into(), uri),
                    ("SRS__STORE__MONGODB_DATABASE".into(), database),
                ]
            }
        }
    }
}

/// Owned `SRS__...` pairs.
pub fn pairs(settings: &[(&str, &str)]) -> Vec<(String, String)> {
    settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The settings that put the bus on the test broker (RabbitMQ; scripts/test.sh starts it).
pub fn amqp_settings() -> Vec<(String, String)> {
    vec![
        ("SRS__BUS__BACKEND".into(), "amqp".into()),
        ("SRS__BUS__AMQP_URL".into(), crate::amqp_url()),
        ("SRS__BUS__HEARTBEAT_SECS".into(), "2".into()),
    ]
}

pub struct TestServer {
    pub url: String,
    pub client: reqwest::Client,
    pub context: AppContext,
    /// The data directory (SQLite file, JWT keys, exports).
    pub dir: PathBuf,
    running: Option<(RunningServer, Background)>,
    _temp: tempfile::TempDir,
}

impl TestServer {
    /// `services` in a fresh data directory; `settings` are `SRS__SECTION__KEY` overrides.
    pub async fn start(services: &[&Service], settings: &[(&str, &str)]) -> Self {
        Self::start_with(services, pairs(settings)).await
    }

    /// As [`TestServer::start`], with settings built at run time (see [`amqp_settings`]).
    pub async fn start_with(services: &[&Service], settings: Vec<(String, String)>) -> Self {
        Self::start_in(tempfile::tempdir().expect("tempdir"), services, settings).await
    }

    /// `services` with their data directory in `dir` (a small filesystem, say).
    pub async fn start_in(dir: tempfile::TempDir, services: &[&Service], settings: Vec<(String, String)>) -> Self {
        let data = dir.path().to_path_buf();
        let mut vars: Vec<(String, String)> = TEST_DEFAULTS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        vars.push(("SRS__DATA__DIR".into(), data.display().to_string()));
        vars.extend(settings);
        // The data directory holds no config/, so only the built-in defaults and `vars` count.
        let settings = Settings::load_from(&data, None, vars, &service::sections(services)).expect("settings");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let Started { server, background, context } = service::start(settings, services, listener).await.expect("start the services");
        let url = format!("http://{}", server.addr());
        Self { url, client: reqwest::Client::new(), context, dir: data, running: Some((server, background)), _temp: dir }
    }

    /// Stops as the binaries do (`shutdown::stop`): close sockets, drain requests, stop the
    /// background work, close the bus.
    pub async fn stop(mut self) {
        if let Some((server, background)) = self.running.take() {
            srs_common::shutdown::stop(server, &background, &self.context).await;
        }
    }

    /// The JWT key pair the server signs with (generated into the data directory), as PEM.
    pub fn jwt_pems(&self) -> (String, String) {
        let (private, public) = self.context.settings.jwt_key_paths();
        (std::fs::read_to_string(private).expect("private key"), std::fs::read_to_string(public).expect("public key"))
    }

    /// Creates a user straight in the store (as `srs user add` does); returns its id.
    pub async fn add_user(&self, username: &str, role: Role) -> String {
        let password_hash = srs_common::auth::password::hash(PASSWORD.into()).await.expect("hash");
        let user = User { id: new_id(), username: username.into(), role, email: None, password_hash, created_at: srs_common::time::now() };
        self.context.store.insert_user(&user).await.expect("insert user");
        user.id
    }

    /// Signs in; returns the token pair.
    pub async fn login(&self, username: &str, password: &str) -> Value {
        let (status, body) =
            self.call(Method::POST, "/api/v1/auth/login", None, Some(json!({"username": username, "password": password}))).await;
        assert_eq!(status, StatusCode::OK, "login {username}: {body}");
        body
    }

    /// A new user of `role`, signed in: (id, access token).
    pub async fn user(&self, username: &str, role: Role) -> (String, String) {
        let id = self.add_user(username, role).await;
        let tokens = self.login(username, PASSWORD).await;
        (id, tokens["access_token"].as_str().expect("access token").to_owned())
    }

    /// Sends a request; returns the status and the JSON body (Null when empty, a string when
    /// not JSON). Every error must be problem+json.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.expect("request")).await
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

    /// POSTs and expects 201; returns the body.
    pub async fn created(&self, token: &str, path: &str, body: Value) -> Value {
        let (status, answer) = self.post(token, path, body).await;
        assert_eq!(status, StatusCode::CREATED, "POST {path}: {answer}");
        answer
    }
}

/// Status and JSON body of a response; every error must be problem+json.
pub async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let problem = response.headers().get("content-type").is_some_and(|v| v.as_bytes() == b"application/problem+json");
    let text = response.text().await.expect("body");
    if status.is_client_error() || status.is_server_error() {
        assert!(problem, "{status} must be problem+json: {text}");
    }
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) })
}
