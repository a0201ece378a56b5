//! Samples in MongoDB, read: counts and statistics from the buckets' own fields, the
//! time-ordered stream that export reads (the shared merge of blocks), and deletion.

use super::samples::{take_data, BUCKETS, IDS};
use super::{map_error, MongoStore};
use crate::model::{SampleQuery, SampleStat, StoredSample};
use crate::store::block_merge::{rows_in, BlockMerge, BlockMeta, Fetched};
use crate::store::blocks::{self, BLOCK_WINDOW_NS};
use crate::store::{StoreError, StoreResult, SAMPLE_CHUNK};
use crate::time::day_to_date;
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use mongodb::bson::{doc, oid::ObjectId, Bson, Document};
use mongodb::Collection;
use std::sync::Arc;

/// How many buckets one page read fetches (compressed, so a page stays small).
const PAGE_BUCKETS: i64 = 64;

/// The buckets of the query's experiment that may hold rows with `ts` in [from, to), with its
/// filters. A bucket spans at most one window, so one overlapping the range starts at most a
/// window before `from`: the bound that lets the (exp, min_ts) index seek.
fn overlapping(query: &SampleQuery) -> Document {
    let from = query.from_ns.unwrap_or(i64::MIN);
    let mut filter = doc! {
        "exp": &query.experiment_id,
        "min_ts": {"$gte": from.saturating_sub(BLOCK_WINDOW_NS), "$lt": query.to_ns.unwrap_or(i64::MAX)},
        "max_ts": {"$gte": from},
    };
    if !query.participant_ids.is_empty() {
        filter.insert("part", doc! {"$in": &query.participant_ids});
    }
    if !query.sensor_types.is_empty() {
        filter.insert("type", doc! {"$in": &query.sensor_types});
    }
    filter
}

/// The sum of `rows` of the buckets `filter` matches.
async fn sum_rows(buckets: &Collection<Document>, filter: Document) -> StoreResult<u64> {
    let pipeline = [doc! {"$match": filter}, doc! {"$group": {"_id": Bson::Null, "rows": {"$sum": "$rows"}}}];
    let groups: Vec<Document> = buckets.aggregate(pipeline).await.map_err(map_error)?.try_collect().await.map_err(map_error)?;
    Ok(groups.first().map(|group| int(group, "rows")).unwrap_or(0))
}

/// An integer field however the server typed it (`$sum` gives an int32 when it fits).
fn int(document: &Document, key: &str) -> u64 {
    match document.get(key) {
        Some(Bson::Int64(n)) => *n as u64,
        Some(Bson::Int32(n)) => *n as u64,
        Some(Bson::Double(n)) => *n as u64,
        _ => 0,
    }
}

pub(super) async fn count(store: &MongoStore, query: &SampleQuery) -> StoreResult<u64> {
    let buckets = store.docs(BUCKETS);
    let (from, to) = (query.from_ns.unwrap_or(i64::MIN), query.to_ns.unwrap_or(i64::MAX));
    // Buckets wholly inside the range count by their `rows`; only the ones across an edge are read.
    let mut inside = overlapping(query);
    inside.insert("min_ts", doc! {"$gte": from, "$lt": to});
    inside.insert("max_ts", doc! {"$gte": from, "$lt": to});
    let mut total = sum_rows(&buckets, inside).await?;
    let mut across = overlapping(query);
    across.insert("$or", vec![doc! {"min_ts": {"$lt": from}}, doc! {"max_ts": {"$gte": to}}]);
    let mut edges = buckets.find(across).projection(doc! {"data": 1}).await.map_err(map_error)?;
    while let Some(mut document) = edges.try_next().await.map_err(map_error)? {
        total += rows_in(&blocks::decode(&take_data(&mut document)?)?, from, to).len() as u64;
    }
    Ok(total)
}

pub(super) async fn count_recording(store: &MongoStore, recording_id: &str) -> StoreResult<u64> {
    sum_rows(&store.docs(BUCKETS), doc! {"rec": recording_id}).await
}

pub(super) async fn stats(store: &MongoStore, experiment_id: &str) -> StoreResult<Vec<SampleStat>> {
    let pipeline = [
        doc! {"$match": {"exp": experiment_id}},
        doc! {"$group": {"_id": {"part": "$part", "day": "$day", "type": "$type"}, "count": {"$sum": "$rows"}}},
    ];
    let groups: Vec<Document> = store.docs(BUCKETS).aggregate(pipeline).await.map_err(map_error)?.try_collect().await.map_err(map_error)?;
    let mut stats = groups
        .into_iter()
        .map(|group| {
            let key = group.get_document("_id").map_err(|e| StoreError::Internal(e.to_string()))?;
            Ok(SampleStat {
                participant_id: key.get_str("part").unwrap_or_default().to_owned(),
                date: day_to_date(key.get_i64("day").unwrap_or_default()),
                sensor_type: key.get_str("type").unwrap_or_default().to_owned(),
                count: int(&group, "count"),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    stats.sort();
    Ok(stats)
}

/// Deletes the experiment's buckets, then its client ids (not one transaction: a delete of
/// millions of samples outgrows one). In that order, a failure in between leaves ids that
/// refuse a re-send, never a second copy of a sample; the caller refuses while the
/// experiment records, so nothing arrives in between.
pub(super) async fn delete(store: &MongoStore, experiment_id: &str, expected: Option<u64>) -> StoreResult<u64> {
    let stored = sum_rows(&store.docs(BUCKETS), doc! {"exp": experiment_id}).await?;
    if let Some(expected) = expected {
        if stored != expected {
            return Err(StoreError::Conflict(format!("the experiment has {stored} samples now, not {expected}")));
        }
    }
    store.docs(BUCKETS).delete_many(doc! {"exp": experiment_id}).await.map_err(map_error)?;
    store.docs(IDS).delete_many(doc! {"exp": experiment_id}).await.map_err(map_error)?;
    Ok(stored)
}

/// One page of the query's buckets after the cursor, in (min_ts, _id) order.
async fn fetch_page(
    buckets: &Collection<Document>,
    query: &SampleQuery,
    after: Option<(i64, ObjectId)>,
) -> StoreResult<Vec<Fetched<ObjectId>>> {
    let mut filter = overlapping(query);
    if let Some((min_ts, id)) = after {
        // The cursor's `min_ts` is the lower bound of the index scan (each page starts where
        // the last ended); `_id` then skips the buckets of that `min_ts` already fetched.
        let from = query.from_ns.unwrap_or(i64::MIN).saturating_sub(BLOCK_WINDOW_NS).max(min_ts);
        filter.insert("min_ts", doc! {"$gte": from, "$lt": query.to_ns.unwrap_or(i64::MAX)});
        filter.insert("$or", vec![doc! {"min_ts": {"$gt": min_ts}}, doc! {"_id": {"$gt": id}}]);
    }
    let cursor = buckets.find(filter).sort(doc! {"min_ts": 1, "_id": 1}).limit(PAGE_BUCKETS).await.map_err(map_error)?;
    let documents: Vec<Document> = cursor.try_collect().await.map_err(map_error)?;
    documents.into_iter().map(fetched).collect()
}

fn fetched(mut document: Document) -> StoreResult<Fetched<ObjectId>> {
    let bad = |e: mongodb::bson::document::ValueAccessError| StoreError::Internal(format!("sample bucket: {e}"));
    let text = |document: &Document, key: &str| document.get_str(key).map(Arc::<str>::from).map_err(bad);
    let meta = BlockMeta {
        sensor_id: text(&document, "sensor")?,
        sensor_type: text(&document, "type")?,
        recording_id: text(&document, "rec")?,
        participant_id: text(&document, "part")?,
        task_id: document.get_str("task").ok().map(Into::into),
    };
    Ok(Fetched {
        key: document.get_object_id("_id").map_err(bad)?,
        min_ts: document.get_i64("min_ts").map_err(bad)?,
        meta: Arc::new(meta),
        data: take_data(&mut document)?,
    })
}

/// The query's rows in time order, in chunks of at most [`SAMPLE_CHUNK`].
pub(super) fn stream(buckets: Collection<Document>, query: SampleQuery) -> BoxStream<'static, StoreResult<Vec<StoredSample>>> {
    let merge = BlockMerge::new(query.from_ns.unwrap_or(i64::MIN), query.to_ns.unwrap_or(i64::MAX));
    // The state between chunks; `None` once the stream ended or failed.
    stream::unfold(Some((buckets, query, merge)), |state| async move {
        let (buckets, query, mut merge) = state?;
        let mut chunk = Vec::with_capacity(SAMPLE_CHUNK);
        loop {
            match merge.fill(&mut chunk, SAMPLE_CHUNK) {
                Ok(None) => break,
                Ok(Some(after)) => match fetch_page(&buckets, &query, after).await {
                    Ok(page) => merge.add_page(page, PAGE_BUCKETS as usize),
                    Err(error) => return Some((Err(error), None)),
                },
                Err(error) => return Some((Err(error), None)),
            }
        }
        if chunk.is_empty() {
            return None;
        }
        Some((Ok(chunk), Some((buckets, query, merge))))
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::super::samples::bucket;
    use super::*;
    use crate::model::{NewSample, RecordingStamp};
    use crate::store::blocks::encode_members;

    /// What the insert writes is what the reads parse: field names, types and the block.
    #[test]
    fn a_bucket_document_reads_back_as_its_block() {
        let stamp = RecordingStamp {
            recording_id: "r1".into(),
            experiment_id: "e1".into(),
            participant_id: "p1".into(),
            task_id: Some("t1".into()),
        };
        let t0 = 1_795_392_000_000_000_000i64;
        let samples: Vec<NewSample> = (0..300)
            .map(|n| NewSample {
                sensor_id: "imu-left".into(),
                sensor_type: "imu".into(),
                ts: t0 + (299 - n) * 10_000_000,
                received_at: t0 + 5,
                sample_id: (n % 2 == 0).then(|| format!("imu-left:{n}")),
                values: format!(r#"{{"acc_x":{n}}}"#),
                stamp: None,
            })
            .collect();
        let blocks = encode_members(&samples, (0..300).collect()).expect("encode");
        let document = bucket("imu-left", "imu", &stamp, blocks.into_iter().next().expect("one block"));
        assert_eq!(document.get_i64("min_ts"), Ok(t0));
        assert_eq!(document.get_i64("max_ts"), Ok(t0 + 299 * 10_000_000));
        assert_eq!((document.get_i64("rows"), document.get_i64("ids")), (Ok(300), Ok(150)));
        assert_eq!(document.get_i64("day"), Ok(t0 / 86_400_000_000_000));
        let mut document = document;
        document.insert("_id", ObjectId::new());
        let fetched = fetched(document).expect("parse");
        assert_eq!(fetched.min_ts, t0);
        let meta = &fetched.meta;
        assert_eq!((&*meta.sensor_id, &*meta.sensor_type, &*meta.recording_id, &*meta.participant_id), ("imu-left", "imu", "r1", "p1"));
        assert_eq!(meta.task_id.as_deref(), Some("t1"));
        let rows = blocks::decode(&fetched.data).expect("decode");
        assert_eq!(rows.ts.len(), 300);
        assert!(rows.ts.windows(2).all(|w| w[0] < w[1]), "sorted by ts");
        assert_eq!(rows.sample_ids[0].as_deref(), None, "the last sample sent (n = 299) comes first");
        assert_eq!(rows.values[0].to_json(), r#"{"acc_x":299}"#);
    }
}
