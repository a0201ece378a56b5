//! `srs-exporter` as the distributed deployment runs it, on the real RabbitMQ: killed with
//! SIGKILL in the middle of a job, its job is redelivered by the broker when it comes back, and
//! the export ends complete and correct, with no partial file left anywhere.

mod support;

use srs_common::bus::Bus;
use srs_common::events::{self, ExportRequested};
use srs_common::model::{ExportFilter, ExportRecord, ExportStatus};
use std::path::Path;
use std::time::Duration;
use support::{check_with_pyarrow, lab};

fn exporter(data_dir: &Path, queue: &str) -> (std::process::Child, String) {
    let mut command = srs_testkit::service_command(env!("CARGO_BIN_EXE_srs-exporter"), data_dir);
    command
        .env("SRS__DATA__DIR", data_dir)
        .env("SRS__BUS__BACKEND", "amqp")
        .env("SRS__BUS__AMQP_URL", srs_testkit::amqp_url())
        .env("SRS__BUS__HEARTBEAT_SECS", "2")
        // The queue's arguments must match the test bus's (delivery limit 3).
        .env("SRS__BUS__JOB_DELIVERY_LIMIT", "3")
        .env("SRS__EXPORTER__QUEUE", queue)
        // A killed worker's job is taken over once its lease lapses.
        .env("SRS__EXPORTER__LEASE_SECS", "3")
        .env("SRS__EXPORTER__RECONCILE_SECS", "1");
    srs_testkit::spawn_listening(command, "srs-exporter")
}

/// Every file and directory under `dir` whose name ends in `.partial`.
fn partial_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.to_string_lossy().ends_with(".partial") {
            found.push(path.display().to_string());
        }
        if path.is_dir() {
            found.extend(partial_files(&path));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_killed_mid_export_is_redelivered_and_completes() {
    let lab = lab().await;
    lab.record(0, 200_000).await;
    lab.record(1, 2_000).await;
    let bus = srs_testkit::amqp_bus().await;
    let queue = srs_testkit::unique_queue("exports");
    let record = ExportRecord::queued(&lab.experiment.id, ExportFilter::default());
    lab.store.insert_export(&record).await.expect("record");
    let mut progress = bus.subscribe(&["export.progress"]).await.expect("subscribe");
    bus.enqueue(&queue, &[events::event(events::EXPORT_REQUESTED, &ExportRequested { export_id: record.id.clone() })])
        .await
        .expect("enqueue");

    let data_dir = lab.dir.path();
    let (mut first, _) = exporter(data_dir, &queue);
    // Mid-job: it has reported rows written, over the broker.
    let reported = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let event = progress.recv().await.expect("subscription open");
            if event.payload["export_id"] == record.id.as_str() && event.payload["rows_written"].as_u64() > Some(0) {
                return event;
            }
        }
    })
    .await
    .expect("an export.progress event with rows written within 60 s");
    assert_eq!(reported.payload["rows_total"], 808_000);
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    let killed = lab.store.get_export(&record.id).await.expect("get").expect("record");
    assert_eq!((killed.status, killed.attempts), (ExportStatus::Running, 1), "killed mid-job");
    let exports = data_dir.join("exports");
    assert!(!partial_files(&exports).is_empty(), "the killed job left its partial export");

    let (second, _) = exporter(data_dir, &queue);
    let mut done = killed;
    for _ in 0..1_200 {
        done = lab.store.get_export(&record.id).await.expect("get").expect("record");
        if done.status.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!((done.status, done.attempts), (ExportStatus::Done, 2), "redelivered once and completed: {:?}", done.error);
    assert_eq!(done.rows_written, 808_000);
    assert_eq!(partial_files(&exports), Vec::<String>::new(), "no stray partial files");
    let dir = srs_exporter::export_dir(&exports, &lab.experiment.id, &record.id);
    assert_eq!(check_with_pyarrow(&dir), lab.store_counts(|_| true).await);
    assert!(srs_testkit::terminate(second).success());
    bus.close().await;
    srs_testkit::delete_queues(&[&queue]).await;
}

/// The broker hands a job to a second worker while the first still runs it (a redelivery after
/// a lost heartbeat or `consumer_timeout`, here a second copy of the job): the store gives the
/// job to one of them, the other drops its copy at once, and the export is written once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_given_one_job_run_it_once() {
    let lab = lab().await;
    lab.record(0, 100_000).await;
    let bus = srs_testkit::amqp_bus().await;
    let queue = srs_testkit::unique_queue("exports");
    let record = ExportRecord::queued(&lab.experiment.id, ExportFilter::default());
    lab.store.insert_export(&record).await.expect("record");
    let data_dir = lab.dir.path();
    let (first, _) = exporter(data_dir, &queue);
    let (second, _) = exporter(data_dir, &queue);
    let job = events::event(events::EXPORT_REQUESTED, &ExportRequested { export_id: record.id.clone() });
    bus.enqueue(&queue, std::slice::from_ref(&job)).await.expect("enqueue");
    // The copy arrives while the first delivery runs.
    for _ in 0..200 {
        if lab.store.get_export(&record.id).await.expect("get").expect("record").status == ExportStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bus.enqueue(&queue, &[job]).await.expect("enqueue the copy");
    let mut done = record.clone();
    for _ in 0..1_200 {
        done = lab.store.get_export(&record.id).await.expect("get").expect("record");
        if done.status.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!((done.status, done.attempts, done.rows_written), (ExportStatus::Done, 1, 400_000), "claimed once: {:?}", done.error);
    // Give the dropped copy time to have done damage, if it could.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = lab.store.get_export(&record.id).await.expect("get").expect("record");
    assert_eq!((after.status, after.attempts), (ExportStatus::Done, 1));
    let exports = data_dir.join("exports");
    assert_eq!(partial_files(&exports), Vec::<String>::new(), "no stray partial files");
    let dir = srs_exporter::export_dir(&exports, &lab.experiment.id, &record.id);
    assert_eq!(check_with_pyarrow(&dir), lab.store_counts(|_| true).await);
    assert!(srs_testkit::terminate(first).success());
    assert!(srs_testkit::terminate(second).success());
    bus.close().await;
    srs_testkit::delete_queues(&[&queue]).await;
}
