//! `DeviceStore` on MongoDB: device commands and which control replica holds each device.

use super::super::*;
use crate::store::DeviceStore;

#[async_trait]
impl DeviceStore for MongoStore {
    async fn insert_command(&self, command: &DeviceCommand) -> StoreResult<()> {
        self.docs("commands").insert_one(command_doc(command)?).await.map_err(duplicate_as("command"))?;
        Ok(())
    }

    async fn finish_command(&self, command: &DeviceCommand) -> StoreResult<DeviceCommand> {
        // Only a command still `sent` takes an outcome; the filter makes that one atomic step.
        let replaced = self
            .docs("commands")
            .find_one_and_replace(doc! {"_id": &command.id, "status": "sent"}, command_doc(command)?)
            .await
            .map_err(map_error)?;
        match replaced {
            Some(_) => Ok(command.clone()),
            None => self.find_one("commands", doc! {"_id": &command.id}).await?.ok_or_else(|| StoreError::NotFound("command".into())),
        }
    }

    async fn list_commands(&self, sensor_id: &str, limit: usize) -> StoreResult<Vec<DeviceCommand>> {
        let cursor = self
            .docs("commands")
            .find(doc! {"sensor_id": sensor_id})
            .sort(doc! {"sent_ns": -1, "_id": -1})
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .map_err(map_error)?;
        let docs: Vec<Document> = cursor.try_collect().await.map_err(map_error)?;
        docs.into_iter().map(from_doc).collect()
    }

    async fn hold_device(&self, device: &ConnectedDevice, replica: &str, until: Timestamp) -> StoreResult<()> {
        let sensor_id = device.sensor_id.as_str();
        let held = bson::to_document(device).map_err(|e| StoreError::Internal(format!("encode document: {e}")))?;
        let holder = doc! {"_id": sensor_id, "replica": replica, "until_ns": to_ns(&until), "device": held};
        self.docs("device_holders").replace_one(doc! {"_id": sensor_id}, holder).upsert(true).await.map_err(map_error)?;
        Ok(())
    }

    async fn update_held_device(&self, device: &ConnectedDevice, replica: &str) -> StoreResult<()> {
        let held = bson::to_document(device).map_err(|e| StoreError::Internal(format!("encode document: {e}")))?;
        self.docs("device_holders")
            .update_one(doc! {"_id": device.sensor_id.as_str(), "replica": replica}, doc! {"$set": {"device": held}})
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn list_held_devices(&self, now: Timestamp) -> StoreResult<Vec<ConnectedDevice>> {
        let filter = doc! {"until_ns": {"$gt": to_ns(&now)}, "device": {"$exists": true}};
        let cursor = self.docs("device_holders").find(filter).sort(doc! {"_id": 1}).await.map_err(map_error)?;
        let holders: Vec<Document> = cursor.try_collect().await.map_err(map_error)?;
        holders
            .into_iter()
            .map(|holder| {
                let device = holder.get_document("device").map_err(|e| StoreError::Internal(format!("decode device: {e}")))?;
                from_doc(device.clone())
            })
            .collect()
    }

    async fn renew_device_holds(&self, replica: &str, until: Timestamp) -> StoreResult<()> {
        self.docs("device_holders")
            .update_many(doc! {"replica": replica}, doc! {"$set": {"until_ns": to_ns(&until)}})
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn release_device(&self, sensor_id: &str, replica: &str) -> StoreResult<()> {
        self.docs("device_holders").delete_one(doc! {"_id": sensor_id, "replica": replica}).await.map_err(map_error)?;
        Ok(())
    }

    async fn device_holder(&self, sensor_id: &str, now: Timestamp) -> StoreResult<Option<String>> {
        let found =
            self.docs("device_holders").find_one(doc! {"_id": sensor_id, "until_ns": {"$gt": to_ns(&now)}}).await.map_err(map_error)?;
        Ok(found.and_then(|holder| holder.get_str("replica").ok().map(str::to_owned)))
    }
}
