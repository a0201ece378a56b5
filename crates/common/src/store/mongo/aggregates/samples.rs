//! `SampleStore` on MongoDB: samples.

use super::super::*;
use crate::store::{ExperimentStore, RecordingStore, SampleStore};

#[async_trait]
impl SampleStore for MongoStore {
    async fn insert_samples(&self, samples: Vec<NewSample>) -> StoreResult<InsertOutcome> {
        samples::insert(self, &samples).await
    }

    async fn count_samples(&self, query: &SampleQuery) -> StoreResult<u64> {
        self.docs("samples").count_documents(samples::filter(query)).await.map_err(map_error)
    }

    async fn count_recording_samples(&self, recording_id: &str) -> StoreResult<u64> {
        if self.get_recording(recording_id).await?.is_none() {
            return Err(StoreError::NotFound("recording".into()));
        }
        self.docs("samples").count_documents(doc! {"rec": recording_id}).await.map_err(map_error)
    }

    async fn sample_stats(&self, experiment_id: &str) -> StoreResult<Vec<SampleStat>> {
        samples::stats(&self.docs("samples"), experiment_id).await
    }

    fn stream_samples(&self, query: SampleQuery) -> BoxStream<'static, StoreResult<Vec<StoredSample>>> {
        samples::stream(self.docs("samples"), query)
    }

    async fn delete_samples(&self, experiment_id: &str, expected: Option<u64>) -> StoreResult<u64> {
        if self.get_experiment(experiment_id).await?.is_none() {
            return Err(StoreError::NotFound("experiment".into()));
        }
        // Not one transaction (a delete of millions of documents outgrows one): the caller
        // refuses while the experiment records, so nothing should arrive in between.
        if let Some(expected) = expected {
            let stored = self.docs("samples").count_documents(doc! {"exp": experiment_id}).await.map_err(map_error)?;
            if stored != expected {
                return Err(StoreError::Conflict(format!("the experiment has {stored} samples now, not {expected}")));
            }
        }
        let result = self.docs("samples").delete_many(doc! {"exp": experiment_id}).await.map_err(map_error)?;
        Ok(result.deleted_count)
    }
}
