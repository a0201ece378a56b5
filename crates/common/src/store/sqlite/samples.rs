//! Samples in SQLite: the batched, deduplicating insert (the ingest hot path) and the
//! time-ordered, keyset-paginated reads used by export.

use super::docs::map_error;
use crate::model::{NewSample, SampleQuery, SampleStat, SensorConfig, StoredSample};
use crate::store::paging::keyset_stream;
use crate::store::{InsertOutcome, SampleFate, StoreError, StoreResult, SAMPLE_CHUNK};
use crate::time::day_to_date;
use futures_util::stream::BoxStream;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

const INSERT_SAMPLE: &str =
    "INSERT OR IGNORE INTO samples (experiment, recording, sensor, ts, received_at, sample_id, vals) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// The writer connection with the integer keys it has already resolved. Keys never change once
/// assigned, so the caches stay valid even when other processes write to the same file.
pub(super) struct SampleWriter {
    pub(super) conn: Connection,
    sensor_keys: HashMap<Arc<str>, i64>,
    /// recording id -> (recording key, experiment key)
    recording_keys: HashMap<String, (i64, i64)>,
    /// What `running_recording` read before and may read again only when it changed.
    running: RunningCache,
}

#[derive(Default)]
struct RunningCache {
    /// An experiment's sensor config id, by (experiment key, experiment version).
    config_of: Option<Versioned<Option<String>>>,
    /// The sensor ids a config enables, by (config key, config version).
    enabled: Option<Versioned<Arc<HashSet<String>>>>,
}

/// A value read from a row, valid while the row's (key, version) stays the same.
struct Versioned<T> {
    of: (i64, i64),
    value: T,
}

/// The recording running at commit, as the insert's own transaction reads it.
struct Running {
    recording: i64,
    experiment: i64,
    id: String,
    enabled: Arc<HashSet<String>>,
}

impl SampleWriter {
    pub(super) fn new(conn: Connection) -> Self {
        Self { conn, sensor_keys: HashMap::new(), recording_keys: HashMap::new(), running: RunningCache::default() }
    }

    pub(super) fn insert(&mut self, samples: &[NewSample]) -> StoreResult<InsertOutcome> {
        let Self { conn, sensor_keys, recording_keys, running: cache } = self;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_error)?;
        // Read inside the write transaction: no start or stop can commit between this read and
        // the inserts, so the edges of a recording are exact.
        let running = if samples.iter().any(|s| s.stamp.is_none()) { running_recording(&tx, cache)? } else { None };
        let mut fates = Vec::with_capacity(samples.len());
        // Sensor keys this transaction creates join the cache only once it commits: a key
        // cached from a rolled-back transaction (a full disk) would point at no sensor.
        let mut new_sensor_keys: HashMap<Arc<str>, i64> = HashMap::new();
        // Stored count per recording key, applied once per batch.
        let mut per_recording: HashMap<i64, i64> = HashMap::new();
        {
            let mut insert = tx.prepare_cached(INSERT_SAMPLE).map_err(map_error)?;
            let mut last_stamp: Option<(&Arc<crate::model::RecordingStamp>, (i64, i64))> = None;
            for sample in samples {
                let keys = match (&sample.stamp, &running) {
                    (None, Some(running)) if running.enabled.contains(&*sample.sensor_id) => Some((running.recording, running.experiment)),
                    (None, _) => None,
                    // Batches almost always share one recording: skip the lookup when it repeats.
                    (Some(stamp), _) => Some(match last_stamp {
                        Some((last, keys)) if Arc::ptr_eq(last, stamp) => keys,
                        _ => {
                            let keys = recording_key(&tx, recording_keys, &stamp.recording_id)?;
                            last_stamp = Some((stamp, keys));
                            keys
                        }
                    }),
                };
                let Some((recording, experiment)) = keys else {
                    fates.push(SampleFate::NotRecorded);
                    continue;
                };
                let sensor = match sensor_keys.get(&*sample.sensor_id) {
                    Some(key) => *key,
                    None => sensor_key(&tx, &mut new_sensor_keys, sample)?,
                };
                let changed = insert
                    .execute(params![experiment, recording, sensor, sample.ts, sample.received_at, sample.sample_id, sample.values])
                    .map_err(map_error)?;
                if changed == 1 {
                    fates.push(SampleFate::Stored);
                    *per_recording.entry(recording).or_default() += 1;
                } else {
                    fates.push(SampleFate::Duplicate);
                }
            }
            let mut bump = tx.prepare_cached("UPDATE recordings SET sample_count = sample_count + ?2 WHERE key = ?1").map_err(map_error)?;
            for (recording, count) in per_recording {
                bump.execute(params![recording, count]).map_err(map_error)?;
            }
        }
        tx.commit().map_err(map_error)?;
        sensor_keys.extend(new_sensor_keys);
        Ok(InsertOutcome { fates, recording_id: running.map(|r| r.id) })
    }
}

/// The running recording and the sensors its experiment's config enables, if one runs. Runs
/// once per batch, so it reads no JSON it does not have to: the experiment's config id is
/// cached by the experiment's version, the enabled sensors by the config's version.
fn running_recording(tx: &Transaction<'_>, cache: &mut RunningCache) -> StoreResult<Option<Running>> {
    let found = tx
        .prepare_cached(
            "SELECT r.key, r.experiment_key, r.id, e.version FROM recordings r JOIN experiments e ON e.key = r.experiment_key
             WHERE r.running = 1",
        )
        .and_then(|mut stmt| stmt.query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?, r.get(3)?))).optional())
        .map_err(map_error)?;
    let Some((recording, experiment, id, experiment_version)) = found else { return Ok(None) };
    let config_id = match &cache.config_of {
        Some(cached) if cached.of == (experiment, experiment_version) => cached.value.clone(),
        _ => {
            let config_id: Option<String> = tx
                .query_row("SELECT json_extract(doc, '$.sensor_config_id') FROM experiments WHERE key = ?1", [experiment], |r| r.get(0))
                .map_err(map_error)?;
            cache.config_of = Some(Versioned { of: (experiment, experiment_version), value: config_id.clone() });
            config_id
        }
    };
    let version: Option<(i64, i64)> = match &config_id {
        Some(config_id) => tx
            .prepare_cached("SELECT key, COALESCE(json_extract(doc, '$.version'), 0) FROM sensor_configs WHERE id = ?1")
            .and_then(|mut stmt| stmt.query_row([config_id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(map_error)?,
        None => None,
    };
    let enabled = match (version, &cache.enabled) {
        (None, _) => Arc::new(HashSet::new()),
        (Some(version), Some(cached)) if cached.of == version => cached.value.clone(),
        (Some((key, version)), _) => {
            let doc: String = tx.query_row("SELECT doc FROM sensor_configs WHERE key = ?1", [key], |r| r.get(0)).map_err(map_error)?;
            let config: SensorConfig =
                serde_json::from_str(&doc).map_err(|e| StoreError::Internal(format!("sensor config document: {e}")))?;
            let sensors = Arc::new(config.sensors.into_iter().filter(|s| s.enabled).map(|s| s.id).collect::<HashSet<_>>());
            cache.enabled = Some(Versioned { of: (key, version), value: sensors.clone() });
            sensors
        }
    };
    Ok(Some(Running { recording, experiment, id, enabled }))
}

fn recording_key(tx: &Transaction<'_>, cache: &mut HashMap<String, (i64, i64)>, recording_id: &str) -> StoreResult<(i64, i64)> {
    if let Some(keys) = cache.get(recording_id) {
        return Ok(*keys);
    }
    let keys: (i64, i64) = tx
        .prepare_cached("SELECT key, experiment_key FROM recordings WHERE id = ?1")
        .and_then(|mut stmt| stmt.query_row([recording_id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(map_error)?
        .ok_or_else(|| StoreError::NotFound(format!("recording {recording_id}")))?;
    cache.insert(recording_id.to_owned(), keys);
    Ok(keys)
}

fn sensor_key(tx: &Transaction<'_>, cache: &mut HashMap<Arc<str>, i64>, sample: &NewSample) -> StoreResult<i64> {
    if let Some(key) = cache.get(&*sample.sensor_id) {
        return Ok(*key);
    }
    tx.prepare_cached("INSERT OR IGNORE INTO sensor_keys (sensor_id, sensor_type) VALUES (?1, ?2)")
        .and_then(|mut stmt| stmt.execute(params![&*sample.sensor_id, &*sample.sensor_type]))
        .map_err(map_error)?;
    let key: i64 = tx
        .prepare_cached("SELECT key FROM sensor_keys WHERE sensor_id = ?1")
        .and_then(|mut stmt| stmt.query_row([&*sample.sensor_id], |r| r.get(0)))
        .map_err(map_error)?;
    cache.insert(sample.sensor_id.clone(), key);
    Ok(key)
}

/// The filter every sample read shares; parameters ?1..?5 as bound by [`filter_params`].
const FILTER: &str = "s.experiment = (SELECT key FROM experiments WHERE id = ?1)
    AND s.ts >= ?2 AND s.ts < ?3
    AND (?4 IS NULL OR k.sensor_type IN (SELECT value FROM json_each(?4)))
    AND (?5 IS NULL OR r.participant_id IN (SELECT value FROM json_each(?5)))";

const JOINS: &str = "samples s JOIN sensor_keys k ON k.key = s.sensor JOIN recordings r ON r.key = s.recording";

fn json_list(values: &[String]) -> Option<String> {
    (!values.is_empty()).then(|| serde_json::Value::from(values.to_vec()).to_string())
}

fn filter_params(query: &SampleQuery) -> (String, i64, i64, Option<String>, Option<String>) {
    (
        query.experiment_id.clone(),
        query.from_ns.unwrap_or(i64::MIN),
        query.to_ns.unwrap_or(i64::MAX),
        json_list(&query.sensor_types),
        json_list(&query.participant_ids),
    )
}

pub(super) fn count(conn: &Connection, query: &SampleQuery) -> StoreResult<u64> {
    let (experiment, from, to, types, participants) = filter_params(query);
    let sql = format!("SELECT COUNT(*) FROM {JOINS} WHERE {FILTER}");
    let count: i64 = conn
        .prepare_cached(&sql)
        .and_then(|mut stmt| stmt.query_row(params![experiment, from, to, types, participants], |r| r.get(0)))
        .map_err(map_error)?;
    Ok(count as u64)
}

pub(super) fn stats(conn: &Connection, experiment_id: &str) -> StoreResult<Vec<SampleStat>> {
    let sql = format!(
        "SELECT r.participant_id, s.ts / 86400000000000, k.sensor_type, COUNT(*) FROM {JOINS}
         WHERE s.experiment = (SELECT key FROM experiments WHERE id = ?1) GROUP BY 1, 2, 3"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(map_error)?;
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

/// Position of a row in the time order: (ts, rowid).
type Cursor = (i64, i64);
type Chunk = (Vec<StoredSample>, Option<Cursor>);

/// One chunk request: the query and the (ts, rowid) of the last row already returned.
#[derive(Clone)]
pub(super) struct ChunkQuery {
    query: Arc<SampleQuery>,
    after: Cursor,
}

pub(super) fn stream<F, Fut>(query: SampleQuery, fetch: F) -> BoxStream<'static, StoreResult<Vec<StoredSample>>>
where
    F: Fn(ChunkQuery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = StoreResult<Chunk>> + Send + 'static,
{
    let query = Arc::new(query);
    keyset_stream(move |after: Option<Cursor>| fetch(ChunkQuery { query: query.clone(), after: after.unwrap_or((i64::MIN, i64::MIN)) }))
}

/// One chunk in time order: parameters ?1..?5 of [`filter_params`] (?2 raised to the cursor's
/// `ts`), ?6 and ?7 the cursor, ?8 the chunk size.
fn chunk_sql() -> String {
    format!(
        "SELECT s.rowid, s.ts, s.received_at, s.sample_id, s.vals, k.sensor_id, k.sensor_type, r.id, r.participant_id, r.task_id
         FROM {JOINS} WHERE {FILTER} AND (s.ts > ?6 OR s.rowid > ?7) ORDER BY s.ts, s.rowid LIMIT ?8"
    )
}

pub(super) fn read_chunk(conn: &Connection, chunk: &ChunkQuery) -> StoreResult<Chunk> {
    let (experiment, from, to, types, participants) = filter_params(&chunk.query);
    // The chunk starts at the cursor's `ts` as the lower bound of the index search. (SQLite
    // does not seek an index with a row value such as `(ts, rowid) > (?, ?)`: every chunk would
    // scan the experiment from its start, quadratic in its size.) The rowid then skips the rows
    // of that same `ts` already returned.
    let (after_ts, after_rowid) = chunk.after;
    let mut stmt = conn.prepare_cached(&chunk_sql()).map_err(map_error)?;
    let mut last = None;
    let rows = stmt
        .query_map(params![experiment, from.max(after_ts), to, types, participants, after_ts, after_rowid, SAMPLE_CHUNK as i64], |r| {
            let rowid: i64 = r.get(0)?;
            let ts: i64 = r.get(1)?;
            Ok((
                (ts, rowid),
                StoredSample {
                    ts,
                    received_at: r.get(2)?,
                    sample_id: r.get(3)?,
                    values: r.get(4)?,
                    sensor_id: r.get(5)?,
                    sensor_type: r.get(6)?,
                    recording_id: r.get(7)?,
                    participant_id: r.get(8)?,
                    task_id: r.get(9)?,
                },
            ))
        })
        .map_err(map_error)?;
    let mut samples = Vec::with_capacity(SAMPLE_CHUNK);
    for row in rows {
        let (cursor, sample) = row.map_err(map_error)?;
        last = Some(cursor);
        samples.push(sample);
    }
    Ok((samples, last))
}

pub(super) fn delete(tx: &Transaction<'_>, experiment_id: &str, expected: Option<u64>) -> StoreResult<u64> {
    let key: Option<i64> =
        tx.query_row("SELECT key FROM experiments WHERE id = ?1", [experiment_id], |r| r.get(0)).optional().map_err(map_error)?;
    let Some(key) = key else { return Err(StoreError::NotFound("experiment".into())) };
    if let Some(expected) = expected {
        // The per-recording counters move in the same transactions as the inserts.
        let stored: i64 = tx
            .query_row("SELECT COALESCE(SUM(sample_count), 0) FROM recordings WHERE experiment_key = ?1", [key], |r| r.get(0))
            .map_err(map_error)?;
        if stored as u64 != expected {
            return Err(StoreError::Conflict(format!("the experiment has {stored} samples now, not {expected}")));
        }
    }
    let deleted = tx.execute("DELETE FROM samples WHERE experiment = ?1", [key]).map_err(map_error)?;
    tx.execute("UPDATE recordings SET sample_count = 0 WHERE experiment_key = ?1", [key]).map_err(map_error)?;
    Ok(deleted as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::StatementStatus;

    /// SQLite virtual-machine steps one chunk read costs, starting after `after`.
    fn steps_of_chunk(conn: &Connection, query: &Arc<SampleQuery>, after: Cursor) -> (i32, Chunk) {
        let sql = chunk_sql();
        let before = conn.prepare_cached(&sql).expect("prepare").get_status(StatementStatus::VmStep);
        let chunk = read_chunk(conn, &ChunkQuery { query: query.clone(), after }).expect("chunk");
        let after = conn.prepare_cached(&sql).expect("prepare").get_status(StatementStatus::VmStep);
        (after - before, chunk)
    }

    /// Keyset pagination must seek, not scan: the last chunk of an experiment costs what the
    /// first does (a scan from the start made exports quadratic in their size).
    #[test]
    fn a_chunk_read_costs_the_same_wherever_it_starts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn =
            super::super::open_connection(&dir.path().join("srs.db"), Default::default(), super::super::READER_CACHE_KIB).expect("open");
        super::super::schema::migrate(&mut conn).expect("migrate");
        conn.execute_batch(
            "INSERT INTO experiments (key, id, version, doc) VALUES (1, 'e', 0, '{}');
             INSERT INTO recordings (key, id, experiment_key, participant_id, running, doc) VALUES (1, 'r', 1, 'p', 0, '{}');
             INSERT INTO sensor_keys (key, sensor_id, sensor_type) VALUES (1, 'ecg-1', 'ecg');",
        )
        .expect("metadata");
        let rows = SAMPLE_CHUNK as i64 * 12;
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1)
             INSERT INTO samples (experiment, recording, sensor, ts, received_at, vals) SELECT 1, 1, 1, i, i, '{}' FROM n",
            [rows],
        )
        .expect("samples");
        let query = Arc::new(SampleQuery { experiment_id: "e".into(), ..Default::default() });

        let (first_steps, (first, _)) = steps_of_chunk(&conn, &query, (i64::MIN, i64::MIN));
        assert_eq!((first.len(), first[0].ts), (SAMPLE_CHUNK, 0));
        let near_end = (rows - SAMPLE_CHUNK as i64 - 1, rows - SAMPLE_CHUNK as i64);
        let (last_steps, (last, _)) = steps_of_chunk(&conn, &query, near_end);
        assert_eq!((last.len(), last[0].ts), (SAMPLE_CHUNK, rows - SAMPLE_CHUNK as i64));
        assert!(last_steps < first_steps * 2, "the last chunk took {last_steps} steps, the first {first_steps}");
    }
}
