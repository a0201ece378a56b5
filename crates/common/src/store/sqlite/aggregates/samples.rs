//! `SampleStore` on SQLite: samples.

use super::super::*;
use crate::store::SampleStore;

#[async_trait]
impl SampleStore for SqliteStore {
    async fn insert_samples(&self, samples: Vec<NewSample>) -> StoreResult<InsertOutcome> {
        self.write(move |writer| writer.insert(&samples)).await
    }

    async fn count_samples(&self, query: &SampleQuery) -> StoreResult<u64> {
        let query = query.clone();
        self.read(move |c| sample_reads::count(c, &query)).await
    }

    async fn count_recording_samples(&self, recording_id: &str) -> StoreResult<u64> {
        let id = recording_id.to_owned();
        self.read(move |c| {
            let count: Option<i64> =
                c.query_row("SELECT sample_count FROM recordings WHERE id = ?1", [id], |r| r.get(0)).optional().map_err(map_error)?;
            count.map(|n| n as u64).ok_or_else(|| StoreError::NotFound("recording".into()))
        })
        .await
    }

    async fn sample_stats(&self, experiment_id: &str) -> StoreResult<Vec<SampleStat>> {
        let id = experiment_id.to_owned();
        self.read(move |c| sample_reads::stats(c, &id)).await
    }

    fn stream_samples(&self, query: SampleQuery) -> BoxStream<'static, StoreResult<Vec<StoredSample>>> {
        // The merge keeps its state between chunks; each chunk runs on the blocking pool with
        // a reader of its own, and the stream ends after the first empty chunk or error.
        let inner = self.inner.clone();
        futures_util::stream::unfold(Some(sample_reads::SampleRead::new(query)), move |merge| {
            let inner = inner.clone();
            async move {
                let mut merge = merge?;
                let read = run_blocking(move || Ok((inner.with_reader(|c| merge.next_chunk(c)), merge))).await;
                match read {
                    Ok((Ok(rows), _)) if rows.is_empty() => None,
                    Ok((Ok(rows), merge)) => Some((Ok(rows), Some(merge))),
                    Ok((Err(error), _)) | Err(error) => Some((Err(error), None)),
                }
            }
        })
        .boxed()
    }

    async fn delete_samples(&self, experiment_id: &str, expected: Option<u64>) -> StoreResult<u64> {
        let id = experiment_id.to_owned();
        self.transact(move |tx| sample_reads::delete(tx, &id, expected)).await
    }
}
