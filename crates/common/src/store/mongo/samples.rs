//! Samples in MongoDB. One document per sample; the unique index on (sensor, dk) backs the
//! deduplication, where `dk` is `i:<client id>` or `t:<ts>`; inserts run in a transaction.

use super::transaction::Attempt;
use super::{map_error, MongoStore};
use crate::model::{NewSample, Recording, RecordingStamp, SampleQuery, SampleStat, SampleValues, SensorConfig, StoredSample};
use crate::store::paging::keyset_stream;
use crate::store::{InsertOutcome, SampleFate, StoreError, StoreResult, SAMPLE_CHUNK};
use crate::time::day_to_date;
use futures_util::stream::{BoxStream, TryStreamExt};
use mongodb::bson::{doc, oid::ObjectId, Bson, Document};
use mongodb::ClientSession;
use mongodb::Collection;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

const NS_PER_DAY: i64 = 86_400_000_000_000;

/// The deduplication key: `i:<client id>` or `t:<ts>`.
fn dedup_key(sample: &NewSample) -> String {
    match &sample.sample_id {
        Some(id) => format!("i:{id}"),
        None => format!("t:{}", sample.ts),
    }
}

fn to_document(sample: &NewSample, stamp: &RecordingStamp, dedup_key: String) -> StoreResult<Document> {
    let values: serde_json::Value =
        serde_json::from_str(&sample.values).map_err(|e| StoreError::Internal(format!("sample values: {e}")))?;
    let values = Bson::try_from(values).map_err(|e| StoreError::Internal(format!("sample values: {e}")))?;
    Ok(doc! {
        "exp": &stamp.experiment_id, "rec": &stamp.recording_id, "part": &stamp.participant_id, "task": stamp.task_id.as_deref(),
        "sensor": &*sample.sensor_id, "type": &*sample.sensor_type, "ts": sample.ts, "recv": sample.received_at,
        "dk": dedup_key, "sid": sample.sample_id.as_deref(), "v": values,
    })
}

/// Inserts the batch in one transaction together with the recording counters. Duplicates are
/// found by reading the keys that exist (a duplicate-key error would abort the transaction),
/// and the running recording is read inside the same transaction, so a stop committed before
/// it began is seen.
pub(super) async fn insert(store: &MongoStore, samples: &[NewSample]) -> StoreResult<InsertOutcome> {
    if samples.is_empty() {
        return Ok(InsertOutcome::default());
    }
    let mut session = store.client.start_session().await.map_err(map_error)?;
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

async fn insert_in(store: &MongoStore, session: &mut ClientSession, samples: &[NewSample]) -> Result<InsertOutcome, Attempt> {
    let running = if samples.iter().any(|s| s.stamp.is_none()) { running(store, session).await? } else { None };
    // Every recording a stamp names must exist.
    let named: HashSet<&str> = samples.iter().filter_map(|s| s.stamp.as_ref()).map(|s| s.recording_id.as_str()).collect();
    for id in &named {
        if store.docs("recordings").find_one(doc! {"_id": *id}).projection(doc! {"_id": 1}).session(&mut *session).await?.is_none() {
            return Err(StoreError::NotFound(format!("recording {id}")).into());
        }
    }
    // Each sample's recording (or none), with its dedup key.
    let mut targets: Vec<Option<(&RecordingStamp, String)>> = Vec::with_capacity(samples.len());
    let mut keys_by_sensor: HashMap<&str, Vec<String>> = HashMap::new();
    for sample in samples {
        let stamp = match (&sample.stamp, &running) {
            (Some(stamp), _) => Some(&**stamp),
            (None, Some((stamp, enabled))) if enabled.contains(&*sample.sensor_id) => Some(&**stamp),
            (None, _) => None,
        };
        let target = stamp.map(|stamp| (stamp, dedup_key(sample)));
        if let Some((_, key)) = &target {
            keys_by_sensor.entry(&sample.sensor_id).or_default().push(key.clone());
        }
        targets.push(target);
    }
    let mut taken: HashSet<(String, String)> = HashSet::new();
    if !keys_by_sensor.is_empty() {
        let any_of: Vec<Document> = keys_by_sensor.iter().map(|(sensor, keys)| doc! {"sensor": *sensor, "dk": {"$in": keys}}).collect();
        let mut existing = store
            .docs("samples")
            .find(doc! {"$or": any_of})
            .projection(doc! {"sensor": 1, "dk": 1, "_id": 0})
            .session(&mut *session)
            .await?;
        while let Some(found) = existing.next(&mut *session).await {
            let found = found?;
            if let (Ok(sensor), Ok(key)) = (found.get_str("sensor"), found.get_str("dk")) {
                taken.insert((sensor.to_owned(), key.to_owned()));
            }
        }
    }
    let mut fates = Vec::with_capacity(samples.len());
    let mut documents = Vec::new();
    let mut per_recording: HashMap<&str, i64> = HashMap::new();
    for (sample, target) in samples.iter().zip(targets) {
        let Some((stamp, key)) = target else {
            fates.push(SampleFate::NotRecorded);
            continue;
        };
        // `insert` is false for a key already stored or met earlier in this batch.
        if !taken.insert((sample.sensor_id.to_string(), key.clone())) {
            fates.push(SampleFate::Duplicate);
            continue;
        }
        documents.push(to_document(sample, stamp, key)?);
        fates.push(SampleFate::Stored);
        *per_recording.entry(&stamp.recording_id).or_default() += 1;
    }
    if !documents.is_empty() {
        store.docs("samples").insert_many(documents).session(&mut *session).await?;
    }
    // Also what makes a concurrent stop of the recording conflict with this batch.
    for (recording, count) in per_recording {
        store.docs("recordings").update_one(doc! {"_id": recording}, doc! {"$inc": {"sample_count": count}}).session(&mut *session).await?;
    }
    Ok(InsertOutcome { fates, recording_id: running.map(|(stamp, _)| stamp.recording_id.clone()) })
}

pub(super) fn filter(query: &SampleQuery) -> Document {
    let mut filter = doc! {
        "exp": &query.experiment_id,
        "ts": {"$gte": query.from_ns.unwrap_or(i64::MIN), "$lt": query.to_ns.unwrap_or(i64::MAX)},
    };
    if !query.participant_ids.is_empty() {
        filter.insert("part", doc! {"$in": &query.participant_ids});
    }
    if !query.sensor_types.is_empty() {
        filter.insert("type", doc! {"$in": &query.sensor_types});
    }
    filter
}

pub(super) async fn stats(samples_collection: &Collection<Document>, experiment_id: &str) -> StoreResult<Vec<SampleStat>> {
    let pipeline = [
        doc! {"$match": {"exp": experiment_id}},
        doc! {"$group": {
            "_id": {"part": "$part", "day": {"$toLong": {"$floor": {"$divide": ["$ts", NS_PER_DAY]}}}, "type": "$type"},
            "count": {"$sum": 1_i64},
        }},
    ];
    let groups: Vec<Document> = samples_collection.aggregate(pipeline).await.map_err(map_error)?.try_collect().await.map_err(map_error)?;
    let mut stats = groups
        .into_iter()
        .map(|group| {
            let key = group.get_document("_id").map_err(|e| StoreError::Internal(e.to_string()))?;
            Ok(SampleStat {
                participant_id: key.get_str("part").unwrap_or_default().to_owned(),
                date: day_to_date(key.get_i64("day").unwrap_or_default()),
                sensor_type: key.get_str("type").unwrap_or_default().to_owned(),
                count: group.get_i64("count").unwrap_or_default() as u64,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    stats.sort();
    Ok(stats)
}

fn to_stored(document: &Document) -> StoreResult<StoredSample> {
    let bad = |e: mongodb::bson::document::ValueAccessError| StoreError::Internal(format!("sample document: {e}"));
    let values = document.get_document("v").map_err(bad)?;
    let values =
        serde_json::to_string(&Bson::Document(values.clone()).into_relaxed_extjson()).map_err(|e| StoreError::Internal(e.to_string()))?;
    let values = SampleValues::from_json(&values).map_err(|e| StoreError::Internal(format!("sample values: {e}")))?;
    Ok(StoredSample {
        sensor_id: document.get_str("sensor").map_err(bad)?.into(),
        sensor_type: document.get_str("type").map_err(bad)?.into(),
        ts: document.get_i64("ts").map_err(bad)?,
        received_at: document.get_i64("recv").map_err(bad)?,
        sample_id: document.get_str("sid").ok().map(str::to_owned),
        values,
        recording_id: document.get_str("rec").map_err(bad)?.into(),
        participant_id: document.get_str("part").map_err(bad)?.into(),
        task_id: document.get_str("task").ok().map(Into::into),
    })
}

pub(super) fn stream(samples_collection: Collection<Document>, query: SampleQuery) -> BoxStream<'static, StoreResult<Vec<StoredSample>>> {
    keyset_stream(move |after: Option<(i64, ObjectId)>| {
        let collection = samples_collection.clone();
        let mut filter = filter(&query);
        if let Some((ts, id)) = after {
            // The cursor's `ts` is the lower bound of the index scan (so each chunk starts where
            // the last ended); `_id` then skips the rows of that `ts` already returned.
            let from = query.from_ns.unwrap_or(i64::MIN).max(ts);
            filter.insert("ts", doc! {"$gte": from, "$lt": query.to_ns.unwrap_or(i64::MAX)});
            filter.insert("$or", vec![doc! {"ts": {"$gt": ts}}, doc! {"_id": {"$gt": id}}]);
        }
        async move {
            let cursor = collection.find(filter).sort(doc! {"ts": 1, "_id": 1}).limit(SAMPLE_CHUNK as i64).await.map_err(map_error)?;
            let documents: Vec<Document> = cursor.try_collect().await.map_err(map_error)?;
            let last = documents.last().and_then(|d| Some((d.get_i64("ts").ok()?, d.get_object_id("_id").ok()?)));
            let samples = documents.iter().map(to_stored).collect::<StoreResult<Vec<_>>>()?;
            Ok((samples, last))
        }
    })
}
