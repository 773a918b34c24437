//! The hub's signing keys: Ed25519 PKCS#8 files, their public halves in the
//! database, and the key ring every process reloads from both.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use identity::keys::{KeyRing, RetiredKey, SigningKey, VerifyingKey};

use crate::app::clock::from_db;
use crate::app::config::Config;
use crate::services::{DbConnection, StoreError, signing_keys};

/// How long a process keeps its key ring before reading it again, so that a
/// rotation made elsewhere is seen.
const RELOAD_AFTER: Duration = Duration::from_secs(30);

/// Why the hub's keys could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key file could not be read or written.
    #[error("hub key file {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A key could not be parsed or made.
    #[error("hub key: {0}")]
    Key(String),
}

fn key_error(e: impl std::fmt::Display) -> KeyStoreError {
    KeyStoreError::Key(e.to_string())
}

/// The key ring, cached per process.
pub struct HubKeys {
    config: Arc<Config>,
    cached: RwLock<Option<(Arc<KeyRing>, Instant)>>,
}

impl HubKeys {
    /// Keys for `config`; nothing is read until first use.
    pub fn new(config: Arc<Config>) -> Self {
        Self {
            config,
            cached: RwLock::new(None),
        }
    }

    /// The current key ring, loading (and on first start making) it when the
    /// cached one is missing or old.
    pub fn ring(
        &self,
        conn: &mut DbConnection,
        now: DateTime<Utc>,
    ) -> Result<Arc<KeyRing>, KeyStoreError> {
        if let Some(ring) = self.fresh() {
            return Ok(ring);
        }
        let ring = Arc::new(load(conn, &self.config, now)?);
        if let Ok(mut cached) = self.cached.write() {
            *cached = Some((Arc::clone(&ring), Instant::now()));
        }
        Ok(ring)
    }

    /// The cached ring, if it is recent enough; never touches the database.
    pub fn fresh(&self) -> Option<Arc<KeyRing>> {
        let cached = self.cached.read().ok()?;
        let (ring, at) = cached.as_ref()?;
        (at.elapsed() < RELOAD_AFTER).then(|| Arc::clone(ring))
    }

    /// Forgets the cached ring (after a rotation in this process).
    pub fn invalidate(&self) {
        if let Ok(mut cached) = self.cached.write() {
            *cached = None;
        }
    }
}

fn key_file(dir: &Path, kid: &str) -> PathBuf {
    dir.join(format!("{kid}.pk8"))
}

fn write_private(path: &Path, der: &[u8]) -> Result<(), KeyStoreError> {
    let file_error = |source| KeyStoreError::File {
        path: path.display().to_string(),
        source,
    };
    if crate::secrets::write_new(path, der).map_err(file_error)? {
        Ok(())
    } else {
        Err(file_error(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "a key file of that name exists already",
        )))
    }
}

fn read_key(path: &Path) -> Result<SigningKey, KeyStoreError> {
    let bytes = std::fs::read(path).map_err(|source| KeyStoreError::File {
        path: path.display().to_string(),
        source,
    })?;
    if bytes.starts_with(b"-----BEGIN") {
        let pem = String::from_utf8(bytes).map_err(key_error)?;
        SigningKey::from_pkcs8_pem(&pem).map_err(key_error)
    } else {
        SigningKey::from_pkcs8_der(&bytes).map_err(key_error)
    }
}

/// The longest any hub-signed token lives: a retired key stays published
/// this long after its last signature.
pub fn max_token_lifetime(config: &Config) -> chrono::Duration {
    chrono::Duration::seconds(i64::from(config.access_token_ttl_secs.max(900)))
}

/// Makes a new signing key; it signs from now on, and the others stay
/// published until every token they signed has expired. Returns its kid.
pub fn rotate(
    conn: &mut DbConnection,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<String, KeyStoreError> {
    if config.hub_key_file.is_some() {
        return Err(KeyStoreError::Key(
            "hub_key_file is configured: rotate by pointing it at a new PKCS#8 file".to_owned(),
        ));
    }
    let (key, pkcs8) = SigningKey::generate().map_err(key_error)?;
    write_private(&key_file(&config.keys_dir(), key.kid()), pkcs8.as_der())?;
    signing_keys::add_current(conn, &key, now, now + max_token_lifetime(config))?;
    Ok(key.kid().to_owned())
}

/// Loads the key ring: the current key from its file (made on first
/// start), the retired ones from the database.
pub fn load(
    conn: &mut DbConnection,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<KeyRing, KeyStoreError> {
    let current = match &config.hub_key_file {
        Some(path) => {
            let key = read_key(path)?;
            let rows = signing_keys::list(conn)?;
            let is_current = rows
                .iter()
                .any(|r| r.kid == key.kid() && r.retired_at.is_none());
            if !is_current {
                signing_keys::add_current(conn, &key, now, now + max_token_lifetime(config))?;
            }
            key
        }
        None => {
            let rows = signing_keys::list(conn)?;
            match rows.iter().rev().find(|r| r.retired_at.is_none()) {
                Some(row) => read_key(&key_file(&config.keys_dir(), &row.kid))?,
                None => {
                    rotate(conn, config, now)?;
                    let rows = signing_keys::list(conn)?;
                    let row = rows
                        .iter()
                        .rev()
                        .find(|r| r.retired_at.is_none())
                        .ok_or_else(|| {
                            KeyStoreError::Key("no current key after making one".to_owned())
                        })?;
                    read_key(&key_file(&config.keys_dir(), &row.kid))?
                }
            }
        }
    };
    let mut retired = Vec::new();
    for row in signing_keys::list(conn)? {
        let (Some(retired_at), Some(publish_until)) = (row.retired_at, row.publish_until) else {
            continue;
        };
        if row.kid == current.kid() || from_db(publish_until) < now {
            continue;
        }
        let public = URL_SAFE_NO_PAD.decode(&row.public_key).map_err(key_error)?;
        retired.push(RetiredKey {
            key: VerifyingKey::from_bytes(&public).map_err(key_error)?,
            retired_at: from_db(retired_at),
            publish_until: from_db(publish_until),
        });
    }
    Ok(KeyRing::with_retired(current, retired))
}
