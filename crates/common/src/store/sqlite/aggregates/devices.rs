//! `DeviceStore` on SQLite: device commands and which control replica holds each device.

use super::super::*;
use crate::store::DeviceStore;

#[async_trait]
impl DeviceStore for SqliteStore {
    async fn insert_command(&self, command: &DeviceCommand) -> StoreResult<()> {
        let (id, sensor, doc) = (command.id.clone(), command.sensor_id.clone(), to_doc(command)?);
        self.transact(move |tx| {
            tx.execute("INSERT INTO commands (id, sensor_id, doc) VALUES (?1, ?2, ?3)", params![id, sensor, doc])
                .map_err(duplicate_as("command"))?;
            Ok(())
        })
        .await
    }

    async fn finish_command(&self, command: &DeviceCommand) -> StoreResult<DeviceCommand> {
        let finished = command.clone();
        let doc = to_doc(command)?;
        self.transact(move |tx| {
            let stored: DeviceCommand = query_doc(tx, "SELECT doc FROM commands WHERE id = ?1", [&finished.id])?
                .ok_or_else(|| StoreError::NotFound("command".into()))?;
            if stored.status != CommandStatus::Sent {
                return Ok(stored);
            }
            tx.execute("UPDATE commands SET doc = ?2 WHERE id = ?1", params![finished.id, doc]).map_err(map_error)?;
            Ok(finished)
        })
        .await
    }

    async fn list_commands(&self, sensor_id: &str, limit: usize) -> StoreResult<Vec<DeviceCommand>> {
        let (sensor, limit) = (sensor_id.to_owned(), i64::try_from(limit).unwrap_or(i64::MAX));
        self.read(move |c| {
            query_docs(c, "SELECT doc FROM commands WHERE sensor_id = ?1 ORDER BY key DESC LIMIT ?2", params![sensor, limit])
        })
        .await
    }

    async fn hold_device(&self, device: &ConnectedDevice, replica: &str, until: Timestamp) -> StoreResult<()> {
        let (sensor, replica, until, doc) = (device.sensor_id.clone(), replica.to_owned(), to_ns(&until), to_doc(device)?);
        self.transact(move |tx| {
            tx.execute(
                "INSERT INTO device_holders (sensor_id, replica, until_ns, doc) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (sensor_id) DO UPDATE SET replica = excluded.replica, until_ns = excluded.until_ns, doc = excluded.doc",
                params![sensor, replica, until, doc],
            )
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn update_held_device(&self, device: &ConnectedDevice, replica: &str) -> StoreResult<()> {
        let (sensor, replica, doc) = (device.sensor_id.clone(), replica.to_owned(), to_doc(device)?);
        self.transact(move |tx| {
            tx.execute("UPDATE device_holders SET doc = ?3 WHERE sensor_id = ?1 AND replica = ?2", params![sensor, replica, doc])
                .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn list_held_devices(&self, now: Timestamp) -> StoreResult<Vec<ConnectedDevice>> {
        let now = to_ns(&now);
        self.read(move |c| {
            query_docs(c, "SELECT doc FROM device_holders WHERE until_ns > ?1 AND doc IS NOT NULL ORDER BY sensor_id", [now])
        })
        .await
    }

    async fn renew_device_holds(&self, replica: &str, until: Timestamp) -> StoreResult<()> {
        let (replica, until) = (replica.to_owned(), to_ns(&until));
        self.transact(move |tx| {
            tx.execute("UPDATE device_holders SET until_ns = ?2 WHERE replica = ?1", params![replica, until]).map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn release_device(&self, sensor_id: &str, replica: &str) -> StoreResult<()> {
        let (sensor, replica) = (sensor_id.to_owned(), replica.to_owned());
        self.transact(move |tx| {
            tx.execute("DELETE FROM device_holders WHERE sensor_id = ?1 AND replica = ?2", params![sensor, replica]).map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn device_holder(&self, sensor_id: &str, now: Timestamp) -> StoreResult<Option<String>> {
        let (sensor, now) = (sensor_id.to_owned(), to_ns(&now));
        self.read(move |c| {
            c.query_row("SELECT replica FROM device_holders WHERE sensor_id = ?1 AND until_ns > ?2", params![sensor, now], |r| r.get(0))
                .optional()
                .map_err(map_error)
        })
        .await
    }
}
