//! The devices whose sockets this replica holds: one socket per sensor (a new one replaces the
//! old, which is closed with 4000 "replaced"), each with its last status and the commands
//! sent on it that wait for the device's ack. The store keeps each held device too, with the
//! hold, for `GET /api/v1/devices` on any replica.

use serde::Deserialize;
pub use srs_common::model::ConnectedDevice;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::oneshot;

struct Held {
    connection: u64,
    session: actix_ws::Session,
    device: ConnectedDevice,
    /// Command id -> whoever waits for its ack.
    pending: HashMap<String, oneshot::Sender<Ack>>,
}

/// A device's answer to a command.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Ack {
    pub id: String,
    pub ok: bool,
    pub detail: Option<String>,
}

/// The device has no socket here.
#[derive(Debug)]
pub struct NotHere;

#[derive(Default)]
pub struct Devices {
    held: Mutex<HashMap<String, Held>>,
    next_connection: AtomicU64,
}

/// What happened to an earlier socket of the same sensor when a device connected.
pub enum Connected {
    /// The first socket of the sensor here.
    New(u64),
    /// It replaced an older one, whose session the caller closes.
    Replaced(u64, actix_ws::Session),
}

impl Devices {
    /// Registers the socket of `device`; returns its connection number and what it replaced.
    pub fn connect(&self, device: ConnectedDevice, session: actix_ws::Session) -> Connected {
        let connection = self.next_connection.fetch_add(1, Ordering::Relaxed);
        let sensor_id = device.sensor_id.clone();
        let old = {
            let mut held = self.lock();
            let old = held.insert(sensor_id, Held { connection, session, device, pending: HashMap::new() });
            crate::metrics::devices_connected().set(held.len() as i64);
            old
        };
        match old {
            Some(old) => Connected::Replaced(connection, old.session),
            None => Connected::New(connection),
        }
    }

    /// Forgets the socket `connection` of `sensor_id`, unless a newer one replaced it; true if
    /// it was the sensor's socket (the device is now disconnected).
    pub fn disconnect(&self, sensor_id: &str, connection: u64) -> bool {
        let mut held = self.lock();
        if held.get(sensor_id).is_some_and(|h| h.connection == connection) {
            held.remove(sensor_id);
            crate::metrics::devices_connected().set(held.len() as i64);
            return true;
        }
        false
    }

    /// Records a `status` message of the socket `connection`; returns the device as it is now.
    pub fn status(&self, sensor_id: &str, connection: u64, state: serde_json::Value) -> Option<ConnectedDevice> {
        let mut held = self.lock();
        let held = held.get_mut(sensor_id).filter(|h| h.connection == connection)?;
        held.device.last_status = Some(state);
        held.device.last_status_at = Some(srs_common::time::now());
        Some(held.device.clone())
    }

    /// Sends `message` (a command with id `command_id`) on the device's socket; the receiver
    /// resolves with the device's ack. Dropping it (a timeout) forgets the command, so a late
    /// ack finds nobody waiting.
    pub async fn send(&self, sensor_id: &str, command_id: &str, message: String) -> Result<oneshot::Receiver<Ack>, NotHere> {
        let (reply, answer) = oneshot::channel();
        let mut session = {
            let mut held = self.lock();
            let held = held.get_mut(sensor_id).ok_or(NotHere)?;
            held.pending.retain(|_, waiting| !waiting.is_closed());
            held.pending.insert(command_id.to_owned(), reply);
            held.session.clone()
        };
        session.text(message).await.map_err(|_| NotHere)?;
        Ok(answer)
    }

    /// Hands the ack to whoever waits for it; an ack nobody waits for (late, duplicate or
    /// unknown) changes nothing.
    pub fn ack(&self, sensor_id: &str, connection: u64, ack: Ack) {
        let waiting = self.lock().get_mut(sensor_id).filter(|h| h.connection == connection).and_then(|h| h.pending.remove(&ack.id));
        if let Some(waiting) = waiting {
            let _ = waiting.send(ack);
        }
    }

    /// Whether a socket of `sensor_id` is open here.
    pub fn holds(&self, sensor_id: &str) -> bool {
        self.lock().contains_key(sensor_id)
    }

    /// The devices whose sockets this replica holds, by sensor id.
    pub fn held_here(&self) -> Vec<ConnectedDevice> {
        let mut devices: Vec<ConnectedDevice> = self.lock().values().map(|h| h.device.clone()).collect();
        devices.sort_by(|a, b| a.sensor_id.cmp(&b.sensor_id));
        devices
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        // A panic while holding the lock leaves the map consistent (every change is one call).
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
