//! `srs-experiments`, the service alone as the distributed deployment runs it: configured key
//! files, its own listener, SIGTERM to stop; missing keys stop it with one error line.

use std::path::Path;
use std::process::Command;

fn service(dir: &Path, keys: &Path) -> Command {
    let mut command = srs_testkit::service_command(env!("CARGO_BIN_EXE_srs-experiments"), dir);
    command
        .env("SRS__DATA__DIR", dir.join("data"))
        .env("SRS__AUTH__JWT_PRIVATE_KEY", keys.join("private.pem"))
        .env("SRS__AUTH__JWT_PUBLIC_KEY", keys.join("public.pem"));
    command
}

#[tokio::test]
async fn runs_alone_with_configured_keys_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("keys");
    srs_common::auth::keys::write_pair(&keys.join("private.pem"), &keys.join("public.pem")).expect("keys");
    let (child, base) = srs_testkit::spawn_listening(service(dir.path(), &keys), "srs-experiments");

    // An admin created straight in its SQLite file (as `srs user add` does) signs in over HTTP.
    let store: srs_common::store::DynStore =
        std::sync::Arc::new(srs_common::store::sqlite::SqliteStore::open(&dir.path().join("data/srs.db")).await.expect("store"));
    let new = srs_experiments::NewUser {
        username: "admin".into(),
        password: "a long secret".into(),
        role: srs_common::model::Role::Admin,
        email: None,
    };
    srs_experiments::create_user(&store, new).await.expect("user");
    let client = reqwest::Client::new();
    let login: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": "a long secret"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["access_token"].as_str().expect("access token");
    let me: serde_json::Value =
        client.get(format!("{base}/api/v1/auth/me")).bearer_auth(token).send().await.expect("me").json().await.expect("json");
    assert_eq!(me["role"], "admin");
    assert!(!dir.path().join("data/jwt").exists(), "configured keys are used, none generated");

    assert!(srs_testkit::terminate(child).success());
}

#[test]
fn missing_configured_keys_give_one_error_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = service(dir.path(), &dir.path().join("nowhere")).output().expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: ") && stderr.contains("public.pem"), "{stderr}");
}
