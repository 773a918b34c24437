//! The hub's signing keys: Ed25519 key pairs (RFC 8037), named by their RFC
//! 7638 JWK thumbprint, rotated in a [`KeyRing`] that keeps publishing retired
//! public keys until every token they signed has expired.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{self, Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};

use crate::jose::{Algorithm, PrivateKey};

/// Length of an Ed25519 public key.
const ED25519_PUBLIC_LEN: usize = 32;

/// Why a key cannot be made, read or rotated in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The bytes are not an Ed25519 PKCS#8 private key, or the JWK is not an
    /// Ed25519 public key.
    #[error("malformed key: {0}")]
    Malformed(String),
    /// The system's random generator failed.
    #[error("key generation failed")]
    Generation,
    /// The new key is the current key, or one already retired.
    #[error("key {0} is already in the key ring")]
    DuplicateKey(String),
    /// The maximum token lifetime is negative.
    #[error("the maximum token lifetime must not be negative")]
    InvalidLifetime,
}

impl KeyError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_key",
            Self::Generation => "key_generation_failed",
            Self::DuplicateKey(_) => "duplicate_key",
            Self::InvalidLifetime => "invalid_lifetime",
        }
    }
}

/// A PKCS#8 private-key document: secret, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkcs8Document(Vec<u8>);

impl Pkcs8Document {
    /// The DER bytes, to store encrypted or with restricted access.
    pub fn as_der(&self) -> &[u8] {
        &self.0
    }

    /// The PEM text (`-----BEGIN PRIVATE KEY-----`).
    pub fn to_pem(&self) -> String {
        let body = STANDARD.encode(&self.0);
        let mut pem = String::with_capacity(body.len() + body.len() / 64 + 64);
        pem.push_str("-----BEGIN PRIVATE KEY-----\n");
        let mut rest = body.as_str();
        while !rest.is_empty() {
            let (line, tail) = rest.split_at(rest.len().min(64));
            pem.push_str(line);
            pem.push('\n');
            rest = tail;
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        pem
    }
}

impl fmt::Debug for Pkcs8Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pkcs8Document(..)")
    }
}

/// RFC 7638 thumbprint of an Ed25519 JWK whose `x` is `x_b64url`: SHA-256 of
/// `{"crv":"Ed25519","kty":"OKP","x":"..."}`, base64url without padding.
pub fn ed25519_jwk_thumbprint(x_b64url: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x_b64url}"}}"#);
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

/// An Ed25519 public key with its key id.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    public: [u8; ED25519_PUBLIC_LEN],
    x: String,
    kid: String,
}

impl VerifyingKey {
    /// Wraps 32 public-key bytes; the key id is the RFC 7638 thumbprint.
    pub fn from_bytes(public: &[u8]) -> Result<Self, KeyError> {
        let public: [u8; ED25519_PUBLIC_LEN] = public
            .try_into()
            .map_err(|_| KeyError::Malformed("an Ed25519 public key has 32 bytes".into()))?;
        let x = URL_SAFE_NO_PAD.encode(public);
        let kid = ed25519_jwk_thumbprint(&x);
        Ok(Self { public, x, kid })
    }

    /// Reads an RFC 8037 `OKP`/`Ed25519` JWK. A `kid` in the JWK is kept; else
    /// the thumbprint is used.
    pub fn from_jwk(jwk: &Value) -> Result<Self, KeyError> {
        let field = |name: &str| jwk.get(name).and_then(Value::as_str);
        if field("kty") != Some("OKP") || field("crv") != Some("Ed25519") {
            return Err(KeyError::Malformed("not an OKP Ed25519 JWK".into()));
        }
        if jwk.get("d").is_some() {
            return Err(KeyError::Malformed(
                "a published JWK has no private part".into(),
            ));
        }
        let x = field("x").ok_or_else(|| KeyError::Malformed("JWK without x".into()))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(x)
            .map_err(|_| KeyError::Malformed("JWK x is not base64url".into()))?;
        let mut key = Self::from_bytes(&bytes)?;
        if let Some(kid) = field("kid") {
            kid.clone_into(&mut key.kid);
        }
        Ok(key)
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The 32 public-key bytes.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// The JWK `x` member (base64url of the public key).
    pub fn x(&self) -> &str {
        &self.x
    }

    /// Whether `sig` is this key's Ed25519 signature of `message`.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        signature::UnparsedPublicKey::new(&signature::ED25519, &self.public)
            .verify(message, sig)
            .is_ok()
    }

    /// The public JWK (RFC 7517 / RFC 8037) as published in the JWKS.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.x,
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The hub's Ed25519 signing key, parsed once.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    jose: PrivateKey,
    public: VerifyingKey,
}

impl SigningKey {
    /// Makes a new key; returns it with its PKCS#8 v2 document to store.
    pub fn generate() -> Result<(Self, Pkcs8Document), KeyError> {
        let rng = SystemRandom::new();
        let document = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Generation)?;
        let document = Pkcs8Document(document.as_ref().to_vec());
        let key = Self::from_pkcs8_der(document.as_der())?;
        Ok((key, document))
    }

    /// Reads a PKCS#8 (v1 or v2) Ed25519 private key, DER.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| KeyError::Malformed(e.to_string()))?;
        let public = VerifyingKey::from_bytes(pair.public_key().as_ref())?;
        let jose = PrivateKey::from_pkcs8_der(Algorithm::EdDsa, der)
            .map_err(|e| KeyError::Malformed(e.to_string()))?;
        Ok(Self { pair, jose, public })
    }

    /// Reads a PEM `PRIVATE KEY` (PKCS#8) Ed25519 private key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .map_err(|e| KeyError::Malformed(e.to_string()))?;
        if block.label != "PRIVATE KEY" {
            return Err(KeyError::Malformed(format!(
                "expected a PRIVATE KEY block, found {}",
                block.label
            )));
        }
        Self::from_pkcs8_der(&block.contents)
    }

    /// The key id (RFC 7638 thumbprint).
    pub fn kid(&self) -> &str {
        self.public.kid()
    }

    /// The public half.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.public
    }

    /// The key as it signs tokens (through [`crate::jose`]).
    pub fn private_key(&self) -> &PrivateKey {
        &self.jose
    }

    /// Signs `message` (Ed25519, 64 bytes).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

/// A retired public key, still published until `publish_until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredKey {
    /// The public key.
    pub key: VerifyingKey,
    /// When it stopped signing.
    pub retired_at: DateTime<Utc>,
    /// When the last token it signed has expired; unpublished after that.
    pub publish_until: DateTime<Utc>,
}

impl RetiredKey {
    /// Whether the key is still published at `now`.
    pub fn is_published(&self, now: DateTime<Utc>) -> bool {
        now <= self.publish_until
    }
}

/// Where token verification finds public keys by `kid`.
pub trait VerificationKeys {
    /// The key named `kid`, if it may verify tokens at `now`.
    fn verifying_key(&self, kid: &str, now: DateTime<Utc>) -> Option<&VerifyingKey>;
}

/// The hub's current signing key and the retired keys still published.
#[derive(Debug, Clone)]
pub struct KeyRing {
    current: Arc<SigningKey>,
    retired: Vec<RetiredKey>,
}

impl KeyRing {
    /// A key ring with one key and no history.
    pub fn new(current: SigningKey) -> Self {
        Self {
            current: Arc::new(current),
            retired: Vec::new(),
        }
    }

    /// A key ring restored from storage.
    pub fn with_retired(current: SigningKey, retired: Vec<RetiredKey>) -> Self {
        Self {
            current: Arc::new(current),
            retired,
        }
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    /// The key that signs new tokens, shared.
    pub fn current_shared(&self) -> Arc<SigningKey> {
        Arc::clone(&self.current)
    }

    /// Retired keys, oldest first (including those no longer published).
    pub fn retired(&self) -> &[RetiredKey] {
        &self.retired
    }

    /// Makes `new_key` the signing key. The previous key stays published until
    /// `now + max_token_lifetime`, when every token it signed has expired.
    pub fn rotate(
        &mut self,
        new_key: SigningKey,
        now: DateTime<Utc>,
        max_token_lifetime: Duration,
    ) -> Result<(), KeyError> {
        if max_token_lifetime < Duration::zero() {
            return Err(KeyError::InvalidLifetime);
        }
        let kid = new_key.kid();
        if kid == self.current.kid() || self.retired.iter().any(|r| r.key.kid() == kid) {
            return Err(KeyError::DuplicateKey(kid.to_owned()));
        }
        let old = std::mem::replace(&mut self.current, Arc::new(new_key));
        self.retired.push(RetiredKey {
            key: old.verifying_key().clone(),
            retired_at: now,
            publish_until: now + max_token_lifetime,
        });
        Ok(())
    }

    /// Forgets retired keys that are no longer published at `now`.
    pub fn prune(&mut self, now: DateTime<Utc>) {
        self.retired.retain(|r| r.is_published(now));
    }

    /// The public keys published at `now`: the current key first.
    pub fn published(&self, now: DateTime<Utc>) -> impl Iterator<Item = &VerifyingKey> {
        std::iter::once(self.current.verifying_key()).chain(
            self.retired
                .iter()
                .rev()
                .filter(move |r| r.is_published(now))
                .map(|r| &r.key),
        )
    }

    /// The RFC 7517 JWK set published at `now`.
    pub fn jwks(&self, now: DateTime<Utc>) -> Value {
        let keys: Vec<Value> = self.published(now).map(VerifyingKey::jwk).collect();
        json!({ "keys": keys })
    }
}

impl VerificationKeys for KeyRing {
    fn verifying_key(&self, kid: &str, now: DateTime<Utc>) -> Option<&VerifyingKey> {
        self.published(now).find(|k| k.kid() == kid)
    }
}

/// A JWK set as published by a hub, read by those who verify its tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwkSet {
    keys: Vec<VerifyingKey>,
}

impl JwkSet {
    /// Reads the `Ed25519` keys of a JWKS document; other key types are skipped.
    pub fn from_json(jwks: &Value) -> Result<Self, KeyError> {
        let list = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| KeyError::Malformed("a JWKS has a keys array".into()))?;
        let mut keys = Vec::new();
        for jwk in list {
            let okp_ed25519 = jwk.get("kty").and_then(Value::as_str) == Some("OKP")
                && jwk.get("crv").and_then(Value::as_str) == Some("Ed25519");
            if okp_ed25519 {
                keys.push(VerifyingKey::from_jwk(jwk)?);
            }
        }
        Ok(Self { keys })
    }

    /// The keys read.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }
}

impl VerificationKeys for JwkSet {
    fn verifying_key(&self, kid: &str, _now: DateTime<Utc>) -> Option<&VerifyingKey> {
        self.keys.iter().find(|k| k.kid() == kid)
    }
}
