//! The conversion of samples stored before buckets (one document per sample in `samples`,
//! values as a BSON document) into buckets and client-id documents. It runs when the store
//! connects, before the service serves, one transaction per chunk: a chunk's buckets and ids
//! are inserted and its old documents deleted together, so a crash or a second replica
//! converting at the same time neither loses nor doubles a sample — the next attempt simply
//! finds what is left.

use super::samples::{bucket, id_key, BUCKETS, IDS};
use super::transaction::Attempt;
use super::{map_error, MongoStore};
use crate::model::{RecordingStamp, SampleValues};
use crate::store::blocks::{block_runs, window_of, EncodedBlock, RowRef};
use crate::store::{StoreError, StoreResult};
use mongodb::bson::{doc, Bson, Document};
use mongodb::ClientSession;
use std::collections::HashMap;

/// The collection of the layout before buckets.
pub(super) const LEGACY: &str = "samples";
/// Old documents converted per transaction: well inside MongoDB's transaction limits.
const CHUNK: i64 = 10_000;

/// Converts every old sample document, then drops the old collection (and its indexes).
/// Returns how many samples it converted.
pub(super) async fn convert_legacy_samples(store: &MongoStore) -> StoreResult<u64> {
    let names = store.db.list_collection_names().filter(doc! {"name": LEGACY}).await.map_err(map_error)?;
    if names.is_empty() {
        return Ok(0);
    }
    let mut converted = 0u64;
    let mut session = store.client.start_session().await.map_err(map_error)?;
    loop {
        let done = in_transaction!(session, convert_chunk(store, &mut session))?;
        if done == 0 {
            break;
        }
        converted += done as u64;
        tracing::info!(converted, "converting samples to buckets");
    }
    store.docs(LEGACY).drop().await.map_err(map_error)?;
    Ok(converted)
}

/// One old document, read.
struct OldSample {
    ts: i64,
    received_at: i64,
    sample_id: Option<String>,
    values: SampleValues,
}

/// What the rows of one bucket share: (sensor, type, recording, window).
type GroupKey = (String, String, String, i64);

async fn convert_chunk(store: &MongoStore, session: &mut ClientSession) -> Result<usize, Attempt> {
    // The old (exp, ts, _id) index: time order per experiment, so rows of one bucket sit together.
    let mut cursor = store.docs(LEGACY).find(doc! {}).sort(doc! {"exp": 1, "ts": 1, "_id": 1}).limit(CHUNK).session(&mut *session).await?;
    let mut old_ids = Vec::new();
    let mut groups: HashMap<GroupKey, (RecordingStamp, Vec<OldSample>)> = HashMap::new();
    while let Some(document) = cursor.next(&mut *session).await {
        let document = document?;
        old_ids.push(document.get("_id").cloned().unwrap_or(Bson::Null));
        let ((key, stamp), sample) = read_old(&document)?;
        groups.entry(key).or_insert_with(|| (stamp, Vec::new())).1.push(sample);
    }
    drop(cursor);
    if old_ids.is_empty() {
        return Ok(0);
    }
    let mut buckets = Vec::new();
    let mut ids = Vec::new();
    for ((sensor, sensor_type, _, _), (stamp, mut rows)) in groups {
        rows.sort_by_key(|row| row.ts);
        for part in block_runs(&rows, |row| row.values.as_bytes().len()) {
            let refs: Vec<RowRef<'_>> = part
                .iter()
                .map(|row| RowRef {
                    ts: row.ts,
                    received_at: row.received_at,
                    sample_id: row.sample_id.as_deref(),
                    values: row.values.as_bytes(),
                })
                .collect();
            if let Some(block) = EncodedBlock::new(&refs).map_err(|e| StoreError::Internal(format!("sample block: {e}")))? {
                buckets.push(bucket(&sensor, &sensor_type, &stamp, block));
            }
        }
        for id in rows.iter().filter_map(|row| row.sample_id.as_deref()) {
            ids.push(doc! {"_id": id_key(&sensor, id), "exp": &stamp.experiment_id});
        }
    }
    store.docs(BUCKETS).insert_many(buckets).session(&mut *session).await?;
    if !ids.is_empty() {
        store.docs(IDS).insert_many(ids).session(&mut *session).await?;
    }
    let count = old_ids.len();
    store.docs(LEGACY).delete_many(doc! {"_id": {"$in": old_ids}}).session(&mut *session).await?;
    Ok(count)
}

/// An old document's bucket group and row. Its values go through JSON once, as the old reader
/// did, so numbers keep the types they were read back with.
fn read_old(document: &Document) -> StoreResult<((GroupKey, RecordingStamp), OldSample)> {
    let bad = |e: mongodb::bson::document::ValueAccessError| StoreError::Internal(format!("old sample document: {e}"));
    let text = |key: &str| document.get_str(key).map(str::to_owned).map_err(bad);
    let ts = document.get_i64("ts").map_err(bad)?;
    let values = document.get_document("v").map_err(bad)?;
    let values =
        serde_json::to_string(&Bson::Document(values.clone()).into_relaxed_extjson()).map_err(|e| StoreError::Internal(e.to_string()))?;
    let values = SampleValues::from_json(&values).map_err(|e| StoreError::Internal(format!("old sample values: {e}")))?;
    let stamp = RecordingStamp {
        recording_id: text("rec")?,
        experiment_id: text("exp")?,
        participant_id: text("part")?,
        task_id: document.get_str("task").ok().map(str::to_owned),
    };
    let key = (text("sensor")?, text("type")?, stamp.recording_id.clone(), window_of(ts));
    let sample = OldSample {
        ts,
        received_at: document.get_i64("recv").map_err(bad)?,
        sample_id: document.get_str("sid").ok().map(str::to_owned),
        values,
    };
    Ok(((key, stamp), sample))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FieldValue;
    use crate::store::blocks::BLOCK_WINDOW_NS;

    /// A document as the code before buckets wrote it becomes the row and group it belongs to.
    #[test]
    fn an_old_sample_document_becomes_a_row_of_its_bucket() {
        let ts = 1_795_392_000_000_000_000i64 + 3 * BLOCK_WINDOW_NS + 7;
        let values = doc! {"lead_i": 0.5, "beats": 61, "ok": true, "note": "x"};
        let old = doc! {
            "exp": "e1", "rec": "r1", "part": "p1", "task": Bson::Null,
            "sensor": "ecg-1", "type": "ecg", "ts": ts, "recv": ts + 40,
            "dk": "i:ecg-1:7", "sid": "ecg-1:7", "v": values,
        };
        let ((key, stamp), row) = read_old(&old).expect("convert");
        assert_eq!(key, ("ecg-1".to_owned(), "ecg".to_owned(), "r1".to_owned(), window_of(ts)));
        assert_eq!((stamp.experiment_id.as_str(), stamp.participant_id.as_str(), stamp.task_id.as_deref()), ("e1", "p1", None));
        assert_eq!((row.ts, row.received_at, row.sample_id.as_deref()), (ts, ts + 40, Some("ecg-1:7")));
        // By name: the trip through JSON may reorder fields, and the export matches them by name.
        let mut fields: Vec<(&str, FieldValue<'_>)> = row.values.iter().collect();
        fields.sort_by_key(|(name, _)| *name);
        assert_eq!(
            fields,
            vec![
                ("beats", FieldValue::I64(61)),
                ("lead_i", FieldValue::F64(0.5)),
                ("note", FieldValue::Str("x")),
                ("ok", FieldValue::Bool(true))
            ]
        );
        assert!(read_old(&doc! {"sensor": "ecg-1"}).is_err(), "a damaged document is an error, not a lost sample");
    }
}
