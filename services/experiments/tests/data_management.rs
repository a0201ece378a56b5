//! Sample statistics, the guarded delete, and device tokens kept only as hashes.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use srs_common::model::*;
use srs_common::time::{now, now_ns};
use std::sync::Arc;
use support::{Backend, TestApp};

on_every_store!(delete_is_guarded_by_what_exports_cover, device_tokens_are_stored_hashed_and_revocable);

const DAY_NS: i64 = 86_400_000_000_000;

/// Records `count` samples per sensor type (ecg, door) for `participant_id` on two UTC days.
async fn record_samples(app: &TestApp, token: &str, experiment_id: &str, participant_id: &str, count: i64) {
    let recording =
        app.created(token, "/api/v1/recordings", json!({"experiment_id": experiment_id, "participant_id": participant_id})).await;
    let stamp = Arc::new(RecordingStamp {
        recording_id: recording["id"].as_str().expect("id").to_owned(),
        experiment_id: experiment_id.to_owned(),
        participant_id: participant_id.to_owned(),
        task_id: None,
    });
    let yesterday = (now_ns() / DAY_NS - 1) * DAY_NS + 3_600_000_000_000;
    let mut samples = Vec::new();
    for (sensor, sensor_type, values) in [("ecg-1", "ecg", r#"{"lead_i":0.5}"#), ("door-1", "door", r#"{"open":true}"#)] {
        for i in 0..count {
            // Half yesterday, half a day later; distinct times per call (the clock moves on).
            let ts = yesterday + (i % 2) * DAY_NS + (now_ns() % 1_000_000_000) * 1_000 + i;
            samples.push(NewSample {
                sensor_id: Arc::from(sensor),
                sensor_type: Arc::from(sensor_type),
                ts,
                received_at: now_ns(),
                sample_id: None,
                values: values.into(),
                stamp: Some(stamp.clone()),
            });
        }
    }
    app.context.store.insert_samples(samples).await.expect("insert");
    let (status, stopped) = app.post(token, &format!("/api/v1/recordings/{}/stop", stamp.recording_id), json!({})).await;
    assert_eq!((status, stopped["sample_count"].as_i64()), (StatusCode::OK, Some(2 * count)));
}

/// A completed export of what `keep` selects, covering what the store holds of it now (as the
/// exporter records it: its own tests check that its coverage equals the store's counts).
async fn export(app: &TestApp, experiment_id: &str, keep: impl Fn(&SampleStat) -> bool) -> ExportRecord {
    let stats = app.context.store.sample_stats(experiment_id).await.expect("stats");
    let covered: Vec<SampleStat> = stats.into_iter().filter(|s| keep(s)).collect();
    let rows = covered.iter().map(|s| s.count).sum();
    let record = ExportRecord {
        status: ExportStatus::Done,
        rows_written: rows,
        rows_total: rows,
        finished_at: Some(now()),
        covered,
        ..ExportRecord::queued(experiment_id, ExportFilter::default())
    };
    app.context.store.insert_export(&record).await.expect("export");
    record
}

async fn delete_is_guarded_by_what_exports_cover(backend: Backend) {
    let owned = TestApp::start(backend).await;
    let app = &owned;
    let admin = app.user("admin", Role::Admin).await;
    let experiment = app.experiment(&admin, "guarded").await;
    let (a, id) = (admin.token.as_str(), experiment.id.as_str());
    let p2 = app.created(a, &format!("/api/v1/experiments/{id}/participants"), json!({"code": "P02"})).await;
    let (p1, p2) = (experiment.participant_id.clone(), p2["id"].as_str().expect("id").to_owned());
    let delete = |force: bool| {
        let path = format!("/api/v1/experiments/{id}/samples{}", if force { "?force=true" } else { "" });
        async move { app.delete(a, &path).await }
    };
    // Nothing recorded: nothing to lose.
    assert_eq!(delete(false).await, (StatusCode::OK, json!({"deleted": 0})));
    app.post(a, &format!("/api/v1/experiments/{id}/activate"), json!({})).await;
    record_samples(app, a, id, &p1, 10).await;
    record_samples(app, a, id, &p2, 10).await;
    let (_, stats) = app.get(a, &format!("/api/v1/experiments/{id}/samples/stats")).await;
    assert_eq!(stats["total"], 40);

    // Never exported: refused, naming every participant.
    let (status, problem) = delete(false).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::CONFLICT, Some("unexported_samples")));
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("P01: 20 samples not in any completed export") && detail.contains("P02: 20 samples"), "{detail}");
    // An export of P01 only covers P01: P02's samples stay (the bug this guards against).
    export(app, id, |s| s.participant_id == p1).await;
    let (status, problem) = delete(false).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["detail"].as_str().map(|d| d.starts_with("P02: 20 samples not in any completed export;")), Some(true), "{problem}");
    assert_eq!(problem["errors"].as_array().map(Vec::len), Some(4), "one entry per day and sensor type of P02: {problem}");
    // One sensor type of P02 ...
    export(app, id, |s| s.participant_id == p2 && s.sensor_type == "ecg").await;
    assert!(delete(false).await.1["detail"].as_str().is_some_and(|d| d.starts_with("P02: 10 samples")));
    // ... and one day of its door samples: the other day is still missing.
    let first_day = app.context.store.sample_stats(id).await.expect("stats")[0].date.clone();
    export(app, id, |s| s.participant_id == p2 && s.sensor_type == "door" && s.date == first_day).await;
    assert!(delete(false).await.1["detail"].as_str().is_some_and(|d| d.starts_with("P02: 5 samples")));
    // A failed export covers nothing.
    let failed = ExportRecord { status: ExportStatus::Failed, ..export(app, id, |_| true).await };
    app.context.store.update_export(&failed).await.expect("fail it");
    assert_eq!(delete(false).await.0, StatusCode::CONFLICT);
    // An export of everything done before more was recorded does not cover the new samples.
    let older = export(app, id, |s| s.participant_id == p2 && s.sensor_type == "door").await;
    record_samples(app, a, id, &p2, 2).await;
    assert!(delete(false).await.1["detail"].as_str().is_some_and(|d| d.starts_with("P02: 4 samples")), "{older:?}");
    // The partial exports together with a fresh one of P02 cover everything: allowed.
    export(app, id, |s| s.participant_id == p2).await;
    assert_eq!(delete(false).await, (StatusCode::OK, json!({"deleted": 44})));

    // Exports made before a delete cover nothing recorded after it, even with equal counts.
    record_samples(app, a, id, &p1, 10).await;
    let (status, problem) = delete(false).await;
    assert_eq!((status, problem["detail"].as_str().map(|d| d.starts_with("P01: 20 samples"))), (StatusCode::CONFLICT, Some(true)));
    // force=true deletes without an export; not while the experiment records.
    let running = app.created(a, "/api/v1/recordings", json!({"experiment_id": id, "participant_id": p1})).await;
    let (status, problem) = delete(true).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::CONFLICT, Some("recording_running")));
    app.post(a, &format!("/api/v1/recordings/{}/stop", running["id"].as_str().expect("id")), json!({})).await;
    assert_eq!(delete(true).await, (StatusCode::OK, json!({"deleted": 20})));
    owned.stop().await;
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
