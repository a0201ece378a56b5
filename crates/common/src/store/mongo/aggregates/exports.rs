//! `ExportStore` on MongoDB: export records and their claims.

use super::super::*;
use crate::store::ExportStore;

#[async_trait]
impl ExportStore for MongoStore {
    async fn insert_export(&self, export: &ExportRecord) -> StoreResult<()> {
        self.insert("exports", &export.id, export, "export").await
    }

    async fn update_export(&self, export: &ExportRecord) -> StoreResult<()> {
        self.replace("exports", &export.id, export, "export").await
    }

    async fn get_export(&self, id: &str) -> StoreResult<Option<ExportRecord>> {
        self.find_one("exports", doc! {"_id": id}).await
    }

    async fn claim_export(&self, claim: &ClaimRequest) -> StoreResult<ExportClaim> {
        // Optimistic: decide on the record as read, write only if it is still what was read.
        // Each lost race means another claim landed; a few rounds settle it.
        for _ in 0..16 {
            let record = self.get_export(&claim.export_id).await?.ok_or_else(|| StoreError::NotFound("export".into()))?;
            let as_read = doc! {
                "_id": &record.id, "status": to_bson(&record.status)?, "owner": record.owner.as_deref(),
                "lease_until_ns": record.lease_until_ns, "attempts": i64::from(record.attempts),
            };
            let outcome = crate::store::claim_outcome(record, claim);
            let ExportClaim::Claimed(claimed) = &outcome else { return Ok(outcome) };
            let result = self.docs("exports").replace_one(as_read, with_id(claimed, &claimed.id)?).await.map_err(map_error)?;
            if result.matched_count == 1 {
                return Ok(outcome);
            }
        }
        Err(StoreError::Conflict("the export job changed on every claim attempt".into()))
    }

    async fn update_claimed_export(&self, export: &ExportRecord, owner: &str) -> StoreResult<()> {
        let filter = doc! {"_id": &export.id, "status": "running", "owner": owner};
        let result = self.docs("exports").replace_one(filter, with_id(export, &export.id)?).await.map_err(map_error)?;
        if result.matched_count == 0 {
            return Err(StoreError::Conflict("another attempt runs this export now".into()));
        }
        Ok(())
    }

    async fn list_running_exports(&self) -> StoreResult<Vec<ExportRecord>> {
        self.find_all("exports", doc! {"status": "running"}, doc! {"_id": 1}).await
    }

    async fn list_exports(&self, experiment_id: Option<&str>) -> StoreResult<Vec<ExportRecord>> {
        let filter = experiment_id.map_or_else(|| doc! {}, |id| doc! {"experiment_id": id});
        self.find_all("exports", filter, doc! {"_id": -1}).await
    }
}
