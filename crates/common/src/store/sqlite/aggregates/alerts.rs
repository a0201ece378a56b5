//! `AlertStore` on SQLite: the notifier's alerts and their outbox.

use super::super::*;
use crate::store::AlertStore;

#[async_trait]
impl AlertStore for SqliteStore {
    async fn open_alert(&self, alert: &Alert, outbox: &Outbox) -> StoreResult<bool> {
        let (alert, outbox) = (alert.clone(), outbox.clone());
        self.transact(move |tx| alerts::open(tx, &alert, &outbox)).await
    }

    async fn resolve_alert(&self, rule: &str, subject: &str, at: Timestamp, outbox: &Outbox) -> StoreResult<Option<Alert>> {
        let (rule, subject, outbox) = (rule.to_owned(), subject.to_owned(), outbox.clone());
        self.transact(move |tx| alerts::resolve(tx, &rule, &subject, at, &outbox)).await
    }

    async fn get_alert(&self, id: &str) -> StoreResult<Option<Alert>> {
        let id = id.to_owned();
        self.read(move |c| query_doc(c, "SELECT doc FROM alerts WHERE id = ?1", [id])).await
    }

    async fn list_alerts(&self, state: Option<AlertState>, limit: usize) -> StoreResult<Vec<(Alert, Vec<Delivery>)>> {
        self.read(move |c| alerts::list(c, state, limit)).await
    }

    async fn claim_deliveries(&self, owner: &str, now_ns: i64, lease_until_ns: i64, max: usize) -> StoreResult<Vec<Delivery>> {
        let owner = owner.to_owned();
        self.transact(move |tx| alerts::claim(tx, &owner, now_ns, lease_until_ns, max)).await
    }

    async fn finish_delivery(&self, delivery: &Delivery, owner: &str) -> StoreResult<()> {
        let (delivery, owner) = (delivery.clone(), owner.to_owned());
        self.transact(move |tx| alerts::finish(tx, &delivery, &owner)).await
    }
}
