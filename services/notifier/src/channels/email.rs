//! Channel "email": one plain-text mail per message to `notifier.email.to`, over SMTP as
//! `notifier.email.smtp_url` says — `smtp://host:25` (plain, for a local relay),
//! `smtp://host:587?tls=required` (STARTTLS), `smtps://host:465` (TLS), with `user:password@`
//! for authentication. The Message-ID is the delivery's id, the same on every attempt, so a
//! mail system can recognise a repeat.

use super::{Channel, Message};
use crate::settings::EmailSettings;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;

pub struct Email {
    mailer: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl Email {
    /// The channel of `settings`; the error names the key that is wrong (without its secret).
    pub fn new(settings: &EmailSettings) -> Result<Self, String> {
        let mailer = AsyncSmtpTransport::<Tokio1Executor>::from_url(settings.smtp_url.expose_secret())
            .map_err(|_| "notifier.email.smtp_url: not an smtp:// or smtps:// URL".to_owned())?
            .build();
        let from = settings.from.parse::<Mailbox>().map_err(|e| format!("notifier.email.from: {e}"))?;
        let to = settings
            .to
            .iter()
            .map(|to| to.parse::<Mailbox>().map_err(|e| format!("notifier.email.to: \"{to}\": {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { mailer, from, to })
    }
}

/// The mail's text: what happened, when, the alert's facts, and where to look.
fn body(message: &Message) -> String {
    let mut body = format!("{}\n", message.text);
    if let Some(details) = message.alert.details.as_object().filter(|d| !d.is_empty()) {
        body.push('\n');
        for (key, value) in details.iter().filter(|(key, _)| *key != "path") {
            let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            body.push_str(&format!("{key}: {value}\n"));
        }
    }
    if let Some(link) = &message.link {
        body.push_str(&format!("\n{link}\n"));
    }
    body
}

#[async_trait::async_trait]
impl Channel for Email {
    fn name(&self) -> &'static str {
        "email"
    }

    async fn send(&self, message: &Message) -> Result<(), String> {
        let mut mail = lettre::Message::builder()
            .from(self.from.clone())
            .subject(&message.title)
            .message_id(Some(format!("<{}@srs>", message.delivery_id)));
        for to in &self.to {
            mail = mail.to(to.clone());
        }
        let mail = mail.body(body(message)).map_err(|e| format!("cannot build the mail: {e}"))?;
        self.mailer.send(mail).await.map(|_| ()).map_err(|e| format!("not sent: {e}"))
    }
}
