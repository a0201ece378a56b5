//! Dependencies a service adds to `/readyz` beyond the store and the bus: ingest's MQTT brokers,
//! which make it not ready while they are configured but not connected.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// "ok", or what is wrong, in stable words (no hosts or secrets: `/readyz` is unauthenticated).
pub type Check = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

#[derive(Default)]
pub struct ReadinessChecks(RwLock<Vec<(&'static str, Check)>>);

impl ReadinessChecks {
    pub fn add(&self, name: &'static str, check: Check) {
        if let Ok(mut checks) = self.0.write() {
            checks.push((name, check));
        }
    }

    /// Each check's answer by name: "ok" or the problem.
    pub fn results(&self) -> BTreeMap<String, String> {
        let Ok(checks) = self.0.read() else { return BTreeMap::new() };
        checks.iter().map(|(name, check)| ((*name).to_owned(), check().err().unwrap_or_else(|| "ok".to_owned()))).collect()
    }
}
