//! The services' own settings sections. A service registers its [`SettingsSection`] (name,
//! built-in defaults, check) with the loader; the loaded values wait in [`ServiceSections`]
//! until the service reads them as its type. One environment file serves every binary of a
//! deployment: a binary accepts the sections of services it does not run (by name, see
//! [`SERVICE_SECTIONS`]) and leaves their checks to the binary that runs them; only a section
//! no service has is an error.

use super::{Settings, SettingsError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// The section of every service that has one. `srs serve`, which runs them all, checks each;
/// a test there keeps this list equal to its services' sections.
pub const SERVICE_SECTIONS: &[&str] = &["ingest", "mqtt", "ttn", "exporter", "control", "notifier"];

/// A service's settings section.
pub struct SettingsSection {
    /// The TOML table (`ingest` for `[ingest]`, `SRS__INGEST__...`).
    pub name: &'static str,
    /// Its built-in defaults, a TOML document with the one table.
    pub defaults: &'static str,
    /// Reads the section as the service's type and checks its values; the error names the key.
    pub check: fn(&Settings) -> Result<(), SettingsError>,
}

/// The loaded values of the services' sections, by name.
#[derive(Clone, Default, Deserialize)]
pub struct ServiceSections(BTreeMap<String, config::Value>);

impl ServiceSections {
    /// Any section that belongs to no service is a typo or a stale setting: an error.
    pub(super) fn check_names(&self) -> Result<(), SettingsError> {
        match self.0.keys().find(|name| !SERVICE_SECTIONS.contains(&name.as_str())) {
            Some(name) => Err(SettingsError(format!(
                "unknown section `{name}` (known: server, data, log, store, bus, sensors, auth, {})",
                SERVICE_SECTIONS.join(", ")
            ))),
            None => Ok(()),
        }
    }

    /// The section `name` as `T`; an absent section reads as an empty table.
    pub(super) fn get<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, SettingsError> {
        let value = self.0.get(name).cloned().unwrap_or_else(|| config::Value::new(None, config::Map::<String, config::Value>::new()));
        value.try_deserialize().map_err(|error| SettingsError(format!("{name}: {error}")))
    }
}

/// Only the names: a section's values may hold secrets.
impl fmt::Debug for ServiceSections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}
