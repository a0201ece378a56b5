//! Samples in SQLite, read: counts and statistics from the blocks' own columns, the
//! time-ordered stream that export reads (a merge of the experiment's blocks), and deletion.

use super::docs::{decode_block_column, map_error};
use crate::model::{SampleQuery, SampleStat, StoredSample};
use crate::store::block_merge::{rows_in, BlockMerge, BlockMeta, Fetched};
use crate::store::blocks::BLOCK_WINDOW_NS;
use crate::store::{StoreError, StoreResult, SAMPLE_CHUNK};
use crate::time::day_to_date;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::sync::Arc;

/// Block metadata joined with its sensor and recording, and the filters every read shares:
/// parameters ?1..?6 as bound by [`filter_params`]. A block spans at most one window
/// ([`BLOCK_WINDOW_NS`]), so a block overlapping [?2, ?3) starts at most a window before ?2:
/// ?6, the bound that lets the index seek.
const BLOCKS: &str = "sample_blocks b JOIN sensor_keys k ON k.key = b.sensor JOIN recordings r ON r.key = b.recording
    WHERE b.experiment = (SELECT key FROM experiments WHERE id = ?1)
    AND b.min_ts < ?3 AND b.max_ts >= ?2 AND b.min_ts >= ?6
    AND (?4 IS NULL OR k.sensor_type IN (SELECT value FROM json_each(?4)))
    AND (?5 IS NULL OR r.participant_id IN (SELECT value FROM json_each(?5)))";

fn json_list(values: &[String]) -> Option<String> {
    (!values.is_empty()).then(|| serde_json::Value::from(values.to_vec()).to_string())
}

/// Parameters ?1..?6 of [`BLOCKS`].
type FilterParams = (String, i64, i64, Option<String>, Option<String>, i64);

fn filter_params(query: &SampleQuery) -> FilterParams {
    let from = query.from_ns.unwrap_or(i64::MIN);
    (
        query.experiment_id.clone(),
        from,
        query.to_ns.unwrap_or(i64::MAX),
        json_list(&query.sensor_types),
        json_list(&query.participant_ids),
        from.saturating_sub(BLOCK_WINDOW_NS),
    )
}

pub(super) fn count(conn: &Connection, query: &SampleQuery) -> StoreResult<u64> {
    let (experiment, from, to, types, participants, seek) = filter_params(query);
    // Blocks wholly inside the range count by their `rows`; only the ones across an edge are read.
    let inside: i64 = conn
        .prepare_cached(&format!("SELECT COALESCE(SUM(b.rows), 0) FROM {BLOCKS} AND b.min_ts >= ?2 AND b.max_ts < ?3"))
        .and_then(|mut stmt| stmt.query_row(params![experiment, from, to, types, participants, seek], |r| r.get(0)))
        .map_err(map_error)?;
    let mut across =
        conn.prepare_cached(&format!("SELECT b.data FROM {BLOCKS} AND (b.min_ts < ?2 OR b.max_ts >= ?3)")).map_err(map_error)?;
    let mut rows = across.query(params![experiment, from, to, types, participants, seek]).map_err(map_error)?;
    let mut edges = 0usize;
    while let Some(row) = rows.next().map_err(map_error)? {
        edges += rows_in(&decode_block_column(row, 0)?, from, to).len();
    }
    Ok(inside as u64 + edges as u64)
}

pub(super) fn stats(conn: &Connection, experiment_id: &str) -> StoreResult<Vec<SampleStat>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT r.participant_id, b.day, k.sensor_type, SUM(b.rows)
             FROM sample_blocks b JOIN sensor_keys k ON k.key = b.sensor JOIN recordings r ON r.key = b.recording
             WHERE b.experiment = (SELECT key FROM experiments WHERE id = ?1) GROUP BY 1, 2, 3",
        )
        .map_err(map_error)?;
    let rows = stmt
        .query_map([experiment_id], |r| {
            Ok(SampleStat {
                participant_id: r.get(0)?,
                date: day_to_date(r.get(1)?),
                sensor_type: r.get(2)?,
                count: r.get::<_, i64>(3)? as u64,
            })
        })
        .map_err(map_error)?;
    let mut stats = rows.collect::<Result<Vec<_>, _>>().map_err(map_error)?;
    stats.sort();
    Ok(stats)
}

pub(super) fn delete(tx: &Transaction<'_>, experiment_id: &str, expected: Option<u64>) -> StoreResult<u64> {
    let key: Option<i64> =
        tx.query_row("SELECT key FROM experiments WHERE id = ?1", [experiment_id], |r| r.get(0)).optional().map_err(map_error)?;
    let Some(key) = key else { return Err(StoreError::NotFound("experiment".into())) };
    let stored: i64 =
        tx.query_row("SELECT COALESCE(SUM(rows), 0) FROM sample_blocks WHERE experiment = ?1", [key], |r| r.get(0)).map_err(map_error)?;
    if let Some(expected) = expected {
        if stored as u64 != expected {
            return Err(StoreError::Conflict(format!("the experiment has {stored} samples now, not {expected}")));
        }
    }
    // The client ids of deleted samples are free again, as their rows were before blocks.
    {
        let mut with_ids =
            tx.prepare("SELECT sensor, data FROM sample_blocks WHERE experiment = ?1 AND with_ids > 0").map_err(map_error)?;
        let mut forget = tx.prepare_cached("DELETE FROM sample_ids WHERE sensor = ?1 AND sample_id = ?2").map_err(map_error)?;
        let mut rows = with_ids.query([key]).map_err(map_error)?;
        while let Some(row) = rows.next().map_err(map_error)? {
            let sensor: i64 = row.get(0).map_err(map_error)?;
            for id in decode_block_column(row, 1)?.sample_ids.iter().flatten() {
                forget.execute(params![sensor, id]).map_err(map_error)?;
            }
        }
    }
    tx.execute("DELETE FROM sample_blocks WHERE experiment = ?1", [key]).map_err(map_error)?;
    tx.execute("UPDATE recordings SET sample_count = 0 WHERE experiment_key = ?1", [key]).map_err(map_error)?;
    Ok(stored as u64)
}

/// How many blocks one page read fetches (compressed, so a page stays small).
const PAGE_BLOCKS: i64 = 64;

/// One page of blocks after the cursor (?7, ?8), at most ?9. (SQLite does not seek an index
/// with a row value such as `(min_ts, key) > (?, ?)`, so `min_ts >= ?7` is the seek and the
/// key skips the blocks of that same `min_ts` already fetched.)
fn page_sql() -> String {
    format!(
        "SELECT b.key, b.min_ts, b.data, k.sensor_id, k.sensor_type, r.id, r.participant_id, r.task_id FROM {BLOCKS}
         AND b.min_ts >= ?7 AND (b.min_ts > ?7 OR b.key > ?8) ORDER BY b.min_ts, b.key LIMIT ?9"
    )
}

/// A query's merge of blocks ([`BlockMerge`]) with the query it pages through. The state lives
/// between chunks; each chunk borrows a reader connection of its own.
pub(super) struct SampleRead {
    query: SampleQuery,
    merge: BlockMerge<i64>,
}

impl SampleRead {
    pub(super) fn new(query: SampleQuery) -> Self {
        let merge = BlockMerge::new(query.from_ns.unwrap_or(i64::MIN), query.to_ns.unwrap_or(i64::MAX));
        Self { query, merge }
    }

    /// The next rows in time order, at most [`SAMPLE_CHUNK`]; empty once all were read.
    pub(super) fn next_chunk(&mut self, conn: &Connection) -> StoreResult<Vec<StoredSample>> {
        let mut chunk = Vec::with_capacity(SAMPLE_CHUNK);
        while let Some(after) = self.merge.fill(&mut chunk, SAMPLE_CHUNK)? {
            let page = fetch_page(conn, &self.query, after.unwrap_or((i64::MIN, i64::MIN)))?;
            self.merge.add_page(page, PAGE_BLOCKS as usize);
        }
        Ok(chunk)
    }
}

fn fetch_page(conn: &Connection, query: &SampleQuery, (after_ts, after_key): (i64, i64)) -> StoreResult<Vec<Fetched<i64>>> {
    let (experiment, from, to, types, participants, seek) = filter_params(query);
    let mut stmt = conn.prepare_cached(&page_sql()).map_err(map_error)?;
    let page = stmt
        .query_map(params![experiment, from, to, types, participants, seek, after_ts, after_key, PAGE_BLOCKS], |r| {
            Ok(Fetched {
                key: r.get(0)?,
                min_ts: r.get(1)?,
                data: r.get(2)?,
                meta: Arc::new(BlockMeta {
                    sensor_id: r.get::<_, String>(3)?.into(),
                    sensor_type: r.get::<_, String>(4)?.into(),
                    recording_id: r.get::<_, String>(5)?.into(),
                    participant_id: r.get::<_, String>(6)?.into(),
                    task_id: r.get::<_, Option<String>>(7)?.map(Into::into),
                }),
            })
        })
        .map_err(map_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_error)?;
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{samples, store_with_recording};
    use super::super::SqliteStore;
    use super::*;
    use crate::store::SampleStore;
    use rusqlite::StatementStatus;

    /// Three sensors posting 100-sample batches: 3 x 120 blocks of an experiment.
    async fn store_with_many_blocks(path: &std::path::Path) -> SqliteStore {
        let (store, stamp) = store_with_recording(path).await;
        let t0 = 1_795_420_800_000_000_000i64;
        for batch in 0..120i64 {
            let mut all = Vec::new();
            for (offset, sensor) in ["imu-left", "imu-right", "ecg-1"].into_iter().enumerate() {
                all.extend(samples(&stamp, sensor, t0 + batch * 1_000_000_000 + offset as i64, 10_000_000, 100));
            }
            assert_eq!(store.insert_samples(all).await.expect("insert").stored_count(), 300);
        }
        store
    }

    /// The merge holds about one decoded block per sensor and one page of fetched ones, however
    /// many blocks the experiment has, and yields every row once in time order.
    #[tokio::test]
    async fn the_merge_keeps_few_blocks_in_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("srs.db");
        let _store = store_with_many_blocks(&path).await;
        let conn = Connection::open(&path).expect("open");
        let mut read = SampleRead::new(SampleQuery { experiment_id: "e".into(), ..Default::default() });
        let (mut rows, mut last_ts) = (0, i64::MIN);
        loop {
            let chunk = read.next_chunk(&conn).expect("chunk");
            if chunk.is_empty() {
                break;
            }
            let (open, fetched) = read.merge.held();
            assert!(open <= 3, "{open} blocks open");
            assert!(fetched <= PAGE_BLOCKS as usize);
            assert!(chunk.iter().all(|s| s.ts > last_ts), "strictly later times");
            last_ts = chunk.last().map_or(last_ts, |s| s.ts);
            rows += chunk.len();
        }
        assert_eq!(rows, 36_000);
    }

    /// A page read seeks to its start: the last page of blocks costs what the first does (a
    /// scan from the start would make long exports quadratic).
    #[tokio::test]
    async fn a_page_read_costs_the_same_wherever_it_starts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("srs.db");
        let _store = store_with_many_blocks(&path).await;
        let conn = Connection::open(&path).expect("open");
        let vm_steps = || conn.prepare_cached(&page_sql()).expect("prepare").get_status(StatementStatus::VmStep);
        // Fetches the page after `after`: (blocks fetched, first min_ts, VM steps it took).
        let query = SampleQuery { experiment_id: "e".into(), ..Default::default() };
        let page = |after: (i64, i64)| {
            let before = vm_steps();
            let page = fetch_page(&conn, &query, after).expect("page");
            (page.len(), page.first().map(|b| b.min_ts), vm_steps() - before)
        };
        let (first_len, first_min, first_steps) = page((i64::MIN, i64::MIN));
        let near_end: (i64, i64) = conn
            .query_row("SELECT min_ts, key FROM sample_blocks ORDER BY min_ts DESC, key DESC LIMIT 1 OFFSET 64", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("block");
        let (last_len, last_min, last_steps) = page(near_end);
        assert_eq!((first_len, last_len), (64, 64));
        assert!(first_min < last_min);
        assert!(last_steps < first_steps * 2, "the last page took {last_steps} steps, the first {first_steps}");
    }
}
