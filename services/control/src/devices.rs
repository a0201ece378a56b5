//! The devices whose sockets this replica holds: one socket per sensor (a new one replaces the
//! old, which is closed with 4000 "replaced"), each with its last status.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use utoipa::ToSchema;

/// A connected device as `GET /api/v1/devices` lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectedDevice {
    pub sensor_id: String,
    #[serde(rename = "type")]
    pub sensor_type: String,
    pub connected_at: DateTime<Utc>,
    /// The `state` of the device's last `status` message.
    #[schema(value_type = Option<Object>)]
    pub last_status: Option<serde_json::Value>,
    pub last_status_at: Option<DateTime<Utc>>,
}

struct Held {
    connection: u64,
    session: actix_ws::Session,
    device: ConnectedDevice,
}

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
        let old = self.lock().insert(sensor_id, Held { connection, session, device });
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
            return true;
        }
        false
    }

    /// Records a `status` message of the socket `connection`.
    pub fn status(&self, sensor_id: &str, connection: u64, state: serde_json::Value) {
        if let Some(held) = self.lock().get_mut(sensor_id).filter(|h| h.connection == connection) {
            held.device.last_status = Some(state);
            held.device.last_status_at = Some(srs_common::time::now());
        }
    }

    /// Every connected device, by sensor id.
    pub fn list(&self) -> Vec<ConnectedDevice> {
        let mut devices: Vec<ConnectedDevice> = self.lock().values().map(|h| h.device.clone()).collect();
        devices.sort_by(|a, b| a.sensor_id.cmp(&b.sensor_id));
        devices
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        // A panic while holding the lock leaves the map consistent (every change is one call).
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
