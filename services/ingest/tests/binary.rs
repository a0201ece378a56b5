//! `srs-ingest`, the service alone as the distributed deployment runs it: it reads the
//! recording context from the shared store, accepts samples, and stops on SIGTERM.

use std::path::Path;
use std::process::Command;

/// `srs-ingest` in `dir`, verifying tokens with the key pair in `keys` (it signs none).
fn ingest(dir: &Path, keys: &Path) -> Command {
    let mut command = srs_testkit::service_command(env!("CARGO_BIN_EXE_srs-ingest"), dir);
    command
        .env("SRS__DATA__DIR", dir.join("data"))
        .env("SRS__AUTH__JWT_PUBLIC_KEY", keys.join("public.pem"))
        .env("SRS__AUTH__JWT_PRIVATE_KEY", dir.join("no-signing-key-here.pem"));
    command
}

#[tokio::test]
async fn runs_alone_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("keys");
    srs_common::auth::keys::write_pair(&keys.join("private.pem"), &keys.join("public.pem")).expect("keys");
    let mut command = ingest(dir.path(), &keys);
    command
        // One environment serves every binary of a deployment: the exporter's section is
        // accepted here (and checked by srs-exporter).
        .env("SRS__EXPORTER__WORKERS", "4");
    let (child, base) = srs_testkit::spawn_listening(command, "srs-ingest");

    let client = reqwest::Client::new();
    let answer: serde_json::Value = client
        .post(format!("{base}/api/v1/samples"))
        .json(&serde_json::json!({"sensor_id": "door-1", "values": {"open": true}}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(answer, serde_json::json!({"accepted": 1, "stored": 0, "duplicates": 0, "recording_id": null}), "nothing records");
    // It verifies tokens signed by the experiments service with the shared key pair.
    let token = srs_testkit::signed_access_token(&keys, srs_common::model::Role::Operator);
    let status = client.get(format!("{base}/api/v1/sensors/status")).bearer_auth(token).send().await.expect("status");
    assert_eq!(status.status(), 200);

    assert!(srs_testkit::terminate(child).success());
}

/// Two `srs-ingest` replicas on one broker: each one's `GET /api/v1/sensors/status` counts what
/// both received.
#[tokio::test]
async fn the_status_of_each_replica_counts_every_replica() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("keys");
    srs_common::auth::keys::write_pair(&keys.join("private.pem"), &keys.join("public.pem")).expect("keys");
    // A sensor of its own, so that other tests' activity on the shared broker cannot count.
    let sensor = format!("door-{}", &srs_common::model::new_id()[24..]);
    let sensors_file = dir.path().join("sensors.json");
    let file = serde_json::json!({"sensor_types": [{"name": "door", "fields": [{"name": "open", "type": "bool"}]}], "sensors": [{"id": sensor, "type": "door"}]});
    std::fs::write(&sensors_file, file.to_string()).expect("sensors file");
    let replica = || {
        let mut command = ingest(dir.path(), &keys);
        command
            .env("SRS__SENSORS__FILE", &sensors_file)
            .env("SRS__BUS__BACKEND", "amqp")
            .env("SRS__BUS__AMQP_URL", srs_testkit::amqp_url());
        srs_testkit::spawn_listening(command, "srs-ingest")
    };
    let ((a, url_a), (b, url_b)) = (replica(), replica());
    let token = srs_testkit::signed_access_token(&keys, srs_common::model::Role::Operator);
    let client = reqwest::Client::new();
    // Subscriptions are made at start-up; give both a moment to bind.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    for (url, count) in [(&url_a, 10), (&url_b, 15)] {
        let samples: Vec<_> = (0..count).map(|_| serde_json::json!({"sensor_id": sensor, "values": {"open": true}})).collect();
        let response = client.post(format!("{url}/api/v1/samples")).json(&samples).send().await.expect("post");
        assert_eq!(response.status(), 200);
    }
    let mut counted = Vec::new();
    for _ in 0..50 {
        counted.clear();
        for url in [&url_a, &url_b] {
            let status: serde_json::Value = client
                .get(format!("{url}/api/v1/sensors/status"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("status")
                .json()
                .await
                .expect("json");
            counted.push(status[0]["samples_last_minute"].as_u64().unwrap_or(0));
        }
        if counted == [25, 25] {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(counted, [25, 25], "each replica counts both");
    assert!(srs_testkit::terminate(a).success());
    assert!(srs_testkit::terminate(b).success());
}
