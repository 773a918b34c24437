//! Signed tokens: compact JWS / JWT (RFC 7515, RFC 7519).
//!
//! - The hub issues EdDSA (RFC 8037) tokens with its current key and verifies
//!   them with [`verify_hub_token`]; access tokens carry `typ: at+jwt`
//!   (RFC 9068).
//! - Agencies authenticate with RFC 7523 `private_key_jwt` client assertions,
//!   signed with the key of their registered certificate and checked by
//!   [`verify_client_assertion`].
//!
//! Verification never trusts keys named by the token itself (`jwk`, `jku`,
//! `x5u`, `x5c`), refuses `none` and every HMAC algorithm, and accepts one
//! algorithm per key type.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use ring::signature;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::keys::{KeyRing, SigningKey, VerificationKeys};
use crate::x509::{KeyAlgorithm, ValidatedCertificate};

/// `typ` of hub access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// `typ` of plain JWTs.
pub const JWT_TYPE: &str = "JWT";

/// Longest token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Header parameters never accepted: those that name a key or certificate,
/// and `crit` (no extension is understood here).
const UNTRUSTED_HEADERS: [&str; 5] = ["jwk", "jku", "x5u", "x5c", "crit"];

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
    /// Claims could not be serialized when issuing.
    #[error("the token cannot be encoded: {0}")]
    Encoding(String),
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
        }
    }
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

    fn from_header(alg: &str) -> Result<Self, TokenError> {
        match alg {
            "EdDSA" => Ok(Self::EdDsa),
            "ES256" => Ok(Self::Es256),
            "RS256" => Ok(Self::Rs256),
            "PS256" => Ok(Self::Ps256),
            other => Err(TokenError::UnsupportedAlgorithm(other.to_owned())),
        }
    }

    /// Whether a certificate key of type `key` signs with this algorithm.
    pub fn fits(&self, key: KeyAlgorithm) -> bool {
        matches!(
            (self, key),
            (Self::EdDsa, KeyAlgorithm::Ed25519)
                | (Self::Es256, KeyAlgorithm::EcP256)
                | (Self::Rs256 | Self::Ps256, KeyAlgorithm::Rsa { .. })
        )
    }

    fn ring_algorithm(&self) -> &'static dyn signature::VerificationAlgorithm {
        match self {
            Self::EdDsa => &signature::ED25519,
            Self::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
            Self::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Self::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
        }
    }
}

/// `aud`: one audience or several (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience, serialized as a string.
    One(String),
    /// Several audiences, serialized as an array.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `audience` is one of them.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(a) => a == audience,
            Self::Many(list) => list.iter().any(|a| a == audience),
        }
    }
}

impl From<&str> for Audience {
    fn from(audience: &str) -> Self {
        Self::One(audience.to_owned())
    }
}

/// RFC 8705 confirmation: the SHA-256 thumbprint of the client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// base64url SHA-256 of the DER certificate.
    #[serde(rename = "x5t#S256")]
    pub x5t_s256: String,
}

/// Claims of a hub access token (RFC 9068).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// The hub's issuer identifier.
    pub iss: String,
    /// The agency the token was issued to.
    pub sub: String,
    /// Who accepts the token.
    pub aud: Audience,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issue time, seconds since the epoch.
    pub iat: i64,
    /// Not before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Unique token id.
    pub jti: String,
    /// Space-separated scopes.
    pub scope: String,
    /// The OAuth client that asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Certificate binding (RFC 8705).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// What a hub token must say to be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubTokenExpectations<'a> {
    /// Expected `iss`.
    pub issuer: &'a str,
    /// An audience `aud` must contain.
    pub audience: &'a str,
    /// Expected header `typ`, compared as a media type (case-insensitive, an
    /// `application/` prefix ignored).
    pub typ: &'a str,
}

#[derive(Serialize)]
struct OutHeader<'a> {
    alg: &'static str,
    typ: &'a str,
    kid: &'a str,
}

/// Signs `claims` as an EdDSA JWT with `key`, header `{"alg":"EdDSA","typ":typ,"kid":..}`.
pub fn sign_token<C: Serialize>(
    claims: &C,
    key: &SigningKey,
    typ: &str,
) -> Result<String, TokenError> {
    let header = serde_json::to_vec(&OutHeader {
        alg: Algorithm::EdDsa.as_str(),
        typ,
        kid: key.kid(),
    })
    .map_err(|e| TokenError::Encoding(e.to_string()))?;
    let payload = serde_json::to_vec(claims).map_err(|e| TokenError::Encoding(e.to_string()))?;
    let mut token = String::with_capacity((header.len() + payload.len() + 64) * 4 / 3 + 4);
    URL_SAFE_NO_PAD.encode_string(&header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
    let sig = key.sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(sig, &mut token);
    Ok(token)
}

/// Signs an access token (`typ: at+jwt`) with the key ring's current key.
pub fn issue_access_token(
    claims: &AccessTokenClaims,
    keys: &KeyRing,
) -> Result<String, TokenError> {
    sign_token(claims, keys.current(), ACCESS_TOKEN_TYPE)
}

/// Verifies a hub-signed token and returns its claims.
///
/// Refuses: any `alg` but `EdDSA`; `jwk`, `jku`, `x5u`, `x5c` or `crit`
/// headers; a `kid` not in `keys` at `now`; a bad signature; a missing `exp`
/// or `iat`; `exp` past, `nbf` or `iat` future (each with `leeway`); an
/// unexpected `iss`, `aud` or `typ`.
pub fn verify_hub_token<C: DeserializeOwned>(
    token: &str,
    keys: &impl VerificationKeys,
    expected: &HubTokenExpectations<'_>,
    now: DateTime<Utc>,
    leeway: Duration,
) -> Result<C, TokenError> {
    let parts = Parts::split(token)?;
    let header = parts.header()?;
    let alg = Algorithm::from_header(&header.alg)?;
    if alg != Algorithm::EdDsa {
        return Err(TokenError::UnsupportedAlgorithm(header.alg));
    }
    header.refuse_untrusted()?;
    let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
    let key = keys.verifying_key(kid, now).ok_or(TokenError::UnknownKey)?;
    if !key.verify(parts.signing_input.as_bytes(), &parts.signature) {
        return Err(TokenError::BadSignature);
    }

    let payload = parts.payload;
    let claims: Registered = parse_json(&payload)?;
    let exp = claims.exp.ok_or(TokenError::MissingClaim("exp"))?;
    let iat = claims.iat.ok_or(TokenError::MissingClaim("iat"))?;
    check_times(exp, claims.nbf, Some(iat), now, leeway)?;
    if iat > exp {
        return Err(TokenError::Malformed("iat is after exp".into()));
    }
    if claims.iss.as_deref() != Some(expected.issuer) {
        return Err(TokenError::WrongIssuer);
    }
    if !claims
        .aud
        .is_some_and(|aud| aud.contains(expected.audience))
    {
        return Err(TokenError::WrongAudience);
    }
    if !header
        .typ
        .as_deref()
        .is_some_and(|typ| same_media_type(typ, expected.typ))
    {
        return Err(TokenError::WrongType);
    }
    parse_json(&payload)
}

/// Limits on client assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssertionRules {
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// How far in the future `exp` may lie (and `exp - iat` at most).
    pub max_lifetime: Duration,
}

impl Default for AssertionRules {
    /// 60 seconds of leeway, 5 minutes of lifetime.
    fn default() -> Self {
        Self {
            leeway: Duration::seconds(60),
            max_lifetime: Duration::minutes(5),
        }
    }
}

/// A verified RFC 7523 client assertion. Its `jti` must still be checked
/// against those already used, until `exp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAssertion {
    /// The agency (`iss`).
    pub iss: String,
    /// The agency again (`sub`).
    pub sub: String,
    /// The assertion's unique id.
    pub jti: String,
    /// Its expiry.
    pub exp: DateTime<Utc>,
    /// `x5t#S256` of the certificate whose key signed it.
    pub thumbprint_s256: String,
}

/// Verifies an RFC 7523 `private_key_jwt` client assertion against the
/// agency's registered certificates.
///
/// The `alg` must fit the certificate's key (`ES256` for P-256, `EdDSA` for
/// Ed25519, `RS256` or `PS256` for RSA); an `x5t#S256` header, if present,
/// selects the certificate. `iss` and `sub` must both be the certificate's
/// agency id, `aud` must contain one of `expected_audiences`, `exp` must be in
/// the future but within `rules.max_lifetime`, and `jti` must be present.
pub fn verify_client_assertion(
    token: &str,
    certificates: &[ValidatedCertificate],
    expected_audiences: &[&str],
    now: DateTime<Utc>,
    rules: &AssertionRules,
) -> Result<ClientAssertion, TokenError> {
    let parts = Parts::split(token)?;
    let header = parts.header()?;
    let alg = Algorithm::from_header(&header.alg)?;
    header.refuse_untrusted()?;

    let mut candidates = certificates
        .iter()
        .filter(|cert| alg.fits(cert.key_algorithm()))
        .filter(|cert| {
            header
                .x5t_s256
                .as_deref()
                .is_none_or(|t| t == cert.thumbprint_s256())
        })
        .peekable();
    if candidates.peek().is_none() {
        return Err(TokenError::UnknownKey);
    }
    let cert = candidates
        .find(|cert| {
            signature::UnparsedPublicKey::new(alg.ring_algorithm(), cert.public_key())
                .verify(parts.signing_input.as_bytes(), &parts.signature)
                .is_ok()
        })
        .ok_or(TokenError::BadSignature)?;

    let claims: Registered = parse_json(&parts.payload)?;
    let iss = claims.iss.ok_or(TokenError::MissingClaim("iss"))?;
    let sub = claims.sub.ok_or(TokenError::MissingClaim("sub"))?;
    if iss != cert.agency_id() {
        return Err(TokenError::WrongIssuer);
    }
    if sub != iss {
        return Err(TokenError::WrongSubject);
    }
    let aud = claims.aud.ok_or(TokenError::MissingClaim("aud"))?;
    if !expected_audiences.iter().any(|a| aud.contains(a)) {
        return Err(TokenError::WrongAudience);
    }
    let exp = claims.exp.ok_or(TokenError::MissingClaim("exp"))?;
    check_times(exp, claims.nbf, claims.iat, now, rules.leeway)?;
    let max = rules.max_lifetime.num_seconds();
    if exp > now.timestamp().saturating_add(max) + rules.leeway.num_seconds()
        || claims.iat.is_some_and(|iat| exp.saturating_sub(iat) > max)
    {
        return Err(TokenError::LifetimeTooLong);
    }
    let jti = claims
        .jti
        .filter(|j| !j.is_empty())
        .ok_or(TokenError::MissingClaim("jti"))?;
    let exp = DateTime::from_timestamp(exp, 0)
        .ok_or_else(|| TokenError::Malformed("exp out of range".into()))?;
    Ok(ClientAssertion {
        iss,
        sub,
        jti,
        exp,
        thumbprint_s256: cert.thumbprint_s256().to_owned(),
    })
}

/// `exp` past, `nbf`/`iat` future, each with `leeway`.
fn check_times(
    exp: i64,
    nbf: Option<i64>,
    iat: Option<i64>,
    now: DateTime<Utc>,
    leeway: Duration,
) -> Result<(), TokenError> {
    let now = now.timestamp();
    let leeway = leeway.num_seconds().max(0);
    if now > exp.saturating_add(leeway) {
        return Err(TokenError::Expired);
    }
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway))
        || iat.is_some_and(|iat| iat > now.saturating_add(leeway))
    {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
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

/// The three parts of a compact JWS, payload and signature decoded.
struct Parts<'a> {
    signing_input: &'a str,
    header: &'a str,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl<'a> Parts<'a> {
    fn split(token: &'a str) -> Result<Self, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed("token too long".into()));
        }
        let (signing_input, signature) = token
            .rsplit_once('.')
            .ok_or_else(|| TokenError::Malformed("not a compact JWS".into()))?;
        let (header, payload) = signing_input
            .split_once('.')
            .ok_or_else(|| TokenError::Malformed("not a compact JWS".into()))?;
        if payload.contains('.') {
            return Err(TokenError::Malformed("not a compact JWS".into()));
        }
        Ok(Self {
            signing_input,
            header,
            payload: decode(payload, "payload")?,
            signature: decode(signature, "signature")?,
        })
    }

    fn header(&self) -> Result<Header, TokenError> {
        parse_json(&decode(self.header, "header")?)
    }
}

fn decode(part: &str, what: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed(format!("{what} is not base64url")))
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, TokenError> {
    serde_json::from_slice(bytes).map_err(|e| TokenError::Malformed(e.to_string()))
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "x5t#S256")]
    x5t_s256: Option<String>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

impl Header {
    fn refuse_untrusted(&self) -> Result<(), TokenError> {
        match UNTRUSTED_HEADERS
            .iter()
            .find(|name| self.other.contains_key(**name))
        {
            Some(name) => Err(TokenError::UntrustedHeader((*name).to_owned())),
            None => Ok(()),
        }
    }
}

/// The registered claims checked here; others are left to the caller's type.
#[derive(Deserialize)]
struct Registered {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default, deserialize_with = "numeric_date")]
    exp: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    nbf: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    iat: Option<i64>,
    #[serde(default)]
    jti: Option<String>,
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
