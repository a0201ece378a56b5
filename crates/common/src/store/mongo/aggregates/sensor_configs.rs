//! `SensorConfigStore` on MongoDB: sensor configs.

use super::super::*;
use crate::store::SensorConfigStore;

#[async_trait]
impl SensorConfigStore for MongoStore {
    async fn insert_sensor_config(&self, config: &SensorConfig) -> StoreResult<()> {
        self.insert("sensor_configs", &config.id, config, "sensor config").await
    }

    async fn get_sensor_config(&self, id: &str) -> StoreResult<Option<SensorConfig>> {
        self.find_one("sensor_configs", doc! {"_id": id}).await
    }

    async fn list_sensor_configs(&self) -> StoreResult<Vec<SensorConfig>> {
        self.find_all("sensor_configs", doc! {}, doc! {"_id": 1}).await
    }

    async fn update_sensor_config(&self, config: &SensorConfig) -> StoreResult<SensorConfig> {
        let updated = SensorConfig { version: config.version + 1, ..config.clone() };
        // Configs written before versions existed have none: they count as version 0.
        let read_version = config.version as i64;
        let filter = if read_version == 0 {
            doc! {"_id": &config.id, "$or": [{"version": 0_i64}, {"version": {"$exists": false}}]}
        } else {
            doc! {"_id": &config.id, "version": read_version}
        };
        let result = self.docs("sensor_configs").replace_one(filter, with_id(&updated, &config.id)?).await.map_err(map_error)?;
        if result.matched_count == 1 {
            return Ok(updated);
        }
        match self.get_sensor_config(&config.id).await? {
            Some(_) => Err(StoreError::Conflict("the sensor config was changed meanwhile".into())),
            None => Err(StoreError::NotFound("sensor config".into())),
        }
    }
}
