//! The OpenAPI document covers every endpoint of the contract with schemas, and the API docs
//! page is served.

mod support;

use support::{Backend, TestApp};

const CONTRACT: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("get", "/api/v1/auth/me"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/users"),
    ("get", "/api/v1/users/{id}"),
    ("patch", "/api/v1/users/{id}"),
    ("delete", "/api/v1/users/{id}"),
    ("post", "/api/v1/sensors/{sensor_id}/tokens"),
    ("delete", "/api/v1/sensors/{sensor_id}/tokens/{id}"),
    ("get", "/api/v1/sensor-types"),
    ("post", "/api/v1/sensor-configs"),
    ("get", "/api/v1/sensor-configs"),
    ("get", "/api/v1/sensor-configs/{id}"),
    ("put", "/api/v1/sensor-configs/{id}"),
    ("post", "/api/v1/experiments"),
    ("get", "/api/v1/experiments"),
    ("get", "/api/v1/experiments/{id}"),
    ("patch", "/api/v1/experiments/{id}"),
    ("post", "/api/v1/experiments/{id}/tasks"),
    ("post", "/api/v1/experiments/{id}/participants"),
    ("put", "/api/v1/experiments/{id}/operators"),
    ("post", "/api/v1/experiments/{id}/activate"),
    ("post", "/api/v1/experiments/{id}/deactivate"),
    ("get", "/api/v1/experiments/active"),
    ("post", "/api/v1/recordings"),
    ("post", "/api/v1/recordings/{id}/stop"),
    ("get", "/api/v1/recordings"),
    ("post", "/api/v1/experiments/{id}/logbook"),
    ("get", "/api/v1/experiments/{id}/logbook"),
    ("put", "/api/v1/experiments/{id}/participants/{participant_id}/progress/{task_id}"),
    ("get", "/api/v1/experiments/{id}/progress"),
    ("get", "/api/v1/experiments/{id}/samples/stats"),
    ("delete", "/api/v1/experiments/{id}/samples"),
];

#[tokio::test]
async fn openapi_covers_every_endpoint_and_the_docs_page_is_served() {
    let app = TestApp::start(Backend::Sqlite).await;
    let document: serde_json::Value =
        app.client.get(format!("{}/api/v1/openapi.json", app.url)).send().await.expect("get").json().await.expect("json");
    let mut missing = Vec::new();
    for (method, path) in CONTRACT {
        let operation = &document["paths"][path][method];
        if operation.is_null() {
            missing.push(format!("{method} {path}"));
            continue;
        }
        assert!(operation["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} documents its responses");
        if ["post", "put", "patch"].contains(method) && operation["requestBody"].is_null() {
            let bodiless =
                path.ends_with("/activate") || path.ends_with("/deactivate") || path.ends_with("/stop") || path.ends_with("/tokens");
            assert!(bodiless, "{method} {path} documents its request body");
        }
    }
    assert!(missing.is_empty(), "not in the OpenAPI document: {missing:?}");
    let schemas = document["components"]["schemas"].as_object().expect("schemas");
    for schema in ["ExperimentView", "UserView", "TokenPair", "NewExperiment", "RecordingView", "Problem", "RecordingStarted"] {
        assert!(schemas.contains_key(schema), "schema {schema}");
    }
    assert!(!document.to_string().contains("password_hash"), "no hash in any schema");
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());

    let page = app.client.get(format!("{}/api/v1/docs", app.url)).send().await.expect("docs");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("<html") && html.contains("swagger-ui"), "the reference page (its assets: srs's api_document test)");
    app.stop().await;
}
