//! Samples in SQLite, written: the batched, deduplicating insert (the ingest hot path).
//!
//! A batch's stored samples become blocks (`blocks.rs`): one per sensor, recording and
//! 10-minute window in the batch, sorted by `ts`. Duplicates are found without a per-sample index: a sample with
//! a client id is checked by its (sensor, id) key in `sample_ids`; one without is compared with
//! the `ts` of the blocks of its sensor that overlap the batch's time range — for samples that
//! arrive in time order, none do, and that check is one index seek per sensor.

use super::docs::{decode_block_column, map_error};
use crate::model::{NewSample, SensorConfig};
use crate::store::blocks::{encode_members, spans, window_of, EncodedBlock, RowRef, BLOCK_WINDOW_NS};
use crate::store::{InsertOutcome, SampleFate, StoreError, StoreResult};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

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
    /// The whole answer, by the connection's `PRAGMA data_version`: that changes when another
    /// connection commits, and [`SampleWriter::forget_running`] clears it when this one writes
    /// anything but samples (a recording starting or stopping, a config edited). While neither
    /// happened the answer still holds, and a commit reads one pragma instead of three queries.
    answer: Option<(i64, Option<Running>)>,
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
#[derive(Clone)]
struct Running {
    recording: i64,
    experiment: i64,
    id: String,
    enabled: Arc<HashSet<String>>,
}

/// Where a recorded sample goes: its sensor's key and its recording's keys.
#[derive(Clone, Copy)]
struct Target {
    sensor: i64,
    recording: i64,
    experiment: i64,
}

/// The block a stored sample joins: (sensor, recording, experiment, window number).
pub(super) type BlockKey = (i64, i64, i64, i64);

impl SampleWriter {
    pub(super) fn new(conn: Connection) -> Self {
        Self { conn, sensor_keys: HashMap::new(), recording_keys: HashMap::new(), running: RunningCache::default() }
    }

    /// Called before every write other than samples: it may change what runs.
    pub(super) fn forget_running(&mut self) {
        self.running.answer = None;
    }

    pub(super) fn insert(&mut self, samples: &[NewSample]) -> StoreResult<InsertOutcome> {
        let Self { conn, sensor_keys, recording_keys, running: cache } = self;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_error)?;
        // Read inside the write transaction: no start or stop can commit between this read and
        // the inserts, so the edges of a recording are exact.
        let running = if samples.iter().any(|s| s.stamp.is_none()) { running_recording(&tx, cache)? } else { None };
        // Sensor keys this transaction creates join the cache only once it commits: a key
        // cached from a rolled-back transaction (a full disk) would point at no sensor.
        let mut new_sensor_keys: HashMap<Arc<str>, i64> = HashMap::new();
        let targets = {
            let mut last_stamp: Option<(&Arc<crate::model::RecordingStamp>, (i64, i64))> = None;
            let mut targets = Vec::with_capacity(samples.len());
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
                targets.push(match keys {
                    Some((recording, experiment)) => {
                        let sensor = match sensor_keys.get(&*sample.sensor_id) {
                            Some(key) => *key,
                            None => sensor_key(&tx, &mut new_sensor_keys, sample)?,
                        };
                        Some(Target { sensor, recording, experiment })
                    }
                    None => None,
                });
            }
            targets
        };
        let mut taken_ts = stored_ts_in_batch_range(&tx, samples, &targets)?;
        let mut fates = Vec::with_capacity(samples.len());
        let mut groups: HashMap<BlockKey, Vec<usize>> = HashMap::new();
        {
            let mut claim_id =
                tx.prepare_cached("INSERT OR IGNORE INTO sample_ids (sensor, sample_id) VALUES (?1, ?2)").map_err(map_error)?;
            for (index, (sample, target)) in samples.iter().zip(&targets).enumerate() {
                let Some(target) = target else {
                    fates.push(SampleFate::NotRecorded);
                    continue;
                };
                let fresh = match &sample.sample_id {
                    Some(id) => claim_id.execute(params![target.sensor, id]).map_err(map_error)? == 1,
                    // The set holds the stored no-id `ts` of the sensor and this batch's so far.
                    None => taken_ts.entry(target.sensor).or_default().insert(sample.ts),
                };
                if fresh {
                    fates.push(SampleFate::Stored);
                    groups.entry((target.sensor, target.recording, target.experiment, window_of(sample.ts))).or_default().push(index);
                } else {
                    fates.push(SampleFate::Duplicate);
                }
            }
        }
        let mut per_recording: HashMap<i64, i64> = HashMap::new();
        for (key, members) in groups {
            *per_recording.entry(key.1).or_default() += members.len() as i64;
            for block in encode_members(samples, members)? {
                store_block(&tx, key, &block).map_err(map_error)?;
            }
        }
        {
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

/// The blocks of sensor ?1 that may hold a `ts` in [?2, ?3], with ?4 one window past ?3. A block
/// spans at most a window, so the index on (sensor, max_ts) scans from ?2 to ?4 only: a batch
/// from long before the sensor's newest blocks (a device uploading what it buffered) never
/// walks through them.
const OVERLAPPING: &str = "SELECT data FROM sample_blocks WHERE sensor = ?1 AND max_ts >= ?2 AND max_ts < ?4 AND min_ts <= ?3";

/// Per sensor of the batch, the `ts` of its stored samples without a client id that fall in
/// the time spans of the batch's own such samples: read from the blocks overlapping those
/// spans (none for samples that arrive in time order; see [`spans`] for where they are cut).
fn stored_ts_in_batch_range(
    tx: &Transaction<'_>,
    samples: &[NewSample],
    targets: &[Option<Target>],
) -> StoreResult<HashMap<i64, HashSet<i64>>> {
    let mut times: HashMap<i64, Vec<i64>> = HashMap::new();
    for (sample, target) in samples.iter().zip(targets) {
        if let (Some(target), None) = (target, &sample.sample_id) {
            times.entry(target.sensor).or_default().push(sample.ts);
        }
    }
    let mut overlapping = tx.prepare_cached(OVERLAPPING).map_err(map_error)?;
    let mut taken: HashMap<i64, HashSet<i64>> = HashMap::with_capacity(times.len());
    for (sensor, mut times) in times {
        times.sort_unstable();
        let set = taken.entry(sensor).or_default();
        for (low, high) in spans(&times) {
            let mut rows = overlapping.query(params![sensor, low, high, high.saturating_add(BLOCK_WINDOW_NS)]).map_err(map_error)?;
            while let Some(row) = rows.next().map_err(map_error)? {
                let block = decode_block_column(row, 0)?;
                for (ts, id) in block.ts.iter().zip(&block.sample_ids) {
                    if id.is_none() && (low..=high).contains(ts) {
                        set.insert(*ts);
                    }
                }
            }
        }
    }
    Ok(taken)
}

/// Stores one block of rows of one [`BlockKey`], sorted by `ts`, at most `MAX_BLOCK_ROWS`.
/// Its errors are SQLite's (a full disk stays a full disk for the migration that calls it too).
pub(super) fn insert_block(tx: &Transaction<'_>, key: BlockKey, rows: &[RowRef<'_>]) -> rusqlite::Result<()> {
    match EncodedBlock::new(rows).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))? {
        Some(block) => store_block(tx, key, &block),
        None => Ok(()),
    }
}

fn store_block(tx: &Transaction<'_>, key: BlockKey, block: &EncodedBlock) -> rusqlite::Result<()> {
    let (sensor, recording, experiment, _) = key;
    tx.prepare_cached(
        "INSERT INTO sample_blocks (sensor, experiment, recording, day, min_ts, max_ts, rows, with_ids, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        sensor,
        experiment,
        recording,
        block.day,
        block.min_ts,
        block.max_ts,
        block.rows as i64,
        block.with_ids as i64,
        block.data
    ])?;
    Ok(())
}

/// The running recording and the sensors its experiment's config enables, if one runs. Runs
/// once per batch, so it reads no JSON it does not have to: the experiment's config id is
/// cached by the experiment's version, the enabled sensors by the config's version.
fn running_recording(tx: &Transaction<'_>, cache: &mut RunningCache) -> StoreResult<Option<Running>> {
    let data_version: i64 =
        tx.prepare_cached("PRAGMA data_version").and_then(|mut stmt| stmt.query_row([], |r| r.get(0))).map_err(map_error)?;
    if let Some((version, running)) = &cache.answer {
        if *version == data_version {
            return Ok(running.clone());
        }
    }
    let running = read_running_recording(tx, cache)?;
    cache.answer = Some((data_version, running.clone()));
    Ok(running)
}

fn read_running_recording(tx: &Transaction<'_>, cache: &mut RunningCache) -> StoreResult<Option<Running>> {
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

#[cfg(test)]
mod tests {
    use super::super::test_support::{samples, store_with_recording};
    use super::*;
    use crate::store::blocks::NS_PER_DAY;
    use crate::store::SampleStore;
    use rusqlite::StatementStatus;

    /// A batch from long before a sensor's newest blocks (a device uploading what it buffered)
    /// checks its duplicates without walking through those blocks.
    #[tokio::test]
    async fn the_duplicate_check_does_not_walk_through_later_blocks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("srs.db");
        let (store, stamp) = store_with_recording(&path).await;
        let conn = Connection::open(&path).expect("open");
        let batch = |from: i64, count: i64| samples(&stamp, "imu-left", from, 10_000_000, count);
        let (early, late) = (1_795_392_000_000_000_000i64, 1_795_392_000_000_000_000i64 + NS_PER_DAY);
        store.insert_samples(batch(early, 100)).await.expect("early");
        for n in 0..400 {
            store.insert_samples(batch(late + n * 1_000_000_000, 10)).await.expect("late");
        }
        let vm_steps = || conn.prepare_cached(OVERLAPPING).expect("prepare").get_status(StatementStatus::VmStep);
        let check = |low: i64, high: i64| {
            let before = vm_steps();
            let window_end = high + BLOCK_WINDOW_NS;
            let blocks = conn
                .prepare_cached(OVERLAPPING)
                .expect("prepare")
                .query_map(params![1, low, high, window_end], |_| Ok(()))
                .expect("query")
                .count();
            (blocks, vm_steps() - before)
        };
        // Right after the early batch, with 400 blocks a day later; and after the newest block.
        let (early_blocks, early_steps) = check(early + 1_000_000_000, early + 2_000_000_000);
        let (late_blocks, late_steps) = check(late + 401_000_000_000, late + 402_000_000_000);
        assert_eq!((early_blocks, late_blocks), (0, 0));
        assert!(early_steps <= late_steps + 10, "{early_steps} steps with later blocks, {late_steps} without");
        // One batch with samples at both ends checks each end, not the 400 blocks between.
        let mut both = batch(early + 1_000_000_000, 5);
        both.extend(batch(late + 401_000_000_000, 5));
        let targets = vec![Some(Target { sensor: 1, recording: 1, experiment: 1 }); both.len()];
        let mut writer = Connection::open(&path).expect("open");
        let tx = writer.transaction().expect("begin");
        let steps = || tx.prepare_cached(OVERLAPPING).expect("prepare").get_status(StatementStatus::VmStep);
        let before = steps();
        let taken = stored_ts_in_batch_range(&tx, &both, &targets).expect("check");
        assert!(taken[&1].is_empty());
        let both_steps = steps() - before;
        assert!(both_steps <= 2 * (late_steps + 10), "{both_steps} steps for both ends, {late_steps} for one");
        drop(tx);
        // And a retry of the early batch finds every duplicate.
        assert_eq!(store.insert_samples(batch(early, 100)).await.expect("retry").duplicate_count(), 100);
    }
}
