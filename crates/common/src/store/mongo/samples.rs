//! Samples in MongoDB, written: the batched, deduplicating insert (the ingest hot path).
//!
//! A batch's stored samples become bucket documents in `sample_buckets`: one per sensor,
//! recording and 10-minute window in the batch, holding the same compressed block of columns
//! as SQLite's `sample_blocks` (`store/blocks.rs`) beside the metadata the reads filter on. A
//! sample with a client id claims (sensor, id) in `sample_ids`; one without is compared with
//! the `ts` of the sensor's buckets that overlap the batch (none, for data arriving in time
//! order). Everything happens in one transaction with the recording counters.

use super::transaction::Attempt;
use super::MongoStore;
use crate::model::{NewSample, Recording, RecordingStamp, SensorConfig};
use crate::store::blocks::{self, encode_members, spans, window_of, EncodedBlock, BLOCK_WINDOW_NS};
use crate::store::{InsertOutcome, SampleFate, StoreError, StoreResult};
use mongodb::bson::{doc, spec::BinarySubtype, Binary, Bson, Document};
use mongodb::ClientSession;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One document per block of samples.
pub(super) const BUCKETS: &str = "sample_buckets";
/// One document per (sensor, client id) stored: `{_id: {s, i}, exp}`.
pub(super) const IDS: &str = "sample_ids";
/// One document per sensor that has samples: every batch storing samples of a sensor writes
/// it, so two concurrent batches of one sensor conflict (and one retries, seeing the other's
/// buckets) instead of both storing the same `ts` — snapshot isolation alone would let each
/// miss the other's new bucket.
pub(super) const SENSORS: &str = "sample_sensors";

/// The key of a client id's document.
pub(super) fn id_key(sensor: &str, id: &str) -> Document {
    doc! {"s": sensor, "i": id}
}

/// A bucket document for one encoded block.
pub(super) fn bucket(sensor: &str, sensor_type: &str, stamp: &RecordingStamp, block: EncodedBlock) -> Document {
    doc! {
        "sensor": sensor, "type": sensor_type,
        "exp": &stamp.experiment_id, "rec": &stamp.recording_id, "part": &stamp.participant_id, "task": stamp.task_id.as_deref(),
        "day": block.day, "min_ts": block.min_ts, "max_ts": block.max_ts,
        "rows": block.rows as i64, "ids": block.with_ids as i64,
        "data": Binary { subtype: BinarySubtype::Generic, bytes: block.data },
    }
}

/// Inserts the batch in one transaction together with the recording counters. Duplicates are
/// found by reading what exists (a duplicate-key error would abort the transaction), and the
/// running recording is read inside the same transaction, so a stop committed before it began
/// is seen.
pub(super) async fn insert(store: &MongoStore, samples: &[NewSample]) -> StoreResult<InsertOutcome> {
    if samples.is_empty() {
        return Ok(InsertOutcome::default());
    }
    let mut session = store.client.start_session().await.map_err(super::map_error)?;
    in_transaction!(session, insert_in(store, &mut session, samples))
}

/// The running recording's stamp and the sensors its experiment's config enables.
async fn running(store: &MongoStore, session: &mut ClientSession) -> Result<Option<(Arc<RecordingStamp>, HashSet<String>)>, Attempt> {
    let Some(recording) = store.docs("recordings").find_one(doc! {"running": true}).session(&mut *session).await? else {
        return Ok(None);
    };
    let recording: Recording = super::from_doc(recording)?;
    let experiment = store.docs("experiments").find_one(doc! {"_id": &recording.experiment_id}).session(&mut *session).await?;
    let config_id = experiment.as_ref().and_then(|e| e.get_str("sensor_config_id").ok()).unwrap_or_default().to_owned();
    let config = store.docs("sensor_configs").find_one(doc! {"_id": config_id}).session(&mut *session).await?;
    let enabled = match config {
        Some(config) => {
            let config: SensorConfig = super::from_doc(config)?;
            config.sensors.into_iter().filter(|s| s.enabled).map(|s| s.id).collect()
        }
        None => HashSet::new(),
    };
    Ok(Some((Arc::new(recording.stamp()), enabled)))
}

/// The block a stored sample joins: (sensor, sensor type, recording, window).
type BucketKey<'a> = (&'a str, &'a str, &'a str, i64);

async fn insert_in(store: &MongoStore, session: &mut ClientSession, samples: &[NewSample]) -> Result<InsertOutcome, Attempt> {
    let running = if samples.iter().any(|s| s.stamp.is_none()) { running(store, session).await? } else { None };
    // Every recording a stamp names must exist.
    let named: HashSet<&str> = samples.iter().filter_map(|s| s.stamp.as_ref()).map(|s| s.recording_id.as_str()).collect();
    for id in &named {
        if store.docs("recordings").find_one(doc! {"_id": *id}).projection(doc! {"_id": 1}).session(&mut *session).await?.is_none() {
            return Err(StoreError::NotFound(format!("recording {id}")).into());
        }
    }
    // Each sample's recording, or none.
    let targets: Vec<Option<&RecordingStamp>> = samples
        .iter()
        .map(|sample| match (&sample.stamp, &running) {
            (Some(stamp), _) => Some(&**stamp),
            (None, Some((stamp, enabled))) if enabled.contains(&*sample.sensor_id) => Some(&**stamp),
            (None, _) => None,
        })
        .collect();
    let sensors: Vec<&str> = {
        let recorded = samples.iter().zip(&targets).filter(|(_, target)| target.is_some());
        let set: HashSet<&str> = recorded.map(|(sample, _)| &*sample.sensor_id).collect();
        set.into_iter().collect()
    };
    if !sensors.is_empty() {
        claim_sensors(store, session, &sensors).await?;
    }
    let mut taken_ids = stored_ids(store, session, samples, &targets).await?;
    let mut taken_ts = stored_ts_in_batch_range(store, session, samples, &targets).await?;
    let mut fates = Vec::with_capacity(samples.len());
    let mut groups: HashMap<BucketKey<'_>, (&RecordingStamp, Vec<usize>)> = HashMap::new();
    let mut new_ids = Vec::new();
    for (index, (sample, target)) in samples.iter().zip(&targets).enumerate() {
        let Some(stamp) = target else {
            fates.push(SampleFate::NotRecorded);
            continue;
        };
        // `insert` is false for a key already stored or met earlier in this batch.
        let fresh = match &sample.sample_id {
            Some(id) => taken_ids.insert((&*sample.sensor_id, id.as_str())),
            None => taken_ts.entry(&*sample.sensor_id).or_default().insert(sample.ts),
        };
        if !fresh {
            fates.push(SampleFate::Duplicate);
            continue;
        }
        fates.push(SampleFate::Stored);
        if let Some(id) = &sample.sample_id {
            new_ids.push(doc! {"_id": id_key(&sample.sensor_id, id), "exp": &stamp.experiment_id});
        }
        let key = (&*sample.sensor_id, &*sample.sensor_type, stamp.recording_id.as_str(), window_of(sample.ts));
        groups.entry(key).or_insert_with(|| (stamp, Vec::new())).1.push(index);
    }
    let mut per_recording: HashMap<&str, i64> = HashMap::new();
    let mut buckets = Vec::with_capacity(groups.len());
    for ((sensor, sensor_type, recording, _), (stamp, members)) in groups {
        *per_recording.entry(recording).or_default() += members.len() as i64;
        for block in encode_members(samples, members)? {
            buckets.push(bucket(sensor, sensor_type, stamp, block));
        }
    }
    if !buckets.is_empty() {
        store.docs(BUCKETS).insert_many(buckets).session(&mut *session).await?;
    }
    if !new_ids.is_empty() {
        store.docs(IDS).insert_many(new_ids).session(&mut *session).await?;
    }
    // Also what makes a concurrent stop of the recording conflict with this batch.
    for (recording, count) in per_recording {
        store.docs("recordings").update_one(doc! {"_id": recording}, doc! {"$inc": {"sample_count": count}}).session(&mut *session).await?;
    }
    Ok(InsertOutcome { fates, recording_id: running.map(|(stamp, _)| stamp.recording_id.clone()) })
}

/// Writes the document of every sensor of the batch (see [`SENSORS`]), creating the ones that
/// do not exist yet.
async fn claim_sensors(store: &MongoStore, session: &mut ClientSession, sensors: &[&str]) -> Result<(), Attempt> {
    let claimed =
        store.docs(SENSORS).update_many(doc! {"_id": {"$in": sensors}}, doc! {"$inc": {"writes": 1_i64}}).session(&mut *session).await?;
    if (claimed.matched_count as usize) < sensors.len() {
        // A sensor's first batch. Counting the known ones twice is harmless; two batches
        // creating the same sensor conflict like two updating it.
        for sensor in sensors {
            store
                .docs(SENSORS)
                .update_one(doc! {"_id": *sensor}, doc! {"$inc": {"writes": 1_i64}})
                .upsert(true)
                .session(&mut *session)
                .await?;
        }
    }
    Ok(())
}

/// The (sensor, client id) keys of the batch that are stored already.
async fn stored_ids<'a>(
    store: &MongoStore,
    session: &mut ClientSession,
    samples: &'a [NewSample],
    targets: &[Option<&RecordingStamp>],
) -> Result<HashSet<(&'a str, &'a str)>, Attempt> {
    let asked: Vec<(&str, &str)> = samples
        .iter()
        .zip(targets)
        .filter(|(_, target)| target.is_some())
        .filter_map(|(sample, _)| Some((&*sample.sensor_id, sample.sample_id.as_deref()?)))
        .collect();
    let mut taken = HashSet::new();
    if asked.is_empty() {
        return Ok(taken);
    }
    let keys: Vec<Document> = asked.iter().map(|(sensor, id)| id_key(sensor, id)).collect();
    let mut found = store.docs(IDS).find(doc! {"_id": {"$in": keys}}).projection(doc! {"_id": 1}).session(&mut *session).await?;
    let mut stored: HashSet<(String, String)> = HashSet::new();
    while let Some(document) = found.next(&mut *session).await {
        let document = document?;
        let key = document.get_document("_id").map_err(|e| StoreError::Internal(format!("sample id document: {e}")))?;
        if let (Ok(sensor), Ok(id)) = (key.get_str("s"), key.get_str("i")) {
            stored.insert((sensor.to_owned(), id.to_owned()));
        }
    }
    // Borrowed from the batch, so the caller's set can take the batch's new keys too.
    taken.extend(asked.into_iter().filter(|(sensor, id)| stored.contains(&((*sensor).to_owned(), (*id).to_owned()))));
    Ok(taken)
}

/// Per sensor of the batch, the `ts` of its stored samples without a client id in the buckets
/// that overlap the time spans of the batch's own such samples (see [`spans`]): one query for
/// the whole batch, answered from the (sensor, max_ts) index.
async fn stored_ts_in_batch_range<'a>(
    store: &MongoStore,
    session: &mut ClientSession,
    samples: &'a [NewSample],
    targets: &[Option<&RecordingStamp>],
) -> Result<HashMap<&'a str, HashSet<i64>>, Attempt> {
    let mut times: HashMap<&'a str, Vec<i64>> = HashMap::new();
    for (sample, target) in samples.iter().zip(targets) {
        if let (Some(_), None) = (target, &sample.sample_id) {
            times.entry(&*sample.sensor_id).or_default().push(sample.ts);
        }
    }
    let mut any_of = Vec::new();
    for (sensor, times) in &mut times {
        times.sort_unstable();
        for (low, high) in spans(times) {
            any_of.push(doc! {
                "sensor": *sensor,
                "max_ts": {"$gte": low, "$lt": high.saturating_add(BLOCK_WINDOW_NS)},
                "min_ts": {"$lte": high},
            });
        }
    }
    let mut taken: HashMap<&'a str, HashSet<i64>> = HashMap::with_capacity(times.len());
    if any_of.is_empty() {
        return Ok(taken);
    }
    let mut found = store.docs(BUCKETS).find(doc! {"$or": any_of}).projection(doc! {"sensor": 1, "data": 1}).session(&mut *session).await?;
    while let Some(document) = found.next(&mut *session).await {
        let document = document?;
        let bad = |e: mongodb::bson::document::ValueAccessError| StoreError::Internal(format!("sample bucket: {e}"));
        // The batch's own `&str` for the sensor, to key the set by.
        let Some((&sensor, _)) = times.get_key_value(document.get_str("sensor").map_err(bad)?) else { continue };
        let block = blocks::decode(&document.get_binary_generic("data").map_err(bad)?[..])?;
        // Every id-less `ts` of the bucket: one outside the spans matches no sample of the batch.
        let set = taken.entry(sensor).or_default();
        set.extend(block.ts.iter().zip(&block.sample_ids).filter(|(_, id)| id.is_none()).map(|(ts, _)| *ts));
    }
    Ok(taken)
}

/// A bucket's block as stored, for reads: `data` taken out of the document without a copy.
pub(super) fn take_data(document: &mut Document) -> StoreResult<Vec<u8>> {
    match document.remove("data") {
        Some(Bson::Binary(binary)) => Ok(binary.bytes),
        _ => Err(StoreError::Internal("sample bucket without data".into())),
    }
}
