//! `ExperimentStore` on MongoDB: experiments, the active one, logbook and progress.

use super::super::*;
use crate::store::ExperimentStore;

#[async_trait]
impl ExperimentStore for MongoStore {
    async fn insert_experiment(&self, experiment: &Experiment) -> StoreResult<()> {
        self.insert("experiments", &experiment.id, experiment, "experiment").await
    }

    async fn get_experiment(&self, id: &str) -> StoreResult<Option<Experiment>> {
        self.find_one("experiments", doc! {"_id": id}).await
    }

    async fn list_experiments(&self) -> StoreResult<Vec<Experiment>> {
        self.find_all("experiments", doc! {}, doc! {"_id": 1}).await
    }

    async fn update_experiment(&self, id: &str, update: ExperimentUpdate<'_>) -> StoreResult<Experiment> {
        loop {
            let current: Experiment = self.get_experiment(id).await?.ok_or_else(|| StoreError::NotFound("experiment".into()))?;
            let mut updated = current.clone();
            update(&mut updated)?;
            updated.id = current.id.clone();
            updated.version = current.version + 1;
            let filter = doc! {"_id": id, "version": current.version as i64};
            let result = self.docs("experiments").replace_one(filter, with_id(&updated, id)?).await.map_err(map_error)?;
            if result.matched_count == 1 {
                return Ok(updated);
            }
        }
    }

    async fn set_active_experiment(&self, id: Option<&str>) -> StoreResult<Option<String>> {
        let state = self.docs(STATE);
        let idle = doc! {"_id": ACTIVE, "recording_id": bson::Bson::Null};
        let previous = match id {
            Some(id) => {
                if self.get_experiment(id).await?.is_none() {
                    return Err(StoreError::NotFound("experiment".into()));
                }
                // With a recording running the filter matches nothing and the upsert's insert
                // collides with the existing document: a duplicate key, i.e. a conflict.
                state
                    .find_one_and_update(idle, doc! {"$set": {"experiment_id": id, "recording_id": bson::Bson::Null}})
                    .upsert(true)
                    .return_document(ReturnDocument::Before)
                    .await
                    .map_err(|e| match map_error(e) {
                        StoreError::Duplicate(_) => StoreError::Conflict("a recording is running; stop it first".into()),
                        other => other,
                    })?
            }
            None => {
                let removed = state.find_one_and_delete(idle).await.map_err(map_error)?;
                if removed.is_none() && self.state().await?.is_some_and(|s| s.get_str("recording_id").is_ok()) {
                    return Err(StoreError::Conflict("a recording is running; stop it first".into()));
                }
                removed
            }
        };
        Ok(previous.and_then(|d| d.get_str("experiment_id").ok().map(str::to_owned)))
    }

    async fn deactivate_experiment(&self, id: &str) -> StoreResult<()> {
        let filter = doc! {"_id": ACTIVE, "experiment_id": id, "recording_id": bson::Bson::Null};
        if self.docs(STATE).find_one_and_delete(filter).await.map_err(map_error)?.is_some() {
            return Ok(());
        }
        match self.state().await? {
            Some(state) if state.get_str("experiment_id") == Ok(id) => {
                Err(StoreError::Conflict("a recording is running; stop it first".into()))
            }
            _ => Err(StoreError::Conflict(NOT_ACTIVE.into())),
        }
    }

    async fn active_experiment_id(&self) -> StoreResult<Option<String>> {
        Ok(self.state().await?.and_then(|d| d.get_str("experiment_id").ok().map(str::to_owned)))
    }

    async fn append_log(&self, entry: &LogEntry) -> StoreResult<()> {
        self.insert("logbook", &entry.id, entry, "logbook entry").await
    }

    async fn list_log(&self, experiment_id: &str) -> StoreResult<Vec<LogEntry>> {
        self.find_all("logbook", doc! {"experiment_id": experiment_id}, doc! {"_id": 1}).await
    }

    async fn put_progress(&self, progress: &Progress) -> StoreResult<()> {
        let id = format!("{}/{}/{}", progress.experiment_id, progress.participant_id, progress.task_id);
        self.docs("progress").replace_one(doc! {"_id": &id}, with_id(progress, &id)?).upsert(true).await.map_err(map_error)?;
        Ok(())
    }

    async fn list_progress(&self, experiment_id: &str) -> StoreResult<Vec<Progress>> {
        self.find_all("progress", doc! {"experiment_id": experiment_id}, doc! {"participant_id": 1, "task_id": 1}).await
    }
}
