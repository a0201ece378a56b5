//! Channel "slack": an incoming webhook, with the alert as blocks (what happened, when, a link)
//! and the title as the notification text.

use super::{refused, Channel, Message};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use srs_common::model::Notice;

pub struct Slack {
    http: reqwest::Client,
    webhook_url: SecretString,
}

impl Slack {
    pub fn new(http: reqwest::Client, webhook_url: SecretString) -> Self {
        Self { http, webhook_url }
    }
}

/// The payload Slack's incoming webhooks take.
pub fn payload(message: &Message) -> serde_json::Value {
    let mark = match message.notice {
        Notice::Fired => ":rotating_light:",
        Notice::Resolved => ":white_check_mark:",
    };
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("{mark} *{}*", message.title)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": message.text}}),
    ];
    let facts: Vec<_> =
        message.facts().into_iter().map(|(label, value)| json!({"type": "mrkdwn", "text": format!("*{label}*\n{value}")})).collect();
    // Slack takes at most ten fields per section.
    for chunk in facts.chunks(10) {
        blocks.push(json!({"type": "section", "fields": chunk}));
    }
    if let Some(link) = &message.link {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("<{link}|Open in SRS>")}]}));
    }
    json!({"text": message.title, "blocks": blocks})
}

#[async_trait::async_trait]
impl Channel for Slack {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn target(&self) -> String {
        super::host_of(self.webhook_url.expose_secret())
    }

    async fn send(&self, message: &Message) -> Result<(), String> {
        let response = self
            .http
            .post(self.webhook_url.expose_secret())
            .json(&payload(message))
            .send()
            .await
            // The webhook URL is the secret: errors name the failure, not the address.
            .map_err(|e| format!("not sent: {}", e.without_url()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(refused(response).await)
        }
    }
}
