//! The `[mqtt]` and `[ttn]` settings sections (defaults in `services/ingest/settings.mqtt.toml`
//! and `settings.ttn.toml`). Passwords and the webhook secret are secret strings: never logged.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use srs_common::settings::{SettingsError, SettingsSection};
use srs_common::Settings;

pub const MQTT_SECTION: SettingsSection =
    SettingsSection { name: "mqtt", defaults: include_str!("../../settings.mqtt.toml"), check: check_mqtt };
pub const TTN_SECTION: SettingsSection =
    SettingsSection { name: "ttn", defaults: include_str!("../../settings.ttn.toml"), check: check_ttn };

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSettings {
    pub url: String,
    pub username: String,
    pub password: SecretString,
    pub client_id: String,
    pub topic_root: String,
    pub session_expiry_secs: u32,
    /// A PEM file of the CA that signed the broker's certificate (a lab's own CA), trusted
    /// instead of the system's roots for `mqtts://`. Empty: the system's roots.
    pub ca_certificate: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TtnSettings {
    pub webhook_secret: SecretString,
    pub mqtt_url: String,
    pub mqtt_username: String,
    pub mqtt_password: SecretString,
}

/// A broker to connect to, from either section.
#[derive(Debug, Clone)]
pub struct Broker {
    pub url: url::Url,
    pub username: String,
    pub password: SecretString,
    pub client_id: String,
    pub session_expiry_secs: u32,
    /// The CA to trust for TLS instead of the system's roots (`mqtt.ca_certificate`).
    pub ca_certificate: Option<std::path::PathBuf>,
}

impl MqttSettings {
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        let mqtt: Self = settings.section(MQTT_SECTION.name)?;
        let valid_root = !mqtt.topic_root.is_empty() && !mqtt.topic_root.contains(['+', '#', '$']) && !mqtt.topic_root.ends_with('/');
        if !valid_root {
            return Err(SettingsError("mqtt.topic_root: must be a topic without wildcards, `$` or a trailing `/`".into()));
        }
        if mqtt.session_expiry_secs == 0 {
            // The session is where the broker keeps what a crashed replica had not acknowledged.
            return Err(SettingsError("mqtt.session_expiry_secs: must be at least 1 (with 0 the broker forgets the messages a crashed replica had not acknowledged)".into()));
        }
        mqtt.broker()?;
        Ok(mqtt)
    }

    /// The broker, when `mqtt.url` is set.
    pub fn broker(&self) -> Result<Option<Broker>, SettingsError> {
        let client_id = if self.client_id.is_empty() { format!("srs-ingest-{}", host_name()) } else { self.client_id.clone() };
        let broker = broker("mqtt.url", &self.url, &self.username, &self.password, client_id, self.session_expiry_secs)?;
        let ca_certificate = Some(std::path::PathBuf::from(&self.ca_certificate)).filter(|path| !path.as_os_str().is_empty());
        if let Some(path) = &ca_certificate {
            if !path.is_file() {
                return Err(SettingsError(format!("mqtt.ca_certificate: {} is not a readable file", path.display())));
            }
        }
        Ok(broker.map(|broker| Broker { ca_certificate, ..broker }))
    }
}

impl TtnSettings {
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        let ttn: Self = settings.section(TTN_SECTION.name)?;
        ttn.broker(&host_name())?;
        Ok(ttn)
    }

    /// TTN's MQTT broker, when `ttn.mqtt_url` is set; `replica` makes the client id unique.
    pub fn broker(&self, replica: &str) -> Result<Option<Broker>, SettingsError> {
        // Every replica reads every uplink (TTN has no shared subscriptions); the idempotency
        // key stores each once. The session is short: TTN keeps none for long either.
        broker("ttn.mqtt_url", &self.mqtt_url, &self.mqtt_username, &self.mqtt_password, format!("srs-ingest-ttn-{replica}"), 3600)
    }

    /// The webhook's secret; `None` while it is empty (the endpoint is off).
    pub fn webhook_secret(&self) -> Option<SecretString> {
        Some(self.webhook_secret.clone()).filter(|secret| !secret.expose_secret().is_empty())
    }
}

fn broker(
    key: &str,
    url: &str,
    username: &str,
    password: &SecretString,
    client_id: String,
    session_expiry_secs: u32,
) -> Result<Option<Broker>, SettingsError> {
    if url.is_empty() {
        return Ok(None);
    }
    // The URL's text is never echoed: it may carry a password.
    let parsed = url::Url::parse(url).map_err(|_| SettingsError(format!("{key}: is not a URL (mqtt://host:1883 or mqtts://host:8883)")))?;
    if !matches!(parsed.scheme(), "mqtt" | "mqtts") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(SettingsError(format!("{key}: must be mqtt://host[:port] or mqtts://host[:port]")));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(SettingsError(format!("{key}: put the login in the username and password settings, not in the URL")));
    }
    Ok(Some(Broker {
        url: parsed,
        username: username.to_owned(),
        password: password.clone(),
        client_id,
        session_expiry_secs,
        ca_certificate: None,
    }))
}

/// The machine's name, for default client ids (a container's is its own).
pub fn host_name() -> String {
    hostname::get().ok().and_then(|name| name.into_string().ok()).unwrap_or_else(|| "local".to_owned())
}

fn check_mqtt(settings: &Settings) -> Result<(), SettingsError> {
    MqttSettings::from_settings(settings).map(|_| ())
}

fn check_ttn(settings: &Settings) -> Result<(), SettingsError> {
    TtnSettings::from_settings(settings).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Settings::load_from(dir.path(), None, env, &[&MQTT_SECTION, &TTN_SECTION])
    }

    #[test]
    fn off_by_default_and_bad_urls_name_the_key_without_echoing_it() {
        let settings = load(&[]).expect("defaults");
        assert!(MqttSettings::from_settings(&settings).expect("mqtt").broker().expect("broker").is_none());
        let ttn = TtnSettings::from_settings(&settings).expect("ttn");
        assert!(ttn.webhook_secret().is_none() && ttn.broker("r").expect("broker").is_none());
        let error = load(&[("SRS__MQTT__SESSION_EXPIRY_SECS", "0")]).expect_err("no session");
        assert!(error.to_string().contains("mqtt.session_expiry_secs"), "{error}");
        let error = load(&[("SRS__MQTT__URL", "http://user:hunter2@host")]).expect_err("scheme");
        assert!(error.to_string().contains("mqtt.url") && !error.to_string().contains("hunter2"), "{error}");
        let error = load(&[("SRS__TTN__MQTT_URL", "not a url hunter2")]).expect_err("url");
        assert!(error.to_string().contains("ttn.mqtt_url") && !error.to_string().contains("hunter2"), "{error}");
        let error = load(&[("SRS__MQTT__URL", "mqtt://user:hunter2@host")]).expect_err("login in the URL");
        assert!(error.to_string().contains("mqtt.url: put the login") && !error.to_string().contains("hunter2"), "{error}");
        let error = load(&[("SRS__MQTT__URL", "mqtts://host"), ("SRS__MQTT__CA_CERTIFICATE", "/nonexistent/ca.pem")]).expect_err("ca");
        assert!(error.to_string().contains("mqtt.ca_certificate"), "{error}");
        let error = load(&[("SRS__MQTT__TOPIC_ROOT", "srs/#")]).expect_err("root");
        assert!(error.to_string().contains("mqtt.topic_root"), "{error}");
        let settings = load(&[("SRS__MQTT__URL", "mqtt://127.0.0.1:1883"), ("SRS__MQTT__CLIENT_ID", "ingest-1")]).expect("set");
        let broker = MqttSettings::from_settings(&settings).expect("mqtt").broker().expect("ok").expect("configured");
        assert_eq!((broker.client_id.as_str(), broker.url.port()), ("ingest-1", Some(1883)));
    }
}
