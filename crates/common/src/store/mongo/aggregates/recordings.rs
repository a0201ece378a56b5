//! `RecordingStore` on MongoDB: recordings.

use super::super::*;
use crate::store::{ExperimentStore, RecordingStore};

#[async_trait]
impl RecordingStore for MongoStore {
    async fn start_recording(&self, recording: &Recording) -> StoreResult<()> {
        if self.get_experiment(&recording.experiment_id).await?.is_none() {
            return Err(StoreError::NotFound("experiment".into()));
        }
        let mut document = with_id(recording, &recording.id)?;
        document.insert("running", recording.stopped_at.is_none());
        if recording.stopped_at.is_some() {
            // History (a restore or an import), not a start.
            return self.docs("recordings").insert_one(document).await.map(|_| ()).map_err(duplicate_as("recording"));
        }
        let mut session = self.client.start_session().await.map_err(map_error)?;
        let started: StoreResult<()> = in_transaction!(session, self.start_in(&mut session, recording, document.clone()));
        started.map_err(|e| match e {
            // The unique index on the running recording, if the state document missed one.
            StoreError::Duplicate(_) => StoreError::Conflict("a recording is already running".into()),
            other => other,
        })
    }

    async fn stop_recording(&self, id: &str, at: Timestamp) -> StoreResult<Recording> {
        let mut session = self.client.start_session().await.map_err(map_error)?;
        in_transaction!(session, self.stop_in(&mut session, id, at))
    }

    async fn get_recording(&self, id: &str) -> StoreResult<Option<Recording>> {
        self.find_one("recordings", doc! {"_id": id}).await
    }

    async fn running_recording(&self) -> StoreResult<Option<Recording>> {
        self.find_one("recordings", doc! {"running": true}).await
    }

    async fn list_recordings(&self, experiment_id: &str) -> StoreResult<Vec<Recording>> {
        self.find_all("recordings", doc! {"experiment_id": experiment_id}, doc! {"_id": 1}).await
    }
}
