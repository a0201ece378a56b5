//! `srs-console` alone, as the gateway reaches it: the app, and the whole API's document (the
//! same as `srs serve`'s, which is the committed snapshot), its reference page and the problems
//! page.

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
