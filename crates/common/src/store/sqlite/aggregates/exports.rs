//! `ExportStore` on SQLite: export records and their claims.

use super::super::*;
use crate::store::ExportStore;

#[async_trait]
impl ExportStore for SqliteStore {
    async fn insert_export(&self, export: &ExportRecord) -> StoreResult<()> {
        let (id, experiment, doc) = (export.id.clone(), export.experiment_id.clone(), to_doc(export)?);
        self.transact(move |tx| {
            tx.execute("INSERT INTO exports (id, experiment_id, doc) VALUES (?1, ?2, ?3)", params![id, experiment, doc])
                .map_err(duplicate_as("export"))?;
            Ok(())
        })
        .await
    }

    async fn update_export(&self, export: &ExportRecord) -> StoreResult<()> {
        let (id, doc) = (export.id.clone(), to_doc(export)?);
        self.transact(move |tx| {
            expect_changed(tx.execute("UPDATE exports SET doc = ?2 WHERE id = ?1", params![id, doc]).map_err(map_error)?, "export")
        })
        .await
    }

    async fn get_export(&self, id: &str) -> StoreResult<Option<ExportRecord>> {
        let id = id.to_owned();
        self.read(move |c| query_doc(c, "SELECT doc FROM exports WHERE id = ?1", [id])).await
    }

    async fn claim_export(&self, claim: &ClaimRequest) -> StoreResult<ExportClaim> {
        let claim = claim.clone();
        self.transact(move |tx| {
            let found: Option<ExportRecord> = query_doc(tx, "SELECT doc FROM exports WHERE id = ?1", [&claim.export_id])?;
            let record = found.ok_or_else(|| StoreError::NotFound("export".into()))?;
            let outcome = crate::store::claim_outcome(record, &claim);
            if let ExportClaim::Claimed(claimed) = &outcome {
                tx.execute("UPDATE exports SET doc = ?2 WHERE id = ?1", params![claimed.id, to_doc(claimed)?]).map_err(map_error)?;
            }
            Ok(outcome)
        })
        .await
    }

    async fn update_claimed_export(&self, export: &ExportRecord, owner: &str) -> StoreResult<()> {
        let (id, doc, owner) = (export.id.clone(), to_doc(export)?, owner.to_owned());
        self.transact(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE exports SET doc = ?2 WHERE id = ?1 AND json_extract(doc, '$.status') = 'running' AND json_extract(doc, '$.owner') = ?3",
                    params![id, doc, owner],
                )
                .map_err(map_error)?;
            if changed == 0 {
                return Err(StoreError::Conflict("another attempt runs this export now".into()));
            }
            Ok(())
        })
        .await
    }

    async fn list_running_exports(&self) -> StoreResult<Vec<ExportRecord>> {
        // The same expression as the `exports_by_status` index, so the index is used.
        self.read(|c| query_docs(c, "SELECT doc FROM exports WHERE json_extract(doc, '$.status') = 'running' ORDER BY key", [])).await
    }

    async fn list_exports(&self, experiment_id: Option<&str>) -> StoreResult<Vec<ExportRecord>> {
        let id = experiment_id.map(str::to_owned);
        self.read(move |c| match id {
            Some(id) => query_docs(c, "SELECT doc FROM exports WHERE experiment_id = ?1 ORDER BY key DESC", [id]),
            None => query_docs(c, "SELECT doc FROM exports ORDER BY key DESC", []),
        })
        .await
    }
}
