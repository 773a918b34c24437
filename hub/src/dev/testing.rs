//! The harness for tests: a fresh database on either backend, and the app
//! running in-process on it.
//!
//! SQLite tests use a file in a temporary directory. PostgreSQL tests create
//! a database of their own on the server named by
//! `CROSSROADS_TEST_POSTGRES_URL` and drop it afterwards; without that
//! variable they report that they were skipped.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::web;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::app::clock::Clock;
use crate::app::config::{Config, DatabaseUrl};
use crate::app::state::AppState;
use crate::store::{self, Pool, migrations};

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "CROSSROADS_TEST_POSTGRES_URL";

/// A storage backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh database on the test PostgreSQL server.
    Postgres,
}

/// The PostgreSQL server for tests, if one is configured.
pub fn postgres_url() -> Option<String> {
    std::env::var(POSTGRES_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// A fresh, empty database, removed when dropped.
pub struct TestDb {
    /// Where it is.
    pub url: DatabaseUrl,
    dir: Option<tempfile::TempDir>,
    drop_from: Option<(String, String)>,
}

impl TestDb {
    /// A fresh database on `backend`; `None` when PostgreSQL is wanted but
    /// not configured (the caller reports the skip).
    pub fn create(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
                let url = DatabaseUrl::Sqlite {
                    path: dir.path().join("test.db"),
                };
                Some(TestDb {
                    url,
                    dir: Some(dir),
                    drop_from: None,
                })
            }
            Backend::Postgres => {
                let admin = postgres_url()?;
                let name = format!("crossroads_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::establish(&admin).unwrap_or_else(|e| {
                    panic!("{POSTGRES_ENV} is set but the server cannot be reached: {e}")
                });
                conn.batch_execute(&format!("CREATE DATABASE {name}"))
                    .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
                let mut url: url::Url = admin
                    .parse()
                    .unwrap_or_else(|e| panic!("{POSTGRES_ENV} is not a URL: {e}"));
                url.set_path(&name);
                Some(TestDb {
                    url: DatabaseUrl::Postgres { url },
                    dir: Some(tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"))),
                    drop_from: Some((admin, name)),
                })
            }
        }
    }

    /// A configuration that uses this database.
    pub fn config(&self) -> Config {
        Config {
            database_url: Some(self.url.clone()),
            data_dir: self.data_dir(),
            database_pool_size: 4,
            // Cheap password hashing: tests check behaviour, not cost.
            argon2_memory_kib: 8,
            argon2_iterations: 1,
            // Test providers answer on plain HTTP.
            allow_insecure_providers: true,
            ..Config::default()
        }
    }

    /// A private data directory (keys and other files), removed when dropped.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir
            .as_ref()
            .map(|d| d.path().join("data"))
            .unwrap_or_else(|| std::path::PathBuf::from("crossroads-data"))
    }

    /// A pool on this database, without migrations.
    pub fn pool(&self) -> Pool {
        store::connect(&self.url, 4, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("cannot open test database: {e}"))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.drop_from.take()
            && let Ok(mut conn) = PgConnection::establish(&admin)
        {
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// The hub running in-process on a fresh, migrated database.
///
/// A test body that is an `async move` block and only names `app.state`
/// captures that field alone: the rest of `app`, with the temporary folder
/// holding the SQLite file, is dropped when the body starts, and new
/// connections (the audit sequencer's) then fail. Use `app` as a whole
/// somewhere in such a body (`app.conn()`, a helper taking `&app`).
pub struct TestApp {
    /// The shared state, as handlers see it.
    pub state: web::Data<AppState>,
    /// The clock the app reads; tests move it.
    pub clock: Clock,
    /// Declared last so the database outlives the pool.
    pub db: TestDb,
}

impl TestApp {
    /// Builds the app on `backend` with a fixed clock; `None` when that
    /// backend is not available (see [`skip`]).
    pub fn new(backend: Backend) -> Option<TestApp> {
        Self::with_config(backend, |_| {})
    }

    /// Like [`TestApp::new`], with a chance to change the configuration.
    pub fn with_config(backend: Backend, change: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let db = TestDb::create(backend)?;
        let mut config = db.config();
        change(&mut config);
        let clock = Clock::fixed(
            chrono::DateTime::parse_from_rfc3339("2027-01-15T09:00:00Z")
                .map(|t| t.to_utc())
                .unwrap_or_else(|e| panic!("{e}")),
        );
        let pool = db.pool();
        {
            let mut conn = pool.get().unwrap_or_else(|e| panic!("{e}"));
            migrations::run_pending(&mut conn).unwrap_or_else(|e| panic!("migrations: {e}"));
            store::schemas::seed_shipped_catalog(&mut conn, clock.now())
                .unwrap_or_else(|e| panic!("schema seeding: {e}"));
        }
        let state = AppState::with_pool(config, pool, clock.clone())
            .unwrap_or_else(|e| panic!("state: {e}"));
        Some(TestApp {
            state: web::Data::new(state),
            clock,
            db,
        })
    }

    /// Serves one request in-process: the status, headers and body.
    pub async fn send(
        &self,
        req: actix_web::test::TestRequest,
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        send(&self.state, req).await
    }

    /// A connection for direct checks of what was stored.
    pub fn conn(&self) -> store::PooledConnection {
        self.state
            .pool
            .get()
            .unwrap_or_else(|e| panic!("no connection: {e}"))
    }
}

/// Serves one request with the app on `state` (another hub on the same
/// database, say): the status, headers and body. The one way tests call the
/// app in-process.
pub async fn send(
    state: &web::Data<AppState>,
    req: actix_web::test::TestRequest,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let service = actix_web::test::init_service(crate::http::app(state.clone())).await;
    let res = actix_web::test::call_service(&service, req.to_request()).await;
    let status = res.status();
    let headers = res.headers().clone();
    let body = actix_web::test::read_body(res).await.to_vec();
    (status, headers, body)
}

/// Says that a PostgreSQL test was skipped and why.
pub fn skip(test: &str) {
    eprintln!("skipped on PostgreSQL (set {POSTGRES_ENV} to run it): {test}");
}

/// Declares a test that runs once on each backend, as `NAME::sqlite` and
/// `NAME::postgres`. The body is a closure taking a [`TestApp`] and
/// returning a future.
#[macro_export]
macro_rules! storage_test {
    ($name:ident, setup = $setup:expr, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[actix_web::test]
            async fn sqlite() {
                let app = ($setup)($crate::dev::testing::Backend::Sqlite)
                    .expect("SQLite is always available");
                ($body)(app).await;
            }

            #[actix_web::test]
            async fn postgres() {
                match ($setup)($crate::dev::testing::Backend::Postgres) {
                    Some(app) => ($body)(app).await,
                    None => $crate::dev::testing::skip(concat!(module_path!(), "::postgres")),
                }
            }
        }
    };
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[actix_web::test]
            async fn sqlite() {
                let app = $crate::dev::testing::TestApp::new($crate::dev::testing::Backend::Sqlite)
                    .expect("SQLite is always available");
                ($body)(app).await;
            }

            #[actix_web::test]
            async fn postgres() {
                match $crate::dev::testing::TestApp::new($crate::dev::testing::Backend::Postgres) {
                    Some(app) => ($body)(app).await,
                    None => $crate::dev::testing::skip(concat!(module_path!(), "::postgres")),
                }
            }
        }
    };
}

/// A compact JWS signed with a PKCS#8 PEM key, as an agency would make a
/// client assertion (panics on a bad key: for tests).
pub fn sign_jws(
    alg: &str,
    key_pem: &str,
    extra_header: &serde_json::Value,
    claims: &serde_json::Value,
) -> String {
    provider::install_crypto().unwrap_or_else(|e| panic!("{e}"));
    crate::secrets::jose::try_sign_jws(alg, key_pem, extra_header, claims)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `value` with what changes from run to run replaced by a placeholder, for
/// snapshots: identifiers the hub makes (exchanges, consents, references,
/// request ids, UUIDs), common IDs, times, hashes, salts and signatures.
/// Values under the keys in [`VOLATILE_KEYS`] are replaced whole.
pub fn scrub(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(scrub_text(s)),
        Value::Array(items) => Value::Array(items.iter().map(scrub).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, v)| {
                    let v = if VOLATILE_KEYS.contains(&key.as_str()) && !v.is_null() {
                        Value::String(format!("[{key}]"))
                    } else {
                        scrub(v)
                    };
                    (key.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Keys whose values [`scrub`] replaces whole.
pub const VOLATILE_KEYS: &[&str] = &[
    "request_id",
    "exchange_id",
    "ts",
    "time",
    "timestamp",
    "seq",
    "prev_hash",
    "entry_hash",
    "leaf_hash",
    "request_digest",
    "response_digest",
    "subject_commitment",
    "subject_salt",
    "salt",
    "signature",
    "thumbprint",
    "x5t#S256",
    "jti",
    // The size of the last checkpoint signed, which follows the signer's
    // timing.
    "kept_checkpoint_size",
];

fn scrub_text(text: &str) -> String {
    static PATTERNS: std::sync::OnceLock<Vec<(regex::Regex, &'static str)>> =
        std::sync::OnceLock::new();
    let patterns = PATTERNS.get_or_init(|| {
        [
            (
                r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
                "[uuid]",
            ),
            (
                r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
                "[time]",
            ),
            (
                r"\b(exc|con|ref|req|op|auth|agr)-[A-Za-z0-9_-]{6,}",
                "[$1-id]",
            ),
            (r"\b\d{2}\.\d{2}\.\d{2}-\d{3}\.\d{2}\b", "[common-id]"),
            (r"\b\d{11}\b", "[common-id]"),
            (r"\b[0-9a-fA-F]{32,}\b", "[hex]"),
            // A run of base64url of 40 or more (a key id may start with
            // `-`, where `\b` would not match).
            (
                r"(^|[^A-Za-z0-9_-])[A-Za-z0-9_-]{40,}={0,2}",
                "${1}[base64]",
            ),
        ]
        .into_iter()
        .map(|(pattern, with)| {
            (
                regex::Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}")),
                with,
            )
        })
        .collect()
    });
    let mut text = text.to_owned();
    for (pattern, with) in patterns {
        text = pattern.replace_all(&text, *with).into_owned();
    }
    text
}

/// The log lines written while a [`Captured::install`] guard is alive: a
/// `tracing_subscriber` writer that keeps the JSON lines in memory.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// Logs this thread's events as JSON lines into a new `Captured` until
    /// the guard returned is dropped.
    pub fn install() -> (Captured, tracing::subscriber::DefaultGuard) {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(captured.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (captured, guard)
    }

    /// The events logged, as JSON objects.
    pub fn events(&self) -> Vec<serde_json::Value> {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        String::from_utf8(bytes)
            .unwrap_or_else(|e| panic!("log lines are UTF-8: {e}"))
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("a JSON log line: {e}"))
            })
            .collect()
    }

    /// The fields of each `request failed` event.
    pub fn failures(&self) -> Vec<serde_json::Value> {
        self.events()
            .into_iter()
            .filter(|e| e["fields"]["message"] == "request failed")
            .map(|e| e["fields"].clone())
            .collect()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
