//! Bad input: every case answers 4xx problem+json naming the field, and stores nothing.

mod support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use srs_common::model::Role;
use support::{Backend, TestApp, PASSWORD};

/// Sends `body` and checks status, code and the named field.
async fn refused(app: &TestApp, token: &str, method: reqwest::Method, path: &str, body: Value, expect: (u16, &str, &str)) {
    let (status, code, field) = expect;
    let (got, problem) = app.call(method.clone(), path, Some(token), Some(body.clone())).await;
    assert_eq!(got.as_u16(), status, "{method} {path} {body}: {problem}");
    assert_eq!(problem["code"], code, "{method} {path} {body}: {problem}");
    let fields: Vec<&str> =
        problem["errors"].as_array().map(|e| e.iter().filter_map(|p| p["field"].as_str()).collect()).unwrap_or_default();
    assert!(fields.contains(&field), "{method} {path} {body}: expected field {field} in {problem}");
}

#[tokio::test]
async fn bad_input_names_the_field_and_stores_nothing() {
    use reqwest::Method as M;
    let app = TestApp::start(Backend::Sqlite).await;
    let admin = app.user("admin", Role::Admin).await;
    let owner = app.user("erin", Role::Experimenter).await;
    let experiment = app.experiment(&owner, "study").await;
    let (a, t, id) = (admin.token.as_str(), owner.token.as_str(), experiment.id.as_str());
    let long = "x".repeat(201);

    // Users.
    let user = |v: Value| v;
    refused(&app, a, M::POST, "/api/v1/users", user(json!({"password": PASSWORD, "role": "operator"})), (422, "invalid_field", "username"))
        .await;
    refused(
        &app,
        a,
        M::POST,
        "/api/v1/users",
        user(json!({"username": "", "password": PASSWORD, "role": "operator"})),
        (422, "invalid_field", "username"),
    )
    .await;
    refused(
        &app,
        a,
        M::POST,
        "/api/v1/users",
        user(json!({"username": "x".repeat(65), "password": PASSWORD, "role": "operator"})),
        (422, "invalid_field", "username"),
    )
    .await;
    refused(
        &app,
        a,
        M::POST,
        "/api/v1/users",
        user(json!({"username": "bob", "password": "short", "role": "operator"})),
        (422, "invalid_field", "password"),
    )
    .await;
    refused(
        &app,
        a,
        M::POST,
        "/api/v1/users",
        user(json!({"username": "bob", "password": PASSWORD, "role": "king"})),
        (422, "invalid_field", "role"),
    )
    .await;
    refused(
        &app,
        a,
        M::POST,
        "/api/v1/users",
        user(json!({"username": "bob", "password": PASSWORD, "role": "operator", "admin": true})),
        (422, "invalid_field", "admin"),
    )
    .await;
    refused(
        &app,
        a,
        M::POST,
        "/api/v1/users",
        user(json!({"username": 5, "password": PASSWORD, "role": "operator"})),
        (422, "invalid_field", "username"),
    )
    .await;
    refused(
        &app,
        a,
        M::POST,
        "/api/v1/users",
        user(json!({"username": "bob", "password": PASSWORD, "role": "operator", "email": "nope"})),
        (422, "invalid_field", "email"),
    )
    .await;
    refused(
        &app,
        a,
        M::POST,
        "/api/v1/users",
        user(json!({"username": "erin", "password": PASSWORD, "role": "operator"})),
        (409, "duplicate_username", "username"),
    )
    .await;
    let (_, users) = app.get(a, "/api/v1/users").await;
    assert_eq!(users.as_array().map(Vec::len), Some(2), "nothing stored: {users}");

    // Sensor configs and experiments.
    refused(&app, t, M::POST, "/api/v1/sensor-configs", json!({"name": "  "}), (422, "invalid_field", "name")).await;
    let config = format!("/api/v1/sensor-configs/{}", experiment.config_id);
    refused(
        &app,
        t,
        M::PUT,
        &config,
        json!({"sensors": [{"id": "ecg-1", "enabled": false}, {"id": "nope", "enabled": false}]}),
        (422, "unknown_id", "sensors[1].id"),
    )
    .await;
    refused(&app, t, M::PUT, &config, json!({"sensors": [{"id": "ecg-1", "enabled": "no"}]}), (422, "invalid_field", "sensors[0].enabled"))
        .await;
    let (_, unchanged) = app.get(t, &config).await;
    assert!(unchanged["sensors"].as_array().expect("sensors").iter().all(|s| s["enabled"] == true), "a rejected change stores nothing");
    refused(
        &app,
        t,
        M::POST,
        "/api/v1/experiments",
        json!({"name": long, "sensor_config_id": experiment.config_id}),
        (422, "invalid_field", "name"),
    )
    .await;
    refused(
        &app,
        t,
        M::POST,
        "/api/v1/experiments",
        json!({"name": "e", "sensor_config_id": "missing"}),
        (422, "unknown_id", "sensor_config_id"),
    )
    .await;
    refused(&app, t, M::POST, "/api/v1/experiments", json!({"name": "e"}), (422, "invalid_field", "sensor_config_id")).await;
    refused(
        &app,
        a,
        M::POST,
        "/api/v1/experiments",
        json!({"name": "e", "sensor_config_id": experiment.config_id, "owner_id": "ghost"}),
        (422, "unknown_id", "owner_id"),
    )
    .await;
    let (_, list) = app.get(a, "/api/v1/experiments").await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "nothing stored");

    // Members, recordings, logbook, progress.
    refused(&app, t, M::POST, &format!("/api/v1/experiments/{id}/participants"), json!({"code": "P01"}), (409, "duplicate_code", "code"))
        .await;
    refused(
        &app,
        t,
        M::POST,
        &format!("/api/v1/experiments/{id}/participants"),
        json!({"code": "P9", "attributes": [1]}),
        (422, "invalid_field", "attributes"),
    )
    .await;
    refused(
        &app,
        t,
        M::POST,
        &format!("/api/v1/experiments/{id}/tasks"),
        json!({"name": "t", "description": "d".repeat(10_001)}),
        (422, "invalid_field", "description"),
    )
    .await;
    refused(
        &app,
        t,
        M::PUT,
        &format!("/api/v1/experiments/{id}/operators"),
        json!({"user_ids": [owner_id(&app, t).await, "ghost"]}),
        (422, "unknown_id", "user_ids[1]"),
    )
    .await;
    refused(
        &app,
        t,
        M::POST,
        "/api/v1/recordings",
        json!({"experiment_id": id, "participant_id": "ghost"}),
        (422, "unknown_id", "participant_id"),
    )
    .await;
    refused(
        &app,
        t,
        M::POST,
        "/api/v1/recordings",
        json!({"experiment_id": id, "participant_id": experiment.participant_id, "task_id": "ghost"}),
        (422, "unknown_id", "task_id"),
    )
    .await;
    refused(&app, t, M::POST, &format!("/api/v1/experiments/{id}/logbook"), json!({"message": ""}), (422, "invalid_field", "message"))
        .await;
    refused(
        &app,
        t,
        M::POST,
        &format!("/api/v1/experiments/{id}/logbook"),
        json!({"message": "m", "recording_id": "ghost"}),
        (422, "unknown_id", "recording_id"),
    )
    .await;
    let progress = format!("/api/v1/experiments/{id}/participants/{}/progress/{}", experiment.participant_id, experiment.task_id);
    refused(&app, t, M::PUT, &progress, json!({"status": "finished"}), (422, "invalid_field", "status")).await;
    let (_, stored) = app.get(t, &format!("/api/v1/experiments/{id}")).await;
    assert_eq!((stored["participants"].as_array().map(Vec::len), stored["tasks"].as_array().map(Vec::len)), (Some(1), Some(1)));
    assert_eq!(app.get(t, &format!("/api/v1/experiments/{id}/logbook")).await.1, json!([]));

    // Unknown ids in the path, malformed JSON, wrong content type.
    assert_eq!(app.get(t, "/api/v1/experiments/ghost").await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.post(t, "/api/v1/recordings/ghost/stop", json!({})).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(a, "/api/v1/sensors/door-1/tokens/ghost").await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.post(a, "/api/v1/sensors/ghost/tokens", json!({})).await.0, StatusCode::NOT_FOUND);
    let raw = |body: &'static str, content_type: &'static str| {
        app.client.post(format!("{}/api/v1/sensor-configs", app.url)).bearer_auth(t).header("content-type", content_type).body(body).send()
    };
    let response = raw(r#"{"name": "a""#, "application/json").await.expect("send");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.expect("json")["code"], "malformed_json");
    let response = raw(r#"{"name": "a"}"#, "text/plain").await.expect("send");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (_, configs) = app.get(t, "/api/v1/sensor-configs").await;
    assert_eq!(configs.as_array().map(Vec::len), Some(1), "nothing stored");
    app.stop().await;
}

async fn owner_id(app: &TestApp, token: &str) -> String {
    app.get(token, "/api/v1/auth/me").await.1["id"].as_str().expect("id").to_owned()
}
