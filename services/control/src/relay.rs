//! Commands across control replicas. The store records which replica holds each device's socket
//! (a hold renewed while the replica lives, so a dead replica's holds lapse within
//! `control.hold_secs`); a command posted to any replica goes over the bus to the holder
//! (`control.{replica}.command`), which sends it, waits for the device's ack, records the
//! outcome and answers the asking replica (`control.{replica}.outcome`).

use crate::commands;
use crate::Control;
use serde::{Deserialize, Serialize};
use srs_common::events;
use srs_common::model::{CommandStatus, DeviceCommand};
use srs_common::shutdown::Background;
use srs_common::AppContext;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// How much longer than the command's own timeout the asking replica waits for the holder's
/// answer (the bus round trip).
const RELAY_MARGIN: Duration = Duration::from_secs(2);

/// A command for the replica holding the device.
#[derive(Debug, Serialize, Deserialize)]
struct Relayed {
    command: DeviceCommand,
    timeout_ms: u64,
    reply_to: String,
}

/// The replicas' routing keys.
fn command_key(replica: &str) -> String {
    format!("control.{replica}.command")
}

fn outcome_key(replica: &str) -> String {
    format!("control.{replica}.outcome")
}

/// Commands this replica relayed, waiting for the holder's answer.
#[derive(Default)]
pub struct Waiting(Mutex<HashMap<String, oneshot::Sender<DeviceCommand>>>);

impl Waiting {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<DeviceCommand>>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Sends `command` to the replica `holder` and waits for its outcome; a holder that does not
/// answer in time makes it a timeout.
pub async fn relay(context: &AppContext, control: &Control, holder: &str, command: DeviceCommand, timeout: Duration) -> DeviceCommand {
    let (reply, answer) = oneshot::channel();
    control.waiting.lock().insert(command.id.clone(), reply);
    let relayed = Relayed {
        command: command.clone(),
        timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        reply_to: control.replica.clone(),
    };
    let published = context.bus.publish(&[events::event(&command_key(holder), &relayed)]).await;
    let outcome = match published {
        Err(error) => {
            tracing::warn!(%error, holder, "cannot relay a command");
            None
        }
        Ok(()) => tokio::time::timeout(timeout + RELAY_MARGIN, answer).await.ok().and_then(Result::ok),
    };
    control.waiting.lock().remove(&command.id);
    outcome.unwrap_or(DeviceCommand { status: CommandStatus::Timeout, ..command })
}

/// Takes this replica's relayed commands and outcomes off the bus, and keeps its holds alive.
pub fn start(context: AppContext, control: Arc<Control>, background: &Background) {
    let token = background.token.clone();
    let replica = control.replica.clone();
    let (context_for_holds, control_for_holds) = (context.clone(), control.clone());
    background.spawn(renew_holds(context_for_holds, control_for_holds, token.clone()));
    let subscribe = {
        let context = context.clone();
        async move { context.bus.subscribe(&[&format!("control.{replica}.*")]).await }
    };
    let background_inner = background.clone();
    background.spawn(async move {
        let mut messages = match subscribe.await {
            Ok(messages) => {
                control.relay_ready.send_replace(true);
                messages
            }
            Err(error) => {
                tracing::error!(%error, "cannot take relayed commands: commands reach only devices on the replica asked");
                return;
            }
        };
        loop {
            let message = tokio::select! {
                _ = token.cancelled() => return,
                message = messages.recv() => match message { Some(message) => message, None => return },
            };
            if message.kind.ends_with(".command") {
                match serde_json::from_value::<Relayed>(message.payload) {
                    Ok(relayed) => {
                        let (context, control) = (context.clone(), control.clone());
                        background_inner.spawn(async move { answer(&context, &control, relayed).await });
                    }
                    Err(error) => tracing::warn!(%error, "unreadable relayed command"),
                }
            } else if let Ok(outcome) = serde_json::from_value::<DeviceCommand>(message.payload) {
                if let Some(waiting) = control.waiting.lock().remove(&outcome.id) {
                    let _ = waiting.send(outcome);
                }
            }
        }
    });
}

/// On the holder: send, wait, record, answer.
async fn answer(context: &AppContext, control: &Control, relayed: Relayed) {
    let outcome = commands::send_here(control, relayed.command, Duration::from_millis(relayed.timeout_ms)).await;
    let outcome = match context.store.finish_command(&outcome).await {
        Ok(stored) => stored,
        Err(error) => {
            tracing::warn!(%error, "cannot record a command's outcome");
            outcome
        }
    };
    if let Err(error) = context.bus.publish(&[events::event(&outcome_key(&relayed.reply_to), &outcome)]).await {
        tracing::warn!(%error, "cannot answer a relayed command");
    }
}

/// Renews this replica's holds every third of `hold_secs`, so they lapse only when it is gone.
async fn renew_holds(context: AppContext, control: Arc<Control>, token: tokio_util::sync::CancellationToken) {
    let hold = Duration::from_secs(control.settings.hold_secs);
    let mut tick = tokio::time::interval(hold / 3);
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tick.tick() => {}
        }
        let until = srs_common::time::now() + chrono::Duration::from_std(hold).unwrap_or_default();
        if let Err(error) = context.store.renew_device_holds(&control.replica, until).await {
            tracing::warn!(%error, "cannot renew the device holds");
        }
    }
}
