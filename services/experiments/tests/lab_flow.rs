//! The whole lab flow through the real HTTP stack, then backup and restore into a fresh store;
//! and the one-recording rule under concurrent starts. On SQLite, and on MongoDB when configured.

mod support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use srs_common::model::Role;
use srs_common::store::backup;
use support::{Backend, TestApp, PASSWORD};

on_every_store!(lab_flow_then_backup_and_restore, concurrent_starts_give_one_recording);

async fn lab_flow_then_backup_and_restore(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.user("admin", Role::Admin).await;

    // The admin creates an experimenter and an operator through the API.
    for (username, role) in [("erin", "experimenter"), ("otto", "operator")] {
        let user = app
            .created(
                &admin.token,
                "/api/v1/users",
                json!({"username": username, "password": PASSWORD, "role": role, "email": format!("{username}@lab.example")}),
            )
            .await;
        assert_eq!(user["role"], role);
        assert!(user.get("password_hash").is_none() && !user.to_string().contains("argon2"), "no hash may leave: {user}");
    }
    let erin = app.login("erin", PASSWORD).await["access_token"].as_str().expect("token").to_owned();
    let otto_login = app.login("otto", PASSWORD).await;
    let otto = otto_login["access_token"].as_str().expect("token").to_owned();
    let (_, me) = app.get(&otto, "/api/v1/auth/me").await;
    assert_eq!((me["username"].as_str(), me["role"].as_str()), (Some("otto"), Some("operator")));
    let otto_id = me["id"].as_str().expect("id").to_owned();

    // The experimenter defines a config (camera off), an experiment, tasks, participants.
    let (status, types) = app.get(&erin, "/api/v1/sensor-types").await;
    assert_eq!(status, StatusCode::OK);
    assert!(types.as_array().expect("types").len() >= 6);
    let config = app.created(&erin, "/api/v1/sensor-configs", json!({"name": "stress study"})).await;
    assert!(config["sensors"].as_array().expect("sensors").iter().all(|s| s["enabled"] == true));
    let config_id = config["id"].as_str().expect("id");
    let (status, config) =
        app.put(&erin, &format!("/api/v1/sensor-configs/{config_id}"), json!({"sensors": [{"id": "cam-2", "enabled": false}]})).await;
    assert_eq!(status, StatusCode::OK, "{config}");
    let experiment = app
        .created(&erin, "/api/v1/experiments", json!({"name": "Stress 2026", "description": "TSST", "sensor_config_id": config_id}))
        .await;
    assert_eq!((experiment["active"].as_bool(), experiment["tasks"].as_array().map(Vec::len)), (Some(false), Some(0)));
    let id = experiment["id"].as_str().expect("id").to_owned();
    let task = app.created(&erin, &format!("/api/v1/experiments/{id}/tasks"), json!({"name": "speech", "description": "5 min"})).await;
    let p1 = app.created(&erin, &format!("/api/v1/experiments/{id}/participants"), json!({"code": "P01", "attributes": {"age": 31}})).await;
    app.created(&erin, &format!("/api/v1/experiments/{id}/participants"), json!({"code": "P02"})).await;

    // Not yet assigned: the operator cannot see it.
    assert_eq!(app.get(&otto, &format!("/api/v1/experiments/{id}")).await.0, StatusCode::NOT_FOUND);
    let (status, assigned) = app.put(&erin, &format!("/api/v1/experiments/{id}/operators"), json!({"user_ids": [otto_id]})).await;
    assert_eq!(status, StatusCode::OK, "{assigned}");
    let (status, activated) = app.post(&erin, &format!("/api/v1/experiments/{id}/activate"), json!({})).await;
    assert_eq!((status, activated["active"].as_bool()), (StatusCode::OK, Some(true)));

    // The operator records a session, writes the logbook and progress.
    let recording =
        app.created(&otto, "/api/v1/recordings", json!({"experiment_id": id, "participant_id": p1["id"], "task_id": task["id"]})).await;
    assert_eq!(recording["stopped_at"], Value::Null);
    let (_, active) = app.call(reqwest::Method::GET, "/api/v1/experiments/active", None, None).await;
    assert_eq!(active["experiment"]["id"], id.as_str());
    assert_eq!(
        (active["recording"]["participant_code"].as_str(), active["recording"]["task_name"].as_str()),
        (Some("P01"), Some("speech"))
    );
    let note = app
        .created(
            &otto,
            &format!("/api/v1/experiments/{id}/logbook"),
            json!({"message": "electrode 2 loose, fixed", "recording_id": recording["id"]}),
        )
        .await;
    assert_eq!(note["author"], "otto");
    let rec_id = recording["id"].as_str().expect("id");
    let (status, stopped) = app.post(&otto, &format!("/api/v1/recordings/{rec_id}/stop"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    assert!(stopped["stopped_at"].is_string());
    assert_eq!(stopped["sample_count"], 0);
    let p1_id = p1["id"].as_str().expect("id");
    let task_id = task["id"].as_str().expect("id");
    let (status, progress) = app
        .put(&otto, &format!("/api/v1/experiments/{id}/participants/{p1_id}/progress/{task_id}"), json!({"status": "done", "note": "calm"}))
        .await;
    assert_eq!((status, progress["status"].as_str()), (StatusCode::OK, Some("done")));
    app.created(&otto, &format!("/api/v1/experiments/{id}/logbook"), json!({"message": "session over"})).await;

    let (_, table) = app.get(&otto, &format!("/api/v1/experiments/{id}/progress")).await;
    assert_eq!(table[0]["tasks"][0]["status"], "done");
    assert_eq!(table[1]["tasks"][0]["status"], "pending");
    let (_, log) = app.get(&otto, &format!("/api/v1/experiments/{id}/logbook")).await;
    let messages: Vec<&str> = log.as_array().expect("log").iter().filter_map(|e| e["message"].as_str()).collect();
    assert_eq!(messages, ["electrode 2 loose, fixed", "session over"], "oldest first");
    let (_, recordings) = app.get(&otto, &format!("/api/v1/recordings?experiment_id={id}")).await;
    assert_eq!(recordings.as_array().map(Vec::len), Some(1));
    let (_, stats) = app.get(&otto, &format!("/api/v1/experiments/{id}/samples/stats")).await;
    assert_eq!(stats["total"], 0);

    // Backup, restore into a fresh store, and serve it: everything is there, sign-in works.
    let snapshot = backup::take(&app.context.store).await.expect("backup");
    let views = read_everything(&app, &admin.token, &id).await;
    let restored = TestApp::start(backend).await;
    assert!(backup::is_empty(&restored.context.store).await.expect("empty"));
    let summary = backup::restore(&restored.context.store, &snapshot, false).await.expect("restore");
    assert_eq!(summary.kept, 0);
    assert_eq!(backup::take(&restored.context.store).await.expect("backup again").users, snapshot.users);
    let admin_again = restored.login("admin", PASSWORD).await["access_token"].as_str().expect("token").to_owned();
    assert_eq!(read_everything(&restored, &admin_again, &id).await, views);
    // Restoring twice keeps what is there.
    let again = backup::restore(&restored.context.store, &snapshot, false).await.expect("restore again");
    assert_eq!(again.written, snapshot.progress.len(), "only progress (an upsert) is rewritten");
    app.stop().await;
    restored.stop().await;
}

/// What the API shows of the whole lab, for comparing two stores.
async fn read_everything(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    for path in [
        "/api/v1/users".to_owned(),
        "/api/v1/sensor-configs".to_owned(),
        "/api/v1/experiments".to_owned(),
        "/api/v1/experiments/active".to_owned(),
        format!("/api/v1/recordings?experiment_id={id}"),
        format!("/api/v1/experiments/{id}/logbook"),
        format!("/api/v1/experiments/{id}/progress"),
    ] {
        let (status, body) = app.get(token, &path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        seen.push(body);
    }
    seen
}

async fn concurrent_starts_give_one_recording(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.user("erin", Role::Experimenter).await;
    let experiment = app.experiment(&owner, "race").await;
    let second = app.created(&owner.token, &format!("/api/v1/experiments/{}/participants", experiment.id), json!({"code": "P02"})).await;
    let (status, _) = app.post(&owner.token, &format!("/api/v1/experiments/{}/activate", experiment.id), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    for round in 0..5 {
        let starts = [experiment.participant_id.as_str(), second["id"].as_str().expect("id")].map(|participant| {
            app.post(&owner.token, "/api/v1/recordings", json!({"experiment_id": experiment.id, "participant_id": participant}))
        });
        let [a, b] = starts;
        let (a, b) = tokio::join!(a, b);
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT], "round {round}: {a:?} {b:?}");
        let (started, refused) = if a.0 == StatusCode::CREATED { (a.1, b.1) } else { (b.1, a.1) };
        assert_eq!(refused["code"], "recording_running");
        let rec = started["id"].as_str().expect("id");
        assert_eq!(app.post(&owner.token, &format!("/api/v1/recordings/{rec}/stop"), json!({})).await.0, StatusCode::OK);
    }
    let (_, recordings) = app.get(&owner.token, &format!("/api/v1/recordings?experiment_id={}", experiment.id)).await;
    assert_eq!(recordings.as_array().map(Vec::len), Some(5));
    // While one runs, the experiment cannot be switched off.
    app.created(&owner.token, "/api/v1/recordings", json!({"experiment_id": experiment.id, "participant_id": experiment.participant_id}))
        .await;
    let (status, problem) = app.post(&owner.token, &format!("/api/v1/experiments/{}/deactivate", experiment.id), json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::CONFLICT, Some("recording_running")));
    app.stop().await;
}
