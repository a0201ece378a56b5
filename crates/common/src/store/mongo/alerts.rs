//! The notifier's alerts and their outbox on MongoDB. A unique partial index keeps one firing
//! alert per (rule, subject), and each transaction reads before it writes, so a concurrent
//! opening (a duplicate key, retried) sees the other's alert. A delivery is claimed by one
//! atomic `findOneAndUpdate` on its own document, so two replicas never take the same one.

use super::transaction::Attempt;
use super::{from_doc, map_error, to_bson, with_id, MongoStore};
use crate::model::{Alert, AlertState, Delivery, Notice, Outbox};
use crate::store::{StoreError, StoreResult};
use crate::time::Timestamp;
use futures_util::stream::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;

pub(super) const ALERTS: &str = "alerts";
pub(super) const DELIVERIES: &str = "deliveries";

impl MongoStore {
    /// Inside a transaction: the alert and its "fired" deliveries, unless one of its rule and
    /// subject is firing or one has its id.
    pub(super) async fn open_alert_in(&self, session: &mut ClientSession, alert: &Alert, outbox: &Outbox) -> Result<bool, Attempt> {
        // Read first: a duplicate key (same id, or a second firing alert) would abort the
        // transaction instead of answering false.
        let same = if alert.state == AlertState::Firing {
            doc! {"$or": [{"_id": &alert.id}, {"rule": &alert.rule, "subject": &alert.subject, "state": "firing"}]}
        } else {
            doc! {"_id": &alert.id}
        };
        if self.docs(ALERTS).find_one(same).session(&mut *session).await?.is_some() {
            return Ok(false);
        }
        self.docs(ALERTS).insert_one(with_id(alert, &alert.id)?).session(&mut *session).await?;
        self.insert_deliveries(session, &outbox.deliveries(&alert.id, Notice::Fired)).await?;
        Ok(true)
    }

    /// Inside a transaction: the firing alert resolved, and its "resolved" deliveries.
    pub(super) async fn resolve_alert_in(
        &self,
        session: &mut ClientSession,
        (rule, subject): (&str, &str),
        at: Timestamp,
        outbox: &Outbox,
    ) -> Result<Option<Alert>, Attempt> {
        let resolved = self
            .docs(ALERTS)
            .find_one_and_update(
                doc! {"rule": rule, "subject": subject, "state": "firing"},
                doc! {"$set": {"state": "resolved", "resolved_at": to_bson(&at)?}},
            )
            .return_document(ReturnDocument::After)
            .session(&mut *session)
            .await?;
        let Some(resolved) = resolved else { return Ok(None) };
        let alert: Alert = from_doc(resolved)?;
        self.insert_deliveries(session, &outbox.deliveries(&alert.id, Notice::Resolved)).await?;
        Ok(Some(alert))
    }

    async fn insert_deliveries(&self, session: &mut ClientSession, deliveries: &[Delivery]) -> Result<(), Attempt> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let documents = deliveries.iter().map(|d| with_id(d, &d.id)).collect::<StoreResult<Vec<Document>>>()?;
        self.docs(DELIVERIES).insert_many(documents).session(&mut *session).await?;
        Ok(())
    }

    pub(super) async fn list_alerts_with_deliveries(
        &self,
        state: Option<AlertState>,
        limit: usize,
    ) -> StoreResult<Vec<(Alert, Vec<Delivery>)>> {
        let filter = match state {
            None => doc! {},
            Some(state) => doc! {"state": to_bson(&state)?},
        };
        let cursor = self
            .docs(ALERTS)
            .find(filter)
            .sort(doc! {"_id": -1})
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .map_err(map_error)?;
        let alerts: Vec<Document> = cursor.try_collect().await.map_err(map_error)?;
        let mut listed = Vec::with_capacity(alerts.len());
        for alert in alerts {
            let alert: Alert = from_doc(alert)?;
            let cursor = self.docs(DELIVERIES).find(doc! {"alert_id": &alert.id}).sort(doc! {"_id": 1}).await.map_err(map_error)?;
            let deliveries: Vec<Document> = cursor.try_collect().await.map_err(map_error)?;
            let deliveries = deliveries.into_iter().map(from_doc).collect::<StoreResult<Vec<Delivery>>>()?;
            listed.push((alert, deliveries));
        }
        Ok(listed)
    }

    pub(super) async fn claim_due_deliveries(
        &self,
        owner: &str,
        now_ns: i64,
        lease_until_ns: i64,
        max: usize,
    ) -> StoreResult<Vec<Delivery>> {
        let due = doc! {
            "status": "pending",
            "next_attempt_ns": {"$lte": now_ns},
            "$or": [{"lease_until_ns": Bson::Null}, {"lease_until_ns": {"$lt": now_ns}}],
        };
        let mut claimed = Vec::new();
        while claimed.len() < max {
            let taken = self
                .docs(DELIVERIES)
                .find_one_and_update(due.clone(), doc! {"$set": {"owner": owner, "lease_until_ns": lease_until_ns}})
                .sort(doc! {"next_attempt_ns": 1})
                .return_document(ReturnDocument::After)
                .await
                .map_err(map_error)?;
            let Some(taken) = taken else { break };
            claimed.push(from_doc(taken)?);
        }
        Ok(claimed)
    }

    pub(super) async fn finish_claimed_delivery(&self, delivery: &Delivery, owner: &str) -> StoreResult<()> {
        let mut released = delivery.clone();
        released.owner = None;
        released.lease_until_ns = None;
        let replaced = self
            .docs(DELIVERIES)
            .replace_one(doc! {"_id": &released.id, "owner": owner}, with_id(&released, &released.id)?)
            .await
            .map_err(map_error)?;
        if replaced.matched_count == 0 {
            return Err(StoreError::Conflict(format!("delivery {} is not held by {owner}", delivery.id)));
        }
        Ok(())
    }
}
