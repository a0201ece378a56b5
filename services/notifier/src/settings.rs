//! The `[notifier]` settings section (defaults in `services/notifier/settings.toml`). Channel
//! secrets (the SMTP URL with its password, the Slack and webhook URLs, the webhook secret) are
//! secret strings: never logged, never shown by the channels endpoint.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use srs_common::settings::{SettingsError, SettingsSection};
use srs_common::Settings;

pub const SECTION: SettingsSection = SettingsSection { name: "notifier", defaults: include_str!("../settings.toml"), check };

/// The rules, by the names settings and alerts use.
pub const RULES: &[&str] = &["export_completed", "export_failed", "sensor_silent", "device_disconnected", "disk_low"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifierSettings {
    pub silence_secs: u64,
    pub startup_grace_secs: u64,
    pub disk_free_min_mb: u64,
    pub disk_free_min_percent: f64,
    pub disk_check_secs: u64,
    pub rules_disabled: Vec<String>,
    pub delivery_deadline_secs: u64,
    pub console_url: String,
    pub queue: String,
    pub email: EmailSettings,
    pub slack: SlackSettings,
    pub webhook: WebhookSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    pub smtp_url: SecretString,
    pub from: String,
    pub to: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {
    pub webhook_url: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub url: SecretString,
    pub secret: SecretString,
}

impl NotifierSettings {
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        let notifier: Self = settings.section(SECTION.name)?;
        let fail = |key: &str, problem: String| Err(SettingsError(format!("notifier.{key}: {problem}")));
        if notifier.silence_secs == 0 {
            return fail("silence_secs", "must be at least 1".into());
        }
        if notifier.disk_check_secs == 0 {
            return fail("disk_check_secs", "must be at least 1".into());
        }
        if !(0.0..100.0).contains(&notifier.disk_free_min_percent) {
            return fail("disk_free_min_percent", "must be from 0 to under 100".into());
        }
        if notifier.delivery_deadline_secs == 0 {
            return fail("delivery_deadline_secs", "must be at least 1".into());
        }
        if let Some(unknown) = notifier.rules_disabled.iter().find(|rule| !RULES.contains(&rule.as_str())) {
            return fail("rules_disabled", format!("no rule \"{unknown}\" (rules: {})", RULES.join(", ")));
        }
        if notifier.queue.trim().is_empty() {
            return fail("queue", "must name a queue".into());
        }
        let console = notifier.console_url.trim_end_matches('/');
        if !console.is_empty() && reqwest::Url::parse(console).is_err() {
            return fail("console_url", format!("\"{console}\" is not a URL"));
        }
        let email = &notifier.email;
        if !email.smtp_url.expose_secret().is_empty() {
            if email.to.is_empty() {
                return fail("email.to", "names nobody, but notifier.email.smtp_url is set".into());
            }
            // Its error names the key itself.
            crate::channels::Email::new(email).map_err(SettingsError)?;
        }
        Ok(notifier)
    }

    pub fn rule_enabled(&self, rule: &str) -> bool {
        !self.rules_disabled.iter().any(|r| r == rule)
    }

    /// A link to `path` of the console: a full URL when `console_url` is set, else the path.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.console_url.trim_end_matches('/'))
    }
}

fn check(settings: &Settings) -> Result<(), SettingsError> {
    NotifierSettings::from_settings(settings).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<NotifierSettings, SettingsError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = Settings::load_from(dir.path(), None, env.iter().map(|(k, v)| (k.to_string(), v.to_string())), &[&SECTION])?;
        NotifierSettings::from_settings(&settings)
    }

    #[test]
    fn defaults_load_and_bad_values_name_the_key() {
        let notifier = load(&[]).expect("defaults");
        assert_eq!((notifier.silence_secs, notifier.link("/experiments/x")), (10, "/experiments/x".to_owned()));
        let error = load(&[("SRS__NOTIFIER__RULES_DISABLED", "export_completed,nap_time")]).expect_err("unknown rule");
        assert!(error.0.starts_with("notifier.rules_disabled: no rule \"nap_time\""), "{error}");
        let error = load(&[("SRS__NOTIFIER__EMAIL__SMTP_URL", "smtp://127.0.0.1:2525")]).expect_err("nobody to mail");
        assert!(error.0.starts_with("notifier.email.to"), "{error}");
        let notifier = load(&[
            ("SRS__NOTIFIER__EMAIL__SMTP_URL", "smtp://127.0.0.1:2525"),
            ("SRS__NOTIFIER__EMAIL__TO", "ada@lab.example,bo@lab.example"),
        ])
        .expect("recipients as a list");
        assert_eq!(notifier.email.to, ["ada@lab.example", "bo@lab.example"]);
        let smtp = |url: &str, to: &str| load(&[("SRS__NOTIFIER__EMAIL__SMTP_URL", url), ("SRS__NOTIFIER__EMAIL__TO", to)]);
        for url in ["smtp://relay:25", "smtp://u:p@relay:587?tls=required", "smtps://u:p@relay:465"] {
            smtp(url, "ada@lab.example").unwrap_or_else(|e| panic!("{url}: {e}"));
        }
        let error = smtp("http://u:secret@relay", "ada@lab.example").expect_err("not smtp");
        assert!(error.0.starts_with("notifier.email.smtp_url") && !error.0.contains("secret"), "{error}");
        assert!(smtp("smtp://relay:25", "not an address").expect_err("bad address").0.starts_with("notifier.email.to"));
        let notifier = load(&[("SRS__NOTIFIER__CONSOLE_URL", "https://srs.lab.example/")]).expect("console");
        assert_eq!(notifier.link("/exports/e"), "https://srs.lab.example/exports/e");
    }
}
