//! The experiments service in srs-testkit's harness (the production start path on port 0, a
//! real SQLite file — or MongoDB when `SRS_TEST_MONGODB_URI` is set — and the in-process bus
//! or RabbitMQ), with users and an experiment fixture.
#![allow(dead_code)]

use serde_json::json;
use srs_common::model::Role;
use srs_testkit::harness::{pairs, TestServer};
use std::ops::Deref;

pub use srs_testkit::harness::{Backend, PASSWORD};

pub struct TestApp {
    server: TestServer,
    /// The JWT key pair the service signs with, for tests that forge tokens.
    pub private_pem: String,
    pub public_pem: String,
}

impl Deref for TestApp {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.server
    }
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

impl TestApp {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, Vec::new()).await
    }

    /// With `settings` (`SRS__SECTION__KEY` pairs) on top of the backend's.
    pub async fn start_with(backend: Backend, settings: Vec<(String, String)>) -> Self {
        let mut all = backend.settings();
        all.extend(settings);
        let server = TestServer::start_with(&[&srs_experiments::SERVICE], all).await;
        let (private_pem, public_pem) = server.jwt_pems();
        Self { server, private_pem, public_pem }
    }

    /// As `start_with`, the settings given as string pairs.
    pub async fn start_configured(backend: Backend, settings: &[(&str, &str)]) -> Self {
        Self::start_with(backend, pairs(settings)).await
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }

    /// Creates a user straight in the store (as `srs user add` does) and signs them in.
    pub async fn user(&self, username: &str, role: Role) -> User {
        let id = self.server.add_user(username, role).await;
        let tokens = self.login(username, PASSWORD).await;
        User {
            id,
            token: tokens["access_token"].as_str().expect("access token").to_owned(),
            refresh: tokens["refresh_token"].as_str().expect("refresh").to_owned(),
        }
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
