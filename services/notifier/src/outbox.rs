//! The outbox sender: every second, each notifier replica claims the deliveries that are due
//! (the store hands each to one replica, under a lease), sends them on their channel, and
//! records the outcome — delivered, or tried again with exponential backoff (1 s, 2 s, 4 s ...
//! at most 5 min) until the delivery's deadline, after which it is failed. Every attempt carries
//! the same idempotency key, so a receiver that took a message whose answer was lost can drop
//! the repeat.

use crate::channels::{Channel, Message};
use crate::settings::NotifierSettings;
use srs_common::model::{Alert, Delivery, DeliveryStatus};
use srs_common::shutdown::Background;
use srs_common::AppContext;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const POLL: Duration = Duration::from_secs(1);
/// Deliveries one replica takes per round.
const BATCH: usize = 16;
/// How long a replica holds a claimed delivery: well beyond one attempt's limit.
const LEASE: Duration = Duration::from_secs(60);
/// One attempt's limit.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
const MAX_BACKOFF_NS: i64 = 300_000_000_000;

pub struct Outbox {
    context: AppContext,
    settings: NotifierSettings,
    channels: HashMap<&'static str, Arc<dyn Channel>>,
    /// This replica's name on the claims.
    owner: String,
}

impl Outbox {
    pub fn new(context: AppContext, settings: NotifierSettings, channels: &[Arc<dyn Channel>]) -> Arc<Self> {
        let channels = channels.iter().map(|c| (c.name(), c.clone())).collect();
        Arc::new(Self { context, settings, channels, owner: format!("notifier-{}", srs_common::model::new_id()) })
    }

    /// Sends what is due, every second, until the background set stops.
    pub fn start(self: &Arc<Self>, background: &Background) {
        let (outbox, stop) = (self.clone(), background.token.clone());
        background.spawn(async move {
            let mut ticks = tokio::time::interval(POLL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = ticks.tick() => outbox.send_due().await,
                }
            }
        });
    }

    /// One round: up to [`BATCH`] due deliveries, each claimed just before it is sent — a
    /// lease taken for a whole batch could lapse while earlier ones are still being tried, and
    /// another replica would then send the same message again.
    pub async fn send_due(&self) {
        for _ in 0..BATCH {
            let now = srs_common::time::now_ns();
            let lease_until = now + LEASE.as_nanos() as i64;
            let delivery = match self.context.store.claim_deliveries(&self.owner, now, lease_until, 1).await {
                Ok(mut claimed) => match claimed.pop() {
                    Some(delivery) => delivery,
                    None => return,
                },
                Err(error) => return tracing::warn!(%error, "cannot take the due alert deliveries"),
            };
            let finished = self.attempt(delivery).await;
            if let Err(error) = self.context.store.finish_delivery(&finished, &self.owner).await {
                tracing::warn!(%error, delivery.id = %finished.id, "the delivery's outcome is not recorded; it is tried again");
            }
        }
    }

    async fn attempt(&self, mut delivery: Delivery) -> Delivery {
        delivery.attempts += 1;
        let outcome = match (self.channels.get(delivery.channel.as_str()), self.alert(&delivery.alert_id).await) {
            (None, _) => Err(format!("the channel {} is not configured", delivery.channel)),
            (_, Err(error)) => Err(error),
            (Some(channel), Ok(alert)) => {
                let message = Message::new(&delivery.id, delivery.notice, &alert, self.link(&alert));
                attempt_once(channel.as_ref(), &message).await
            }
        };
        let now = srs_common::time::now_ns();
        match outcome {
            Ok(()) => {
                delivery.status = DeliveryStatus::Delivered;
                delivery.last_error = None;
                crate::metrics::delivery_attempt(&delivery.channel, "delivered");
                tracing::info!(delivery.id = %delivery.id, attempts = delivery.attempts, "alert delivered");
            }
            Err(error) => {
                let next = now.saturating_add(backoff_ns(delivery.attempts));
                if next > delivery.deadline_ns {
                    delivery.status = DeliveryStatus::Failed;
                    crate::metrics::delivery_attempt(&delivery.channel, "failed");
                    tracing::error!(delivery.id = %delivery.id, attempts = delivery.attempts, %error, "alert not delivered by its deadline");
                } else {
                    delivery.next_attempt_ns = next;
                    crate::metrics::delivery_attempt(&delivery.channel, "retry");
                    tracing::warn!(delivery.id = %delivery.id, attempts = delivery.attempts, %error, "alert delivery failed; trying again");
                }
                delivery.last_error = Some(error);
            }
        }
        delivery
    }

    async fn alert(&self, id: &str) -> Result<Alert, String> {
        match self.context.store.get_alert(id).await {
            Ok(Some(alert)) => Ok(alert),
            Ok(None) => Err(format!("alert {id} is gone")),
            Err(error) => Err(format!("cannot read alert {id}: {error}")),
        }
    }

    /// The console page an alert concerns, from what its rule recorded (`details.path`).
    fn link(&self, alert: &Alert) -> Option<String> {
        alert.details.get("path").and_then(|p| p.as_str()).map(|path| self.settings.link(path))
    }
}

/// One attempt to send `message` on `channel`, within [`ATTEMPT_TIMEOUT`].
pub async fn attempt_once(channel: &dyn Channel, message: &Message) -> Result<(), String> {
    match tokio::time::timeout(ATTEMPT_TIMEOUT, channel.send(message)).await {
        Ok(sent) => sent,
        Err(_) => Err(format!("no answer in {} s", ATTEMPT_TIMEOUT.as_secs())),
    }
}

/// The wait after the `attempts`-th failure: 1 s, doubling, at most 5 min.
fn backoff_ns(attempts: u32) -> i64 {
    let doubled = 1_000_000_000i64.checked_shl(attempts.saturating_sub(1).min(30)).unwrap_or(MAX_BACKOFF_NS);
    doubled.min(MAX_BACKOFF_NS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let waits: Vec<i64> = [1, 2, 3, 9, 10, 40].into_iter().map(|n| super::backoff_ns(n) / 1_000_000_000).collect();
        assert_eq!(waits, [1, 2, 4, 256, 300, 300]);
    }
}
