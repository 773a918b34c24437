//! Commitments to a person's identifier, for entries of version 2.
//!
//! A version 2 entry does not name the person it concerns: it holds
//! `subject_commitment = HMAC-SHA256(key = salt, message = identifier)`,
//! hex, where the salt is 32 random bytes drawn for that entry alone and
//! stored beside the entry, outside the hashed bytes. Without the salt the
//! commitment says nothing about the person (nor whether two entries concern
//! the same one); with it, anyone holding the identifier can check it. The
//! hub shows the salt only to the person concerned and to operators.

use std::fmt;
use std::str::FromStr;

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::AuditError;
use crate::hash::Hash;

/// The per-entry key of a commitment: 32 random bytes, written as 64
/// lowercase hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Salt([u8; 32]);

impl Salt {
    /// Number of bytes in a salt.
    pub const LEN: usize = 32;

    /// A fresh salt from the system's random generator.
    pub fn generate() -> Result<Self, AuditError> {
        let mut bytes = [0u8; Self::LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| AuditError::InvalidEntry("the system random generator failed".into()))?;
        Ok(Self(bytes))
    }

    /// A salt of the given bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The salt's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hexadecimal form.
    pub fn to_hex(&self) -> String {
        Hash(self.0).to_hex()
    }

    /// Parses 64 lowercase hexadecimal digits.
    pub fn from_hex(s: &str) -> Result<Self, AuditError> {
        Hash::from_hex(s)
            .map(|h| Self(h.0))
            .map_err(|_| AuditError::InvalidEntry("a salt has 64 lowercase hex digits".into()))
    }

    /// The commitment of `identifier` under this salt:
    /// `HMAC-SHA256(key = salt, message = identifier)`.
    pub fn commit(&self, identifier: &str) -> Hash {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        let tag = hmac::sign(&key, identifier.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        Hash(out)
    }

    /// Whether `commitment` is the commitment of `identifier` under this
    /// salt (compared in constant time).
    pub fn verify(&self, identifier: &str, commitment: &Hash) -> bool {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        hmac::verify(&key, identifier.as_bytes(), &commitment.0).is_ok()
    }
}

impl fmt::Debug for Salt {
    // A salt is not secret once shown, but it links an entry to a person:
    // keep it out of debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Salt(..)")
    }
}

impl FromStr for Salt {
    type Err = AuditError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commitment_matches_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2 has a 4-byte key; HMAC pads any key shorter
        // than the block, so a 32-byte key of "Jefe" and zeros gives the
        // same tag.
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let salt = Salt::from_bytes(key);
        assert_eq!(
            salt.commit("what do ya want for nothing?").to_hex(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn verify_accepts_only_the_committed_identifier_and_salt() {
        let salt = Salt::generate().unwrap();
        let other = Salt::generate().unwrap();
        assert_ne!(salt, other);
        let c = salt.commit("85073112345");
        assert!(salt.verify("85073112345", &c));
        assert!(!salt.verify("85073112346", &c));
        assert!(!other.verify("85073112345", &c));
        assert_eq!(Salt::from_hex(&salt.to_hex()).unwrap(), salt);
        assert!(Salt::from_hex("00").is_err());
    }
}
