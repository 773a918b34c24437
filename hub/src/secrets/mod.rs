//! Secret files of the data directory, and the key that encrypts TOTP
//! secrets at rest.
//!
//! A secret file holds random bytes, is made on first start with 0600
//! rights in a 0700 directory, and is never rewritten. [`check_permissions`]
//! warns at start about a data directory, database or key file that others
//! than the hub's user may read.

pub mod jose;
pub mod keys;
pub mod pseudonyms;

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{self, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::app::config::{Config, DatabaseUrl};

/// Makes `dir` (and its parents) with 0700 rights where it creates them.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Reads the secret file at `path`; when it does not exist and `make` is
/// true, makes it with `len` random bytes (0600), or reads the one another
/// process made first.
pub fn load_or_create(path: &Path, len: usize, make: bool) -> Result<Vec<u8>, String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && make => create(path, len),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn create(path: &Path, len: usize) -> Result<Vec<u8>, String> {
    let fail = |e: std::io::Error| format!("cannot create {}: {e}", path.display());
    let mut secret = vec![0u8; len];
    SystemRandom::new()
        .fill(&mut secret)
        .map_err(|_| "the system random generator failed".to_owned())?;
    if write_new(path, &secret).map_err(fail)? {
        Ok(secret)
    } else {
        // Another process made it first: use theirs.
        std::fs::read(path).map_err(fail)
    }
}

/// Writes a new secret file: `bytes` to `path`, 0600, in a 0700 directory,
/// synced. `Ok(false)` when the file exists already (another process made
/// it first); an existing file is never overwritten.
pub fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(bytes)?;
            file.sync_all()?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// The files whose rights matter: the data directory, the SQLite database
/// and every file of the keys directory, with the named secret files.
fn sensitive_paths(config: &Config) -> Vec<PathBuf> {
    let mut paths = vec![config.data_dir.clone()];
    if let DatabaseUrl::Sqlite { path } = config.database() {
        paths.push(path);
    }
    if let Ok(dir) = std::fs::read_dir(config.keys_dir()) {
        paths.push(config.keys_dir());
        paths.extend(dir.filter_map(Result::ok).map(|e| e.path()));
    }
    paths.extend(
        [
            &config.hub_key_file,
            &config.pseudonym_secret_file,
            &config.log_signer_key_file,
            &config.totp_key_file,
            &config.tls_key_file,
        ]
        .into_iter()
        .flatten()
        .cloned(),
    );
    paths
}

/// The paths of [`sensitive_paths`] that exist and that users other than
/// the owner may read, write or enter, each with its mode.
pub fn too_open(config: &Config) -> Vec<(PathBuf, u32)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        sensitive_paths(config)
            .into_iter()
            .filter_map(|path| {
                let mode = std::fs::metadata(&path).ok()?.permissions().mode() & 0o777;
                (mode & 0o077 != 0).then_some((path, mode))
            })
            .collect()
    }
    #[cfg(not(unix))]
    {
        let _ = config;
        Vec::new()
    }
}

/// Warns about each sensitive path others may read (see [`too_open`]).
pub fn check_permissions(config: &Config) {
    for (path, mode) in too_open(config) {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:04o}"),
            "others than the hub's user may access this; it should be 0700 (directory) or 0600 (file)"
        );
    }
}

/// Sets `path` to 0600 (a file the hub just made).
pub fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// The prefix of an encrypted TOTP secret (a base32 secret never starts so).
const SEALED_PREFIX: &str = "v1.";

/// Encrypts TOTP secrets at rest with ChaCha20-Poly1305, the account's
/// common ID bound in the associated data (a sealed secret copied to
/// another account does not open).
pub struct TotpKey(LessSafeKey);

impl std::fmt::Debug for TotpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpKey(..)")
    }
}

fn aad(common_id: &str) -> Vec<u8> {
    let mut aad = b"crossroads totp v1 ".to_vec();
    aad.extend_from_slice(common_id.as_bytes());
    aad
}

impl TotpKey {
    /// The key of `config`: `totp_key_file`, or `<data_dir>/keys/totp.key`
    /// made on first start.
    pub fn load(config: &Config) -> Result<Self, String> {
        let path = config
            .totp_key_file
            .clone()
            .unwrap_or_else(|| config.keys_dir().join("totp.key"));
        let bytes = load_or_create(&path, 32, config.totp_key_file.is_none())
            .map_err(|e| format!("TOTP key: {e}"))?;
        Self::from_bytes(&bytes).map_err(|e| format!("TOTP key {}: {e}", path.display()))
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() != 32 {
            return Err(format!("needs 32 bytes, has {}", bytes.len()));
        }
        let key = UnboundKey::new(&CHACHA20_POLY1305, bytes)
            .map_err(|_| "not a ChaCha20-Poly1305 key".to_owned())?;
        Ok(Self(LessSafeKey::new(key)))
    }

    /// Seals a base32 secret of account `common_id`.
    pub fn seal(&self, common_id: &str, secret: &str) -> Result<String, String> {
        let mut nonce = [0u8; aead::NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| "the system random generator failed".to_owned())?;
        let mut sealed = secret.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(common_id)),
                &mut sealed,
            )
            .map_err(|_| "cannot seal".to_owned())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Opens a stored secret of account `common_id`; one stored before
    /// secrets were sealed is returned as it is.
    pub fn open(&self, common_id: &str, stored: &str) -> Result<String, String> {
        let Some(body) = stored.strip_prefix(SEALED_PREFIX) else {
            return Ok(stored.to_owned());
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| "a sealed TOTP secret that is not base64url".to_owned())?;
        if bytes.len() < aead::NONCE_LEN {
            return Err("a sealed TOTP secret too short".to_owned());
        }
        let (nonce, sealed) = bytes.split_at(aead::NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| "bad nonce".to_owned())?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(aad(common_id)), &mut sealed)
            .map_err(|_| "a sealed TOTP secret that does not open with this key".to_owned())?;
        String::from_utf8(plain.to_vec()).map_err(|_| "a sealed TOTP secret not UTF-8".to_owned())
    }

    /// Whether `stored` is sealed.
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(SEALED_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_for_their_account_only() {
        let key = TotpKey::from_bytes(&[7u8; 32]).unwrap();
        let sealed = key.seal("85073003328", "JBSWY3DPEHPK3PXP").unwrap();
        assert!(TotpKey::is_sealed(&sealed));
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_eq!(
            key.open("85073003328", &sealed).unwrap(),
            "JBSWY3DPEHPK3PXP"
        );
        // Another account, another key, a changed byte: refused.
        assert!(key.open("85073003329", &sealed).is_err());
        let other = TotpKey::from_bytes(&[8u8; 32]).unwrap();
        assert!(other.open("85073003328", &sealed).is_err());
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(
            key.open("85073003328", &String::from_utf8(tampered).unwrap())
                .is_err()
        );
        // Two seals of one secret differ (random nonces).
        assert_ne!(sealed, key.seal("85073003328", "JBSWY3DPEHPK3PXP").unwrap());
        // A secret stored before sealing reads as it is.
        assert_eq!(
            key.open("85073003328", "JBSWY3DPEHPK3PXP").unwrap(),
            "JBSWY3DPEHPK3PXP"
        );
        assert!(TotpKey::from_bytes(&[1u8; 16]).is_err());
    }
}
