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
    /// The relay, without its credentials.
    relay: String,
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
        Ok(Self { mailer, relay: super::host_of(settings.smtp_url.expose_secret()), from, to })
    }
}

/// The mail's text: what happened, when, the alert's facts, and where to look.
fn body(message: &Message) -> String {
    let mut body = format!("{}\n", message.text);
    let facts = message.facts();
    if !facts.is_empty() {
        body.push('\n');
        for (label, value) in facts {
            body.push_str(&format!("{label}: {value}\n"));
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

    fn target(&self) -> String {
        let to: Vec<String> = self.to.iter().map(|to| to.email.to_string()).collect();
        format!("{} to {}", self.relay, to.join(", "))
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
