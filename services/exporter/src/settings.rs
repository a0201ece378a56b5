//! The `[exporter]` settings section (defaults in `services/exporter/settings.toml`).

use serde::Deserialize;
use srs_common::settings::{SettingsError, SettingsSection};
use srs_common::Settings;
use std::path::{Path, PathBuf};

pub const SECTION: SettingsSection = SettingsSection { name: "exporter", defaults: include_str!("../settings.toml"), check };

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExporterSettings {
    pub dir: PathBuf,
    pub workers: usize,
    pub queue: String,
    pub lease_secs: u64,
    pub reconcile_secs: u64,
}

impl ExporterSettings {
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        let exporter: Self = settings.section(SECTION.name)?;
        let fail = |key: &str, problem: &str| Err(SettingsError(format!("exporter.{key}: {problem}")));
        if exporter.workers == 0 {
            return fail("workers", "must be at least 1");
        }
        if exporter.lease_secs < 3 {
            return fail("lease_secs", "must be at least 3 (the lease is renewed every second)");
        }
        if exporter.reconcile_secs == 0 {
            return fail("reconcile_secs", "must be at least 1");
        }
        if exporter.queue.is_empty() {
            return fail("queue", "must not be empty");
        }
        Ok(exporter)
    }

    /// Where exports are written: `exporter.dir`, or `exports/` in the data directory.
    pub fn exports_dir(&self, data_dir: &Path) -> PathBuf {
        if self.dir.as_os_str().is_empty() {
            data_dir.join("exports")
        } else {
            self.dir.clone()
        }
    }
}

fn check(settings: &Settings) -> Result<(), SettingsError> {
    ExporterSettings::from_settings(settings).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_bad_values_name_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let load = |env: &[(&str, &str)]| {
            Settings::load_from(dir.path(), None, env.iter().map(|(k, v)| (k.to_string(), v.to_string())), &[&SECTION])
        };
        let settings = load(&[]).expect("defaults");
        let exporter = ExporterSettings::from_settings(&settings).expect("exporter");
        assert_eq!(exporter.exports_dir(Path::new("data")), Path::new("data/exports"));
        let error = load(&[("SRS__EXPORTER__LEASE_SECS", "1")]).expect_err("short lease");
        assert!(error.to_string().contains("exporter.lease_secs"), "{error}");
    }
}
