//! `SampleStore` on SQLite: samples.

use super::super::*;
use crate::store::{BlockingSampleInsert, SampleStore};

#[async_trait]
impl SampleStore for SqliteStore {
    async fn insert_samples(&self, samples: Vec<NewSample>) -> StoreResult<InsertOutcome> {
        let inner = self.inner.clone();
        run_blocking(move || inner.insert_samples(&samples)).await
    }

    fn blocking_sample_insert(&self) -> Option<BlockingSampleInsert> {
        let inner = self.inner.clone();
        Some(Arc::new(move |samples: Vec<NewSample>| inner.insert_samples(&samples)))
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
        // One blocking task reads the whole stream with one reader connection, a chunk ahead
        // of the consumer at most. One thread (not a pool hop per chunk) also means the rows
        // are allocated by one thread: freed on the consumer's, their memory goes back to
        // that one busy thread's heap soon. Spread over whichever pool threads ran each chunk,
        // mimalloc kept it committed: the export benchmark's 10M samples peaked at 180-260 MiB
        // that way, and at 159-166 MiB this way.
        // The producer ends with an empty chunk; a channel that closes without one means the
        // reading task died (a panic), which must fail the stream rather than end it early —
        // an export would otherwise finish with rows missing.
        let inner = self.inner.clone();
        let (sender, receiver) = tokio::sync::mpsc::channel::<StoreResult<Vec<StoredSample>>>(1);
        tokio::task::spawn_blocking(move || {
            let mut read = sample_reads::SampleRead::new(query);
            let result = inner.with_reader(|c| {
                loop {
                    let chunk = read.next_chunk(c)?;
                    let last = chunk.is_empty();
                    // A send fails once the consumer dropped the stream.
                    if sender.blocking_send(Ok(chunk)).is_err() || last {
                        return Ok(());
                    }
                }
            });
            if let Err(error) = result {
                let _ = sender.blocking_send(Err(error));
            }
        });
        futures_util::stream::unfold(Some(receiver), |receiver| async move {
            let mut receiver = receiver?;
            match receiver.recv().await {
                Some(Ok(chunk)) if chunk.is_empty() => None,
                Some(Ok(chunk)) => Some((Ok(chunk), Some(receiver))),
                Some(Err(error)) => Some((Err(error), None)),
                None => Some((Err(StoreError::Internal("the sample reader stopped before the end".into())), None)),
            }
        })
        .boxed()
    }

    async fn delete_samples(&self, experiment_id: &str, expected: Option<u64>) -> StoreResult<u64> {
        let id = experiment_id.to_owned();
        self.transact(move |tx| sample_reads::delete(tx, &id, expected)).await
    }
}
