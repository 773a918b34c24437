//! Configuration: one typed struct, loaded once from an optional TOML file and
//! `CROSSROADS_*` environment variables, then from command-line overrides.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Environment variables that start with the prefix but are not configuration keys.
const NOT_CONFIG_KEYS: &[&str] = &["config", "test_postgres_url"];

/// The hub's effective configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory for the embedded database and generated keys.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; absent means SQLite in `data_dir`.
    pub database_url: Option<DatabaseUrl>,
    /// Maximum number of pooled database connections.
    pub database_pool_size: u32,
    /// How long an SQLite connection waits for a lock, in milliseconds.
    pub sqlite_busy_timeout_ms: u32,
    /// Address the HTTP server listens on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The hub's externally visible base URL, e.g. `https://hub.example.gov`:
    /// the token issuer, and the base of schema `$id`s. Absent means
    /// `http://<listen>`.
    pub public_url: Option<PublicUrl>,
    /// PEM bundle of the CA certificates that agency certificates must chain to.
    pub trust_anchors_file: Option<PathBuf>,
    /// PEM certificate chain the hub serves HTTPS with (with `tls_key_file`);
    /// absent means plain HTTP (behind a TLS-terminating proxy).
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// PEM bundle of CA certificates trusted for providers' HTTPS endpoints,
    /// besides the system's roots (e.g. a government's private CA).
    pub provider_ca_file: Option<PathBuf>,
    /// PKCS#8 file of the hub's signing key; absent means keys generated and
    /// kept in `<data_dir>/keys/`.
    pub hub_key_file: Option<PathBuf>,
    /// File of the secret (at least 32 bytes) behind sector pseudonyms;
    /// absent means one generated in `<data_dir>/keys/`.
    pub pseudonym_secret_file: Option<PathBuf>,
    /// File of the key (32 bytes) that encrypts citizens' TOTP secrets at
    /// rest; absent means one generated in `<data_dir>/keys/totp.key`.
    pub totp_key_file: Option<PathBuf>,
    /// Argon2id memory per password hash, in KiB.
    pub argon2_memory_kib: u32,
    /// Argon2id passes per password hash.
    pub argon2_iterations: u32,
    /// Lifetime of the access tokens the hub issues, in seconds (at most 900).
    pub access_token_ttl_secs: u32,
    /// The audit log's origin line in checkpoints; absent means
    /// `<public_url host>/log`.
    pub log_origin: Option<String>,
    /// File holding the audit log's note signer key; absent means
    /// `<data_dir>/keys/log.key`, made on first use.
    pub log_signer_key_file: Option<PathBuf>,
    /// How long a caller waits for its audit entry to be in the log, in
    /// milliseconds; past it a lookup is answered 503 `audit_unavailable`
    /// (with its exchange id and no record), and the entry is still appended.
    pub audit_append_timeout_ms: u32,
    /// How long a consent-use reservation may stay pending (its lookup's
    /// provider call and append unfinished) before the sequencer audits it
    /// as `lookup.interrupted`, in seconds: longer than any provider timeout
    /// plus the append timeout.
    pub lookup_interrupted_after_secs: u32,
    /// The largest answer read from a provider, in bytes; a larger one is
    /// refused (`502 provider_invalid_response`) without reading the rest.
    pub provider_max_response_bytes: usize,
    /// The overall deadline of a batch lookup, in seconds.
    pub batch_timeout_secs: u32,
    /// Accept plain `http://` provider endpoints (development and tests
    /// only): otherwise a provider must be reached over `https://`.
    pub allow_insecure_providers: bool,
    /// Accept plain `http://` webhook URLs (development and tests only):
    /// otherwise a webhook must be `https://`.
    pub allow_insecure_webhooks: bool,
    /// Let webhooks reach loopback, private, link-local and other
    /// non-public addresses (development and tests only). Checked on the
    /// address connected to, not only on the name.
    pub webhook_allow_private: bool,
    /// How long a webhook may take to answer one batch, in seconds.
    pub webhook_timeout_secs: u32,
    /// How long a notification is retried (with exponential backoff)
    /// before it is dead-lettered, in hours.
    pub notification_retry_hours: u32,
    /// How long a notification's record is kept for the pull feed to
    /// replay, in days; then only its metadata and audit entries remain.
    pub notification_retention_days: u32,
    /// Most notifications waiting for one agency; beyond it new ones are
    /// dead-lettered (`backlog_full`) and an alert is logged.
    pub notification_backlog_max: u32,
    /// Where `/metrics` is served: absent means on `listen`, behind an
    /// operator token; an address means there only, without a token (bind
    /// it to a network only the monitoring system reaches).
    pub metrics_listen: Option<SocketAddr>,
    /// Addresses (or CIDR ranges) of reverse proxies whose
    /// `X-Forwarded-For` is believed when rate limits key on the client's
    /// address; empty means the peer address is the client's.
    pub trusted_proxies: Vec<String>,
    /// Sign-in and activation attempts per client address
    /// and minute (0: unlimited).
    pub rate_limit_sign_in_per_minute: u32,
    /// Token requests per client address and minute, and per agency and
    /// minute (0: unlimited).
    pub rate_limit_token_per_minute: u32,
    /// Consent requests per agency and minute (0: unlimited).
    pub rate_limit_consent_requests_per_minute: u32,
    /// Lookups (each person of a batch counts) per agency and second, and
    /// per client address and second (0: unlimited).
    pub rate_limit_lookups_per_second: u32,
    /// Most pending consent requests one agency may have open for one
    /// person.
    pub consent_requests_pending_max: u32,
    /// Number of HTTP worker threads; absent means one per core.
    pub workers: Option<usize>,
    /// Run pending migrations when `serve` starts.
    pub migrate_on_start: bool,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Seconds that in-flight requests get to finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// `text` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// A `tracing` filter such as `info` or `hub=debug,info`.
    pub log_level: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("crossroads-data"),
            database_url: None,
            database_pool_size: 8,
            sqlite_busy_timeout_ms: 5_000,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            trust_anchors_file: None,
            hub_key_file: None,
            tls_cert_file: None,
            tls_key_file: None,
            provider_ca_file: None,
            pseudonym_secret_file: None,
            totp_key_file: None,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            access_token_ttl_secs: 600,
            log_origin: None,
            log_signer_key_file: None,
            audit_append_timeout_ms: 5_000,
            lookup_interrupted_after_secs: 120,
            batch_timeout_secs: 30,
            provider_max_response_bytes: 1024 * 1024,
            allow_insecure_providers: false,
            allow_insecure_webhooks: false,
            webhook_allow_private: false,
            webhook_timeout_secs: 10,
            notification_retry_hours: 24,
            notification_retention_days: 7,
            notification_backlog_max: 100_000,
            metrics_listen: None,
            trusted_proxies: Vec::new(),
            rate_limit_sign_in_per_minute: 100,
            rate_limit_token_per_minute: 600,
            rate_limit_consent_requests_per_minute: 120,
            rate_limit_lookups_per_second: 20_000,
            consent_requests_pending_max: 3,
            workers: None,
            migrate_on_start: true,
            max_body_bytes: 1024 * 1024,
            shutdown_timeout_secs: 10,
            log_format: LogFormat::Text,
            log_level: "info".to_owned(),
        }
    }
}

fn parse_proxy(text: &str) -> Result<ipnet::IpNet, String> {
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{text}` is neither an IP address nor a CIDR range"))
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A configuration that could not be loaded; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Loads the configuration: defaults, then the TOML file (if any), then
    /// `CROSSROADS_*` environment variables, then `overrides` (from the CLI).
    pub fn load(file: Option<&Path>, overrides: &[(&str, String)]) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError(format!(
                    "configuration file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(Env::prefixed("CROSSROADS_").filter(|key| {
            !NOT_CONFIG_KEYS
                .iter()
                .any(|k| key.as_str().eq_ignore_ascii_case(k))
        }));
        for (key, value) in overrides {
            figment = figment.merge(Serialized::default(key, value));
        }
        let config: Config = figment.extract().map_err(|e| ConfigError(describe(e)))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.database_pool_size == 0 {
            return Err(ConfigError(
                "database_pool_size: must be at least 1".to_owned(),
            ));
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError(
                "max_body_bytes: must be at least 1024".to_owned(),
            ));
        }
        if !(30..=900).contains(&self.access_token_ttl_secs) {
            return Err(ConfigError(
                "access_token_ttl_secs: must be between 30 and 900".to_owned(),
            ));
        }
        if let Some(origin) = &self.log_origin
            && (origin.is_empty()
                || origin.contains('+')
                || origin.chars().any(char::is_whitespace))
        {
            return Err(ConfigError(
                "log_origin: must be non-empty, without '+' or whitespace".to_owned(),
            ));
        }
        if !(1..=300).contains(&self.webhook_timeout_secs) {
            return Err(ConfigError(
                "webhook_timeout_secs: must be between 1 and 300".to_owned(),
            ));
        }
        if self.notification_retry_hours == 0 || self.notification_retention_days == 0 {
            return Err(ConfigError(
                "notification_retry_hours / notification_retention_days: at least 1".to_owned(),
            ));
        }
        if self.notification_backlog_max == 0 {
            return Err(ConfigError(
                "notification_backlog_max: at least 1".to_owned(),
            ));
        }
        if self.argon2_memory_kib < 8 || self.argon2_iterations < 1 {
            return Err(ConfigError(
                "argon2_memory_kib / argon2_iterations: at least 8 KiB and 1 pass".to_owned(),
            ));
        }
        for proxy in &self.trusted_proxies {
            parse_proxy(proxy).map_err(|e| ConfigError(format!("trusted_proxies: {e}")))?;
        }
        if self.consent_requests_pending_max == 0 {
            return Err(ConfigError(
                "consent_requests_pending_max: must be at least 1".to_owned(),
            ));
        }
        if self.workers == Some(0) {
            return Err(ConfigError("workers: must be at least 1".to_owned()));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log_level)
            .map_err(|e| ConfigError(format!("log_level: {e}")))?;
        Ok(())
    }

    /// The trusted proxies as networks (a single address is a /32 or /128).
    pub fn trusted_proxy_networks(&self) -> Vec<ipnet::IpNet> {
        self.trusted_proxies
            .iter()
            .filter_map(|p| parse_proxy(p).ok())
            .collect()
    }

    /// The database to use: the configured URL, or SQLite in the data directory.
    pub fn database(&self) -> DatabaseUrl {
        self.database_url
            .clone()
            .unwrap_or_else(|| DatabaseUrl::Sqlite {
                path: self.data_dir.join("crossroads.db"),
            })
    }

    /// Where generated hub keys are kept.
    pub fn keys_dir(&self) -> PathBuf {
        self.data_dir.join("keys")
    }

    /// The origin of a new audit log (the name of its key, fixed when the
    /// key is made): `log_origin`, or `<host[:port]>/log` of `public_url`,
    /// or `localhost/log`.
    pub fn log_origin(&self) -> String {
        if let Some(origin) = &self.log_origin {
            return origin.clone();
        }
        let host = self
            .public_url
            .as_ref()
            .and_then(|u| {
                let u = &u.0;
                let host = u.host_str()?.to_owned();
                Some(match u.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host,
                })
            })
            .unwrap_or_else(|| "localhost".to_owned());
        format!("{host}/log")
    }

    /// Where the audit log's signer key is kept.
    pub fn log_signer_key_path(&self) -> PathBuf {
        self.log_signer_key_file
            .clone()
            .unwrap_or_else(|| self.keys_dir().join("log.key"))
    }

    /// The hub's externally visible base URL, without a trailing slash.
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(url) => url.0.as_str().trim_end_matches('/').to_owned(),
            None if self.tls_cert_file.is_some() => format!("https://{}", self.listen),
            None => format!("http://{}", self.listen),
        }
    }

    /// The configuration as TOML, with secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = Some(self.database());
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

/// Turns figment's error into one line per problem, each naming its key.
fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                "configuration".to_owned()
            } else {
                e.path.join(".")
            };
            let source = e
                .metadata
                .as_ref()
                .map(|m| format!(" (from {})", m.name))
                .unwrap_or_default();
            format!("{key}: {}{source}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// An http(s) base URL with no query or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(url::Url);

impl std::str::FromStr for PublicUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let url = url::Url::parse(s.trim()).map_err(|e| format!("not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("must be an http:// or https:// URL".to_owned());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("must have no query and no fragment".to_owned());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("must name a host".to_owned());
        }
        Ok(PublicUrl(url))
    }
}

impl Serialize for PublicUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for PublicUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

/// Where the data lives. The password of a PostgreSQL URL never prints.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An SQLite file.
    Sqlite {
        /// Path of the database file.
        path: PathBuf,
    },
    /// A PostgreSQL server.
    Postgres {
        /// The full connection URL (a secret: it may hold a password).
        url: url::Url,
    },
}

impl DatabaseUrl {
    /// The backend's short name.
    pub fn backend(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite { .. } => "sqlite",
            DatabaseUrl::Postgres { .. } => "postgres",
        }
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres { url } => {
                let mut shown = url.clone();
                if shown.password().is_some() {
                    // Setting a password only fails on URLs that cannot have one.
                    let _ = shown.set_password(Some("***"));
                }
                shown.to_string()
            }
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some(path) = s.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(
                    "sqlite:// needs a file path, e.g. sqlite://crossroads-data/crossroads.db"
                        .to_owned(),
                );
            }
            return Ok(DatabaseUrl::Sqlite {
                path: PathBuf::from(path),
            });
        }
        let url = url::Url::parse(s).map_err(|e| {
            format!("not a database URL ({e}); expected sqlite://PATH or postgres://USER@HOST/DB")
        })?;
        match url.scheme() {
            "postgres" | "postgresql" => {
                if url.host_str().is_none_or(str::is_empty) {
                    return Err("a postgres:// URL needs a host".to_owned());
                }
                Ok(DatabaseUrl::Postgres { url })
            }
            other => Err(format!(
                "unsupported scheme `{other}://`; expected sqlite://PATH or postgres://USER@HOST/DB"
            )),
        }
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

impl DatabaseUrl {
    /// The URL as configured, password included: never log it.
    pub fn expose_url(&self) -> String {
        match self {
            DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres { url } => url.to_string(),
        }
    }

    /// The connection string to hand to the driver.
    pub(crate) fn connection_string(&self) -> String {
        match self {
            DatabaseUrl::Sqlite { path } => path.display().to_string(),
            DatabaseUrl::Postgres { url } => url.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_without_a_file() {
        let config = Config::default();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            config.database(),
            DatabaseUrl::Sqlite {
                path: PathBuf::from("crossroads-data/crossroads.db")
            }
        );
    }

    #[test]
    fn database_url_schemes() {
        assert!(matches!(
            "sqlite://x/y.db".parse::<DatabaseUrl>(),
            Ok(DatabaseUrl::Sqlite { .. })
        ));
        assert!(matches!(
            "postgres://u:p@localhost/db".parse::<DatabaseUrl>(),
            Ok(DatabaseUrl::Postgres { .. })
        ));
        let err = "bogus://x".parse::<DatabaseUrl>().err().unwrap_or_default();
        assert!(err.contains("unsupported scheme `bogus://`"), "{err}");
        assert!("sqlite://".parse::<DatabaseUrl>().is_err());
        assert!("just words".parse::<DatabaseUrl>().is_err());
    }

    #[test]
    fn password_never_prints() {
        let url: DatabaseUrl = "postgres://user:hunter2@db.example/crossroads"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{url:?} {url}").contains("hunter2"));
        let config = Config {
            database_url: Some(url),
            ..Config::default()
        };
        let shown = config.to_redacted_toml();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let err = Config::load(None, &[("database_url", "bogus://x".to_owned())])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("database_url"), "{err}");
        assert!(err.contains("bogus"), "{err}");

        let err = Config::load(None, &[("listen", "not-an-address".to_owned())])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("listen"), "{err}");
    }

    #[test]
    fn public_url_defaults_to_the_listen_address() {
        assert_eq!(Config::default().public_base(), "http://127.0.0.1:8080");
        let config = Config::load(
            None,
            &[("public_url", "https://hub.example.gov/".to_owned())],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.public_base(), "https://hub.example.gov");
        for bad in ["ftp://x", "https://x/?q=1", "nonsense"] {
            let err = Config::load(None, &[("public_url", bad.to_owned())])
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("public_url"), "{bad}: {err}");
        }
    }

    #[test]
    fn toml_file_and_unknown_keys() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("crossroads.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9999\"\nmax_body_bytes = 4096\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let config = Config::load(Some(&file), &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.listen.port(), 9999);
        assert_eq!(config.max_body_bytes, 4096);

        std::fs::write(&file, "lisen = \"127.0.0.1:9999\"\n").unwrap_or_else(|e| panic!("{e}"));
        let err = Config::load(Some(&file), &[])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("lisen"), "{err}");
    }
}
