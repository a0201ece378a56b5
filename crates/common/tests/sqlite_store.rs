//! SQLite-only properties: the file survives reopening (migrations are idempotent), and
//! independent store instances can write the same file at once (separate processes are
//! covered by `services/srs/tests/cli.rs`).

use srs_common::model::*;
use srs_common::store::sqlite::SqliteStore;
use srs_common::store::{ExperimentStore, InsertOutcome, RecordingStore, SampleFate, SampleStore, SensorConfigStore};
use srs_common::time::now;
use std::sync::Arc;

fn experiment(sensor_config_id: &str) -> Experiment {
    Experiment {
        id: new_id(),
        name: "e".into(),
        description: String::new(),
        owner_id: "o".into(),
        sensor_config_id: sensor_config_id.into(),
        tasks: vec![],
        operators: vec![],
        participants: vec![Participant { id: new_id(), code: "P1".into(), attributes: Default::default() }],
        created_at: now(),
        version: 0,
        samples_deleted_at: None,
    }
}

fn recording(experiment: &Experiment) -> Recording {
    Recording {
        id: new_id(),
        experiment_id: experiment.id.clone(),
        participant_id: experiment.participants[0].id.clone(),
        task_id: None,
        started_at: now(),
        stopped_at: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reopening_keeps_data_and_several_writers_share_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested/srs.db");
    let first = SqliteStore::open(&path).await.expect("open");
    let experiment = experiment("c");
    first.insert_experiment(&experiment).await.expect("insert");
    let recording = recording(&experiment);
    first.set_active_experiment(Some(&experiment.id)).await.expect("activate");
    first.start_recording(&recording).await.expect("start");
    let stamp = Arc::new(recording.stamp());

    // A second, independent instance on the same file, as another process would open it.
    let second = SqliteStore::open(&path).await.expect("open again");
    let writers = [first.clone(), second.clone()].into_iter().enumerate().map(|(w, store)| {
        let stamp = stamp.clone();
        tokio::spawn(async move {
            for batch in 0..20i64 {
                let samples: Vec<NewSample> = (0..100i64)
                    .map(|i| NewSample {
                        sensor_id: Arc::from(format!("imu-{w}").as_str()),
                        sensor_type: Arc::from("imu"),
                        ts: 1_800_000_000_000_000_000 + batch * 1_000 + i,
                        received_at: 1,
                        sample_id: None,
                        values: "{}".into(),
                        stamp: Some(stamp.clone()),
                    })
                    .collect();
                store.insert_samples(samples).await.expect("concurrent insert");
            }
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.expect("writer");
    }
    drop((first, second));
    let reopened = SqliteStore::open(&path).await.expect("reopen");
    let query = SampleQuery { experiment_id: experiment.id.clone(), ..Default::default() };
    assert_eq!(reopened.count_samples(&query).await.expect("count"), 4_000);
    assert_eq!(reopened.count_recording_samples(&recording.id).await.expect("count"), 4_000);
    assert_eq!(reopened.running_recording().await.expect("running").map(|r| r.id), Some(recording.id));
}

/// The writer remembers which recording runs between commits; a recording started or stopped
/// through another connection to the file (another process) must still decide where the next
/// unstamped sample goes.
#[tokio::test]
async fn samples_follow_recordings_started_and_stopped_by_another_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("srs.db");
    let (ingest, control) = (SqliteStore::open(&path).await.expect("open"), SqliteStore::open(&path).await.expect("open again"));
    let config = SensorConfig {
        id: new_id(),
        name: "c".into(),
        sensors: vec![ConfiguredSensor { id: "door-1".into(), sensor_type: "door".into(), name: "door".into(), enabled: true }],
        created_at: now(),
        updated_at: now(),
        version: 0,
    };
    control.insert_sensor_config(&config).await.expect("config");
    let experiment = experiment(&config.id);
    control.insert_experiment(&experiment).await.expect("insert");
    control.set_active_experiment(Some(&experiment.id)).await.expect("activate");
    let live = |ts: i64| {
        vec![NewSample {
            sensor_id: Arc::from("door-1"),
            sensor_type: Arc::from("door"),
            ts,
            received_at: ts,
            sample_id: None,
            values: r#"{"open": true}"#.into(),
            stamp: None,
        }]
    };
    let base = 1_800_000_000_000_000_000i64;
    let fate = |outcome: InsertOutcome| (outcome.fates, outcome.recording_id);
    assert_eq!(fate(ingest.insert_samples(live(base)).await.expect("insert")), (vec![SampleFate::NotRecorded], None));
    let first = recording(&experiment);
    control.start_recording(&first).await.expect("start");
    assert_eq!(fate(ingest.insert_samples(live(base + 1)).await.expect("insert")), (vec![SampleFate::Stored], Some(first.id.clone())));
    control.stop_recording(&first.id, now()).await.expect("stop");
    assert_eq!(fate(ingest.insert_samples(live(base + 2)).await.expect("insert")), (vec![SampleFate::NotRecorded], None));
    let second = recording(&experiment);
    control.start_recording(&second).await.expect("start again");
    assert_eq!(fate(ingest.insert_samples(live(base + 3)).await.expect("insert")), (vec![SampleFate::Stored], Some(second.id.clone())));
    assert_eq!(ingest.count_recording_samples(&first.id).await.expect("count"), 1);
    assert_eq!(ingest.count_recording_samples(&second.id).await.expect("count"), 1);
}
