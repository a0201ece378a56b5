//! The shared HTTP plumbing through a real server on port 0: problem+json for bad bodies and
//! unknown paths, readiness that names the dependency that is down, metrics by route, and a
//! graceful stop that lets in-flight requests finish.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use srs_common::bus::memory::MemoryBus;
use srs_common::http::{Mount, RunningServer, ServerBuilder};
use srs_common::sensors::SensorCatalog;
use srs_common::store::sqlite::SqliteStore;
use srs_common::{AppContext, Settings};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Note {
    message: String,
    priority: u8,
}

async fn create_note(_note: web::Json<Note>) -> HttpResponse {
    HttpResponse::Created().finish()
}

async fn slow() -> HttpResponse {
    tokio::time::sleep(Duration::from_millis(700)).await;
    HttpResponse::Ok().body("finished")
}

async fn context(dir: &Path) -> (AppContext, Arc<MemoryBus>) {
    let settings = Settings::load_from(dir, None, Vec::new(), &[]).expect("settings");
    let store = SqliteStore::open(&dir.join("srs.db")).await.expect("store");
    let bus = Arc::new(MemoryBus::new(3));
    let sensors = Arc::new(SensorCatalog::load(Path::new("")).expect("sensors"));
    let jwt = Arc::new(srs_common::auth::jwt::JwtKeys::ephemeral("srs", "srs").expect("keys"));
    (
        AppContext { settings: Arc::new(settings), store: Arc::new(store), bus: bus.clone(), sensors, jwt, readiness: Default::default() },
        bus,
    )
}

fn test_routes() -> Mount {
    Arc::new(|config: &mut web::ServiceConfig| {
        config.route("/api/v1/notes/{id}", web::post().to(create_note)).route("/slow", web::get().to(slow));
    })
}

/// A server on a free port with the test routes mounted, and its base URL.
async fn serve_test_routes(dir: &Path) -> (RunningServer, String) {
    let (context, _) = context(dir).await;
    let server = ServerBuilder::new(context)
        .mount(test_routes(), utoipa::openapi::OpenApi::default())
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let base = format!("http://{}", server.addr());
    (server, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_and_unknown_paths_get_problem_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, base) = serve_test_routes(dir.path()).await;
    let client = reqwest::Client::new();
    let post = |body: &'static str, content_type: &'static str| {
        client.post(format!("{base}/api/v1/notes/1")).header("content-type", content_type).body(body).send()
    };
    let cases = [
        (post(r#"{"message": "hi", "priority": 1}"#, "application/json").await.expect("send"), 201, None),
        (post(r#"{"message": "hi", "#, "application/json").await.expect("send"), 400, Some("malformed_json")),
        (post(r#"{"message": "hi", "priority": "high"}"#, "application/json").await.expect("send"), 422, Some("invalid_field")),
        (post(r#"{"message": "hi", "priority": 1, "colour": 2}"#, "application/json").await.expect("send"), 422, Some("invalid_field")),
        (post("message=hi", "application/x-www-form-urlencoded").await.expect("send"), 415, Some("unsupported_media_type")),
        (client.get(format!("{base}/api/v1/nothing")).send().await.expect("send"), 404, Some("not_found")),
    ];
    for (response, status, code) in cases {
        assert_eq!(response.status().as_u16(), status);
        if let Some(code) = code {
            assert_eq!(response.headers()["content-type"], "application/problem+json");
            let problem: serde_json::Value = response.json().await.expect("json");
            assert_eq!(problem["code"], code, "{problem}");
            assert_eq!(problem["status"], status);
            assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
        }
    }
    let metrics = client.get(format!("{base}/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(
        metrics.contains(r#"srs_http_requests_total{method="POST",route="/api/v1/notes/{id}",status="201"} 1"#),
        "labels use the route pattern:\n{metrics}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_names_the_dependency_that_is_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (context, bus) = context(dir.path()).await;
    let server = ServerBuilder::new(context).bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
    let url = format!("http://{}/readyz", server.addr());
    assert_eq!(reqwest::get(&url).await.expect("readyz").status(), 200);
    srs_common::bus::Bus::close(&*bus).await;
    let response = reqwest::get(&url).await.expect("readyz");
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let problem: serde_json::Value = response.json().await.expect("json");
    assert_eq!(problem["code"], "not_ready");
    assert_eq!(problem["detail"], "bus: memory bus is not connected");
    assert_eq!(reqwest::get(url.replace("readyz", "healthz")).await.expect("healthz").status(), 200, "still alive");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_lets_in_flight_requests_finish_and_refuses_new_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, base) = serve_test_routes(dir.path()).await;
    let in_flight = tokio::spawn(reqwest::get(format!("{base}/slow")));
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.stop().await;
    let response = in_flight.await.expect("task").expect("the in-flight request is answered");
    assert_eq!(response.text().await.expect("body"), "finished");
    assert!(reqwest::get(format!("{base}/healthz")).await.is_err(), "no new connections after stop");
}
