//! Settings, layered with the `config` crate:
//! built-in defaults -> `config/default.toml` -> `config/{SRS_ENV}.toml` -> `SRS__SECTION__KEY`.
//! The sections every service uses (server, data, log, store, bus, sensors, auth) are here; a
//! service with settings of its own (`[ingest]`, `[exporter]`) owns that section: its type,
//! built-in defaults and checks live with the service and are registered with the loader as a
//! [`SettingsSection`]. Every struct denies unknown fields; secrets are `SecretString` and
//! never printed.

use ipnet::IpNet;
use secrecy::SecretString;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// The defaults every binary carries, so `srs serve` runs from any directory.
const BUILT_IN_DEFAULTS: &str = include_str!("../../../../config/default.toml");

mod sections;

pub use sections::{ServiceSections, SettingsSection, SERVICE_SECTIONS};

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub data: DataSettings,
    pub log: LogSettings,
    pub store: StoreSettings,
    pub bus: BusSettings,
    pub sensors: SensorsSettings,
    pub auth: AuthSettings,
    /// The services' own sections, read with [`Settings::section`].
    #[serde(flatten)]
    pub services: ServiceSections,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub shutdown_timeout_secs: u64,
    pub behind_proxy: bool,
    /// The proxies whose `X-Forwarded-For` is believed (IP addresses or CIDR ranges).
    #[serde(deserialize_with = "addresses_or_ranges")]
    pub trusted_proxies: Vec<IpNet>,
}

impl ServerSettings {
    /// The proxies to read `X-Forwarded-For` from: none unless `behind_proxy` is set.
    pub fn forwarding_proxies(&self) -> Option<&[IpNet]> {
        self.behind_proxy.then_some(self.trusted_proxies.as_slice())
    }
}

/// `SRS__SECTION__KEY_FILE=/run/secrets/x` sets `SRS__SECTION__KEY` to the file's content (a
/// trailing newline dropped), so secrets can be docker secrets instead of environment
/// variables; the file wins over a plain `SRS__SECTION__KEY`. (`SRS__SENSORS__FILE` is the
/// setting `sensors.file`, not a secret file.)
fn with_secret_files(vars: Vec<(String, String)>) -> Result<Vec<(String, String)>, SettingsError> {
    let mut plain = Vec::with_capacity(vars.len());
    let mut from_files = Vec::new();
    for (key, value) in vars {
        match key.strip_suffix("_FILE").filter(|setting| !setting.ends_with('_')) {
            Some(setting) => {
                let content = std::fs::read_to_string(&value).map_err(|e| SettingsError(format!("{key}: cannot read {value}: {e}")))?;
                from_files.push((setting.to_owned(), content.trim_end_matches(['\n', '\r']).to_owned()));
            }
            None => plain.push((key, value)),
        }
    }
    plain.retain(|(key, _)| !from_files.iter().any(|(setting, _)| setting == key));
    plain.extend(from_files);
    Ok(plain)
}

/// `"10.0.0.7"` means that one address, `"10.0.0.0/8"` the range.
fn addresses_or_ranges<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<IpNet>, D::Error> {
    let entries = Vec::<String>::deserialize(deserializer)?;
    entries
        .iter()
        .map(|entry| {
            let entry = entry.trim();
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| serde::de::Error::custom(format!("{entry:?} is not an IP address or CIDR range")))
        })
        .collect()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSettings {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    Sqlite,
    Mongodb,
}

/// How hard SQLite syncs a commit to disk (its `synchronous` pragma, in WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// Commits survive a process crash.
    #[default]
    Normal,
    /// Commits also survive a power cut or an OS crash.
    Full,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    pub backend: StoreBackend,
    pub sqlite_path: PathBuf,
    pub sqlite_synchronous: SqliteSynchronous,
    pub mongodb_uri: SecretString,
    pub mongodb_database: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BusBackend {
    Memory,
    Amqp,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusSettings {
    pub backend: BusBackend,
    pub amqp_url: SecretString,
    pub heartbeat_secs: u16,
    pub publish_timeout_ms: u64,
    pub job_delivery_limit: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorsSettings {
    pub file: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub jwt_private_key: PathBuf,
    pub jwt_public_key: PathBuf,
    pub issuer: String,
    pub audience: String,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    pub login_attempts_per_account_per_minute: u32,
    pub login_attempts_per_address_per_minute: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid settings: {0}")]
pub struct SettingsError(pub String);

impl Settings {
    /// Loads settings from `config/` in the working directory (or `SRS_CONFIG_DIR`) and the
    /// process environment, with the sections of the services the process runs.
    pub fn load(sections: &[&SettingsSection]) -> Result<Self, SettingsError> {
        let dir = std::env::var_os("SRS_CONFIG_DIR").map_or_else(|| PathBuf::from("config"), PathBuf::from);
        let env = std::env::var("SRS_ENV").ok();
        Self::load_from(&dir, env.as_deref(), std::env::vars(), sections)
    }

    /// The layering, with every input explicit so tests need not touch the process environment.
    /// `sections`' defaults come right after the built-in ones; each is checked once loaded.
    pub fn load_from(
        config_dir: &Path,
        env_name: Option<&str>,
        env_vars: impl IntoIterator<Item = (String, String)>,
        sections: &[&SettingsSection],
    ) -> Result<Self, SettingsError> {
        let mut builder = config::Config::builder().add_source(config::File::from_str(BUILT_IN_DEFAULTS, config::FileFormat::Toml));
        for section in sections {
            builder = builder.add_source(config::File::from_str(section.defaults, config::FileFormat::Toml));
        }
        builder = builder.add_source(config::File::from(config_dir.join("default.toml")).required(false));
        if let Some(env_name) = env_name.filter(|name| !name.is_empty()) {
            let file = config_dir.join(format!("{env_name}.toml"));
            builder = builder.add_source(config::File::from(file).required(false));
        }
        let vars = with_secret_files(env_vars.into_iter().filter(|(key, _)| key.starts_with("SRS__")).collect())?;
        let environment = config::Environment::with_prefix("SRS")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("server.trusted_proxies")
            .with_list_parse_key("control.allowed_origins")
            .with_list_parse_key("notifier.rules_disabled")
            .with_list_parse_key("notifier.email.to")
            .source(Some(vars.into_iter().collect()));
        let settings: Settings =
            builder.add_source(environment).build().and_then(config::Config::try_deserialize).map_err(|e| SettingsError(e.to_string()))?;
        settings.validate()?;
        settings.services.check_names()?;
        for section in sections {
            (section.check)(&settings)?;
        }
        Ok(settings)
    }

    /// A service's section as its type (which denies unknown keys); the error names the key.
    pub fn section<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, SettingsError> {
        self.services.get(name)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let fail = |key: &str, problem: &str| Err(SettingsError(format!("{key}: {problem}")));
        if self.data.dir.as_os_str().is_empty() {
            return fail("data.dir", "must not be empty");
        }
        if self.bus.heartbeat_secs == 0 {
            return fail("bus.heartbeat_secs", "must be at least 1");
        }
        if self.bus.job_delivery_limit == 0 {
            return fail("bus.job_delivery_limit", "must be at least 1");
        }
        if self.auth.access_token_ttl_secs < 60 {
            return fail("auth.access_token_ttl_secs", "must be at least 60");
        }
        if self.auth.refresh_token_ttl_secs < self.auth.access_token_ttl_secs {
            return fail("auth.refresh_token_ttl_secs", "must be at least auth.access_token_ttl_secs");
        }
        if self.auth.login_attempts_per_account_per_minute == 0 || self.auth.login_attempts_per_address_per_minute == 0 {
            return fail("auth.login_attempts_per_*_per_minute", "must be at least 1");
        }
        if self.auth.issuer.is_empty() || self.auth.audience.is_empty() {
            return fail("auth.issuer/auth.audience", "must not be empty");
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return fail("log.level", "is not a valid filter (e.g. \"info\" or \"srs=debug,info\")");
        }
        if self.store.backend == StoreBackend::Mongodb && self.store.mongodb_database.is_empty() {
            return fail("store.mongodb_database", "must not be empty");
        }
        Ok(())
    }

    /// The SQLite file: `store.sqlite_path`, or `srs.db` in the data directory.
    pub fn sqlite_path(&self) -> PathBuf {
        if self.store.sqlite_path.as_os_str().is_empty() {
            self.data.dir.join("srs.db")
        } else {
            self.store.sqlite_path.clone()
        }
    }

    /// The JWT key files: the configured ones, or `jwt/` in the data directory.
    pub fn jwt_key_paths(&self) -> (PathBuf, PathBuf) {
        let dir = self.data.dir.join("jwt");
        let private =
            if self.auth.jwt_private_key.as_os_str().is_empty() { dir.join("private.pem") } else { self.auth.jwt_private_key.clone() };
        let public =
            if self.auth.jwt_public_key.as_os_str().is_empty() { dir.join("public.pem") } else { self.auth.jwt_public_key.clone() };
        (private, public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn built_in_defaults_run_embedded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = Settings::load_from(dir.path(), None, vars(&[]), &[]).expect("defaults load");
        assert_eq!(settings.store.backend, StoreBackend::Sqlite);
        assert_eq!(settings.bus.backend, BusBackend::Memory);
        assert_eq!(settings.server.listen.port(), 8080);
        assert_eq!(settings.sqlite_path(), PathBuf::from("./data/srs.db"));
        assert_eq!(settings.store.sqlite_synchronous, SqliteSynchronous::Normal);
        assert_eq!(settings.server.forwarding_proxies(), None, "X-Forwarded-For is ignored unless behind_proxy is set");
        assert_eq!(settings.server.trusted_proxies, ["127.0.0.1/32".parse::<IpNet>().expect("net"), "::1/128".parse().expect("net")]);
    }

    #[test]
    fn trusted_proxies_take_addresses_and_ranges_from_the_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = vars(&[("SRS__SERVER__BEHIND_PROXY", "true"), ("SRS__SERVER__TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.4")]);
        let settings = Settings::load_from(dir.path(), None, env, &[]).expect("loads");
        let want: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net"), "192.0.2.4/32".parse().expect("net")];
        assert_eq!(settings.server.forwarding_proxies(), Some(want.as_slice()));
    }

    #[test]
    fn a_setting_can_come_from_a_secret_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = dir.path().join("amqp_url");
        std::fs::write(&secret, "amqp://srs:from-file@rabbitmq:5672/srs\n").expect("write");
        let env = vars(&[
            ("SRS__BUS__AMQP_URL", "amqp://guest:plain@h:5672/%2f"),
            ("SRS__BUS__AMQP_URL_FILE", secret.to_str().expect("utf-8")),
            ("SRS__SENSORS__FILE", ""),
        ]);
        let settings = Settings::load_from(dir.path(), None, env, &[]).expect("loads");
        assert_eq!(settings.bus.amqp_url.expose_secret(), "amqp://srs:from-file@rabbitmq:5672/srs", "the file wins, its newline dropped");
        let missing = vars(&[("SRS__STORE__MONGODB_URI_FILE", "/nonexistent/secret")]);
        let error = Settings::load_from(dir.path(), None, missing, &[]).expect_err("an unreadable secret file is an error");
        assert!(error.to_string().contains("SRS__STORE__MONGODB_URI_FILE"), "{error}");
    }

    #[test]
    fn files_then_environment_override_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("default.toml"), "[log]\nlevel = \"debug\"\n[server]\nlisten = \"0.0.0.0:9000\"\n").expect("write");
        std::fs::write(dir.path().join("prod.toml"), "[log]\nformat = \"json\"\n[server]\nlisten = \"0.0.0.0:9001\"\n").expect("write");
        let settings = Settings::load_from(
            dir.path(),
            Some("prod"),
            vars(&[("SRS__SERVER__LISTEN", "127.0.0.1:9002"), ("SRS_ENV", "prod"), ("SRS__BUS__AMQP_URL", "amqp://u:secret@h:5672/%2f")]),
            &[],
        )
        .expect("loads");
        assert_eq!(settings.log.level, "debug");
        assert_eq!(settings.log.format, LogFormat::Json);
        assert_eq!(settings.server.listen.port(), 9002);
        assert_eq!(settings.bus.amqp_url.expose_secret(), "amqp://u:secret@h:5672/%2f");
        assert!(!format!("{settings:?}").contains("secret@"), "secrets must not appear in Debug output");
    }

    #[test]
    fn unknown_and_bad_settings_name_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let error = Settings::load_from(dir.path(), None, vars(&[("SRS__SERVER__LISTN", "x")]), &[]).expect_err("unknown key");
        assert!(error.to_string().contains("listn"), "{error}");
        let error = Settings::load_from(dir.path(), None, vars(&[("SRS__SERVER__LISTEN", "nowhere")]), &[]).expect_err("bad address");
        assert!(error.to_string().contains("listen"), "{error}");
        let error = Settings::load_from(dir.path(), None, vars(&[("SRS__STORE__BACKEND", "oracle")]), &[]).expect_err("bad backend");
        assert!(error.to_string().contains("backend"), "{error}");
        let error =
            Settings::load_from(dir.path(), None, vars(&[("SRS__STORE__SQLITE_SYNCHRONOUS", "sometimes")]), &[]).expect_err("bad sync");
        assert!(error.to_string().contains("sometimes"), "{error}");
        let error = Settings::load_from(dir.path(), None, vars(&[("SRS__SERVER__TRUSTED_PROXIES", "10.0.0.0/8,proxy")]), &[])
            .expect_err("bad proxy");
        assert!(error.to_string().contains("\"proxy\" is not an IP address"), "{error}");
        let error = Settings::load_from(dir.path(), None, vars(&[("SRS__BUS__HEARTBEAT_SECS", "0")]), &[]).expect_err("zero heartbeat");
        assert!(error.to_string().contains("bus.heartbeat_secs"), "{error}");
    }
}
