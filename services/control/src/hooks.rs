//! The recording hooks: when a recording starts or stops, every device this replica holds whose
//! type declares `on_recording_start` / `on_recording_stop` and that the experiment's config
//! enables is sent that command, and each outcome goes into the experiment's logbook with the
//! recording's id. Every replica hears the event; each sends only to the devices the store says
//! it holds, so with several replicas each device gets the command once.

use crate::commands::send_here;
use crate::Control;
use srs_common::events::{self, RecordingStarted, RecordingStopped};
use srs_common::model::{new_id, CommandStatus, DeviceCommand, LogEntry};
use srs_common::shutdown::Background;
use srs_common::AppContext;
use std::sync::Arc;
use std::time::Duration;

/// The logbook's author of the hooks' lines.
pub const AUTHOR: &str = "control";

pub fn start(context: AppContext, control: Arc<Control>, background: &Background) {
    let token = background.token.clone();
    let tasks = background.clone();
    background.spawn(async move {
        let mut events = match context.bus.subscribe(&[events::RECORDING_STARTED, events::RECORDING_STOPPED]).await {
            Ok(events) => events,
            Err(error) => {
                tracing::error!(%error, "cannot follow recordings: devices get no start/stop commands");
                return;
            }
        };
        loop {
            let event = tokio::select! {
                _ = token.cancelled() => return,
                event = events.recv() => match event { Some(event) => event, None => return },
            };
            let (context, control) = (context.clone(), control.clone());
            if event.kind == events::RECORDING_STARTED {
                if let Ok(started) = serde_json::from_value::<RecordingStarted>(event.payload) {
                    tasks.spawn(async move {
                        let hook = Hook { recording_id: &started.recording_id, experiment_id: &started.experiment_id, start: true };
                        run(&context, &control, hook, &started.enabled_sensors).await;
                    });
                }
            } else if let Ok(stopped) = serde_json::from_value::<RecordingStopped>(event.payload) {
                tasks.spawn(async move {
                    let enabled = enabled_sensors(&context, &stopped.experiment_id).await;
                    let hook = Hook { recording_id: &stopped.recording_id, experiment_id: &stopped.experiment_id, start: false };
                    run(&context, &control, hook, &enabled).await;
                });
            }
        }
    });
}

#[derive(Clone, Copy)]
struct Hook<'a> {
    recording_id: &'a str,
    experiment_id: &'a str,
    start: bool,
}

/// The sensors the experiment's config enables now.
async fn enabled_sensors(context: &AppContext, experiment_id: &str) -> Vec<String> {
    let config = match context.store.get_experiment(experiment_id).await {
        Ok(Some(experiment)) => context.store.get_sensor_config(&experiment.sensor_config_id).await.ok().flatten(),
        _ => None,
    };
    config.map(|c| events::enabled_sensors(&c.sensors)).unwrap_or_default()
}

/// Sends the hook's command to every device here that takes it, all at once, and logs each
/// outcome.
async fn run(context: &AppContext, control: &Control, hook: Hook<'_>, enabled: &[String]) {
    let timeout = Duration::from_millis(control.settings.hook_timeout_ms);
    let mut sends = Vec::new();
    for device in control.devices.held_here() {
        let Some(sensor) = context.sensors.sensor(&device.sensor_id) else { continue };
        let command = if hook.start { &sensor.sensor_type.on_recording_start } else { &sensor.sensor_type.on_recording_stop };
        let Some(command) = command.clone() else { continue };
        if !enabled.contains(&device.sensor_id) {
            continue;
        }
        // Only the replica the store names sends, even if a stale socket lingers elsewhere.
        if context.store.device_holder(&device.sensor_id, srs_common::time::now()).await.ok().flatten().as_deref()
            != Some(control.replica.as_str())
        {
            continue;
        }
        let command = DeviceCommand {
            id: new_id(),
            sensor_id: device.sensor_id.clone(),
            command,
            args: serde_json::json!({"recording_id": hook.recording_id}),
            status: CommandStatus::Sent,
            ok: None,
            detail: None,
            sent_by: AUTHOR.into(),
            sent_at: srs_common::time::now(),
            acked_at: None,
        };
        sends.push(async move {
            if let Err(error) = context.store.insert_command(&command).await {
                tracing::warn!(%error, "cannot record a hook command");
            }
            let outcome = send_here(control, command, timeout).await;
            let outcome = context.store.finish_command(&outcome).await.unwrap_or(outcome);
            crate::commands::announce(context, &outcome).await;
            log(context, &hook, &outcome, timeout).await;
        });
    }
    futures_util::future::join_all(sends).await;
}

async fn log(context: &AppContext, hook: &Hook<'_>, outcome: &DeviceCommand, timeout: Duration) {
    let (sensor, command) = (&outcome.sensor_id, &outcome.command);
    let message = match (outcome.status, outcome.ok) {
        (CommandStatus::Acked, Some(true)) => format!("{sensor} acknowledged {command}"),
        (CommandStatus::Acked, _) => format!("{sensor} refused {command}: {}", outcome.detail.as_deref().unwrap_or("no reason given")),
        (CommandStatus::NotConnected, _) => format!("{sensor} was not connected for {command}"),
        _ => format!("{sensor} did not acknowledge {command} within {} s", timeout.as_secs_f64()),
    };
    let entry = LogEntry {
        id: new_id(),
        experiment_id: hook.experiment_id.to_owned(),
        at: srs_common::time::now(),
        author: AUTHOR.into(),
        message,
        recording_id: Some(hook.recording_id.to_owned()),
    };
    if let Err(error) = context.store.append_log(&entry).await {
        tracing::warn!(%error, "cannot write a hook's outcome to the logbook");
    }
}
