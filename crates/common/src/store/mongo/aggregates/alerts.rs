//! `AlertStore` on MongoDB: the notifier's alerts and their outbox.

use super::super::*;
use crate::store::AlertStore;

#[async_trait]
impl AlertStore for MongoStore {
    async fn open_alert(&self, alert: &Alert, outbox: &Outbox) -> StoreResult<bool> {
        let mut session = self.client.start_session().await.map_err(map_error)?;
        in_transaction!(session, self.open_alert_in(&mut session, alert, outbox))
    }

    async fn resolve_alert(&self, rule: &str, subject: &str, at: Timestamp, outbox: &Outbox) -> StoreResult<Option<Alert>> {
        let mut session = self.client.start_session().await.map_err(map_error)?;
        in_transaction!(session, self.resolve_alert_in(&mut session, (rule, subject), at, outbox))
    }

    async fn get_alert(&self, id: &str) -> StoreResult<Option<Alert>> {
        self.find_one(alerts::ALERTS, doc! {"_id": id}).await
    }

    async fn list_alerts(&self, state: Option<AlertState>, limit: usize) -> StoreResult<Vec<(Alert, Vec<Delivery>)>> {
        self.list_alerts_with_deliveries(state, limit).await
    }

    async fn claim_deliveries(&self, owner: &str, now_ns: i64, lease_until_ns: i64, max: usize) -> StoreResult<Vec<Delivery>> {
        self.claim_due_deliveries(owner, now_ns, lease_until_ns, max).await
    }

    async fn finish_delivery(&self, delivery: &Delivery, owner: &str) -> StoreResult<()> {
        self.finish_claimed_delivery(delivery, owner).await
    }
}
