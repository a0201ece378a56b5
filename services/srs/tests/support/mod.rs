//! Running the `srs` binary the way a user does, for the CLI and end-to-end tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

pub fn srs(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_srs"));
    // Run in an empty directory so no config/ of the checkout is picked up.
    command.current_dir(dir).env_remove("SRS_ENV").env_remove("SRS_CONFIG_DIR").env("RUST_LOG", "warn");
    command
}

/// Starts `srs serve` on a free port and returns it with its base URL.
pub fn serve(dir: &Path, envs: &[(&str, &str)]) -> (Child, String) {
    let mut command = srs(dir);
    command.args(["serve", "--listen", "127.0.0.1:0", "--data-dir", "data"]).envs(envs.iter().copied());
    srs_testkit::spawn_listening(command, "srs")
}

pub use srs_testkit::terminate;

/// Asserts a failed run printed exactly one line, an `error:` line containing `expected`.
pub fn assert_one_error_line(output: &Output, expected: &str) {
    assert!(!output.status.success(), "must exit non-zero");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stderr, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(expected), "{stderr} should mention {expected}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

pub fn user_add(dir: &Path, username: &str, password: &str) -> Output {
    let mut child = srs(dir)
        .args(["--data-dir", "data", "user", "add", "--username", username, "--role", "admin", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    child.stdin.take().expect("stdin").write_all(format!("{password}\n").as_bytes()).expect("write password");
    child.wait_with_output().expect("wait")
}

pub fn srs_ok(dir: &Path, args: &[&str]) -> String {
    let output = srs(dir).args(args).output().expect("run srs");
    assert!(output.status.success(), "srs {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let response = client.request(method, url).bearer_auth(token).json(&body).send().await.expect("request");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.expect("json")
}

pub async fn login(client: &reqwest::Client, base: &str) -> String {
    let body = serde_json::json!({"username": "admin", "password": "a long secret"});
    let answer: serde_json::Value =
        client.post(format!("{base}/api/v1/auth/login")).json(&body).send().await.expect("login").json().await.expect("json");
    answer["access_token"].as_str().expect("access token").to_owned()
}

/// Posts `[]` until ingest stamps samples with `recording`.
pub async fn wait_for_recording(client: &reqwest::Client, base: &str, recording: &str) {
    for _ in 0..400 {
        if let Ok(response) = client.post(format!("{base}/api/v1/samples")).json(&serde_json::json!([])).send().await {
            let answer: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
            if answer["recording_id"] == recording {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("ingest never saw recording {recording}");
}

/// A lab on a running `srs serve` at `base` (its admin from `user_add`): an experiment with a
/// participant, activated, and a recording started. Returns the experiment and recording ids.
pub async fn lab(client: &reqwest::Client, base: &str) -> (String, String) {
    use reqwest::Method;
    let token = login(client, base).await;
    let config = call(client, Method::POST, format!("{base}/api/v1/sensor-configs"), &token, serde_json::json!({"name": "c"})).await;
    let experiment = call(
        client,
        Method::POST,
        format!("{base}/api/v1/experiments"),
        &token,
        serde_json::json!({"name": "crash", "sensor_config_id": config["id"]}),
    )
    .await;
    let id = experiment["id"].as_str().expect("id").to_owned();
    let participant =
        call(client, Method::POST, format!("{base}/api/v1/experiments/{id}/participants"), &token, serde_json::json!({"code": "P01"}))
            .await;
    call(client, Method::POST, format!("{base}/api/v1/experiments/{id}/activate"), &token, serde_json::json!({})).await;
    let recording = call(
        client,
        Method::POST,
        format!("{base}/api/v1/recordings"),
        &token,
        serde_json::json!({"experiment_id": id, "participant_id": participant["id"]}),
    )
    .await;
    (id, recording["id"].as_str().expect("id").to_owned())
}

/// How many copies of each sample id the experiment has in the SQLite store of `dir` (`srs
/// serve --data-dir data` in `dir`); every sample must carry an id.
pub async fn copies_by_id(dir: &Path, experiment: &str) -> std::collections::HashMap<String, usize> {
    use futures_util::TryStreamExt;
    use srs_common::store::SampleStore;
    let store = srs_common::store::sqlite::SqliteStore::open(&dir.join("data/srs.db")).await.expect("store");
    let query = srs_common::model::SampleQuery { experiment_id: experiment.to_owned(), ..Default::default() };
    let chunks: Vec<_> = store.stream_samples(query).try_collect().await.expect("read");
    let mut copies = std::collections::HashMap::new();
    for sample in chunks.into_iter().flatten() {
        *copies.entry(sample.sample_id.expect("every sample has an id")).or_default() += 1;
    }
    copies
}
