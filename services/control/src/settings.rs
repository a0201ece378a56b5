//! The `[control]` settings section (defaults in `services/control/settings.toml`).

use serde::Deserialize;
use srs_common::settings::{SettingsError, SettingsSection};
use srs_common::Settings;

pub const SECTION: SettingsSection = SettingsSection { name: "control", defaults: include_str!("../settings.toml"), check };

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlSettings {
    pub allowed_origins: Vec<String>,
    pub require_device_token: bool,
    pub device_token_cache_secs: u64,
    pub ping_secs: u64,
    pub silence_secs: u64,
    pub max_message_bytes: usize,
    pub hold_secs: u64,
    pub hook_timeout_ms: u64,
}

impl ControlSettings {
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        let control: Self = settings.section(SECTION.name)?;
        let fail = |key: &str, problem: &str| Err(SettingsError(format!("control.{key}: {problem}")));
        if control.ping_secs == 0 {
            return fail("ping_secs", "must be at least 1");
        }
        if control.silence_secs <= control.ping_secs {
            return fail("silence_secs", "must be more than control.ping_secs (a healthy device answers every ping)");
        }
        if !(1..=60_000).contains(&control.hook_timeout_ms) {
            return fail("hook_timeout_ms", "must be 1 to 60000");
        }
        if control.hold_secs < 3 {
            return fail("hold_secs", "must be at least 3 (holds are renewed every third of it)");
        }
        if control.max_message_bytes < 1024 {
            return fail("max_message_bytes", "must be at least 1024");
        }
        Ok(control)
    }
}

fn check(settings: &Settings) -> Result<(), SettingsError> {
    ControlSettings::from_settings(settings).map(|_| ())
}
