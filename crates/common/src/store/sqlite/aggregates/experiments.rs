//! `ExperimentStore` on SQLite: experiments, the active one, logbook and progress.

use super::super::*;
use crate::store::ExperimentStore;

#[async_trait]
impl ExperimentStore for SqliteStore {
    async fn insert_experiment(&self, experiment: &Experiment) -> StoreResult<()> {
        let (id, version, doc) = (experiment.id.clone(), experiment.version as i64, to_doc(experiment)?);
        self.transact(move |tx| {
            tx.execute("INSERT INTO experiments (id, version, doc) VALUES (?1, ?2, ?3)", params![id, version, doc])
                .map_err(duplicate_as("experiment"))?;
            Ok(())
        })
        .await
    }

    async fn get_experiment(&self, id: &str) -> StoreResult<Option<Experiment>> {
        let id = id.to_owned();
        self.read(move |c| query_doc(c, "SELECT doc FROM experiments WHERE id = ?1", [id])).await
    }

    async fn list_experiments(&self) -> StoreResult<Vec<Experiment>> {
        self.read(|c| query_docs(c, "SELECT doc FROM experiments ORDER BY key", [])).await
    }

    async fn update_experiment(&self, id: &str, update: ExperimentUpdate<'_>) -> StoreResult<Experiment> {
        // The update closure borrows from the caller, so it cannot move to the blocking pool:
        // read, apply here, then write back only if nobody changed it meanwhile.
        loop {
            let current = self.get_experiment(id).await?.ok_or_else(|| StoreError::NotFound("experiment".into()))?;
            let mut updated = current.clone();
            update(&mut updated)?;
            updated.id = current.id.clone();
            updated.version = current.version + 1;
            let (doc, old, new, key) = (to_doc(&updated)?, current.version as i64, updated.version as i64, id.to_owned());
            let changed = self
                .transact(move |tx| {
                    tx.execute("UPDATE experiments SET doc = ?2, version = ?3 WHERE id = ?1 AND version = ?4", params![key, doc, new, old])
                        .map_err(map_error)
                })
                .await?;
            if changed == 1 {
                return Ok(updated);
            }
        }
    }

    async fn set_active_experiment(&self, id: Option<&str>) -> StoreResult<Option<String>> {
        let id = id.map(str::to_owned);
        self.transact(move |tx| {
            refuse_while_recording(tx)?;
            let previous: Option<String> = tx.query_row("SELECT experiment_id FROM active_experiment WHERE slot = 1", [], |r| r.get(0)).optional().map_err(map_error)?;
            match id {
                Some(id) => {
                    let exists = tx.query_row("SELECT 1 FROM experiments WHERE id = ?1", [&id], |_| Ok(())).optional().map_err(map_error)?;
                    if exists.is_none() {
                        return Err(StoreError::NotFound("experiment".into()));
                    }
                    tx.execute(
                        "INSERT INTO active_experiment (slot, experiment_id) VALUES (1, ?1) ON CONFLICT (slot) DO UPDATE SET experiment_id = excluded.experiment_id",
                        [id],
                    )
                    .map_err(map_error)?;
                }
                None => {
                    tx.execute("DELETE FROM active_experiment", []).map_err(map_error)?;
                }
            }
            Ok(previous)
        })
        .await
    }

    async fn deactivate_experiment(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.transact(move |tx| {
            refuse_while_recording(tx)?;
            let changed = tx.execute("DELETE FROM active_experiment WHERE experiment_id = ?1", [id]).map_err(map_error)?;
            if changed == 0 {
                return Err(StoreError::Conflict(crate::store::NOT_ACTIVE.into()));
            }
            Ok(())
        })
        .await
    }

    async fn active_experiment_id(&self) -> StoreResult<Option<String>> {
        self.read(|c| {
            c.query_row("SELECT experiment_id FROM active_experiment WHERE slot = 1", [], |r| r.get(0)).optional().map_err(map_error)
        })
        .await
    }

    async fn append_log(&self, entry: &LogEntry) -> StoreResult<()> {
        let (id, experiment, doc) = (entry.id.clone(), entry.experiment_id.clone(), to_doc(entry)?);
        self.transact(move |tx| {
            tx.execute("INSERT INTO logbook (id, experiment_id, doc) VALUES (?1, ?2, ?3)", params![id, experiment, doc])
                .map_err(duplicate_as("logbook entry"))?;
            Ok(())
        })
        .await
    }

    async fn list_log(&self, experiment_id: &str) -> StoreResult<Vec<LogEntry>> {
        let id = experiment_id.to_owned();
        self.read(move |c| query_docs(c, "SELECT doc FROM logbook WHERE experiment_id = ?1 ORDER BY key", [id])).await
    }

    async fn put_progress(&self, progress: &Progress) -> StoreResult<()> {
        let p = progress.clone();
        let doc = to_doc(&p)?;
        self.transact(move |tx| {
            tx.execute(
                "INSERT INTO progress (experiment_id, participant_id, task_id, doc) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (experiment_id, participant_id, task_id) DO UPDATE SET doc = excluded.doc",
                params![p.experiment_id, p.participant_id, p.task_id, doc],
            )
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn list_progress(&self, experiment_id: &str) -> StoreResult<Vec<Progress>> {
        let id = experiment_id.to_owned();
        self.read(move |c| query_docs(c, "SELECT doc FROM progress WHERE experiment_id = ?1 ORDER BY participant_id, task_id", [id])).await
    }
}
