//! The channels alerts go out on — email, Slack, a generic webhook — each configured in the
//! settings and off while its address is empty. A channel sends one message and says whether
//! the receiver took it; retries and their backoff are the outbox's business.

mod email;
mod slack;
mod webhook;

pub use email::Email;
pub use webhook::signature as sign;

use crate::settings::NotifierSettings;
use secrecy::ExposeSecret;
use serde::Serialize;
use srs_common::model::{Alert, Notice};
use std::sync::Arc;

/// What every channel says about one notice of an alert.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// The idempotency key, the same on every attempt (`X-SRS-Delivery`).
    pub delivery_id: String,
    pub notice: Notice,
    pub alert: Alert,
    /// "[SRS] ecg-1 is silent" / "[SRS] resolved: ecg-1 is silent".
    pub title: String,
    /// The alert's message and when it happened.
    pub text: String,
    /// The console page it concerns (a full URL when `notifier.console_url` is set).
    pub link: Option<String>,
}

impl Message {
    pub fn new(delivery_id: &str, notice: Notice, alert: &Alert, link: Option<String>) -> Self {
        let (title, when) = match notice {
            Notice::Fired => (format!("[SRS] {}", alert.message), format!("since {}", alert.fired_at.to_rfc3339())),
            Notice::Resolved => (
                format!("[SRS] resolved: {}", alert.message),
                format!("from {} to {}", alert.fired_at.to_rfc3339(), alert.resolved_at.map_or_else(|| "now".into(), |at| at.to_rfc3339())),
            ),
        };
        let text = format!("{} ({}, {when})", alert.message, alert.rule);
        Self { delivery_id: delivery_id.to_owned(), notice, alert: alert.clone(), title, text, link }
    }

    /// The alert's facts (experiment, recording, sensor ...) as label and text, for people.
    pub fn facts(&self) -> Vec<(String, String)> {
        let Some(details) = self.alert.details.as_object() else { return Vec::new() };
        details
            .iter()
            .filter(|(key, _)| *key != "path")
            .map(|(key, value)| (key.replace('_', " "), value.as_str().map_or_else(|| value.to_string(), str::to_owned)))
            .collect()
    }
}

#[async_trait::async_trait]
pub trait Channel: Send + Sync {
    /// "email", "slack" or "webhook".
    fn name(&self) -> &'static str;
    /// Where it sends, for the channels endpoint and logs: never a secret (no password, no
    /// webhook path or token).
    fn target(&self) -> String;
    /// Sends `message`; the error says why the receiver did not take it.
    async fn send(&self, message: &Message) -> Result<(), String>;
}

/// The channels the settings turn on (`NotifierSettings::from_settings` checked them, so a
/// channel that cannot be built here was not valid there either).
pub fn configured(settings: &NotifierSettings, http: &reqwest::Client) -> Vec<Arc<dyn Channel>> {
    let mut channels: Vec<Arc<dyn Channel>> = Vec::new();
    if !settings.email.smtp_url.expose_secret().is_empty() {
        match email::Email::new(&settings.email) {
            Ok(email) => channels.push(Arc::new(email)),
            Err(error) => tracing::error!(%error, "the email channel is off"),
        }
    }
    if !settings.slack.webhook_url.expose_secret().is_empty() {
        channels.push(Arc::new(slack::Slack::new(http.clone(), settings.slack.webhook_url.clone())));
    }
    if !settings.webhook.url.expose_secret().is_empty() {
        channels.push(Arc::new(webhook::Webhook::new(http.clone(), settings.webhook.url.clone(), settings.webhook.secret.clone())));
    }
    channels
}

/// The scheme, host and port of a URL, without what may be secret (user, password, path).
fn host_of(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(url) => {
            format!("{}://{}{}", url.scheme(), url.host_str().unwrap_or(""), url.port().map(|p| format!(":{p}")).unwrap_or_default())
        }
        Err(_) => "(not a URL)".into(),
    }
}

/// The first part of a receiver's answer, for the delivery's `last_error`.
async fn refused(response: reqwest::Response) -> String {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(200).collect();
    format!("{status}: {body}")
}
