//! The export tests' lab (srs-testkit's, plus exporting it) and the experiments and exporter
//! services in srs-testkit's harness.
#![allow(dead_code)]

pub use srs_testkit::lab::*;

use serde_json::Value;
use srs_common::model::*;
use srs_exporter::{export_experiment, ExportError};
use srs_testkit::harness::TestServer;
use std::ops::Deref;
use std::path::Path;

/// The experiments and exporter services on one listener (as in `srs serve`), over a real
/// SQLite file and a bus, with an admin signed in and a [`Lab`] experiment the admin owns.
pub struct App {
    server: TestServer,
    pub token: String,
    pub admin_id: String,
    pub lab: Lab,
}

impl Deref for App {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.server
    }
}

impl App {
    /// An app on the in-process bus; `settings` are `SRS__...` overrides.
    pub async fn start(settings: &[(&str, &str)]) -> App {
        let server = TestServer::start(&[&srs_experiments::SERVICE, &srs_exporter::SERVICE], settings).await;
        let (admin_id, token) = server.user("admin", Role::Admin).await;
        let lab = Lab::on(server.context.store.clone(), tempfile::tempdir().expect("tempdir"), &admin_id).await;
        App { server, token, admin_id, lab }
    }

    pub async fn stop(self) {
        self.server.stop().await;
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

/// Exports the lab's experiment with `filter` into `root`.
pub async fn export(lab: &Lab, root: &Path, filter: ExportFilter) -> Result<srs_exporter::Exported, ExportError> {
    export_experiment(&lab.store, &lab.sensors, root, &lab.experiment.id, (&new_id(), "a1"), &filter, |_, _| {
        std::ops::ControlFlow::Continue(())
    })
    .await
}
