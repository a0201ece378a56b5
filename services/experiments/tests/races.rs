//! Concurrent requests that used to race between a check and an act: sensor-config updates
//! (lost updates), and starting a recording while the experiment is deactivated.

mod support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use srs_common::model::Role;
use support::{Backend, TestApp};

on_every_store!(concurrent_config_changes_all_land, a_recording_never_runs_on_an_inactive_experiment);

async fn concurrent_config_changes_all_land(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.user("admin", Role::Admin).await;
    let experiment = app.experiment(&admin, "configs").await;
    let path = format!("/api/v1/sensor-configs/{}", experiment.config_id);
    let (_, config) = app.get(&admin.token, &path).await;
    let sensors: Vec<String> =
        config["sensors"].as_array().expect("sensors").iter().map(|s| s["id"].as_str().expect("id").to_owned()).collect();
    assert!(sensors.len() >= 8, "the example sensors file has enough sensors");
    // Eight operators each switch off a different sensor at the same moment: all eight land.
    let changes = sensors.iter().take(8).map(|id| app.put(&admin.token, &path, json!({"sensors": [{"id": id, "enabled": false}]})));
    for (status, answer) in futures_util::future::join_all(changes).await {
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let (_, config) = app.get(&admin.token, &path).await;
    let disabled: Vec<&str> = config["sensors"]
        .as_array()
        .expect("sensors")
        .iter()
        .filter(|s| s["enabled"] == false)
        .map(|s| s["id"].as_str().expect("id"))
        .collect();
    assert_eq!(disabled.len(), 8, "no update was lost: {config}");
    assert_eq!(config["version"], 8);
    // A client that says which version it changed is refused once that version is gone.
    let (status, problem) = app.put(&admin.token, &path, json!({"version": 3, "name": "stale"})).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::CONFLICT, Some("stale_version")), "{problem}");
    let (status, renamed) = app.put(&admin.token, &path, json!({"version": 8, "name": "fresh"})).await;
    assert_eq!((status, renamed["name"].as_str(), renamed["version"].as_u64()), (StatusCode::OK, Some("fresh"), Some(9)), "{renamed}");
    app.stop().await;
}

async fn a_recording_never_runs_on_an_inactive_experiment(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.user("admin", Role::Admin).await;
    let experiment = app.experiment(&admin, "edges").await;
    let (t, id) = (admin.token.as_str(), experiment.id.as_str());
    let body = json!({"experiment_id": id, "participant_id": experiment.participant_id});
    for round in 0..20 {
        let (status, _) = app.post(t, &format!("/api/v1/experiments/{id}/activate"), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let deactivate = format!("/api/v1/experiments/{id}/deactivate");
        let (started, deactivated) = tokio::join!(app.post(t, "/api/v1/recordings", body.clone()), app.post(t, &deactivate, json!({})));
        let codes = (started.0, deactivated.0);
        assert!(
            codes == (StatusCode::CREATED, StatusCode::CONFLICT) || codes == (StatusCode::CONFLICT, StatusCode::OK),
            "round {round}: exactly one wins: {started:?} {deactivated:?}"
        );
        let (_, active) = app.get(t, "/api/v1/experiments/active").await;
        if started.0 == StatusCode::CREATED {
            assert_eq!(active["experiment"]["id"], id, "round {round}: the recording's experiment stays active");
            let recording: &Value = &started.1;
            let stopped = app.post(t, &format!("/api/v1/recordings/{}/stop", recording["id"].as_str().expect("id")), json!({})).await;
            assert_eq!(stopped.0, StatusCode::OK);
            assert_eq!(app.post(t, &format!("/api/v1/experiments/{id}/deactivate"), json!({})).await.0, StatusCode::OK);
        } else {
            assert_eq!((started.1["code"].as_str(), active["recording"].is_null()), (Some("experiment_not_active"), true), "round {round}");
        }
    }
    app.stop().await;
}
