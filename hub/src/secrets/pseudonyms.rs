//! The master secret behind sector pseudonyms: a file of 32 random bytes,
//! made on first start with 0600 rights (or named by `pseudonym_secret_file`).

use identity::PseudonymService;

use crate::app::config::Config;

/// Loads the pseudonym service, making the secret on first start.
pub fn load(config: &Config) -> Result<PseudonymService, String> {
    let path = config
        .pseudonym_secret_file
        .clone()
        .unwrap_or_else(|| config.keys_dir().join("pseudonym.secret"));
    let secret = crate::secrets::load_or_create(&path, 32, config.pseudonym_secret_file.is_none())
        .map_err(|e| format!("pseudonym secret {e}"))?;
    PseudonymService::new(&secret).map_err(|e| format!("pseudonym secret {}: {e}", path.display()))
}
