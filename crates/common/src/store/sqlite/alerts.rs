//! The notifier's alerts and their outbox. A partial unique index keeps one firing alert per
//! (rule, subject); a delivery row is claimed by setting its owner and lease inside the one
//! write transaction, so two replicas never take the same one.

use super::docs::{map_error, query_doc, query_docs, to_doc};
use crate::model::{Alert, AlertState, Delivery, DeliveryStatus, Notice, Outbox};
use crate::store::{StoreError, StoreResult};
use crate::time::Timestamp;
use rusqlite::{params, Connection, Transaction};

pub(super) fn open(tx: &Transaction<'_>, alert: &Alert, outbox: &Outbox) -> StoreResult<bool> {
    // A notice (an export's outcome) is recorded resolved at once: not firing, so not unique.
    let firing = (alert.state == AlertState::Firing).then_some(1);
    let inserted = tx
        .execute(
            "INSERT INTO alerts (id, rule, subject, firing, doc) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            params![alert.id, alert.rule, alert.subject, firing, to_doc(alert)?],
        )
        .map_err(map_error)?;
    if inserted == 0 {
        return Ok(false);
    }
    insert_deliveries(tx, &outbox.deliveries(&alert.id, Notice::Fired))?;
    Ok(true)
}

pub(super) fn resolve(tx: &Transaction<'_>, rule: &str, subject: &str, at: Timestamp, outbox: &Outbox) -> StoreResult<Option<Alert>> {
    let firing: Option<Alert> =
        query_doc(tx, "SELECT doc FROM alerts WHERE rule = ?1 AND subject = ?2 AND firing = 1", params![rule, subject])?;
    let Some(mut alert) = firing else { return Ok(None) };
    alert.state = AlertState::Resolved;
    alert.resolved_at = Some(at);
    tx.execute("UPDATE alerts SET firing = NULL, doc = ?2 WHERE id = ?1", params![alert.id, to_doc(&alert)?]).map_err(map_error)?;
    insert_deliveries(tx, &outbox.deliveries(&alert.id, Notice::Resolved))?;
    Ok(Some(alert))
}

fn insert_deliveries(tx: &Transaction<'_>, deliveries: &[Delivery]) -> StoreResult<()> {
    for delivery in deliveries {
        tx.execute(
            "INSERT INTO deliveries (id, alert_id, pending, next_attempt_ns, doc) VALUES (?1, ?2, 1, ?3, ?4) ON CONFLICT DO NOTHING",
            params![delivery.id, delivery.alert_id, delivery.next_attempt_ns, to_doc(delivery)?],
        )
        .map_err(map_error)?;
    }
    Ok(())
}

pub(super) fn list(conn: &Connection, state: Option<AlertState>, limit: usize) -> StoreResult<Vec<(Alert, Vec<Delivery>)>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let alerts: Vec<Alert> = match state {
        None => query_docs(conn, "SELECT doc FROM alerts ORDER BY key DESC LIMIT ?1", [limit])?,
        Some(AlertState::Firing) => query_docs(conn, "SELECT doc FROM alerts WHERE firing = 1 ORDER BY key DESC LIMIT ?1", [limit])?,
        Some(AlertState::Resolved) => query_docs(conn, "SELECT doc FROM alerts WHERE firing IS NULL ORDER BY key DESC LIMIT ?1", [limit])?,
    };
    alerts
        .into_iter()
        .map(|alert| {
            let deliveries = query_docs(conn, "SELECT doc FROM deliveries WHERE alert_id = ?1 ORDER BY id", [&alert.id])?;
            Ok((alert, deliveries))
        })
        .collect()
}

pub(super) fn claim(tx: &Transaction<'_>, owner: &str, now_ns: i64, lease_until_ns: i64, max: usize) -> StoreResult<Vec<Delivery>> {
    let due: Vec<Delivery> = query_docs(
        tx,
        "SELECT doc FROM deliveries WHERE pending = 1 AND next_attempt_ns <= ?1 AND (lease_until_ns IS NULL OR lease_until_ns < ?1)
         ORDER BY next_attempt_ns LIMIT ?2",
        params![now_ns, i64::try_from(max).unwrap_or(i64::MAX)],
    )?;
    due.into_iter()
        .map(|mut delivery| {
            delivery.owner = Some(owner.to_owned());
            delivery.lease_until_ns = Some(lease_until_ns);
            tx.execute(
                "UPDATE deliveries SET owner = ?2, lease_until_ns = ?3, doc = ?4 WHERE id = ?1",
                params![delivery.id, owner, lease_until_ns, to_doc(&delivery)?],
            )
            .map_err(map_error)?;
            Ok(delivery)
        })
        .collect()
}

pub(super) fn finish(tx: &Transaction<'_>, delivery: &Delivery, owner: &str) -> StoreResult<()> {
    let mut released = delivery.clone();
    released.owner = None;
    released.lease_until_ns = None;
    let pending = (released.status == DeliveryStatus::Pending).then_some(1);
    let changed = tx
        .execute(
            "UPDATE deliveries SET pending = ?3, next_attempt_ns = ?4, owner = NULL, lease_until_ns = NULL, doc = ?5
             WHERE id = ?1 AND owner = ?2",
            params![released.id, owner, pending, released.next_attempt_ns, to_doc(&released)?],
        )
        .map_err(map_error)?;
    if changed == 0 {
        return Err(StoreError::Conflict(format!("delivery {} is not held by {owner}", delivery.id)));
    }
    Ok(())
}
