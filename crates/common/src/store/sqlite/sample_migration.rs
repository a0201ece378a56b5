//! Migration 8: the rows of the old `samples` table (one row per sample, values as JSON text)
//! become blocks, in the transaction that creates the block tables, and the old table goes.
//! A database written before blocks existed opens once slowly and is converted for good.

use super::samples::{insert_block, BlockKey};
use crate::model::SampleValues;
use crate::store::blocks::{window_of, RowRef, MAX_BLOCK_ROWS};
use rusqlite::types::Type;
use rusqlite::{params, Transaction};
use std::collections::HashMap;

/// One old row, its values already packed.
struct OldRow {
    ts: i64,
    received_at: i64,
    sample_id: Option<String>,
    values: SampleValues,
}

pub(super) fn rows_to_blocks(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let old_table: bool =
        tx.query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'samples')", [], |r| r.get(0))?;
    if !old_table {
        return Ok(());
    }
    // Time order per experiment (the old table's own index): each group fills in `ts` order,
    // and the groups of a window are complete once the read passes it.
    let mut read =
        tx.prepare("SELECT experiment, recording, sensor, ts, received_at, sample_id, vals FROM samples ORDER BY experiment, ts, rowid")?;
    let mut rows = read.query([])?;
    let mut open: HashMap<BlockKey, Vec<OldRow>> = HashMap::new();
    let mut position: Option<(i64, i64)> = None;
    while let Some(row) = rows.next()? {
        let (experiment, recording, sensor, ts): (i64, i64, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
        let window = window_of(ts);
        if position.is_some_and(|(e, w)| (e, w) != (experiment, window)) {
            for (key, group) in open.drain() {
                flush(tx, key, group)?;
            }
        }
        position = Some((experiment, window));
        let json: String = row.get(6)?;
        let values = SampleValues::from_json(&json).map_err(|e| rusqlite::Error::FromSqlConversionFailure(6, Type::Text, e.into()))?;
        let key = (sensor, recording, experiment, window);
        let group = open.entry(key).or_default();
        group.push(OldRow { ts, received_at: row.get(4)?, sample_id: row.get(5)?, values });
        if group.len() == MAX_BLOCK_ROWS {
            let full = std::mem::take(group);
            flush(tx, key, full)?;
        }
    }
    for (key, group) in open.drain() {
        flush(tx, key, group)?;
    }
    drop(rows);
    drop(read);
    tx.execute_batch("DROP TABLE samples;")
}

fn flush(tx: &Transaction<'_>, key: BlockKey, group: Vec<OldRow>) -> rusqlite::Result<()> {
    let rows: Vec<RowRef<'_>> = group
        .iter()
        .map(|row| RowRef { ts: row.ts, received_at: row.received_at, sample_id: row.sample_id.as_deref(), values: row.values.as_bytes() })
        .collect();
    insert_block(tx, key, &rows)?;
    let mut claim = tx.prepare_cached("INSERT OR IGNORE INTO sample_ids (sensor, sample_id) VALUES (?1, ?2)")?;
    for id in group.iter().filter_map(|row| row.sample_id.as_deref()) {
        claim.execute(params![key.0, id])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{open_connection, schema, SqliteStore, READER_CACHE_KIB};
    use crate::model::{NewSample, RecordingStamp, SampleQuery};
    use crate::store::{SampleFate, SampleStore};
    use futures_util::TryStreamExt;
    use std::sync::Arc;

    const T0: i64 = 1_795_392_000_000_000_000; // 2026-11-23T00:00:00Z

    /// A database as the code before blocks wrote it: schema version 7 and the rows its insert
    /// statement stored (values as JSON text, client ids where sent), over two days, two
    /// sensors, two recordings and more rows than one block holds.
    fn write_version_7(path: &std::path::Path) -> usize {
        let mut conn = open_connection(path, Default::default(), READER_CACHE_KIB).expect("open");
        schema::migrate_to(&mut conn, 7).expect("schema 7");
        conn.execute_batch(
            r#"INSERT INTO experiments (key, id, version, doc) VALUES (1, 'e', 0, '{}');
               INSERT INTO recordings (key, id, experiment_key, participant_id, task_id, running, sample_count, doc)
                 VALUES (1, 'r1', 1, 'p1', 't1', 0, 0, '{}'), (2, 'r2', 1, 'p2', NULL, 0, 0, '{}');
               INSERT INTO sensor_keys (key, sensor_id, sensor_type) VALUES (1, 'ecg-1', 'ecg'), (2, 'door-1', 'door');"#,
        )
        .expect("metadata");
        let tx = conn.transaction().expect("begin");
        let mut rows = 0;
        {
            let mut insert = tx
                .prepare("INSERT OR IGNORE INTO samples (experiment, recording, sensor, ts, received_at, sample_id, vals) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                .expect("prepare");
            // ECG across midnight with ids, 4 ms apart; door contacts without ids.
            for i in 0..10_000i64 {
                let ts = T0 - 5_000 * 4_000_000 + i * 4_000_000;
                let vals = format!(r#"{{"lead_i":{},"lead_ii":-0.5}}"#, i as f64 * 0.001);
                rows += insert.execute(rusqlite::params![1, 1, 1, ts, ts + 7, format!("ecg-1:{i}"), vals]).expect("ecg");
            }
            for i in 0..300i64 {
                let ts = T0 + i * 1_000_000_000;
                rows += insert
                    .execute(rusqlite::params![1, 2, 2, ts, ts + 9, None::<String>, format!(r#"{{"open":{}}}"#, i % 2 == 0)])
                    .expect("door");
            }
        }
        tx.commit().expect("commit");
        rows
    }

    #[tokio::test]
    async fn a_version_7_database_is_converted_once_and_reads_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("srs.db");
        assert_eq!(write_version_7(&path), 10_300);

        let store = SqliteStore::open(&path).await.expect("open and convert");
        let query = SampleQuery { experiment_id: "e".into(), ..Default::default() };
        let rows: Vec<_> = store.stream_samples(query.clone()).try_collect::<Vec<_>>().await.expect("read").concat();
        assert_eq!(rows.len(), 10_300);
        assert!(rows.windows(2).all(|w| w[0].ts <= w[1].ts), "time order");
        let ecg: Vec<_> = rows.iter().filter(|r| &*r.sensor_id == "ecg-1").collect();
        assert_eq!(ecg.len(), 10_000);
        assert_eq!(
            (ecg[0].ts, ecg[0].received_at, ecg[0].sample_id.as_deref()),
            (T0 - 5_000 * 4_000_000, T0 - 5_000 * 4_000_000 + 7, Some("ecg-1:0"))
        );
        assert_eq!(ecg[1].values.to_json(), r#"{"lead_i":0.001,"lead_ii":-0.5}"#);
        assert_eq!((&*ecg[1].recording_id, &*ecg[1].participant_id, ecg[1].task_id.as_deref()), ("r1", "p1", Some("t1")));
        let door: Vec<_> = rows.iter().filter(|r| &*r.sensor_type == "door").collect();
        assert_eq!((door.len(), door[3].values.to_json().as_str(), door[3].sample_id.as_deref()), (300, r#"{"open":false}"#, None));
        let stats = store.sample_stats("e").await.expect("stats");
        let counts: Vec<(&str, &str, &str, u64)> =
            stats.iter().map(|s| (s.participant_id.as_str(), s.date.as_str(), s.sensor_type.as_str(), s.count)).collect();
        assert_eq!(counts, [("p1", "2026-11-22", "ecg", 5_000), ("p1", "2026-11-23", "ecg", 5_000), ("p2", "2026-11-23", "door", 300)]);

        // The converted samples still deduplicate: by client id and, without one, by ts.
        let stamp =
            Arc::new(RecordingStamp { recording_id: "r1".into(), experiment_id: "e".into(), participant_id: "p1".into(), task_id: None });
        let again = |sensor: &str, kind: &str, ts: i64, id: Option<&str>| NewSample {
            sensor_id: sensor.into(),
            sensor_type: kind.into(),
            ts,
            received_at: ts,
            sample_id: id.map(str::to_owned),
            values: "{}".into(),
            stamp: Some(stamp.clone()),
        };
        let outcome = store
            .insert_samples(vec![
                again("ecg-1", "ecg", T0 + 1, Some("ecg-1:42")),
                again("door-1", "door", T0 + 5_000_000_000, None),
                again("door-1", "door", T0 + 1, None),
            ])
            .await
            .expect("insert");
        assert_eq!(outcome.fates, [SampleFate::Duplicate, SampleFate::Duplicate, SampleFate::Stored]);
        drop(store);

        // Opening again converts nothing twice.
        let conn = open_connection(&path, Default::default(), READER_CACHE_KIB).expect("open");
        let (version, old_table): (i64, i64) = conn
            .query_row(
                "SELECT (SELECT user_version FROM pragma_user_version), (SELECT COUNT(*) FROM sqlite_master WHERE name = 'samples')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("version");
        assert_eq!((version, old_table), (8, 0));
        drop(conn);
        let store = SqliteStore::open(&path).await.expect("reopen");
        assert_eq!(store.count_samples(&query).await.expect("count"), 10_301);
    }
}
