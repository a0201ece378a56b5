//! What the SQLite store's unit tests share: a store with a recording, and samples for it.

use super::SqliteStore;
use crate::model::{NewSample, RecordingStamp};
use std::sync::Arc;

/// A store at `path` with experiment `e` and recording `r` of participant `p`, written
/// directly (no experiment document needed), and the stamp that files samples under them.
pub(super) async fn store_with_recording(path: &std::path::Path) -> (SqliteStore, Arc<RecordingStamp>) {
    let store = SqliteStore::open(path).await.expect("open");
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.execute_batch(
        "INSERT INTO experiments (key, id, version, doc) VALUES (1, 'e', 0, '{}');
         INSERT INTO recordings (key, id, experiment_key, participant_id, running, doc) VALUES (1, 'r', 1, 'p', 0, '{}');",
    )
    .expect("metadata");
    let stamp = RecordingStamp { recording_id: "r".into(), experiment_id: "e".into(), participant_id: "p".into(), task_id: None };
    (store, Arc::new(stamp))
}

/// `count` samples of `sensor` without ids, `step_ns` apart from `from`.
pub(super) fn samples(stamp: &Arc<RecordingStamp>, sensor: &str, from: i64, step_ns: i64, count: i64) -> Vec<NewSample> {
    (0..count)
        .map(|i| NewSample {
            sensor_id: sensor.into(),
            sensor_type: "imu".into(),
            ts: from + i * step_ns,
            received_at: from,
            sample_id: None,
            values: r#"{"acc_x":1.5}"#.into(),
            stamp: Some(stamp.clone()),
        })
        .collect()
}
