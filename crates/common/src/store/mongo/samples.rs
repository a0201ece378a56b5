//! Samples in MongoDB. One document per sample; the unique index on (sensor, dk) deduplicates,
//! where `dk` is `i:<client id>` or `t:<ts>`.

use super::map_error;
use crate::model::{NewSample, SampleQuery, SampleStat, StoredSample};
use crate::store::paging::keyset_stream;
use crate::store::{InsertOutcome, StoreError, StoreResult, SAMPLE_CHUNK};
use crate::time::day_to_date;
use futures_util::stream::{BoxStream, TryStreamExt};
use mongodb::bson::{doc, oid::ObjectId, Bson, Document};
use mongodb::error::ErrorKind;
use mongodb::Collection;

const NS_PER_DAY: i64 = 86_400_000_000_000;

fn to_document(sample: &NewSample) -> StoreResult<Document> {
    let values: serde_json::Value =
        serde_json::from_str(&sample.values).map_err(|e| StoreError::Internal(format!("sample values: {e}")))?;
    let values = Bson::try_from(values).map_err(|e| StoreError::Internal(format!("sample values: {e}")))?;
    let dedup_key = match &sample.sample_id {
        Some(id) => format!("i:{id}"),
        None => format!("t:{}", sample.ts),
    };
    let stamp = &sample.stamp;
    Ok(doc! {
        "exp": &stamp.experiment_id, "rec": &stamp.recording_id, "part": &stamp.participant_id, "task": stamp.task_id.as_deref(),
        "sensor": &*sample.sensor_id, "type": &*sample.sensor_type, "ts": sample.ts, "recv": sample.received_at,
        "dk": dedup_key, "sid": sample.sample_id.as_deref(), "v": values,
    })
}

pub(super) async fn insert(samples_collection: &Collection<Document>, samples: &[NewSample]) -> StoreResult<InsertOutcome> {
    if samples.is_empty() {
        return Ok(InsertOutcome::default());
    }
    let documents = samples.iter().map(to_document).collect::<StoreResult<Vec<_>>>()?;
    let mut stored = vec![true; samples.len()];
    match samples_collection.insert_many(documents).ordered(false).await {
        Ok(_) => {}
        Err(error) => {
            let ErrorKind::InsertMany(failure) = &*error.kind else { return Err(map_error(error)) };
            if failure.write_concern_error.is_some() {
                return Err(map_error(error));
            }
            for write_error in failure.write_errors.iter().flatten() {
                if write_error.code != super::DUPLICATE_KEY {
                    return Err(StoreError::Internal(format!("insert sample {}: {}", write_error.index, write_error.message)));
                }
                if let Some(flag) = stored.get_mut(write_error.index) {
                    *flag = false;
                }
            }
        }
    }
    Ok(InsertOutcome { stored })
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
    Ok(StoredSample {
        sensor_id: document.get_str("sensor").map_err(bad)?.to_owned(),
        sensor_type: document.get_str("type").map_err(bad)?.to_owned(),
        ts: document.get_i64("ts").map_err(bad)?,
        received_at: document.get_i64("recv").map_err(bad)?,
        sample_id: document.get_str("sid").ok().map(str::to_owned),
        values,
        recording_id: document.get_str("rec").map_err(bad)?.to_owned(),
        participant_id: document.get_str("part").map_err(bad)?.to_owned(),
        task_id: document.get_str("task").ok().map(str::to_owned),
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
