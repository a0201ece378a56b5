//! The `[ingest]` settings section (defaults in `services/ingest/settings.toml`).

use serde::Deserialize;
use srs_common::settings::{SettingsError, SettingsSection};
use srs_common::Settings;

pub const SECTION: SettingsSection = SettingsSection { name: "ingest", defaults: include_str!("../settings.toml"), check };

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSettings {
    pub require_device_token: bool,
    pub max_body_bytes: usize,
    pub max_samples_per_request: usize,
    pub queue_capacity: usize,
    pub max_batch_samples: usize,
    pub device_token_cache_secs: u64,
}

impl IngestSettings {
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        let ingest: Self = settings.section(SECTION.name)?;
        let fail = |key: &str, problem: &str| Err(SettingsError(format!("ingest.{key}: {problem}")));
        if ingest.max_samples_per_request == 0 || ingest.max_body_bytes == 0 {
            return fail("max_samples_per_request/max_body_bytes", "must be at least 1");
        }
        if ingest.queue_capacity < ingest.max_samples_per_request {
            return fail("queue_capacity", "must hold at least one full request (ingest.max_samples_per_request)");
        }
        if ingest.max_batch_samples == 0 {
            return fail("max_batch_samples", "must be at least 1");
        }
        Ok(ingest)
    }
}

fn check(settings: &Settings) -> Result<(), SettingsError> {
    IngestSettings::from_settings(settings).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Settings::load_from(dir.path(), None, env, &[&SECTION])
    }

    #[test]
    fn defaults_load_and_bad_values_name_the_key() {
        let settings = load(&[]).expect("defaults");
        assert_eq!(IngestSettings::from_settings(&settings).expect("ingest").max_samples_per_request, 10_000);
        let error = load(&[("SRS__INGEST__QUEUE_CAPACITY", "10")]).expect_err("small queue");
        assert!(error.to_string().contains("ingest.queue_capacity"), "{error}");
        let error = load(&[("SRS__INGEST__MAX_BATCH", "10")]).expect_err("unknown key");
        assert!(error.to_string().contains("max_batch"), "{error}");
    }
}
