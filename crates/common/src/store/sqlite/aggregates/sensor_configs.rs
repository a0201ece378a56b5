//! `SensorConfigStore` on SQLite: sensor configs.

use super::super::*;
use crate::store::SensorConfigStore;

#[async_trait]
impl SensorConfigStore for SqliteStore {
    async fn insert_sensor_config(&self, config: &SensorConfig) -> StoreResult<()> {
        let (id, doc) = (config.id.clone(), to_doc(config)?);
        self.transact(move |tx| {
            tx.execute("INSERT INTO sensor_configs (id, doc) VALUES (?1, ?2)", params![id, doc]).map_err(duplicate_as("sensor config"))?;
            Ok(())
        })
        .await
    }

    async fn get_sensor_config(&self, id: &str) -> StoreResult<Option<SensorConfig>> {
        let id = id.to_owned();
        self.read(move |c| query_doc(c, "SELECT doc FROM sensor_configs WHERE id = ?1", [id])).await
    }

    async fn list_sensor_configs(&self) -> StoreResult<Vec<SensorConfig>> {
        self.read(|c| query_docs(c, "SELECT doc FROM sensor_configs ORDER BY key", [])).await
    }

    async fn update_sensor_config(&self, config: &SensorConfig) -> StoreResult<SensorConfig> {
        let read_version = config.version as i64;
        let updated = SensorConfig { version: config.version + 1, ..config.clone() };
        let (id, doc) = (config.id.clone(), to_doc(&updated)?);
        self.transact(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE sensor_configs SET doc = ?2 WHERE id = ?1 AND COALESCE(json_extract(doc, '$.version'), 0) = ?3",
                    params![id, doc, read_version],
                )
                .map_err(map_error)?;
            if changed == 0 {
                let exists = tx.query_row("SELECT 1 FROM sensor_configs WHERE id = ?1", [&id], |_| Ok(())).optional().map_err(map_error)?;
                return Err(match exists {
                    Some(()) => StoreError::Conflict("the sensor config was changed meanwhile".into()),
                    None => StoreError::NotFound("sensor config".into()),
                });
            }
            Ok(updated)
        })
        .await
    }
}
