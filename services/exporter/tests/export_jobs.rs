//! The export job service through the real HTTP stack: a job asked for with POST runs on a
//! worker and ends done; pyarrow reads its files with the store's counts; downloads stream with
//! Content-Length and Range and never leave the export; access follows the experiment; bad
//! requests get problems and store nothing; a job failing every time ends failed, announced,
//! and dead-lettered.

mod support;

use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use srs_common::model::{ExportFilter, ExportRecord, Role};
use support::{check_with_pyarrow, App};

fn export_path(app: &App, view: &Value) -> std::path::PathBuf {
    let settings = srs_exporter::settings::ExporterSettings::from_settings(&app.context.settings).expect("exporter settings");
    let root = settings.exports_dir(&app.context.settings.data.dir);
    srs_exporter::export_dir(&root, &app.lab.experiment.id, view["id"].as_str().expect("id"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_job_runs_and_its_files_download_with_range() {
    let app = App::start(&[]).await;
    app.lab.record(0, 2_000).await;
    app.lab.record(1, 500).await;
    let mut events = app.context.bus.subscribe(&["export.#"]).await.expect("subscribe");
    let experiment_id = app.lab.experiment.id.clone();

    let view = app.export_and_wait(json!({"experiment_id": experiment_id})).await;
    assert_eq!(view["status"], "done", "{view}");
    assert_eq!(view["progress"], json!({"rows_written": 10_000, "rows_total": 10_000}));
    assert_eq!(view["attempts"], 1);
    assert!(view["finished_at"].is_string() && view.get("error").is_none(), "{view}");
    assert_eq!(check_with_pyarrow(&export_path(&app, &view)), app.lab.store_counts(|_| true).await);
    let completed = loop {
        let event = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv()).await.expect("an event").expect("open");
        if event.kind == "export.completed" {
            break event;
        }
    };
    assert_eq!(completed.payload["export_id"], view["id"]);
    assert_eq!(completed.payload["rows"], 10_000);

    // Every file downloads whole, with its size and checksum; parts download with Range.
    let id = view["id"].as_str().expect("id");
    let files = view["files"].as_array().expect("files");
    assert!(files.iter().any(|f| f["path"] == "P_02/2026-11-21/ecg.parquet"), "{files:?}");
    for file in files {
        let url = format!("{}/api/v1/exports/{id}/files/{}", app.url, file["path"].as_str().expect("path"));
        let response = app.client.get(&url).bearer_auth(&app.token).send().await.expect("download");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_LENGTH].to_str().expect("length"), file["bytes"].to_string());
        let body = response.bytes().await.expect("body");
        assert_eq!(hex::encode(Sha256::digest(&body)), file["sha256"].as_str().expect("sha256"));
    }
    let path = "P01/2026-11-20/ecg.parquet";
    let url = format!("{}/api/v1/exports/{id}/files/{path}", app.url);
    let whole = app.client.get(&url).bearer_auth(&app.token).send().await.expect("whole").bytes().await.expect("bytes");
    let part = app.client.get(&url).bearer_auth(&app.token).header(RANGE, "bytes=4-99").send().await.expect("range");
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()[CONTENT_RANGE].to_str().expect("range"), format!("bytes 4-99/{}", whole.len()));
    assert_eq!(part.bytes().await.expect("part"), whole.slice(4..100));
    let tail = app.client.get(&url).bearer_auth(&app.token).header(RANGE, "bytes=-8").send().await.expect("suffix");
    assert_eq!(tail.bytes().await.expect("tail"), whole.slice(whole.len() - 8..), "a Parquet file ends with its footer length and PAR1");
    let manifest: Value = app
        .client
        .get(format!("{}/api/v1/exports/{id}/files/manifest.json", app.url))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("manifest")
        .json()
        .await
        .expect("json");
    assert_eq!(manifest["rows"], 10_000);

    // Nothing outside the export's files can be named.
    for outside in [
        "..%2F..%2F..%2Fsrs.db",
        "%2e%2e/%2e%2e/%2e%2e/srs.db",
        "P01%2F..%2F..%2F..%2F..%2Fsrs.db",
        "%2Fetc%2Fpasswd",
        "nope.parquet",
        "P01",
    ] {
        let (status, problem) = app.get(&app.token, &format!("/api/v1/exports/{id}/files/{outside}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{outside}: {problem}");
    }

    let (_, listed) = app.get(&app.token, &format!("/api/v1/exports?experiment_id={experiment_id}")).await;
    assert_eq!(listed.as_array().map(|l| l.len()), Some(1));
    let (_, all) = app.get(&app.token, "/api/v1/exports").await;
    assert_eq!(all[0]["id"], view["id"]);
    // The export covers every sample, so the guarded delete lets them go.
    let response = app
        .client
        .delete(format!("{}/api/v1/experiments/{experiment_id}/samples", app.url))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_over_http_select_exactly_the_right_rows() {
    let app = App::start(&[]).await;
    app.lab.record(0, 300).await;
    app.lab.record(1, 300).await;
    let p2 = app.lab.experiment.participants[1].id.clone();
    let body = json!({"experiment_id": app.lab.experiment.id, "participant_ids": [p2], "sensor_types": ["ecg", "door"], "from": "2026-11-21", "to": "2026-11-21"});
    let view = app.export_and_wait(body).await;
    assert_eq!(view["status"], "done", "{view}");
    let expected = app
        .lab
        .store_counts(|s| s.participant_id == p2 && s.date == "2026-11-21" && ["ecg", "door"].contains(&s.sensor_type.as_str()))
        .await;
    assert_eq!(expected.len(), 2);
    assert_eq!(check_with_pyarrow(&export_path(&app, &view)), expected);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_follows_the_experiment() {
    let app = App::start(&[]).await;
    let view = app.export_and_wait(json!({"experiment_id": app.lab.experiment.id})).await;
    assert_eq!(view["status"], "done", "an experiment without samples exports its metadata: {view}");
    let names: Vec<&str> = view["files"].as_array().expect("files").iter().filter_map(|f| f["path"].as_str()).collect();
    assert_eq!(names, ["experiment.json", "logbook.json", "progress.json", "recordings.json"]);
    let id = view["id"].as_str().expect("id");

    let (_, stranger) = app.user("stranger", Role::Experimenter).await;
    let (operator_id, operator) = app.user("operator", Role::Operator).await;
    let experiment_id = app.lab.experiment.id.clone();
    for path in [
        format!("/api/v1/exports/{id}"),
        format!("/api/v1/exports/{id}/files/manifest.json"),
        format!("/api/v1/exports?experiment_id={experiment_id}"),
    ] {
        assert_eq!(app.get(&stranger, &path).await.0, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(app.get(&operator, &path).await.0, StatusCode::NOT_FOUND, "{path} before the operator is assigned");
    }
    assert_eq!(app.get(&stranger, "/api/v1/exports").await.1, json!([]));
    assert_eq!(app.post(&stranger, "/api/v1/exports", json!({"experiment_id": experiment_id})).await.0, StatusCode::NOT_FOUND);

    let assign = |experiment: &mut srs_common::model::Experiment| {
        experiment.operators.push(operator_id.clone());
        Ok(())
    };
    app.context.store.update_experiment(&experiment_id, &assign).await.expect("assign");
    assert_eq!(app.get(&operator, &format!("/api/v1/exports/{id}")).await.0, StatusCode::OK);
    assert_eq!(app.get(&operator, "/api/v1/exports").await.1[0]["id"], view["id"]);
    assert_eq!(
        app.client.get(format!("{}/api/v1/exports/{id}", app.url)).send().await.expect("anonymous").status(),
        StatusCode::UNAUTHORIZED
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_problems_and_store_nothing() {
    let app = App::start(&[]).await;
    let experiment_id = app.lab.experiment.id.clone();
    let (status, problem) = app.post(&app.token, "/api/v1/exports", json!({"experiment_id": "no-such-experiment"})).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let cases = [
        (json!({"experiment_id": experiment_id, "from": "2026-13-01"}), "from"),
        (json!({"experiment_id": experiment_id, "to": "yesterday"}), "to"),
        (json!({"experiment_id": experiment_id, "from": "2026-11-22", "to": "2026-11-20"}), "from"),
        (json!({"experiment_id": experiment_id, "participant_ids": ["ghost"]}), "participant_ids"),
        (json!({"experiment_id": experiment_id, "sensor_types": ["thermometer"]}), "sensor_types"),
    ];
    for (body, field) in cases {
        let (status, problem) = app.post(&app.token, "/api/v1/exports", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    for body in [json!({"experiment_id": experiment_id, "colour": "blue"}), json!({}), json!({"experiment_id": 7})] {
        let (status, problem) = app.post(&app.token, "/api/v1/exports", body.clone()).await;
        assert!(status.is_client_error(), "{body}: {status} {problem}");
    }
    assert!(app.context.store.list_exports(None).await.expect("list").is_empty(), "a refused request stores no job");
    assert_eq!(app.get(&app.token, "/api/v1/exports/no-such-export").await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&app.token, "/api/v1/exports?experiment_id=no-such-experiment").await.0, StatusCode::NOT_FOUND);

    // A job not done yet has no files to download.
    let queued = ExportRecord::queued(&experiment_id, ExportFilter::default());
    app.context.store.insert_export(&queued).await.expect("insert");
    let (status, problem) = app.get(&app.token, &format!("/api/v1/exports/{}/files/manifest.json", queued.id)).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::CONFLICT, Some("export_not_done")));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_failing_every_time_ends_failed_and_dead_lettered() {
    // The export directory cannot be created: a plain file is in its way.
    let blocker = tempfile::NamedTempFile::new().expect("file");
    let dir = blocker.path().join("exports").display().to_string();
    let app = App::start(&[("SRS__EXPORTER__DIR", &dir), ("SRS__BUS__JOB_DELIVERY_LIMIT", "3")]).await;
    app.lab.record(0, 10).await;
    let mut events = app.context.bus.subscribe(&["export.failed"]).await.expect("subscribe");
    let view = app.export_and_wait(json!({"experiment_id": app.lab.experiment.id})).await;
    assert_eq!(view["status"], "failed", "{view}");
    assert_eq!(view["attempts"], 3);
    let error = view["error"].as_str().expect("error");
    assert!(error.starts_with("failed 3 times") && error.contains(&dir), "{error}");
    let failed = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv()).await.expect("event").expect("open");
    assert_eq!((failed.payload["export_id"].clone(), failed.payload["attempts"].clone()), (view["id"].clone(), json!(3)));
    // The bus dead-letters the job right after its last failed delivery.
    let mut dead = Vec::new();
    for _ in 0..50 {
        dead = app.context.bus.take_dead_letters("exports", 10).await.expect("dead letters");
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].payload["export_id"], view["id"]);
    app.stop().await;
}

/// The export directory's disk fills up: the job fails with an error that says so, leaves no
/// files behind, and the next export works once space is freed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_on_a_full_disk_fails_cleanly_and_the_next_one_works() {
    let disk = srs_testkit::small_disk::SmallDisk::mount("4m");
    let dir = disk.path().join("exports");
    let app = App::start(&[("SRS__EXPORTER__DIR", &dir.display().to_string()), ("SRS__BUS__JOB_DELIVERY_LIMIT", "2")]).await;
    app.lab.record(0, 2_000).await;
    let filler = disk.fill();
    let view = app.export_and_wait(json!({"experiment_id": app.lab.experiment.id})).await;
    assert_eq!((view["status"].as_str(), view["attempts"].as_u64()), (Some("failed"), Some(2)), "{view}");
    let error = view["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("failed 2 times") && error.contains("No space left on device"), "{error}");
    let experiment_dir = dir.join(&app.lab.experiment.id);
    let left: Vec<_> = std::fs::read_dir(&experiment_dir).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "a failed export leaves no files: {left:?}");

    std::fs::remove_file(filler).expect("free the space");
    let view = app.export_and_wait(json!({"experiment_id": app.lab.experiment.id})).await;
    assert_eq!(view["status"], "done", "{view}");
    let export_dir = srs_exporter::export_dir(&dir, &app.lab.experiment.id, view["id"].as_str().expect("id"));
    assert_eq!(support::check_with_pyarrow(&export_dir), app.lab.store_counts(|_| true).await);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_the_broker_cannot_take_is_refused_and_recorded_failed() {
    // A broker that is not there: the publish times out.
    let app = App::start(&[
        ("SRS__BUS__BACKEND", "amqp"),
        ("SRS__BUS__AMQP_URL", "amqp://guest:guest@127.0.0.1:9/%2f"),
        ("SRS__BUS__PUBLISH_TIMEOUT_MS", "300"),
    ])
    .await;
    let (status, problem) = app.post(&app.token, "/api/v1/exports", json!({"experiment_id": app.lab.experiment.id})).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("bus_unavailable")), "{problem}");
    assert!(!problem.to_string().contains("127.0.0.1"), "the broker's own words stay in the log: {problem}");
    let (_, exports) = app.get(&app.token, &format!("/api/v1/exports?experiment_id={}", app.lab.experiment.id)).await;
    let record = &exports.as_array().expect("list")[0];
    assert_eq!(record["status"], "failed", "{record}");
    assert_eq!(record["error"], "could not be queued: the job queue is unavailable");
    app.stop().await;
}
