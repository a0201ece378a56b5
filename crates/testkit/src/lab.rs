//! A lab in a real SQLite file for export tests: an experiment with two participants (one code
//! no safe directory name), samples of four sensor types over two days, and pyarrow's view of
//! an export.

use serde_json::Value;
use srs_common::model::*;
use srs_common::sensors::SensorCatalog;
use srs_common::store::DynStore;
use srs_common::time::now;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub const DAY_NS: i64 = 86_400_000_000_000;
/// 2026-11-20T00:00:00Z
pub const DAY_ONE: i64 = 1_795_132_800_000_000_000;

/// The pyarrow report on `dir` (see scripts/check_export.py).
pub fn pyarrow_report(dir: &Path) -> Value {
    serde_json::from_str(&crate::check_export(dir)).expect("report")
}

/// The rows per "participant/date/type" pyarrow finds in the export.
pub fn check_with_pyarrow(dir: &Path) -> BTreeMap<String, u64> {
    serde_json::from_value(pyarrow_report(dir)["rows"].clone()).expect("rows")
}

pub struct Lab {
    pub store: DynStore,
    pub sensors: SensorCatalog,
    pub experiment: Experiment,
    pub dir: tempfile::TempDir,
}

fn participant(code: &str) -> Participant {
    Participant { id: new_id(), code: code.into(), attributes: Default::default() }
}

/// A lab in a fresh SQLite file, owned by nobody in particular.
pub async fn lab() -> Lab {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = sqlite(dir.path()).await;
    Lab::on(store, dir, &new_id()).await
}

/// The SQLite store `srs.db` in `dir`.
pub async fn sqlite(dir: &Path) -> DynStore {
    Arc::new(srs_common::store::sqlite::SqliteStore::open(&dir.join("srs.db")).await.expect("store"))
}

impl Lab {
    /// An experiment owned by `owner_id` in `store` (whose files live in `dir`).
    pub async fn on(store: DynStore, dir: tempfile::TempDir, owner_id: &str) -> Lab {
        let sensors = SensorCatalog::load(Path::new("")).expect("sensors");
        let config =
            SensorConfig { id: new_id(), name: "all".into(), sensors: Vec::new(), created_at: now(), updated_at: now(), version: 0 };
        store.insert_sensor_config(&config).await.expect("config");
        let experiment = Experiment {
            id: new_id(),
            name: "export".into(),
            description: String::new(),
            owner_id: owner_id.to_owned(),
            sensor_config_id: config.id,
            tasks: vec![Task { id: new_id(), name: "rest".into(), description: String::new() }],
            operators: Vec::new(),
            // A code that is no safe directory name.
            participants: vec![participant("P01"), participant("P/02")],
            created_at: now(),
            version: 0,
            samples_deleted_at: None,
        };
        store.insert_experiment(&experiment).await.expect("experiment");
        Lab { store, sensors, experiment, dir }
    }

    /// Activates the experiment and starts a recording of `participant` doing its first task.
    pub async fn start_recording(&self, participant: usize) -> Recording {
        let experiment = &self.experiment;
        let recording = Recording {
            id: new_id(),
            experiment_id: experiment.id.clone(),
            participant_id: experiment.participants[participant].id.clone(),
            task_id: Some(experiment.tasks[0].id.clone()),
            started_at: now(),
            stopped_at: None,
        };
        self.store.set_active_experiment(Some(&experiment.id)).await.expect("activate");
        self.store.start_recording(&recording).await.expect("start");
        recording
    }

    /// Records `per_sensor` samples of each of door-1, ecg-1, co2-1 and cam-1 for a participant,
    /// spread over two days, inserted out of time order.
    pub async fn record(&self, participant: usize, per_sensor: i64) {
        let recording = self.start_recording(participant).await;
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
                    stamp: Some(stamp.clone()),
                });
            }
        }
        self.store.insert_samples(samples).await.expect("insert");
        self.store.stop_recording(&recording.id, now()).await.expect("stop");
    }

    /// The store's own counts per "participant folder/date/type".
    pub async fn store_counts(&self, keep: impl Fn(&SampleStat) -> bool) -> BTreeMap<String, u64> {
        let folder = |id: &str| if self.experiment.participants[0].id == id { "P01" } else { "P_02" };
        let stats = self.store.sample_stats(&self.experiment.id).await.expect("stats");
        stats.iter().filter(|s| keep(s)).map(|s| (format!("{}/{}/{}", folder(&s.participant_id), s.date, s.sensor_type), s.count)).collect()
    }
}
