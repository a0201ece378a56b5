//! The durable consumer of the lifecycle events no timer could find out about: exports
//! finishing and devices coming and going. They wait in the notifier's own queue
//! (`notifier.queue`) while no replica runs, each goes to one replica, and each is acknowledged
//! only once its alert and deliveries are in the store. A store that is away is waited for (the
//! event stays unacknowledged, the queue keeps the rest); handling an event twice after a crash
//! records nothing twice (the store dedupes by condition and by event id).

use crate::alerts::Alerts;
use crate::rules::{devices, exports};
use serde::de::DeserializeOwned;
use srs_common::bus::{Event, JobHandler, Worker};
use srs_common::events;
use srs_common::shutdown::Background;
use srs_common::store::StoreResult;
use srs_common::AppContext;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const EVENTS: &[&str] = &[events::EXPORT_COMPLETED, events::EXPORT_FAILED, events::DEVICE_CONNECTED, events::DEVICE_DISCONNECTED];
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);
/// How often firing device alerts are checked against the devices actually connected.
const RECONCILE: Duration = Duration::from_secs(10);

pub fn start(context: &AppContext, alerts: Arc<Alerts>, background: &Background) {
    let (context, stop) = (context.clone(), background.token.clone());
    background.spawn(async move {
        let queue = alerts.settings().queue.clone();
        let handler: JobHandler = {
            let (alerts, stop) = (alerts.clone(), stop.clone());
            Arc::new(move |event| {
                let (alerts, stop) = (alerts.clone(), stop.clone());
                Box::pin(async move { handle_until_recorded(&alerts, &event, &stop).await })
            })
        };
        let worker: Option<Worker> = match context.bus.consume(&queue, EVENTS, handler).await {
            Ok(worker) => Some(worker),
            Err(error) => {
                tracing::error!(%error, %queue, "cannot consume the lifecycle events: no export or device alerts");
                None
            }
        };
        let mut reconcile = tokio::time::interval(RECONCILE);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = reconcile.tick() => if let Err(error) = devices::reconcile(&alerts).await {
                    tracing::warn!(%error, "cannot check the device alerts against the connected devices");
                },
            }
        }
        if let Some(worker) = worker {
            worker.stop().await;
        }
    });
}

/// Handles `event`, retrying while the store fails; hands it back (`Err`) only at shutdown.
async fn handle_until_recorded(alerts: &Alerts, event: &Event, stop: &CancellationToken) -> Result<(), String> {
    let mut wait = Duration::from_millis(500);
    loop {
        match handle(alerts, event).await {
            Ok(()) => return Ok(()),
            Err(error) => {
                tracing::warn!(%error, event.id = %event.id, event.type = %event.kind, "cannot record the event's alert; trying again");
                tokio::select! {
                    () = stop.cancelled() => return Err(format!("shutting down: {error}")),
                    () = tokio::time::sleep(wait) => wait = (wait * 2).min(MAX_RETRY_WAIT),
                }
            }
        }
    }
}

async fn handle(alerts: &Alerts, event: &Event) -> StoreResult<()> {
    match event.kind.as_str() {
        events::EXPORT_COMPLETED => match payload(event) {
            Some(completed) => exports::completed(alerts, &event.id, &completed).await,
            None => Ok(()),
        },
        events::EXPORT_FAILED => match payload(event) {
            Some(failed) => exports::failed(alerts, &event.id, &failed).await,
            None => Ok(()),
        },
        events::DEVICE_DISCONNECTED => match payload(event) {
            Some(device) => devices::disconnected(alerts, &device).await,
            None => Ok(()),
        },
        events::DEVICE_CONNECTED => match payload(event) {
            Some(device) => devices::connected(alerts, &device).await,
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

/// The event's payload; an unreadable one can never succeed, so it is logged and dropped.
fn payload<T: DeserializeOwned>(event: &Event) -> Option<T> {
    match serde_json::from_value(event.payload.clone()) {
        Ok(payload) => Some(payload),
        Err(error) => {
            tracing::error!(%error, event.id = %event.id, event.type = %event.kind, "unreadable event dropped");
            None
        }
    }
}
