//! Channel "webhook": the message as JSON, POSTed with `X-SRS-Delivery` (the same on every
//! attempt, so a receiver can drop a repeat) and, when a secret is set,
//! `X-SRS-Signature: sha256=<hex HMAC-SHA256 of the raw body>`.

use super::{refused, Channel, Message};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

pub struct Webhook {
    http: reqwest::Client,
    url: SecretString,
    secret: SecretString,
}

impl Webhook {
    pub fn new(http: reqwest::Client, url: SecretString, secret: SecretString) -> Self {
        Self { http, url, secret }
    }
}

/// `sha256=<hex>` of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // An HMAC takes a key of any length.
    #[allow(clippy::expect_used)]
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[async_trait::async_trait]
impl Channel for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn target(&self) -> String {
        let signed = if self.secret.expose_secret().is_empty() { "unsigned" } else { "signed" };
        format!("{} ({signed})", super::host_of(self.url.expose_secret()))
    }

    async fn send(&self, message: &Message) -> Result<(), String> {
        let body = serde_json::to_vec(message).map_err(|e| format!("encode: {e}"))?;
        let mut request = self
            .http
            .post(self.url.expose_secret())
            .header("content-type", "application/json")
            .header("x-srs-delivery", &message.delivery_id);
        let secret = self.secret.expose_secret();
        if !secret.is_empty() {
            request = request.header("x-srs-signature", signature(secret, &body));
        }
        // The URL may hold a token: errors name the failure, not the address.
        let response = request.body(body).send().await.map_err(|e| format!("not sent: {}", e.without_url()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(refused(response).await)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_signature_is_the_hmac_of_the_raw_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
