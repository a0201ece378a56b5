//! The `srs` binary as a user runs it: `srs serve` answers the operations endpoints and stops
//! cleanly on SIGTERM; bad settings and bad sensors files give one error line and a non-zero
//! exit; `srs keys generate` and `srs user add` work against the configured store.

mod support;

use std::time::Duration;
use support::*;

#[tokio::test]
async fn serve_answers_operations_endpoints_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (child, base) = serve(dir.path(), &[]);
    let client = reqwest::Client::new();
    let health = client.get(format!("{base}/healthz")).send().await.expect("healthz");
    assert_eq!(health.status(), 200);
    let ready: serde_json::Value = client.get(format!("{base}/readyz")).send().await.expect("readyz").json().await.expect("json");
    assert_eq!(ready, serde_json::json!({"status": "ok", "store": "ok", "bus": "ok"}));
    let metrics = client.get(format!("{base}/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("srs_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"), "{metrics}");
    let openapi: serde_json::Value =
        client.get(format!("{base}/api/v1/openapi.json")).send().await.expect("openapi").json().await.expect("json");
    assert!(openapi["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    assert!(openapi["paths"]["/readyz"]["get"].is_object());
    let missing = client.get(format!("{base}/api/v1/nothing-here")).send().await.expect("404");
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");

    let status = terminate(child);
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    let data = dir.path().join("data");
    assert!(data.join("srs.db").exists(), "SQLite database in the data dir");
    assert!(data.join("jwt/private.pem").exists() && data.join("jwt/public.pem").exists(), "JWT keys generated on first start");
}

#[tokio::test]
async fn serve_on_rabbitmq_is_ready() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = srs_testkit::amqp_url();
    // Queues of its own, deleted after: durable queues outlive the test on the shared broker.
    let (exports, events) = (srs_testkit::unique_queue("exports"), srs_testkit::unique_queue("notifier"));
    let queues = [("SRS__EXPORTER__QUEUE", exports.as_str()), ("SRS__NOTIFIER__QUEUE", events.as_str())];
    let (child, base) = serve(dir.path(), &[("SRS__BUS__BACKEND", "amqp"), ("SRS__BUS__AMQP_URL", &url), queues[0], queues[1]]);
    let client = reqwest::Client::new();
    let mut ready = None;
    for _ in 0..100 {
        let response = client.get(format!("{base}/readyz")).send().await.expect("readyz");
        if response.status() == 200 {
            ready = Some(response.json::<serde_json::Value>().await.expect("json"));
            break;
        }
        assert_eq!(response.status(), 503, "not ready until the broker connection is up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready, Some(serde_json::json!({"status": "ok", "store": "ok", "bus": "ok"})), "RabbitMQ must answer at {url}");
    assert!(terminate(child).success());
    srs_testkit::delete_queues(&[&exports, &events]).await;
}

#[test]
fn bad_settings_give_one_error_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = srs(dir.path()).args(["serve"]).env("SRS__SERVER__LISTEN", "nowhere").output().expect("run");
    assert_one_error_line(&output, "listen");
    let output = srs(dir.path()).args(["serve"]).env("SRS__STORE__BAKEND", "sqlite").output().expect("run");
    assert_one_error_line(&output, "bakend");
    std::fs::create_dir(dir.path().join("config")).expect("mkdir");
    std::fs::write(dir.path().join("config/default.toml"), "[bus]\nbackend = \"kafka\"\n").expect("write");
    let output = srs(dir.path()).args(["serve"]).output().expect("run");
    assert_one_error_line(&output, "kafka");
    std::fs::remove_dir_all(dir.path().join("config")).expect("rm");
    // A service's own section is checked by the service that owns it; a section no service
    // has is an error too.
    let output = srs(dir.path()).args(["serve"]).env("SRS__INGEST__QUEUE_CAPACITY", "1").output().expect("run");
    assert_one_error_line(&output, "ingest.queue_capacity");
    let output = srs(dir.path()).args(["serve"]).env("SRS__EXPORTER__WORKRS", "2").output().expect("run");
    assert_one_error_line(&output, "workrs");
    let output = srs(dir.path()).args(["serve"]).env("SRS__INGES__QUEUE_CAPACITY", "1").output().expect("run");
    assert_one_error_line(&output, "unknown section `inges`");
    let output = srs(dir.path()).args(["serve", "--services", "ingest,gateway"]).output().expect("run");
    assert_one_error_line(&output, "no service \"gateway\" (known: ingest, experiments, exporter, control, notifier, console)");
}

#[tokio::test]
async fn serve_runs_only_the_services_it_is_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = srs(dir.path());
    command.args(["serve", "--listen", "127.0.0.1:0", "--data-dir", "data", "--services", "ingest,exporter"]);
    let (child, base) = srs_testkit::spawn_listening(command, "srs");
    let document: serde_json::Value = reqwest::get(format!("{base}/api/v1/openapi.json")).await.expect("get").json().await.expect("json");
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.contains_key("/api/v1/samples") && paths.contains_key("/api/v1/exports"), "{:?}", paths.keys());
    assert!(!paths.contains_key("/api/v1/experiments"), "experiments is not running");
    let login = reqwest::Client::new().post(format!("{base}/api/v1/auth/login")).json(&serde_json::json!({})).send().await.expect("post");
    assert_eq!(login.status(), 404);
    assert!(support::terminate(child).success());
}

#[test]
fn bad_sensors_file_gives_one_error_line_naming_file_entry_and_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("sensors.json");
    std::fs::write(&file, r#"{"sensor_types": [{"name": "door", "fields": [{"name": "open", "type": "bool"}]}], "sensors": [{"id": "door-1", "type": "dooor"}]}"#)
        .expect("write");
    let output = srs(dir.path()).args(["serve", "--listen", "127.0.0.1:0"]).env("SRS__SENSORS__FILE", &file).output().expect("run");
    assert_one_error_line(&output, &format!("sensors file {}: sensors[0] (\"door-1\"): unknown sensor type \"dooor\"", file.display()));
    assert!(!dir.path().join("data/jwt").exists(), "nothing is written when start-up fails");
    let output = srs(dir.path()).args(["serve"]).env("SRS__SENSORS__FILE", dir.path().join("missing.json")).output().expect("run");
    assert_one_error_line(&output, "missing.json: cannot read");
}

#[test]
fn keys_generate_writes_a_pair_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = srs(dir.path()).args(["keys", "generate", "--out", "keys"]).output().expect("run");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let private = std::fs::read_to_string(dir.path().join("keys/private.pem")).expect("private key");
    assert!(private.contains("BEGIN PRIVATE KEY"));
    let output = srs(dir.path()).args(["keys", "generate", "--out", "keys"]).output().expect("run");
    assert_one_error_line(&output, "refusing to overwrite");
    assert_eq!(std::fs::read_to_string(dir.path().join("keys/private.pem")).expect("private key"), private);
}

#[tokio::test]
async fn user_add_creates_a_user_with_an_argon2id_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = user_add(dir.path(), "admin", "a long secret");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("created admin user admin"));
    assert_one_error_line(&user_add(dir.path(), "admin", "another secret"), "already exists");
    assert_one_error_line(&user_add(dir.path(), "shorty", "short"), "at least 8 characters");

    use srs_common::store::UserStore;
    let store = srs_common::store::sqlite::SqliteStore::open(&dir.path().join("data/srs.db")).await.expect("open");
    let user = store.find_user_by_username("admin").await.expect("find").expect("created");
    assert_eq!(user.role, srs_common::model::Role::Admin);
    assert!(srs_common::auth::password::verify("a long secret".into(), user.password_hash).await);
    assert!(store.find_user_by_username("shorty").await.expect("find").is_none());
}

#[tokio::test]
async fn several_processes_write_one_sqlite_file_while_serve_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, base) = serve(dir.path(), &[]);
    // Six separate `srs user add` processes write the file the server holds open, all at once.
    let writers: Vec<_> = (0..6)
        .map(|n| {
            let dir = dir.path().to_path_buf();
            std::thread::spawn(move || user_add(&dir, &format!("operator{n}"), "a long secret"))
        })
        .collect();
    for writer in writers {
        let output = writer.join().expect("writer thread");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let ready = reqwest::get(format!("{base}/readyz")).await.expect("readyz");
    assert_eq!(ready.status(), 200, "the server's store still answers");
    assert!(terminate(server).success());

    use srs_common::store::UserStore;
    let store = srs_common::store::sqlite::SqliteStore::open(&dir.path().join("data/srs.db")).await.expect("open");
    let mut names: Vec<String> = store.list_users().await.expect("list").into_iter().map(|u| u.username).collect();
    names.sort();
    assert_eq!(names, (0..6).map(|n| format!("operator{n}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn backup_and_restore_round_trip_through_the_cli() {
    use reqwest::Method;
    let (lab, fresh) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    assert!(user_add(lab.path(), "admin", "a long secret").status.success());
    let client = reqwest::Client::new();
    let (child, base) = serve(lab.path(), &[]);
    let token = login(&client, &base).await;
    let config = call(&client, Method::POST, format!("{base}/api/v1/sensor-configs"), &token, serde_json::json!({"name": "c"})).await;
    let experiment = call(
        &client,
        Method::POST,
        format!("{base}/api/v1/experiments"),
        &token,
        serde_json::json!({"name": "e", "sensor_config_id": config["id"]}),
    )
    .await;
    let id = experiment["id"].as_str().expect("id");
    call(&client, Method::POST, format!("{base}/api/v1/experiments/{id}/participants"), &token, serde_json::json!({"code": "P01"})).await;
    call(&client, Method::POST, format!("{base}/api/v1/experiments/{id}/logbook"), &token, serde_json::json!({"message": "calibrated"}))
        .await;
    call(&client, Method::POST, format!("{base}/api/v1/experiments/{id}/activate"), &token, serde_json::json!({})).await;
    let before = call(&client, Method::GET, format!("{base}/api/v1/experiments/{id}"), &token, serde_json::json!(null)).await;
    assert!(terminate(child).success());

    let file = lab.path().join("backup.json");
    let file_arg = file.to_str().expect("utf-8 path");
    assert!(srs_ok(lab.path(), &["--data-dir", "data", "backup", "--out", file_arg]).contains("1 experiments"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).expect("backup file").permissions().mode() & 0o777, 0o600, "the backup holds password hashes");
    }
    srs_ok(fresh.path(), &["--data-dir", "data", "restore", file_arg]);
    let refused = srs(fresh.path()).args(["--data-dir", "data", "restore", file_arg]).output().expect("run");
    assert_one_error_line(&refused, "not empty");
    assert!(srs_ok(fresh.path(), &["--data-dir", "data", "restore", "--force", file_arg]).contains("already present"));

    let (child, base) = serve(fresh.path(), &[]);
    let token = login(&client, &base).await;
    let after = call(&client, Method::GET, format!("{base}/api/v1/experiments/{id}"), &token, serde_json::json!(null)).await;
    assert_eq!(after, before, "the restored experiment is the same, still active");
    let log = call(&client, Method::GET, format!("{base}/api/v1/experiments/{id}/logbook"), &token, serde_json::json!(null)).await;
    assert_eq!(log[0]["message"], "calibrated");
    assert!(terminate(child).success());
}
