//! `SampleStore` on MongoDB: samples.

use super::super::*;
use crate::store::{ExperimentStore, RecordingStore, SampleStore};

#[async_trait]
impl SampleStore for MongoStore {
    async fn insert_samples(&self, samples: Vec<NewSample>) -> StoreResult<InsertOutcome> {
        samples::insert(self, &samples).await
    }

    async fn count_samples(&self, query: &SampleQuery) -> StoreResult<u64> {
        sample_reads::count(self, query).await
    }

    async fn count_recording_samples(&self, recording_id: &str) -> StoreResult<u64> {
        if self.get_recording(recording_id).await?.is_none() {
            return Err(StoreError::NotFound("recording".into()));
        }
        sample_reads::count_recording(self, recording_id).await
    }

    async fn sample_stats(&self, experiment_id: &str) -> StoreResult<Vec<SampleStat>> {
        sample_reads::stats(self, experiment_id).await
    }

    fn stream_samples(&self, query: SampleQuery) -> BoxStream<'static, StoreResult<Vec<StoredSample>>> {
        sample_reads::stream(self.docs(samples::BUCKETS), query)
    }

    async fn delete_samples(&self, experiment_id: &str, expected: Option<u64>) -> StoreResult<u64> {
        if self.get_experiment(experiment_id).await?.is_none() {
            return Err(StoreError::NotFound("experiment".into()));
        }
        sample_reads::delete(self, experiment_id, expected).await
    }
}
