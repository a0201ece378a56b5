//! What every handler and background task of a service can reach.

use crate::auth::jwt::JwtKeys;
use crate::bus::DynBus;
use crate::sensors::SensorCatalog;
use crate::store::DynStore;
use crate::Settings;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppContext {
    pub settings: Arc<Settings>,
    pub store: DynStore,
    pub bus: DynBus,
    pub sensors: Arc<SensorCatalog>,
    pub jwt: Arc<JwtKeys>,
    /// What a service adds to `/readyz` (ingest: its MQTT brokers).
    pub readiness: Arc<crate::readiness::ReadinessChecks>,
}

/// Why start-up failed, as one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Sensors(#[from] crate::sensors::SensorsFileError),
    #[error("cannot open the store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("cannot open the bus: {0}")]
    Bus(#[from] crate::bus::BusError),
    #[error(transparent)]
    Jwt(#[from] crate::auth::jwt::JwtError),
}

impl AppContext {
    /// Loads the sensors file, opens the store and the bus the settings choose, and loads the
    /// JWT keys (generating them in the data directory on the embedded default's first start).
    pub async fn open(settings: Settings) -> Result<Self, StartupError> {
        let sensors = Arc::new(SensorCatalog::load(&settings.sensors.file)?);
        let store = crate::store::open(&settings).await?;
        let jwt = Arc::new(JwtKeys::load(&settings)?);
        let bus = crate::bus::open(&settings).await?;
        Ok(Self { settings: Arc::new(settings), store, bus, sensors, jwt, readiness: Arc::default() })
    }
}
