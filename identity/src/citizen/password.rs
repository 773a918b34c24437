//! Password policy and password hashing with Argon2id.
//!
//! Passwords are normalised to Unicode NFKC before hashing and verifying, so a
//! password typed on different keyboards or systems gives the same hash.

use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::CryptoRng;
use unicode_normalization::UnicodeNormalization;

/// Why a new password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    /// Fewer characters than the policy's minimum.
    #[error("the password has fewer than {min} characters")]
    TooShort {
        /// The minimum.
        min: usize,
    },
    /// More characters than the policy's maximum.
    #[error("the password has more than {max} characters")]
    TooLong {
        /// The maximum.
        max: usize,
    },
    /// One character repeated throughout.
    #[error("the password repeats a single character")]
    SingleRepeatedCharacter,
}

impl PasswordPolicyError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooShort { .. } => "password_too_short",
            Self::TooLong { .. } => "password_too_long",
            Self::SingleRepeatedCharacter => "password_single_repeated_character",
        }
    }
}

/// Rules for a new password. Lengths count Unicode characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters (default 12).
    pub min_chars: usize,
    /// Most characters (default 256).
    pub max_chars: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: 12,
            max_chars: 256,
        }
    }
}

impl PasswordPolicy {
    /// Checks a new password against the policy.
    pub fn check(&self, password: &str) -> Result<(), PasswordPolicyError> {
        let count = password.chars().count();
        if count < self.min_chars {
            return Err(PasswordPolicyError::TooShort {
                min: self.min_chars,
            });
        }
        if count > self.max_chars {
            return Err(PasswordPolicyError::TooLong {
                max: self.max_chars,
            });
        }
        let mut chars = password.chars();
        if let Some(first) = chars.next()
            && chars.all(|c| c == first)
        {
            return Err(PasswordPolicyError::SingleRepeatedCharacter);
        }
        Ok(())
    }
}

/// Why a password could not be hashed or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordHashError {
    /// The Argon2 parameters are out of range.
    #[error("invalid Argon2 parameters: {0}")]
    InvalidParams(String),
    /// The stored hash is not an Argon2 PHC string.
    #[error("the stored password hash is malformed")]
    MalformedHash,
    /// Hashing failed.
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

impl PasswordHashError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidParams(_) => "password_hash_params_invalid",
            Self::MalformedHash => "password_hash_malformed",
            Self::Hashing(_) => "password_hash_failed",
        }
    }
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordHashParams {
    /// Memory in KiB (default 19 456, i.e. 19 MiB).
    pub memory_kib: u32,
    /// Passes over memory (default 2).
    pub iterations: u32,
    /// Lanes (default 1).
    pub parallelism: u32,
}

impl Default for PasswordHashParams {
    /// The OWASP recommendation for Argon2id: 19 MiB, 2 passes, 1 lane.
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl PasswordHashParams {
    /// The cheapest parameters Argon2 accepts (8 KiB, 1 pass, 1 lane), for
    /// tests only: they give no protection against guessing.
    pub const fn insecure_for_tests() -> Self {
        Self {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn hasher(&self) -> Result<Argon2<'static>, PasswordHashError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| PasswordHashError::InvalidParams(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// A password hash as stored: an Argon2id PHC string
/// (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). Its `Debug` form hides the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredPassword(String);

impl StoredPassword {
    /// Wraps a PHC string read from storage (checked when verifying).
    pub fn from_phc(phc: impl Into<String>) -> Self {
        Self(phc.into())
    }

    /// The PHC string, to store.
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for StoredPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoredPassword(..)")
    }
}

fn normalized(password: &str) -> String {
    password.nfkc().collect()
}

/// Hashes `password` with Argon2id, `params` and a fresh 16-byte salt from
/// `rng`. Does not apply the [`PasswordPolicy`]: check it first.
pub fn hash_password<R: CryptoRng + ?Sized>(
    password: &str,
    params: &PasswordHashParams,
    rng: &mut R,
) -> Result<StoredPassword, PasswordHashError> {
    let mut salt_bytes = [0u8; 16];
    rng.fill_bytes(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| PasswordHashError::Hashing(e.to_string()))?;
    let hash = params
        .hasher()?
        .hash_password(normalized(password).as_bytes(), &salt)
        .map_err(|e| PasswordHashError::Hashing(e.to_string()))?;
    Ok(StoredPassword(hash.to_string()))
}

/// Whether `password` matches `stored`; the cost parameters are read from the
/// stored hash. `Ok(false)` on a wrong password, an error when the stored hash
/// is unusable.
pub fn verify_password(password: &str, stored: &StoredPassword) -> Result<bool, PasswordHashError> {
    let parsed = PasswordHash::new(&stored.0).map_err(|_| PasswordHashError::MalformedHash)?;
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return Err(PasswordHashError::MalformedHash);
    }
    match Argon2::default().verify_password(normalized(password).as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(PasswordHashError::Hashing(e.to_string())),
    }
}

/// Whether `stored` was made with parameters other than `params` (so it should
/// be replaced by a new hash after the next successful login).
pub fn needs_rehash(stored: &StoredPassword, params: &PasswordHashParams) -> bool {
    let Ok(parsed) = PasswordHash::new(&stored.0) else {
        return true;
    };
    let Ok(found) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm != Algorithm::Argon2id.ident()
        || found.m_cost() != params.memory_kib
        || found.t_cost() != params.iterations
        || found.p_cost() != params.parallelism
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: PasswordHashParams = PasswordHashParams::insecure_for_tests();

    #[test]
    fn policy() {
        let p = PasswordPolicy::default();
        assert_eq!(p.check("correct horse"), Ok(()));
        assert_eq!(
            p.check("short"),
            Err(PasswordPolicyError::TooShort { min: 12 })
        );
        // Twelve characters, more than twelve bytes.
        assert_eq!(p.check("ééééééééééée"), Ok(()));
        assert_eq!(
            p.check(&"ab".repeat(129)),
            Err(PasswordPolicyError::TooLong { max: 256 })
        );
        assert_eq!(p.check(&"ab".repeat(128)), Ok(()));
        assert_eq!(
            p.check("aaaaaaaaaaaaaaa"),
            Err(PasswordPolicyError::SingleRepeatedCharacter)
        );
        assert_eq!(
            PasswordPolicyError::SingleRepeatedCharacter.code(),
            "password_single_repeated_character"
        );
    }

    #[test]
    fn hash_and_verify() {
        let mut rng = rand::rng();
        let stored = hash_password("correct horse battery", &FAST, &mut rng)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(stored.as_phc().starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
        assert_eq!(verify_password("correct horse battery", &stored), Ok(true));
        assert_eq!(verify_password("correct horse batterz", &stored), Ok(false));
        assert_eq!(format!("{stored:?}"), "StoredPassword(..)");
        // A fresh salt each time.
        let again = hash_password("correct horse battery", &FAST, &mut rng)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(stored, again);
        assert!(!needs_rehash(&stored, &FAST));
        assert!(needs_rehash(&stored, &PasswordHashParams::default()));
    }

    #[test]
    fn unicode_forms_verify_alike() {
        let mut rng = rand::rng();
        // "é" precomposed, then "e" + combining acute.
        let stored =
            hash_password("caf\u{e9} au lait!", &FAST, &mut rng).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(verify_password("cafe\u{301} au lait!", &stored), Ok(true));
    }

    #[test]
    fn default_params_are_accepted() {
        let mut rng = rand::rng();
        let stored = hash_password(
            "correct horse battery",
            &PasswordHashParams::default(),
            &mut rng,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            stored
                .as_phc()
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        );
        assert_eq!(verify_password("correct horse battery", &stored), Ok(true));
    }

    #[test]
    fn errors() {
        let mut rng = rand::rng();
        let bad = PasswordHashParams {
            memory_kib: 1,
            ..FAST
        };
        assert!(matches!(
            hash_password("x", &bad, &mut rng),
            Err(PasswordHashError::InvalidParams(_))
        ));
        assert_eq!(
            verify_password("x", &StoredPassword::from_phc("not a hash")),
            Err(PasswordHashError::MalformedHash)
        );
        // A valid PHC string of another algorithm is refused.
        let argon2i =
            "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$2Vm0Ww9Ofiu5YGKj3ohBQTzDsIeVTpcl/8JIcDN7ebQ";
        assert_eq!(
            verify_password("x", &StoredPassword::from_phc(argon2i)),
            Err(PasswordHashError::MalformedHash)
        );
    }
}
