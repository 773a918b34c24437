//! The master secret behind sector pseudonyms: a file of 32 random bytes,
//! made on first start with 0600 rights (or named by `pseudonym_secret_file`).

use std::io::Write;
use std::path::Path;

use identity::PseudonymService;
use ring::rand::{SecureRandom, SystemRandom};

use crate::config::Config;

/// Loads the pseudonym service, making the secret on first start.
pub fn load(config: &Config) -> Result<PseudonymService, String> {
    let path = config
        .pseudonym_secret_file
        .clone()
        .unwrap_or_else(|| config.keys_dir().join("pseudonym.secret"));
    let secret = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                && config.pseudonym_secret_file.is_none() =>
        {
            create(&path)?
        }
        Err(e) => return Err(format!("pseudonym secret {}: {e}", path.display())),
    };
    PseudonymService::new(&secret).map_err(|e| format!("pseudonym secret {}: {e}", path.display()))
}

fn create(path: &Path) -> Result<Vec<u8>, String> {
    let fail = |e: std::io::Error| format!("cannot create {}: {e}", path.display());
    let mut secret = vec![0u8; 32];
    SystemRandom::new()
        .fill(&mut secret)
        .map_err(|_| "the system random generator failed".to_owned())?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
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
            file.write_all(&secret).map_err(fail)?;
            file.sync_all().map_err(fail)?;
            Ok(secret)
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read(path).map_err(fail)
        }
        Err(e) => Err(fail(e)),
    }
}
