//! `RecordingStore` on SQLite: recordings.

use super::super::*;
use crate::store::RecordingStore;

#[async_trait]
impl RecordingStore for SqliteStore {
    async fn start_recording(&self, recording: &Recording) -> StoreResult<()> {
        let recording = recording.clone();
        let doc = to_doc(&recording)?;
        self.transact(move |tx| {
            let experiment_key: i64 = tx
                .query_row("SELECT key FROM experiments WHERE id = ?1", [&recording.experiment_id], |r| r.get(0))
                .optional()
                .map_err(map_error)?
                .ok_or_else(|| StoreError::NotFound("experiment".into()))?;
            let active: Option<String> = tx
                .query_row("SELECT experiment_id FROM active_experiment WHERE slot = 1", [], |r| r.get(0))
                .optional()
                .map_err(map_error)?;
            // A stopped recording is history (a restore or an import), not a start.
            if recording.stopped_at.is_none() && active.as_deref() != Some(recording.experiment_id.as_str()) {
                return Err(StoreError::Conflict(crate::store::NOT_ACTIVE.into()));
            }
            let running = i64::from(recording.stopped_at.is_none());
            tx.execute(
                "INSERT INTO recordings (id, experiment_key, participant_id, task_id, running, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![recording.id, experiment_key, recording.participant_id, recording.task_id, running, doc],
            )
            .map_err(|e| match map_error(e) {
                StoreError::Duplicate(_) => StoreError::Conflict("a recording is already running".into()),
                other => other,
            })?;
            Ok(())
        })
        .await
    }

    async fn stop_recording(&self, id: &str, at: Timestamp) -> StoreResult<Recording> {
        let id = id.to_owned();
        self.transact(move |tx| {
            let found: Option<Recording> = query_doc(tx, "SELECT doc FROM recordings WHERE id = ?1", [&id])?;
            let mut recording = found.ok_or_else(|| StoreError::NotFound("recording".into()))?;
            if recording.stopped_at.is_some() {
                return Err(StoreError::Conflict("the recording has already stopped".into()));
            }
            recording.stopped_at = Some(at);
            tx.execute("UPDATE recordings SET running = 0, doc = ?2 WHERE id = ?1", params![id, to_doc(&recording)?]).map_err(map_error)?;
            Ok(recording)
        })
        .await
    }

    async fn get_recording(&self, id: &str) -> StoreResult<Option<Recording>> {
        let id = id.to_owned();
        self.read(move |c| query_doc(c, "SELECT doc FROM recordings WHERE id = ?1", [id])).await
    }

    async fn running_recording(&self) -> StoreResult<Option<Recording>> {
        self.read(|c| query_doc(c, "SELECT doc FROM recordings WHERE running = 1", [])).await
    }

    async fn list_recordings(&self, experiment_id: &str) -> StoreResult<Vec<Recording>> {
        let id = experiment_id.to_owned();
        self.read(move |c| {
            query_docs(
                c,
                "SELECT r.doc FROM recordings r JOIN experiments e ON e.key = r.experiment_key WHERE e.id = ?1 ORDER BY r.key",
                [id],
            )
        })
        .await
    }
}
