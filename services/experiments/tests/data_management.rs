//! Sample statistics, the guarded delete, and device tokens kept only as hashes.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use srs_common::model::*;
use srs_common::time::{now, now_ns};
use std::sync::Arc;
use support::{Backend, TestApp};

on_every_store!(delete_is_guarded_by_the_last_export, device_tokens_are_stored_hashed_and_revocable);

async fn record_samples(app: &TestApp, token: &str, experiment: &support::Experiment, count: i64) {
    let recording = app
        .created(token, "/api/v1/recordings", json!({"experiment_id": experiment.id, "participant_id": experiment.participant_id}))
        .await;
    let stamp = Arc::new(RecordingStamp {
        recording_id: recording["id"].as_str().expect("id").to_owned(),
        experiment_id: experiment.id.clone(),
        participant_id: experiment.participant_id.clone(),
        task_id: None,
    });
    let start = now_ns();
    let samples = (0..count)
        .map(|i| NewSample {
            sensor_id: Arc::from("ecg-1"),
            sensor_type: Arc::from("ecg"),
            ts: start + i * 4_000_000,
            received_at: now_ns(),
            sample_id: None,
            values: r#"{"lead_i":0.5}"#.into(),
            stamp: stamp.clone(),
        })
        .collect();
    app.context.store.insert_samples(samples).await.expect("insert");
    let (status, stopped) = app.post(token, &format!("/api/v1/recordings/{}/stop", stamp.recording_id), json!({})).await;
    assert_eq!((status, stopped["sample_count"].as_i64()), (StatusCode::OK, Some(count)));
}

async fn delete_is_guarded_by_the_last_export(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.user("admin", Role::Admin).await;
    let experiment = app.experiment(&admin, "guarded").await;
    let (a, id) = (admin.token.as_str(), experiment.id.as_str());
    // Nothing recorded: nothing to lose.
    assert_eq!(app.delete(a, &format!("/api/v1/experiments/{id}/samples")).await, (StatusCode::OK, json!({"deleted": 0})));
    app.post(a, &format!("/api/v1/experiments/{id}/activate"), json!({})).await;
    record_samples(&app, a, &experiment, 250).await;
    let (_, stats) = app.get(a, &format!("/api/v1/experiments/{id}/samples/stats")).await;
    assert_eq!(stats["total"], 250);
    assert_eq!((stats["stats"][0]["participant_code"].as_str(), stats["stats"][0]["sensor_type"].as_str()), (Some("P01"), Some("ecg")));

    // Never exported: refused.
    let (status, problem) = app.delete(a, &format!("/api/v1/experiments/{id}/samples")).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::CONFLICT, Some("unexported_samples")));
    // Exported up to now: allowed ... but more was recorded since.
    let latest = app.context.store.latest_received_at(id).await.expect("latest").expect("some");
    let export = ExportRecord {
        id: new_id(),
        experiment_id: id.to_owned(),
        filter: ExportFilter::default(),
        status: ExportStatus::Done,
        rows_written: 250,
        rows_total: 250,
        error: None,
        files: vec![],
        attempts: 0,
        created_at: now(),
        finished_at: Some(now()),
        covers_received_until: Some(latest),
    };
    app.context.store.insert_export(&export).await.expect("export");
    record_samples(&app, a, &experiment, 10).await;
    assert_eq!(app.delete(a, &format!("/api/v1/experiments/{id}/samples")).await.0, StatusCode::CONFLICT);
    // A failed export covers nothing.
    let failed = ExportRecord { id: new_id(), status: ExportStatus::Failed, covers_received_until: Some(i64::MAX), ..export.clone() };
    app.context.store.insert_export(&failed).await.expect("failed export");
    assert_eq!(app.delete(a, &format!("/api/v1/experiments/{id}/samples")).await.0, StatusCode::CONFLICT);
    // A newer completed export covers everything.
    let latest = app.context.store.latest_received_at(id).await.expect("latest");
    let newer = ExportRecord { id: new_id(), covers_received_until: latest, ..export.clone() };
    app.context.store.insert_export(&newer).await.expect("newer export");
    assert_eq!(app.delete(a, &format!("/api/v1/experiments/{id}/samples")).await, (StatusCode::OK, json!({"deleted": 260})));

    // force=true deletes without an export; not while the experiment records.
    record_samples(&app, a, &experiment, 5).await;
    let running = app.created(a, "/api/v1/recordings", json!({"experiment_id": id, "participant_id": experiment.participant_id})).await;
    let (status, problem) = app.delete(a, &format!("/api/v1/experiments/{id}/samples?force=true")).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::CONFLICT, Some("recording_running")));
    app.post(a, &format!("/api/v1/recordings/{}/stop", running["id"].as_str().expect("id")), json!({})).await;
    assert_eq!(app.delete(a, &format!("/api/v1/experiments/{id}/samples?force=true")).await, (StatusCode::OK, json!({"deleted": 5})));
    app.stop().await;
}

async fn device_tokens_are_stored_hashed_and_revocable(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.user("admin", Role::Admin).await;
    let issued = app.created(&admin.token, "/api/v1/sensors/door-1/tokens", json!({})).await;
    let token = issued["token"].as_str().expect("token");
    assert!(token.starts_with("srs_dt_") && token.len() == 71, "{token}");
    let stored =
        app.context.store.find_device_token(&srs_common::auth::device_token::hash(token)).await.expect("find").expect("stored by hash");
    assert_eq!((stored.sensor_id.as_str(), stored.revoked_at), ("door-1", None));
    assert!(!stored.token_hash.contains(&token[7..]), "only the hash is kept");
    let second = app.created(&admin.token, "/api/v1/sensors/door-1/tokens", json!({})).await;
    assert_ne!(second["token"], issued["token"]);
    // Revoking needs the right sensor.
    let id = issued["id"].as_str().expect("id");
    assert_eq!(app.delete(&admin.token, &format!("/api/v1/sensors/ecg-1/tokens/{id}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&admin.token, &format!("/api/v1/sensors/door-1/tokens/{id}")).await.0, StatusCode::NO_CONTENT);
    let revoked = app.context.store.find_device_token(&stored.token_hash).await.expect("find").expect("kept");
    assert!(revoked.revoked_at.is_some());
    app.stop().await;
}
