//! `srs-console` alone, as the gateway reaches it: the app, and the whole API's document (the
//! same as `srs serve`'s, which is the committed snapshot), its reference page and the problems
//! page, and the problem documents for the gateway's own answers.

#[tokio::test]
async fn alone_it_serves_the_app_and_the_whole_api_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = srs_testkit::service_command(env!("CARGO_BIN_EXE_srs-console"), dir.path());
    command.env("SRS__DATA__DIR", dir.path());
    let (child, base) = srs_testkit::spawn_listening(command, "srs-console");
    let client = reqwest::Client::new();
    let document: serde_json::Value =
        client.get(format!("{base}/api/v1/openapi.json")).send().await.expect("get").json().await.expect("json");
    let snapshot: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(srs_testkit::workspace().join("docs/openapi.json")).expect("snapshot"))
            .expect("json");
    assert_eq!(document, snapshot, "the document srs-console serves alone is srs serve's");
    for page in ["/api/v1/docs/", "/api/v1/docs/problems", "/console/dashboard"] {
        let response = client.get(format!("{base}{page}")).send().await.expect("get");
        assert_eq!(response.status(), 200, "{page}");
    }
    assert!(srs_testkit::terminate(child).success());
}

#[tokio::test]
async fn it_answers_the_gateways_own_errors_as_problems() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = srs_testkit::service_command(env!("CARGO_BIN_EXE_srs-console"), dir.path());
    command.env("SRS__DATA__DIR", dir.path());
    let (child, base) = srs_testkit::spawn_listening(command, "srs-console");
    let client = reqwest::Client::new();
    let cases = [
        ("/gateway-error/429?retry_after=7", 429, "too_many_requests", Some("7")),
        ("/gateway-error/502?retry_after=2&url=%2Fapi%2Fv1%2Fsamples", 502, "service_unreachable", Some("2")),
        ("/gateway-error/503", 503, "service_unavailable", Some("1")),
        ("/gateway-error/504?retry_after=5", 504, "service_timeout", Some("5")),
        ("/gateway-error/404?url=%2Fhealthz", 404, "not_found", None),
        ("/gateway-error/200", 404, "not_found", None),
    ];
    for (page, status, code, retry_after) in cases {
        // The unmatched-path router forwards the client's method, so any method gets the page.
        for method in [reqwest::Method::GET, reqwest::Method::POST] {
            let response = client.request(method.clone(), format!("{base}{page}")).send().await.expect("request");
            assert_eq!(response.status(), status, "{method} {page}");
            assert_eq!(response.headers()["content-type"], "application/problem+json", "{page}");
            assert_eq!(response.headers().get("retry-after").map(|v| v.to_str().expect("ascii")), retry_after, "{page}");
            let problem: serde_json::Value = response.json().await.expect("json");
            assert_eq!(problem["code"], code, "{page}");
            assert_eq!(problem["status"], status, "{page}");
        }
    }
    let problem: serde_json::Value =
        client.get(format!("{base}/gateway-error/502?url=%2Fapi%2Fv1%2Fsamples")).send().await.expect("get").json().await.expect("json");
    assert!(problem["detail"].as_str().expect("detail").contains("/api/v1/samples"), "{problem}");
    assert!(srs_testkit::terminate(child).success());
}
