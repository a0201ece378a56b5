//! Where the rules record what they found. The store decides whether a condition is new (one
//! firing alert per rule and subject, a notice once per event), so every replica may judge the
//! same condition and only one alert, with one delivery per channel, results. The replica whose
//! write took effect also announces it on the bus (`alert.fired`, `alert.resolved`), which
//! control's live socket passes on to the operators.

use crate::settings::NotifierSettings;
use srs_common::model::{new_id, Alert, AlertState, Outbox};
use srs_common::store::StoreResult;
use srs_common::AppContext;

pub const ALERT_FIRED: &str = "alert.fired";
pub const ALERT_RESOLVED: &str = "alert.resolved";

/// What a rule says about a condition or an event.
pub struct Finding {
    pub rule: &'static str,
    pub subject: String,
    /// One line a person reads first: "ecg-1 sent nothing for 10 s".
    pub message: String,
    /// The facts channels show; `path` is the console page it concerns.
    pub details: serde_json::Value,
}

pub struct Alerts {
    context: AppContext,
    settings: NotifierSettings,
    /// The configured channels' names: each alert gets one delivery per channel.
    channels: Vec<String>,
}

impl Alerts {
    pub fn new(context: AppContext, settings: NotifierSettings, channels: Vec<String>) -> Self {
        Self { context, settings, channels }
    }

    pub fn settings(&self) -> &NotifierSettings {
        &self.settings
    }

    pub fn store(&self) -> &srs_common::store::DynStore {
        &self.context.store
    }

    /// Opens an alert for a condition; true when it is new (none of its rule and subject was
    /// firing). A rule switched off opens nothing.
    pub async fn fire(&self, finding: Finding) -> StoreResult<bool> {
        self.record(new_id(), AlertState::Firing, finding).await
    }

    /// Records a notice — an event with nothing to clear, such as an export's outcome — under
    /// the event's id, so that handling the event again records nothing more.
    pub async fn notice(&self, event_id: &str, finding: Finding) -> StoreResult<bool> {
        self.record(event_id.to_owned(), AlertState::Resolved, finding).await
    }

    /// Resolves the firing alert of `rule` and `subject`; true when there was one. Works for a
    /// rule switched off too, so an alert fired before is not left firing forever.
    pub async fn resolve(&self, rule: &str, subject: &str) -> StoreResult<bool> {
        let resolved = self.context.store.resolve_alert(rule, subject, srs_common::time::now(), &self.outbox()).await?;
        let Some(alert) = resolved else { return Ok(false) };
        tracing::info!(alert.id = %alert.id, alert.rule = %alert.rule, alert.subject = %alert.subject, "alert resolved");
        self.announce(ALERT_RESOLVED, &alert).await;
        Ok(true)
    }

    async fn record(&self, id: String, state: AlertState, finding: Finding) -> StoreResult<bool> {
        if !self.settings.rule_enabled(finding.rule) {
            return Ok(false);
        }
        let now = srs_common::time::now();
        let alert = Alert {
            id,
            rule: finding.rule.to_owned(),
            subject: finding.subject,
            state,
            fired_at: now,
            resolved_at: (state == AlertState::Resolved).then_some(now),
            message: finding.message,
            details: finding.details,
        };
        if !self.context.store.open_alert(&alert, &self.outbox()).await? {
            return Ok(false);
        }
        tracing::warn!(alert.id = %alert.id, alert.rule = %alert.rule, alert.subject = %alert.subject, message = %alert.message, "alert");
        crate::metrics::alert_recorded(&alert.rule);
        self.announce(ALERT_FIRED, &alert).await;
        Ok(true)
    }

    fn outbox(&self) -> Outbox {
        let now_ns = srs_common::time::now_ns();
        let deadline = i64::try_from(self.settings.delivery_deadline_secs).unwrap_or(i64::MAX / 1_000_000_000) * 1_000_000_000;
        Outbox { channels: self.channels.clone(), now_ns, deadline_ns: now_ns.saturating_add(deadline) }
    }

    /// Tells the live view. Best effort: the alert is recorded and its deliveries are due.
    async fn announce(&self, kind: &str, alert: &Alert) {
        if let Err(error) = self.context.bus.publish(&[srs_common::events::event(kind, alert)]).await {
            tracing::warn!(%error, alert.id = %alert.id, "the alert is not on the live view");
        }
    }
}
