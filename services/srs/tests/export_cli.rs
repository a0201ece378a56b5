//! `srs export` offline: an experiment recorded through `srs serve` is exported to Parquet that
//! pyarrow reads with the right rows; bad arguments give one error line; the export counts for
//! the guarded delete.

mod support;

use reqwest::Method;
use serde_json::{json, Value};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_offline_then_delete_the_exported_samples() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(user_add(dir.path(), "admin", "a long secret").status.success());
    let client = reqwest::Client::new();
    let (child, base) = serve(dir.path(), &[]);
    let token = login(&client, &base).await;
    let config = call(&client, Method::POST, format!("{base}/api/v1/sensor-configs"), &token, json!({"name": "c"})).await;
    let experiment =
        call(&client, Method::POST, format!("{base}/api/v1/experiments"), &token, json!({"name": "e", "sensor_config_id": config["id"]}))
            .await;
    let id = experiment["id"].as_str().expect("id").to_owned();
    let participant =
        call(&client, Method::POST, format!("{base}/api/v1/experiments/{id}/participants"), &token, json!({"code": "P01"})).await;
    call(&client, Method::POST, format!("{base}/api/v1/experiments/{id}/activate"), &token, json!({})).await;
    let recording = call(
        &client,
        Method::POST,
        format!("{base}/api/v1/recordings"),
        &token,
        json!({"experiment_id": id, "participant_id": participant["id"]}),
    )
    .await;
    let recording_id = recording["id"].as_str().expect("id");
    let start = srs_common::time::now_ns() - 3_600_000_000_000;
    let ecg: Vec<Value> =
        (0..2_000).map(|i| json!({"sensor_id": "ecg-1", "ts": start + i * 4_000_000, "values": {"lead_i": 0.5}})).collect();
    let door: Vec<Value> =
        (0..50).map(|i| json!({"sensor_id": "door-1", "ts": start + i * 1_000_000_000, "values": {"open": i % 2 == 0}})).collect();
    let mut stored = 0;
    for _ in 0..200 {
        let answer: Value =
            client.post(format!("{base}/api/v1/samples")).json(&json!([])).send().await.expect("probe").json().await.expect("json");
        if answer["recording_id"] == recording_id {
            for batch in [&ecg, &door] {
                let answer: Value =
                    client.post(format!("{base}/api/v1/samples")).json(batch).send().await.expect("post").json().await.expect("json");
                stored += answer["stored"].as_u64().expect("stored");
            }
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(stored, 2_050);
    call(&client, Method::POST, format!("{base}/api/v1/recordings/{recording_id}/stop"), &token, json!({})).await;
    assert!(terminate(child).success());

    let output = srs_ok(dir.path(), &["--data-dir", "data", "export", "--experiment", &id, "--out", "exports"]);
    let exported = output.trim().rsplit(" to ").next().expect("directory");
    let report: Value = serde_json::from_str(&srs_testkit::check_export(&dir.path().join(exported))).expect("report");
    let rows = |sensor_type: &str| -> u64 {
        let files = report["rows"].as_object().expect("rows");
        files
            .iter()
            .filter(|(path, _)| path.starts_with("P01/") && path.ends_with(&format!("/{sensor_type}")))
            .filter_map(|(_, n)| n.as_u64())
            .sum()
    };
    assert_eq!((rows("ecg"), rows("door")), (2_000, 50));

    let refused = srs(dir.path())
        .args(["--data-dir", "data", "export", "--experiment", &id, "--participant", "NOPE", "--out", "exports"])
        .output()
        .expect("run");
    assert_one_error_line(&refused, "no participant NOPE");
    let refused = srs(dir.path())
        .args(["--data-dir", "data", "export", "--experiment", &id, "--from", "2026-13-01", "--out", "exports"])
        .output()
        .expect("run");
    assert_one_error_line(&refused, "from");

    // The offline export counts: the samples it covers may now be deleted.
    let (child, base) = serve(dir.path(), &[]);
    let token = login(&client, &base).await;
    let deleted = call(&client, Method::DELETE, format!("{base}/api/v1/experiments/{id}/samples"), &token, json!(null)).await;
    assert_eq!(deleted, json!({"deleted": 2_050}));
    assert!(terminate(child).success());
}
