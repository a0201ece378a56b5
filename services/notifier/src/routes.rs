//! The notifier's endpoints (admins only): send a test message through a channel, list recent
//! alerts with their deliveries, and show the channels — where they send, never a secret.

use crate::channels::{Channel, Message};
use crate::Notifier;
use actix_web::{get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use srs_common::auth::Caller;
use srs_common::error::Problem;
use srs_common::http::JsonBody;
use srs_common::model::{new_id, Alert, AlertState, Delivery, DeliveryStatus, Notice, Role};
use srs_common::{ApiError, AppContext, ErrorCode};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// The channel names, in the order the channels endpoint lists them.
const CHANNELS: [&str; 3] = ["email", "slack", "webhook"];
/// How many recent alerts the channels endpoint reads to tell whether a channel works.
const RECENT: usize = 50;

pub fn configure(config: &mut web::ServiceConfig) {
    config.service(test_channel).service(list_alerts).service(list_channels);
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelName {
    Email,
    Slack,
    Webhook,
}

impl ChannelName {
    fn as_str(self) -> &'static str {
        match self {
            ChannelName::Email => "email",
            ChannelName::Slack => "slack",
            ChannelName::Webhook => "webhook",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    pub channel: ChannelName,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    /// True: the receiver took the test message.
    pub delivered: bool,
}

/// Send a test message through a channel, now, without the outbox: the answer is the outcome.
#[utoipa::path(post, path = "/api/v1/notifications/test", tag = "notifications", security(("bearer" = [])), request_body = TestRequest, responses(
    (status = 200, description = "the channel's receiver took the message", body = TestResult),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "the channel is off in the settings (channel_off)", body = Problem, content_type = "application/problem+json"),
    (status = 502, description = "the receiver did not take it (delivery_failed); `detail` says why", body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/v1/notifications/test")]
pub async fn test_channel(notifier: web::Data<Notifier>, caller: Caller, body: JsonBody<TestRequest>) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let name = body.into_inner().channel.as_str();
    let channel = notifier.channel(name).ok_or_else(|| {
        ApiError::new(ErrorCode::ChannelOff, format!("the {name} channel is off: its settings ([notifier.{name}]) leave it empty"))
    })?;
    let now = srs_common::time::now();
    let alert = Alert {
        id: new_id(),
        rule: "test".into(),
        subject: name.into(),
        state: AlertState::Firing,
        fired_at: now,
        resolved_at: None,
        message: format!("Test message from SRS through the {name} channel"),
        details: serde_json::json!({"sent_by": caller.username, "path": "/console/admin/notifications"}),
    };
    let link = Some(notifier.alerts.settings().link("/console/admin/notifications"));
    let message = Message::new(&format!("test-{}:fired:{name}", alert.id), Notice::Fired, &alert, link);
    match crate::outbox::attempt_once(channel.as_ref(), &message).await {
        Ok(()) => {
            tracing::info!(channel = name, by = %caller.id, "test message delivered");
            Ok(HttpResponse::Ok().json(TestResult { delivered: true }))
        }
        Err(error) => {
            tracing::warn!(channel = name, by = %caller.id, %error, "test message not delivered");
            Err(ApiError::new(ErrorCode::DeliveryFailed, format!("the {name} channel did not deliver: {error}")))
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertsQuery {
    /// How many, newest first (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
    /// Only alerts in this state.
    #[param(inline)]
    pub state: Option<AlertState>,
}

/// One message of an alert to one channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub channel: String,
    /// Which of the alert's messages: `fired` or `resolved`.
    pub notice: Notice,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    #[serde(flatten)]
    pub alert: Alert,
    pub deliveries: Vec<DeliveryView>,
}

impl From<(Alert, Vec<Delivery>)> for AlertView {
    fn from((alert, deliveries): (Alert, Vec<Delivery>)) -> Self {
        let deliveries = deliveries
            .into_iter()
            .map(|d| DeliveryView {
                channel: d.channel,
                notice: d.notice,
                status: d.status,
                attempts: d.attempts,
                last_error: d.last_error,
            })
            .collect();
        Self { alert, deliveries }
    }
}

/// Recent alerts, newest first, with what became of each delivery.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", security(("bearer" = [])), params(AlertsQuery), responses(
    (status = 200, body = Vec<AlertView>),
    (status = 400, description = "a bad limit or state", body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/v1/notifications")]
pub async fn list_alerts(context: web::Data<AppContext>, caller: Caller, query: web::Query<AlertsQuery>) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::new(ErrorCode::InvalidQuery, "limit: must be 1 to 500"));
    }
    let alerts = context.store.list_alerts(query.state, limit).await?;
    Ok(HttpResponse::Ok().json(alerts.into_iter().map(AlertView::from).collect::<Vec<_>>()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    /// `email`, `slack` or `webhook`.
    pub channel: &'static str,
    /// Its settings turn it on.
    pub configured: bool,
    /// Configured, and its latest delivery (if any) went through.
    pub usable: bool,
    /// Where it sends (relay and recipients, or the receiver's host), without secrets.
    pub target: Option<String>,
    /// Why its latest delivery failed, when it did.
    pub last_error: Option<String>,
}

/// The channels, whether each is configured and usable (secrets are never shown).
#[utoipa::path(get, path = "/api/v1/notifications/channels", tag = "notifications", security(("bearer" = [])), responses(
    (status = 200, body = Vec<ChannelView>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/v1/notifications/channels")]
pub async fn list_channels(
    context: web::Data<AppContext>,
    notifier: web::Data<Notifier>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let recent = context.store.list_alerts(None, RECENT).await?;
    let channels = CHANNELS.iter().map(|name| view(name, notifier.channel(name), &recent)).collect::<Vec<_>>();
    Ok(HttpResponse::Ok().json(channels))
}

fn view(name: &'static str, channel: Option<&Arc<dyn Channel>>, recent: &[(Alert, Vec<Delivery>)]) -> ChannelView {
    let Some(channel) = channel else {
        return ChannelView { channel: name, configured: false, usable: false, target: None, last_error: None };
    };
    // The newest delivery on this channel that was tried says whether it works now: alerts come
    // newest first, and within one the "resolved" message follows the "fired" one.
    let latest = recent.iter().flat_map(|(_, deliveries)| deliveries.iter().rev()).find(|d| d.channel == name && d.attempts > 0);
    let last_error = latest.filter(|d| d.status != DeliveryStatus::Delivered).and_then(|d| d.last_error.clone());
    ChannelView { channel: name, configured: true, usable: last_error.is_none(), target: Some(channel.target()), last_error }
}
