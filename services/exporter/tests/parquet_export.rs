//! Exports read back by pyarrow, an independent reader: the contract's columns and types, rows
//! sorted by `ts`, row counts equal to the store's, manifest checksums; filters select exactly
//! the right rows; bad requests are refused; an empty experiment exports its metadata.

mod support;

use serde_json::Value;
use srs_common::model::*;
use srs_exporter::{export_experiment, ExportError};
use std::ops::ControlFlow;
use support::{check_with_pyarrow, lab, pyarrow_report};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyarrow_reads_every_file_with_the_contract_columns_and_the_stores_counts() {
    let lab = lab().await;
    lab.record(0, 140_000).await; // 70,000 rows per file and day: more than one row group
    lab.record(1, 500).await;
    let out = tempfile::tempdir().expect("out");
    let mut reported = Vec::new();
    let exported = export_experiment(
        &lab.store,
        &lab.sensors,
        out.path(),
        &lab.experiment.id,
        ("e1", "a1"),
        &ExportFilter::default(),
        |rows, total| {
            reported.push((rows, total));
            ControlFlow::Continue(())
        },
    )
    .await
    .expect("export");
    assert_eq!(exported.dir, out.path().join(&lab.experiment.id).join("e1"));
    assert_eq!(exported.rows, 4 * 140_500);
    assert_eq!(reported.last(), Some(&(4 * 140_500, 4 * 140_500)), "progress ends at the total");
    assert_eq!(check_with_pyarrow(&exported.dir), lab.store_counts(|_| true).await);
    assert!(exported.files.iter().any(|f| f.path == "P_02/2026-11-21/camera.parquet"), "{:?}", exported.files);
    assert!(!out.path().join(&lab.experiment.id).join("e1.a1.partial").exists(), "no partial directory is left");
    let groups = pyarrow_report(&exported.dir)["row_groups"]["P01/2026-11-20/ecg.parquet"].as_u64();
    assert_eq!(groups, Some(2), "70,000 rows make two row groups of at most 65,536");
    // What the export covers, per group, is what the store holds: the guarded delete relies on it.
    let covered: u64 = exported.covered.iter().map(|g| g.count).sum();
    assert_eq!(covered, exported.rows);
    assert_eq!(exported.covered, lab.store.sample_stats(&lab.experiment.id).await.expect("stats"));
    let experiment: Value =
        serde_json::from_slice(&std::fs::read(exported.dir.join("experiment.json")).expect("experiment.json")).expect("json");
    assert_eq!(experiment["participants"][1]["code"], "P/02");
    assert!(experiment["sensor_types"].as_array().is_some_and(|t| t.len() >= 6));
}

/// Which of the store's counts a filter should keep.
type Keep = Box<dyn Fn(&SampleStat) -> bool>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_select_exactly_the_right_rows() {
    let lab = lab().await;
    lab.record(0, 300).await;
    lab.record(1, 300).await;
    let out = tempfile::tempdir().expect("out");
    let p2 = lab.experiment.participants[1].id.clone();
    let cases: Vec<(ExportFilter, Keep)> = vec![
        (ExportFilter { participant_ids: vec![p2.clone()], ..Default::default() }, Box::new(move |s: &SampleStat| s.participant_id == p2)),
        (ExportFilter { from: Some("2026-11-21".into()), ..Default::default() }, Box::new(|s: &SampleStat| s.date == "2026-11-21")),
        (ExportFilter { to: Some("2026-11-20".into()), ..Default::default() }, Box::new(|s: &SampleStat| s.date == "2026-11-20")),
        (
            ExportFilter { sensor_types: vec!["ecg".into(), "co2".into()], ..Default::default() },
            Box::new(|s: &SampleStat| ["ecg", "co2"].contains(&s.sensor_type.as_str())),
        ),
    ];
    for (filter, keep) in cases {
        let exported = support::export(&lab, out.path(), filter.clone()).await.expect("export");
        let expected = lab.store_counts(keep).await;
        assert!(!expected.is_empty());
        assert_eq!(check_with_pyarrow(&exported.dir), expected, "{filter:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_and_an_empty_experiment_exports_metadata() {
    let lab = lab().await;
    let out = tempfile::tempdir().expect("out");
    let unknown = export_experiment(&lab.store, &lab.sensors, out.path(), "nope", ("x", "a1"), &ExportFilter::default(), |_, _| {
        ControlFlow::Continue(())
    })
    .await;
    assert!(matches!(unknown, Err(ExportError::UnknownExperiment(_))));
    let bad_date = support::export(&lab, out.path(), ExportFilter { from: Some("2026-13-01".into()), ..Default::default() }).await;
    assert!(matches!(bad_date, Err(ExportError::BadFilter(ref m)) if m.starts_with("from")), "{bad_date:?}");
    let reversed = support::export(
        &lab,
        out.path(),
        ExportFilter { from: Some("2026-11-22".into()), to: Some("2026-11-20".into()), ..Default::default() },
    )
    .await;
    assert!(matches!(reversed, Err(ExportError::BadFilter(_))));
    let stranger = support::export(&lab, out.path(), ExportFilter { participant_ids: vec!["ghost".into()], ..Default::default() }).await;
    assert!(matches!(stranger, Err(ExportError::BadFilter(ref m)) if m.starts_with("participant_ids")));

    let empty = support::export(&lab, out.path(), ExportFilter::default()).await.expect("empty export");
    assert_eq!(empty.rows, 0);
    let names: Vec<&str> = empty.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(names, ["experiment.json", "logbook.json", "progress.json", "recordings.json"]);
    assert!(check_with_pyarrow(&empty.dir).is_empty());
}

/// A worker told to stop (a shutdown, or its job taken over) stops after the chunk in hand and
/// leaves nothing behind: no partial directory, no finished one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_export_leaves_no_files() {
    let lab = lab().await;
    lab.record(0, 20_000).await;
    let out = tempfile::tempdir().expect("out");
    let mut chunks = 0;
    let stopped =
        export_experiment(&lab.store, &lab.sensors, out.path(), &lab.experiment.id, ("e1", "a1"), &ExportFilter::default(), |_, _| {
            chunks += 1;
            if chunks < 2 {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        })
        .await;
    assert!(matches!(stopped, Err(ExportError::Stopped)), "{stopped:?}");
    let experiment_dir = out.path().join(&lab.experiment.id);
    let left: Vec<_> = std::fs::read_dir(&experiment_dir).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "nothing is left in {}: {left:?}", experiment_dir.display());
}
