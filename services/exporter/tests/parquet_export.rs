//! Exports read back by pyarrow, an independent reader: the contract's columns and types, rows
//! sorted by `ts`, row counts equal to the store's, manifest checksums; filters select exactly
//! the right rows; bad requests are refused; an empty experiment exports its metadata.

use serde_json::Value;
use srs_common::model::*;
use srs_common::sensors::SensorCatalog;
use srs_common::store::DynStore;
use srs_common::time::now;
use srs_exporter::{export_experiment, ExportError};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const DAY_NS: i64 = 86_400_000_000_000;
/// 2026-11-20T00:00:00Z
const DAY_ONE: i64 = 1_795_132_800_000_000_000;

/// The pyarrow report on `dir` (see scripts/check_export.py).
fn pyarrow_report(dir: &Path) -> Value {
    serde_json::from_str(&srs_testkit::check_export(dir)).expect("report")
}

/// The rows per "participant/date/type" pyarrow finds in the export.
fn check_with_pyarrow(dir: &Path) -> BTreeMap<String, u64> {
    serde_json::from_value(pyarrow_report(dir)["rows"].clone()).expect("rows")
}

struct Lab {
    store: DynStore,
    sensors: SensorCatalog,
    experiment: Experiment,
    _dir: tempfile::TempDir,
}

fn participant(code: &str) -> Participant {
    Participant { id: new_id(), code: code.into(), attributes: Default::default() }
}

async fn lab() -> Lab {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: DynStore = Arc::new(srs_common::store::sqlite::SqliteStore::open(&dir.path().join("srs.db")).await.expect("store"));
    let sensors = SensorCatalog::load(Path::new("")).expect("sensors");
    let config = SensorConfig { id: new_id(), name: "all".into(), sensors: Vec::new(), created_at: now(), updated_at: now() };
    store.insert_sensor_config(&config).await.expect("config");
    let experiment = Experiment {
        id: new_id(),
        name: "export".into(),
        description: String::new(),
        owner_id: new_id(),
        sensor_config_id: config.id,
        tasks: vec![Task { id: new_id(), name: "rest".into(), description: String::new() }],
        operators: Vec::new(),
        // A code that is no safe directory name.
        participants: vec![participant("P01"), participant("P/02")],
        created_at: now(),
        version: 0,
    };
    store.insert_experiment(&experiment).await.expect("experiment");
    Lab { store, sensors, experiment, _dir: dir }
}

impl Lab {
    /// Records `per_sensor` samples of each of door-1, ecg-1, co2-1 and cam-1 for a participant,
    /// spread over two days, inserted out of time order.
    async fn record(&self, participant: usize, per_sensor: i64) {
        let experiment = &self.experiment;
        let recording = Recording {
            id: new_id(),
            experiment_id: experiment.id.clone(),
            participant_id: experiment.participants[participant].id.clone(),
            task_id: Some(experiment.tasks[0].id.clone()),
            started_at: now(),
            stopped_at: None,
        };
        self.store.start_recording(&recording).await.expect("start");
        let stamp = Arc::new(recording.stamp());
        let sensors = [("door-1", "door"), ("ecg-1", "ecg"), ("co2-1", "co2"), ("cam-1", "camera")];
        let mut samples = Vec::new();
        for i in (0..per_sensor).rev() {
            for (n, (sensor, sensor_type)) in sensors.iter().enumerate() {
                let values = match *sensor_type {
                    "door" => format!(r#"{{"open": {}}}"#, i % 2 == 0),
                    "ecg" => format!(r#"{{"lead_i": {}.25, "lead_ii": -1}}"#, i),
                    "co2" => format!(r#"{{"co2_ppm": {}, "temperature": 21.5}}"#, 400 + i),
                    _ => format!(r#"{{"frame": {i}, "file": "clip-{i}.mp4"}}"#),
                };
                samples.push(NewSample {
                    sensor_id: Arc::from(*sensor),
                    sensor_type: Arc::from(*sensor_type),
                    // Two days; participants interleave in time.
                    ts: DAY_ONE + i * (2 * DAY_NS / per_sensor) + n as i64 * 1_000 + participant as i64,
                    received_at: srs_common::time::now_ns(),
                    sample_id: (i % 3 == 0).then(|| format!("{sensor}:{participant}:{i}")),
                    values,
                    stamp: stamp.clone(),
                });
            }
        }
        self.store.insert_samples(samples).await.expect("insert");
        self.store.stop_recording(&recording.id, now()).await.expect("stop");
    }

    /// The store's own counts per "participant folder/date/type".
    async fn store_counts(&self, keep: impl Fn(&SampleStat) -> bool) -> BTreeMap<String, u64> {
        let folder = |id: &str| if self.experiment.participants[0].id == id { "P01" } else { "P_02" };
        let stats = self.store.sample_stats(&self.experiment.id).await.expect("stats");
        stats.iter().filter(|s| keep(s)).map(|s| (format!("{}/{}/{}", folder(&s.participant_id), s.date, s.sensor_type), s.count)).collect()
    }

    async fn export(&self, root: &Path, filter: ExportFilter) -> Result<srs_exporter::Exported, ExportError> {
        export_experiment(&self.store, &self.sensors, root, &self.experiment.id, &new_id(), &filter, |_, _| {}).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyarrow_reads_every_file_with_the_contract_columns_and_the_stores_counts() {
    let lab = lab().await;
    lab.record(0, 140_000).await; // 70,000 rows per file and day: more than one row group
    lab.record(1, 500).await;
    let out = tempfile::tempdir().expect("out");
    let mut reported = Vec::new();
    let exported =
        export_experiment(&lab.store, &lab.sensors, out.path(), &lab.experiment.id, "e1", &ExportFilter::default(), |rows, total| {
            reported.push((rows, total))
        })
        .await
        .expect("export");
    assert_eq!(exported.dir, out.path().join(&lab.experiment.id).join("e1"));
    assert_eq!(exported.rows, 4 * 140_500);
    assert_eq!(reported.last(), Some(&(4 * 140_500, 4 * 140_500)), "progress ends at the total");
    assert_eq!(check_with_pyarrow(&exported.dir), lab.store_counts(|_| true).await);
    assert!(exported.files.iter().any(|f| f.path == "P_02/2026-11-21/camera.parquet"), "{:?}", exported.files);
    assert!(!out.path().join(&lab.experiment.id).join("e1.partial").exists(), "no partial directory is left");
    let groups = pyarrow_report(&exported.dir)["row_groups"]["P01/2026-11-20/ecg.parquet"].as_u64();
    assert_eq!(groups, Some(2), "70,000 rows make two row groups of at most 65,536");
    assert!(exported.covers_received_until.is_some());
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
        let exported = lab.export(out.path(), filter.clone()).await.expect("export");
        let expected = lab.store_counts(keep).await;
        assert!(!expected.is_empty());
        assert_eq!(check_with_pyarrow(&exported.dir), expected, "{filter:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_and_an_empty_experiment_exports_metadata() {
    let lab = lab().await;
    let out = tempfile::tempdir().expect("out");
    let unknown = export_experiment(&lab.store, &lab.sensors, out.path(), "nope", "x", &ExportFilter::default(), |_, _| {}).await;
    assert!(matches!(unknown, Err(ExportError::UnknownExperiment(_))));
    let bad_date = lab.export(out.path(), ExportFilter { from: Some("2026-13-01".into()), ..Default::default() }).await;
    assert!(matches!(bad_date, Err(ExportError::BadFilter(ref m)) if m.starts_with("from")), "{bad_date:?}");
    let reversed =
        lab.export(out.path(), ExportFilter { from: Some("2026-11-22".into()), to: Some("2026-11-20".into()), ..Default::default() }).await;
    assert!(matches!(reversed, Err(ExportError::BadFilter(_))));
    let stranger = lab.export(out.path(), ExportFilter { participant_ids: vec!["ghost".into()], ..Default::default() }).await;
    assert!(matches!(stranger, Err(ExportError::BadFilter(ref m)) if m.starts_with("participant_ids")));

    let empty = lab.export(out.path(), ExportFilter::default()).await.expect("empty export");
    assert_eq!(empty.rows, 0);
    let names: Vec<&str> = empty.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(names, ["experiment.json", "logbook.json", "progress.json"]);
    assert!(check_with_pyarrow(&empty.dir).is_empty());
}
