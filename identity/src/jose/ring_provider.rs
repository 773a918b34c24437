//! `jsonwebtoken`'s cryptography on ring: a custom
//! [`CryptoProvider`](jsonwebtoken::crypto::CryptoProvider) that signs and
//! verifies the four algorithms accepted here and nothing else (no HMAC, no
//! SHA-384/512 variants).
//!
//! The library asks its signer factory for a signer on every token, so
//! parsed key pairs are kept in a small cache keyed by the SHA-256 of their
//! PKCS#8 document: parsing an Ed25519 key costs about as much as signing
//! with it, an RSA key far more.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
    Ed25519KeyPair, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RSA_PSS_2048_8192_SHA256,
    RSA_PSS_SHA256, RsaEncoding, RsaKeyPair, UnparsedPublicKey, VerificationAlgorithm,
};

/// The provider: signers and verifiers on ring. JWK helpers are not needed
/// (keys are read from certificates and the hub's own JWKS code).
pub(crate) static RING_PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory,
    verifier_factory,
    key_utils: KeyUtils::new_unimplemented(),
};

/// How many parsed key pairs are kept at most.
pub(crate) const MAX_CACHED_KEYS: usize = 64;

/// A parsed private key.
enum KeyPair {
    Ed25519(Ed25519KeyPair),
    EcP256(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// Parsed key pairs by the SHA-256 of their PKCS#8 document, at most
/// `capacity` of them.
struct KeyCache {
    pairs: Mutex<HashMap<[u8; 32], Arc<KeyPair>>>,
    capacity: usize,
}

impl KeyCache {
    fn new(capacity: usize) -> Self {
        Self {
            pairs: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The parsed key pair of `der` for `alg`: from the cache, or parsed and
    /// cached. A full cache drops one entry to make room.
    fn get_or_parse(&self, alg: Algorithm, der: &[u8]) -> Result<Arc<KeyPair>, Error> {
        let mut id = [0u8; 32];
        id.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, der).as_ref());
        if let Some(pair) = self.lock().get(&id) {
            return Ok(Arc::clone(pair));
        }
        let pair = Arc::new(parse(alg, der)?);
        let mut pairs = self.lock();
        if pairs.len() >= self.capacity
            && let Some(victim) = pairs.keys().next().copied()
        {
            pairs.remove(&victim);
        }
        pairs.insert(id, Arc::clone(&pair));
        Ok(pair)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Arc<KeyPair>>> {
        // A panic while holding the lock leaves only a map of parsed keys.
        self.pairs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

static KEY_PAIRS: LazyLock<KeyCache> = LazyLock::new(|| KeyCache::new(MAX_CACHED_KEYS));

fn key_pair(alg: Algorithm, der: &[u8]) -> Result<Arc<KeyPair>, Error> {
    KEY_PAIRS.get_or_parse(alg, der)
}

fn parse(alg: Algorithm, der: &[u8]) -> Result<KeyPair, Error> {
    match alg {
        Algorithm::EdDSA => Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map(KeyPair::Ed25519)
            .map_err(|_| ErrorKind::InvalidEddsaKey.into()),
        Algorithm::ES256 => {
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new())
                .map(KeyPair::EcP256)
                .map_err(|_| ErrorKind::InvalidEcdsaKey.into())
        }
        Algorithm::RS256 | Algorithm::PS256 => RsaKeyPair::from_pkcs8(der)
            .map(KeyPair::Rsa)
            .map_err(|e| ErrorKind::InvalidRsaKey(e.to_string()).into()),
        _ => Err(ErrorKind::UnsupportedAlgorithm.into()),
    }
}

/// Parses `der` for `alg` now (and caches it), so that a bad key is found
/// when it is loaded rather than when it first signs.
pub(crate) fn check_private_key(alg: Algorithm, der: &[u8]) -> Result<(), Error> {
    let pair = key_pair(alg, der)?;
    RingSigner::new(alg, pair).map(|_| ())
}

struct RingSigner {
    alg: Algorithm,
    pair: Arc<KeyPair>,
}

impl RingSigner {
    fn new(alg: Algorithm, pair: Arc<KeyPair>) -> Result<Self, Error> {
        let fits = matches!(
            (alg, pair.as_ref()),
            (Algorithm::EdDSA, KeyPair::Ed25519(_))
                | (Algorithm::ES256, KeyPair::EcP256(_))
                | (Algorithm::RS256 | Algorithm::PS256, KeyPair::Rsa(_))
        );
        if fits {
            Ok(Self { alg, pair })
        } else {
            Err(ErrorKind::InvalidAlgorithm.into())
        }
    }
}

impl Signer<Vec<u8>> for RingSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let rng = SystemRandom::new();
        match self.pair.as_ref() {
            KeyPair::Ed25519(pair) => Ok(pair.sign(msg).as_ref().to_vec()),
            KeyPair::EcP256(pair) => pair
                .sign(&rng, msg)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| signature::Error::new()),
            KeyPair::Rsa(pair) => {
                let padding: &'static dyn RsaEncoding = if self.alg == Algorithm::PS256 {
                    &RSA_PSS_SHA256
                } else {
                    &RSA_PKCS1_SHA256
                };
                let mut sig = vec![0; pair.public().modulus_len()];
                pair.sign(padding, &rng, msg, &mut sig)
                    .map_err(|_| signature::Error::new())?;
                Ok(sig)
            }
        }
    }
}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

fn signer_factory(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    let pair = key_pair(*alg, key.as_bytes())?;
    Ok(Box::new(RingSigner::new(*alg, pair)?))
}

struct RingVerifier {
    alg: Algorithm,
    ring_alg: &'static dyn VerificationAlgorithm,
    public_key: Vec<u8>,
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        UnparsedPublicKey::new(self.ring_alg, &self.public_key)
            .verify(msg, signature)
            .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

/// The ring verification algorithm of `alg`; `None` for every algorithm
/// not accepted here.
fn verification_algorithm(alg: Algorithm) -> Option<&'static dyn VerificationAlgorithm> {
    match alg {
        Algorithm::EdDSA => Some(&ED25519),
        Algorithm::ES256 => Some(&ECDSA_P256_SHA256_FIXED),
        Algorithm::RS256 => Some(&RSA_PKCS1_2048_8192_SHA256),
        Algorithm::PS256 => Some(&RSA_PSS_2048_8192_SHA256),
        _ => None,
    }
}

/// Public keys are the raw key of a certificate or JWK: 32 bytes for
/// Ed25519, the uncompressed point for P-256, `RSAPublicKey` DER for RSA.
fn verifier_factory(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    let ring_alg = verification_algorithm(*alg).ok_or(ErrorKind::UnsupportedAlgorithm)?;
    Ok(Box::new(RingVerifier {
        alg: *alg,
        ring_alg,
        public_key: key.try_get_as_bytes()?.to_vec(),
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ed25519_der() -> Vec<u8> {
        Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .unwrap()
            .as_ref()
            .to_vec()
    }

    #[test]
    fn parsed_keys_are_cached_and_reused() {
        let cache = KeyCache::new(4);
        let der = ed25519_der();
        let first = cache.get_or_parse(Algorithm::EdDSA, &der).unwrap();
        let second = cache.get_or_parse(Algorithm::EdDSA, &der).unwrap();
        assert!(Arc::ptr_eq(&first, &second), "the key was parsed twice");
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = KeyCache::new(4);
        for _ in 0..10 {
            cache
                .get_or_parse(Algorithm::EdDSA, &ed25519_der())
                .unwrap();
        }
        assert_eq!(cache.len(), 4);
    }

    #[test]
    fn a_bad_key_is_not_cached() {
        let cache = KeyCache::new(4);
        assert!(cache.get_or_parse(Algorithm::EdDSA, b"not a key").is_err());
        assert!(
            cache
                .get_or_parse(Algorithm::ES256, &ed25519_der())
                .is_err()
        );
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn a_key_signs_only_with_its_own_algorithm() {
        let der = ed25519_der();
        let key = EncodingKey::from_ed_der(&der);
        assert!(signer_factory(&Algorithm::EdDSA, &key).is_ok());
        for alg in [
            Algorithm::ES256,
            Algorithm::RS256,
            Algorithm::HS256,
            Algorithm::ES384,
        ] {
            assert!(signer_factory(&alg, &key).is_err(), "{alg:?}");
        }
    }

    #[test]
    fn no_verifier_for_hmac_or_other_hashes() {
        let key = DecodingKey::from_ed_der(&[0u8; 32]);
        for alg in [
            Algorithm::HS256,
            Algorithm::HS384,
            Algorithm::HS512,
            Algorithm::ES384,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS384,
            Algorithm::PS512,
        ] {
            assert!(verifier_factory(&alg, &key).is_err(), "{alg:?}");
        }
    }
}
