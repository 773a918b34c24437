//! The one place where compact JWS (RFC 7515) are made and checked: hub
//! access tokens, citizen tokens, provider request tokens, consent
//! artefacts, agencies' client assertions, and the test signer that plays
//! an agency. It stands on `jsonwebtoken` with a ring-backed crypto provider
//! and adds the rules that library leaves to its user:
//!
//! - four algorithms, each for one key type: `EdDSA` (Ed25519), `ES256`
//!   (P-256), `RS256` and `PS256` (RSA, SHA-256); never `none`, HMAC, or
//!   the SHA-384/512 variants;
//! - no header that names its own key or certificate (`jwk`, `jku`, `x5u`,
//!   `x5c`), and no `crit` (no extension is understood here);
//! - at most [`MAX_TOKEN_LEN`] bytes;
//! - the header `typ`, compared as a media type;
//! - `exp`, `nbf` and `iat` against an injected clock, with a leeway.
//!
//! The library checks the signature, the `alg` against the key, `iss` and
//! `aud`.
//!
//! # The crypto provider
//!
//! `jsonwebtoken` finds its cryptography in a process-wide provider, and it
//! offers no way to hand one to a single call. [`install_crypto`] installs
//! this crate's ring provider; a program calls it once at start (the hub
//! does, and so must an agency embedding the provider crate). Until a
//! provider is installed, signing and verifying fail with
//! [`TokenError::CryptoProviderMissing`] instead of panicking.

mod ring_provider;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use std::borrow::Cow;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

use crate::x509::KeyAlgorithm;

/// Longest token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Why a token is refused (or cannot be made).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts of JSON, or a claim of the wrong type.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The `alg` is not accepted here (`none`, HMAC, or not the key's).
    #[error("algorithm {0} is not accepted")]
    UnsupportedAlgorithm(String),
    /// The header names its own key or critical extensions.
    #[error("header parameter {0} is not accepted")]
    UntrustedHeader(String),
    /// No known key matches the token's `kid` or algorithm.
    #[error("no known key can verify this token")]
    UnknownKey,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `exp` is past.
    #[error("the token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the expected issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `sub` is not the expected subject.
    #[error("wrong subject")]
    WrongSubject,
    /// `aud` does not name the expected audience.
    #[error("wrong audience")]
    WrongAudience,
    /// The header `typ` is not the expected type.
    #[error("wrong token type")]
    WrongType,
    /// A required claim is absent.
    #[error("missing claim {0}")]
    MissingClaim(&'static str),
    /// The token lives longer than allowed.
    #[error("the token's lifetime is longer than allowed")]
    LifetimeTooLong,
    /// Claims could not be serialized, or the key cannot sign.
    #[error("the token cannot be encoded: {0}")]
    Encoding(String),
    /// No `jsonwebtoken` crypto provider is installed: call
    /// [`install_crypto`] at start.
    #[error("no JOSE crypto provider is installed (call identity::jose::install_crypto at start)")]
    CryptoProviderMissing,
}

impl TokenError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_token",
            Self::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Self::UntrustedHeader(_) => "untrusted_header",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::Expired => "token_expired",
            Self::NotYetValid => "token_not_yet_valid",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongSubject => "wrong_subject",
            Self::WrongAudience => "wrong_audience",
            Self::WrongType => "wrong_type",
            Self::MissingClaim(_) => "missing_claim",
            Self::LifetimeTooLong => "lifetime_too_long",
            Self::Encoding(_) => "encoding_failed",
            Self::CryptoProviderMissing => "crypto_provider_missing",
        }
    }
}

/// A `jsonwebtoken` crypto provider other than this crate's was installed
/// first; tokens are then made and checked with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("another JOSE crypto provider is installed already")]
pub struct OtherCryptoProvider;

/// Installs the ring-backed `jsonwebtoken` crypto provider for the process.
/// Idempotent: calling it again is harmless. An error says that another
/// provider was installed first (by other code in the process).
pub fn install_crypto() -> Result<(), OtherCryptoProvider> {
    match ring_provider::RING_PROVIDER.install_default() {
        Ok(()) => Ok(()),
        Err(installed) if std::ptr::eq(installed, &ring_provider::RING_PROVIDER) => Ok(()),
        Err(_) => Err(OtherCryptoProvider),
    }
}

/// Whether a `jsonwebtoken` crypto provider is installed in the process.
pub fn crypto_installed() -> bool {
    CryptoProvider::try_get_default().is_some()
}

fn provider_installed() -> Result<(), TokenError> {
    CryptoProvider::try_get_default()
        .map(|_| ())
        .ok_or(TokenError::CryptoProviderMissing)
}

/// The JWS algorithms accepted anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Ed25519 (RFC 8037).
    EdDsa,
    /// ECDSA P-256 with SHA-256, fixed-length `r || s`.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256.
    Ps256,
}

impl Algorithm {
    /// The JOSE name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::EdDsa => "EdDSA",
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
        }
    }

    /// The algorithm named `alg`; any other name is refused.
    pub fn from_name(alg: &str) -> Result<Self, TokenError> {
        match alg {
            "EdDSA" => Ok(Self::EdDsa),
            "ES256" => Ok(Self::Es256),
            "RS256" => Ok(Self::Rs256),
            "PS256" => Ok(Self::Ps256),
            other => Err(TokenError::UnsupportedAlgorithm(other.to_owned())),
        }
    }

    /// Whether a key of type `key` signs with this algorithm: `EdDSA` for
    /// Ed25519, `ES256` for P-256, `RS256` or `PS256` for RSA.
    pub fn fits(&self, key: KeyAlgorithm) -> bool {
        matches!(
            (self, key),
            (Self::EdDsa, KeyAlgorithm::Ed25519)
                | (Self::Es256, KeyAlgorithm::EcP256)
                | (Self::Rs256 | Self::Ps256, KeyAlgorithm::Rsa { .. })
        )
    }

    fn library(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::EdDsa => jsonwebtoken::Algorithm::EdDSA,
            Self::Es256 => jsonwebtoken::Algorithm::ES256,
            Self::Rs256 => jsonwebtoken::Algorithm::RS256,
            Self::Ps256 => jsonwebtoken::Algorithm::PS256,
        }
    }

    fn decoding_key(self, public_key: &[u8]) -> DecodingKey {
        match self {
            Self::EdDsa => DecodingKey::from_ed_der(public_key),
            Self::Es256 => DecodingKey::from_ec_der(public_key),
            Self::Rs256 | Self::Ps256 => DecodingKey::from_rsa_der(public_key),
        }
    }
}

/// A private key that signs JWS with one algorithm, parsed when made.
#[derive(Clone)]
pub struct PrivateKey {
    alg: Algorithm,
    key: EncodingKey,
}

impl PrivateKey {
    /// A PKCS#8 (DER) private key of the type `alg` signs with.
    pub fn from_pkcs8_der(alg: Algorithm, der: &[u8]) -> Result<Self, TokenError> {
        ring_provider::check_private_key(alg.library(), der)
            .map_err(|e| TokenError::Encoding(format!("not a {} key: {e}", alg.as_str())))?;
        let key = match alg {
            Algorithm::EdDsa => EncodingKey::from_ed_der(der),
            Algorithm::Es256 => EncodingKey::from_ec_der(der),
            Algorithm::Rs256 | Algorithm::Ps256 => EncodingKey::from_rsa_der(der),
        };
        Ok(Self { alg, key })
    }

    /// A PEM `PRIVATE KEY` (PKCS#8) of the type `alg` signs with.
    pub fn from_pkcs8_pem(alg: Algorithm, pem: &str) -> Result<Self, TokenError> {
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .map_err(|e| TokenError::Encoding(format!("not a PEM key: {e}")))?;
        if block.label != "PRIVATE KEY" {
            return Err(TokenError::Encoding(format!(
                "expected a PRIVATE KEY block, found {}",
                block.label
            )));
        }
        Self::from_pkcs8_der(alg, &block.contents)
    }

    /// The algorithm it signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// The header members a signer sets besides `alg`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeaderFields<'a> {
    /// `typ`; none when `None`.
    pub typ: Option<&'a str>,
    /// `kid`, the key's id.
    pub kid: Option<&'a str>,
    /// `x5t#S256`, the signing certificate's thumbprint.
    pub x5t_s256: Option<&'a str>,
}

/// Signs `claims` with `key`: a compact JWS with header `alg` and `fields`.
pub fn sign<C: Serialize>(
    claims: &C,
    key: &PrivateKey,
    fields: &HeaderFields<'_>,
) -> Result<String, TokenError> {
    provider_installed()?;
    let mut header = Header::new(key.alg.library());
    header.typ = fields.typ.map(str::to_owned);
    header.kid = fields.kid.map(str::to_owned);
    header.x5t_s256 = fields.x5t_s256.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key.key).map_err(|e| TokenError::Encoding(e.to_string()))
}

/// The header of a token that passed the header rules, read before its
/// signature is checked: only to pick the key that must verify it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedHeader {
    /// `alg`, one of those accepted.
    pub alg: Algorithm,
    /// `kid`.
    pub kid: Option<String>,
    /// `x5t#S256`.
    pub x5t_s256: Option<String>,
    /// `typ`.
    pub typ: Option<String>,
}

/// What the header `typ` must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypRule<'a> {
    /// This media type (case-insensitive, an `application/` prefix ignored).
    Exactly(&'a str),
    /// `JWT`, or no `typ` at all (RFC 7519 §5.1): what agencies' JOSE
    /// libraries put on client assertions.
    JwtOrAbsent,
}

/// The claims a token must carry and how they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules<'a> {
    /// The algorithms accepted (each must also fit the verifying key).
    pub algorithms: &'a [Algorithm],
    /// The header `typ`.
    pub typ: TypRule<'a>,
    /// When set, `iss` is required and must be one of these.
    pub issuers: Option<&'a [&'a str]>,
    /// When set, `aud` is required and must name one of these.
    pub audiences: Option<&'a [&'a str]>,
    /// Whether `sub` is required.
    pub require_sub: bool,
    /// Whether `iat` is required, and must not be after `exp` (tokens the
    /// hub issues itself).
    pub require_iat: bool,
    /// Whether a non-empty `jti` is required.
    pub require_jti: bool,
    /// The time to check `exp`, `nbf` and `iat` against.
    pub now: DateTime<Utc>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
}

/// The algorithms accepted from agencies: one per key type (RSA keys sign
/// with either padding, both over SHA-256).
pub const AGENCY_ALGORITHMS: &[Algorithm] = &[
    Algorithm::EdDsa,
    Algorithm::Es256,
    Algorithm::Rs256,
    Algorithm::Ps256,
];

/// The algorithm of the hub's own (Ed25519) keys.
pub const HUB_ALGORITHMS: &[Algorithm] = &[Algorithm::EdDsa];

/// A public key that may have signed a token, with what the caller wants
/// back when it did.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'k, T> {
    /// The raw public key: 32 bytes for Ed25519, the uncompressed point for
    /// P-256, `RSAPublicKey` DER for RSA.
    pub public_key: &'k [u8],
    /// Its type; the token's `alg` must fit it.
    pub key_type: KeyAlgorithm,
    /// Returned with the claims when this key verified the token.
    pub tag: T,
}

/// A verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<C, T> {
    /// The claims, as the caller's type.
    pub claims: C,
    /// The registered claims.
    pub registered: Registered,
    /// The tag of the key that verified it.
    pub key: T,
}

/// Verifies `token`: the header rules, then the signature by one of the
/// keys `select` returns for its header (tried in turn; those whose type
/// does not fit `alg` are skipped), then `rules`.
///
/// Refusals, in order: too long or not three base64url parts of JSON
/// (`Malformed`); an `alg` not in `rules.algorithms`
/// (`UnsupportedAlgorithm`); `jwk`,
/// `jku`, `x5u`, `x5c` or `crit` (`UntrustedHeader`); no candidate key
/// (`UnknownKey`); no candidate verifies (`BadSignature`); then the claims:
/// a missing required claim, `iss`, `aud`, `exp`, `nbf`, `iat`, and `typ`.
pub fn verify<'k, C, T, F>(
    token: &str,
    select: F,
    rules: &Rules<'_>,
) -> Result<Verified<C, T>, TokenError>
where
    C: DeserializeOwned,
    T: Copy,
    F: FnOnce(&UnverifiedHeader) -> Result<Vec<Candidate<'k, T>>, TokenError>,
{
    let (header, payload) = inspect(token)?;
    if !rules.algorithms.contains(&header.alg) {
        return Err(TokenError::UnsupportedAlgorithm(
            header.alg.as_str().to_owned(),
        ));
    }
    let candidates: Vec<_> = select(&header)?
        .into_iter()
        .filter(|c| header.alg.fits(c.key_type))
        .collect();
    if candidates.is_empty() {
        return Err(TokenError::UnknownKey);
    }
    provider_installed()?;
    let validation = validation(header.alg, rules);
    let mut verified_by = None;
    for candidate in candidates {
        let key = header.alg.decoding_key(candidate.public_key);
        // The claims are read below, after the registered ones are checked.
        match jsonwebtoken::decode::<IgnoredAny>(token, &key, &validation) {
            Ok(_) => {
                verified_by = Some(candidate.tag);
                break;
            }
            Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => {}
            Err(e) => return Err(library_error(e.kind())),
        }
    }
    let tag = verified_by.ok_or(TokenError::BadSignature)?;
    let registered: Registered = parse_json(&payload)?;
    check_registered(&registered, rules)?;
    if !typ_fits(header.typ.as_deref(), rules.typ) {
        return Err(TokenError::WrongType);
    }
    let claims = parse_json(&payload)?;
    Ok(Verified {
        claims,
        registered,
        key: tag,
    })
}

/// The claims of `token`, read without verifying anything but its length:
/// only to find which keys must verify it (the issuer of a client
/// assertion), or to name the caller of a token whose signature verified
/// already. Never trust them otherwise.
pub fn unverified_claims<C: DeserializeOwned>(token: &str) -> Result<C, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed("token too long".into()));
    }
    jsonwebtoken::dangerous::insecure_decode_claims(token)
        .map_err(|e| TokenError::Malformed(e.to_string()))
}

/// Length, three base64url parts, a JSON header that passes the header
/// rules; returns the header and the decoded payload.
fn inspect(token: &str) -> Result<(UnverifiedHeader, Vec<u8>), TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed("token too long".into()));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("not a compact JWS".into()));
    };
    let header_json = decode_part(header, "header")?;
    let header: RawHeader<'_> =
        serde_json::from_slice(&header_json).map_err(|e| TokenError::Malformed(e.to_string()))?;
    let payload = decode_part(payload, "payload")?;
    // The library decodes the signature; here only its alphabet is checked,
    // so that a token that is not base64url is malformed, whatever its key.
    if !signature
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(TokenError::Malformed("signature is not base64url".into()));
    }

    let alg = Algorithm::from_name(
        header
            .alg
            .as_deref()
            .ok_or_else(|| TokenError::Malformed("the header has no alg".into()))?,
    )?;
    let untrusted = [
        ("jwk", header.jwk.is_some()),
        ("jku", header.jku.is_some()),
        ("x5u", header.x5u.is_some()),
        ("x5c", header.x5c.is_some()),
        ("crit", header.crit.is_some()),
    ];
    if let Some((name, _)) = untrusted.iter().find(|(_, present)| *present) {
        return Err(TokenError::UntrustedHeader((*name).to_owned()));
    }
    let owned = |s: Option<Cow<'_, str>>| s.map(Cow::into_owned);
    Ok((
        UnverifiedHeader {
            alg,
            kid: owned(header.kid),
            x5t_s256: owned(header.x5t_s256),
            typ: owned(header.typ),
        },
        payload,
    ))
}

/// The header members looked at before verification. Those never accepted
/// are read only for their presence (whatever their value); a member given
/// twice makes the header malformed.
#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow, default)]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    typ: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "x5t#S256")]
    x5t_s256: Option<Cow<'a, str>>,
    #[serde(default)]
    jwk: Option<IgnoredAny>,
    #[serde(default)]
    jku: Option<IgnoredAny>,
    #[serde(default)]
    x5u: Option<IgnoredAny>,
    #[serde(default)]
    x5c: Option<IgnoredAny>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

fn decode_part(part: &str, what: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed(format!("{what} is not base64url")))
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, TokenError> {
    serde_json::from_slice(bytes).map_err(|e| TokenError::Malformed(e.to_string()))
}

/// What the library checks: the one `alg`, the signature, `iss` and `aud`
/// (when asked for) and the presence of `sub`. Times are checked here,
/// against the injected clock, which the library cannot take.
fn validation(alg: Algorithm, rules: &Rules<'_>) -> Validation {
    let mut validation = Validation::new(alg.library());
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.leeway = 0;
    let mut required = Vec::with_capacity(3);
    if let Some(issuers) = rules.issuers {
        required.push("iss");
        validation.set_issuer(issuers);
    }
    match rules.audiences {
        Some(audiences) => {
            required.push("aud");
            validation.set_audience(audiences);
        }
        None => validation.validate_aud = false,
    }
    if rules.require_sub {
        required.push("sub");
    }
    validation.set_required_spec_claims(&required);
    validation
}

fn library_error(kind: &ErrorKind) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => {
            TokenError::UnsupportedAlgorithm("not the key's".into())
        }
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::InvalidSubject => TokenError::WrongSubject,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::MissingRequiredClaim(claim) => TokenError::MissingClaim(claim_name(claim)),
        other => TokenError::Malformed(format!("{other:?}")),
    }
}

fn claim_name(claim: &str) -> &'static str {
    match claim {
        "iss" => "iss",
        "sub" => "sub",
        "aud" => "aud",
        "exp" => "exp",
        "nbf" => "nbf",
        _ => "claim",
    }
}

/// `exp` (always required), `iat` and `jti` when required, the times.
fn check_registered(claims: &Registered, rules: &Rules<'_>) -> Result<(), TokenError> {
    let exp = claims.exp.ok_or(TokenError::MissingClaim("exp"))?;
    if rules.require_iat && claims.iat.is_none() {
        return Err(TokenError::MissingClaim("iat"));
    }
    if rules.require_jti && claims.jti.as_deref().is_none_or(str::is_empty) {
        return Err(TokenError::MissingClaim("jti"));
    }
    let now = rules.now.timestamp();
    let leeway = rules.leeway.num_seconds().max(0);
    if now > exp.saturating_add(leeway) {
        return Err(TokenError::Expired);
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf > now.saturating_add(leeway))
        || claims
            .iat
            .is_some_and(|iat| iat > now.saturating_add(leeway))
    {
        return Err(TokenError::NotYetValid);
    }
    if rules.require_iat && claims.iat.is_some_and(|iat| iat > exp) {
        return Err(TokenError::Malformed("iat is after exp".into()));
    }
    Ok(())
}

/// Whether the header `typ` satisfies `rule`.
fn typ_fits(typ: Option<&str>, rule: TypRule<'_>) -> bool {
    match (typ, rule) {
        (Some(typ), TypRule::Exactly(expected)) => same_media_type(typ, expected),
        (None, TypRule::Exactly(_)) => false,
        (Some(typ), TypRule::JwtOrAbsent) => same_media_type(typ, "JWT"),
        (None, TypRule::JwtOrAbsent) => true,
    }
}

fn same_media_type(actual: &str, expected: &str) -> bool {
    fn short(t: &str) -> &str {
        match t.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => t.get(12..).unwrap_or(t),
            _ => t,
        }
    }
    short(actual).eq_ignore_ascii_case(short(expected))
}

/// The registered claims (RFC 7519 §4.1) checked here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Registered {
    /// `iss`.
    #[serde(default)]
    pub iss: Option<String>,
    /// `sub`.
    #[serde(default)]
    pub sub: Option<String>,
    /// `exp`, seconds since the epoch.
    #[serde(default, deserialize_with = "numeric_date")]
    pub exp: Option<i64>,
    /// `nbf`, seconds since the epoch.
    #[serde(default, deserialize_with = "numeric_date")]
    pub nbf: Option<i64>,
    /// `iat`, seconds since the epoch.
    #[serde(default, deserialize_with = "numeric_date")]
    pub iat: Option<i64>,
    /// `jti`.
    #[serde(default)]
    pub jti: Option<String>,
}

/// An RFC 7519 NumericDate: seconds, possibly fractional (truncated here).
fn numeric_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let n: Option<serde_json::Number> = Option::deserialize(d)?;
    n.map(|n| {
        n.as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && f.abs() < 1e15)
                    .map(|f| f.floor() as i64)
            })
            .ok_or_else(|| serde::de::Error::custom("NumericDate out of range"))
    })
    .transpose()
}
