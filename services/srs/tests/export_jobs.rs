//! Export jobs in `srs serve`, whose in-process bus forgets its queue with the process: a job
//! killed mid-export (SIGKILL) is queued again from the store at the next start and completes,
//! correct and with no partial file; `srs import` loads the export into another store, and a
//! second import stores nothing new.

mod support;

use srs_common::model::{ExportFilter, ExportRecord, ExportStatus};
use srs_testkit::lab::{check_with_pyarrow, sqlite, Lab};
use std::path::Path;
use std::time::Duration;
use support::*;

/// Polls the record until `done` says so (up to 120 s).
async fn wait_for(lab: &Lab, id: &str, done: impl Fn(&ExportRecord) -> bool) -> ExportRecord {
    for _ in 0..1_200 {
        let record = lab.store.get_export(id).await.expect("get").expect("record");
        if done(&record) {
            return record;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("export {id} did not get there within 120 s");
}

fn has_partial(dir: &Path) -> bool {
    std::fs::read_dir(dir).into_iter().flatten().flatten().any(|entry| {
        let path = entry.path();
        path.to_string_lossy().ends_with(".partial") || (path.is_dir() && has_partial(&path))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_export_resumes_at_the_next_start_and_imports_into_another_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let lab = Lab::on(sqlite(&data).await, tempfile::tempdir().expect("spare"), "owner").await;
    lab.record(0, 150_000).await;
    lab.record(1, 1_000).await;
    let record = ExportRecord::queued(&lab.experiment.id, ExportFilter::default());
    lab.store.insert_export(&record).await.expect("queued job");

    let (mut first, _) = serve(dir.path(), &[]);
    wait_for(&lab, &record.id, |r| r.status == ExportStatus::Running && r.rows_written > 0).await;
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    let exports = data.join("exports");
    assert!(has_partial(&exports), "killed mid-job");

    let (second, _) = serve(dir.path(), &[]);
    let done = wait_for(&lab, &record.id, |r| r.status.is_finished()).await;
    assert_eq!((done.status, done.attempts, done.rows_written), (ExportStatus::Done, 2, 604_000), "{:?}", done.error);
    assert!(!has_partial(&exports), "no stray partial files");
    let export_dir = srs_exporter::export_dir(&exports, &lab.experiment.id, &record.id);
    assert_eq!(check_with_pyarrow(&export_dir), lab.store_counts(|_| true).await);
    assert!(terminate(second).success());

    let export_dir = export_dir.display().to_string();
    let output = srs_ok(dir.path(), &["--data-dir", "other", "import", &export_dir]);
    assert!(output.starts_with("imported 604000 samples") && output.contains(": 604000 stored, 0 already"), "{output}");
    let output = srs_ok(dir.path(), &["--data-dir", "other", "import", &export_dir]);
    assert!(output.contains(": 0 stored, 604000 already in the store; 0 metadata records"), "{output}");
    let other = sqlite(&dir.path().join("other")).await;
    let id = &lab.experiment.id;
    assert_eq!(other.sample_stats(id).await.expect("stats"), lab.store.sample_stats(id).await.expect("stats"));

    let output = srs(dir.path()).args(["--data-dir", "other", "import", "no-such-dir"]).output().expect("run");
    assert_one_error_line(&output, "no-such-dir");
}
