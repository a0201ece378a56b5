//! `device_disconnected`: a device of the running recording (its sensor enabled in the
//! experiment's config) lost its control socket; resolved when it connects again. A device
//! that comes and goes outside recordings alerts nobody.

use crate::alerts::{Alerts, Finding};
use crate::recording;
use srs_common::events::DeviceConnection;
use srs_common::model::AlertState;
use srs_common::store::StoreResult;

pub const RULE: &str = "device_disconnected";

pub async fn disconnected(alerts: &Alerts, device: &DeviceConnection) -> StoreResult<()> {
    let Some(running) = recording::read(alerts.store()).await? else { return Ok(()) };
    // A recording that started after the disconnect did not lose the device (the event waited
    // in the queue while the notifier was away).
    if !running.enabled_sensors.contains(&device.sensor_id) || running.started_at > device.at {
        return Ok(());
    }
    let mut details = running.facts();
    details.insert("sensor".into(), device.sensor_id.clone().into());
    details.insert("disconnected_at".into(), device.at.to_rfc3339().into());
    let finding = Finding {
        rule: RULE,
        subject: device.sensor_id.clone(),
        message: format!("Device {} disconnected while recording {}", device.sensor_id, running.participant_code),
        details: details.into(),
    };
    alerts.fire(finding).await.map(|_| ())
}

pub async fn connected(alerts: &Alerts, device: &DeviceConnection) -> StoreResult<()> {
    alerts.resolve(RULE, &device.sensor_id).await.map(|_| ())
}

/// Resolves the alerts of devices that are connected again although no event said so (the
/// store's device holds are the truth of which sockets are open).
pub async fn reconcile(alerts: &Alerts) -> StoreResult<()> {
    let firing = alerts.store().list_alerts(Some(AlertState::Firing), 1_000).await?;
    let lost: Vec<String> = firing.into_iter().filter(|(a, _)| a.rule == RULE).map(|(a, _)| a.subject).collect();
    if lost.is_empty() {
        return Ok(());
    }
    let held = alerts.store().list_held_devices(srs_common::time::now()).await?;
    for sensor in lost.iter().filter(|sensor| held.iter().any(|d| &d.sensor_id == *sensor)) {
        alerts.resolve(RULE, sensor).await?;
    }
    Ok(())
}
