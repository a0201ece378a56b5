//! Alerts and their deliveries (the notifier's durable state): one alert per condition (rule
//! and subject) while it lasts, and one delivery per channel of each of its two messages —
//! "fired" and "resolved" — kept in the store as an outbox, so a restart neither repeats nor
//! forgets one and two notifier replicas never send the same one twice.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Firing,
    Resolved,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Alert {
    pub id: String,
    /// `sensor_silent`, `export_failed`, ...
    pub rule: String,
    /// What the condition is about: a sensor id, an export id, the data directory.
    pub subject: String,
    pub state: AlertState,
    pub fired_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// One line a person reads first.
    pub message: String,
    /// The facts the channels show (experiment, recording, links), as the rule gathered them.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// Which of an alert's two messages a delivery carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    Fired,
    Resolved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    /// Its deadline passed without a successful attempt.
    Failed,
}

/// One message of one alert to one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    /// `{alert_id}:{notice}:{channel}`: the idempotency key receivers see (`X-SRS-Delivery`),
    /// the same on every attempt, and unique in the store.
    pub id: String,
    pub alert_id: String,
    pub notice: Notice,
    pub channel: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// Not tried again before this (ns since the epoch).
    pub next_attempt_ns: i64,
    /// Given up after this (ns since the epoch).
    pub deadline_ns: i64,
    /// The notifier replica sending it now, until `lease_until_ns`.
    pub owner: Option<String>,
    pub lease_until_ns: Option<i64>,
}

impl Delivery {
    /// A delivery of `notice` of `alert` to `channel`, due at once.
    pub fn pending(alert_id: &str, notice: Notice, channel: &str, now_ns: i64, deadline_ns: i64) -> Self {
        let name = match notice {
            Notice::Fired => "fired",
            Notice::Resolved => "resolved",
        };
        Self {
            id: format!("{alert_id}:{name}:{channel}"),
            alert_id: alert_id.to_owned(),
            notice,
            channel: channel.to_owned(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_error: None,
            next_attempt_ns: now_ns,
            deadline_ns,
            owner: None,
            lease_until_ns: None,
        }
    }
}

/// What `Store::resolve_alert` and `Store::open_alert` need besides the alert: the channels
/// to tell, and until when deliveries are tried.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbox {
    pub channels: Vec<String>,
    pub now_ns: i64,
    pub deadline_ns: i64,
}

impl Outbox {
    pub fn deliveries(&self, alert_id: &str, notice: Notice) -> Vec<Delivery> {
        self.channels.iter().map(|channel| Delivery::pending(alert_id, notice, channel, self.now_ns, self.deadline_ns)).collect()
    }
}
