//! Signed tokens: compact JWS / JWT (RFC 7515, RFC 7519).
//!
//! - The hub issues EdDSA (RFC 8037) tokens with its current key and verifies
//!   them with [`verify_hub_token`]; access tokens carry `typ: at+jwt`
//!   (RFC 9068).
//! - Agencies authenticate with RFC 7523 `private_key_jwt` client assertions,
//!   signed with the key of their registered certificate and checked by
//!   [`verify_client_assertion`].
//!
//! Every token is made and checked through [`crate::jose`], which holds the
//! rules: verification never trusts keys named by the token itself (`jwk`,
//! `jku`, `x5u`, `x5c`), refuses `none` and every HMAC algorithm, and
//! accepts one algorithm per key type.

use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::jose::{self, Candidate, HeaderFields, Rules, TypRule};
pub use crate::jose::{Algorithm, MAX_TOKEN_LEN, TokenError};
use crate::keys::{KeyRing, SigningKey, VerificationKeys};
use crate::x509::{KeyAlgorithm, ValidatedCertificate};

/// `typ` of hub access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// `typ` of plain JWTs.
pub const JWT_TYPE: &str = "JWT";

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

/// Signs `claims` as an EdDSA JWT with `key`, header `{"alg":"EdDSA","typ":typ,"kid":..}`.
pub fn sign_token<C: Serialize>(
    claims: &C,
    key: &SigningKey,
    typ: &str,
) -> Result<String, TokenError> {
    jose::sign(
        claims,
        key.private_key(),
        &HeaderFields {
            typ: Some(typ),
            kid: Some(key.kid()),
            x5t_s256: None,
        },
    )
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
    let rules = Rules {
        algorithms: jose::HUB_ALGORITHMS,
        typ: TypRule::Exactly(expected.typ),
        issuers: Some(&[expected.issuer]),
        audiences: Some(&[expected.audience]),
        require_sub: false,
        require_iat: true,
        require_jti: false,
        now,
        leeway,
    };
    jose::verify(token, hub_key(keys, now), &rules).map(|verified| verified.claims)
}

/// Picks, for [`jose::verify`], the hub key a token names by `kid` among
/// `keys` at `now`: no `kid`, or one not published, is an unknown key.
pub fn hub_key<'k>(
    keys: &'k impl VerificationKeys,
    now: DateTime<Utc>,
) -> impl FnOnce(&jose::UnverifiedHeader) -> Result<Vec<Candidate<'k, ()>>, TokenError> {
    move |header| {
        let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
        let key = keys.verifying_key(kid, now).ok_or(TokenError::UnknownKey)?;
        Ok(vec![Candidate {
            public_key: key.public_key(),
            key_type: KeyAlgorithm::Ed25519,
            tag: (),
        }])
    }
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
    let agencies: Vec<&str> = certificates.iter().map(|c| c.agency_id()).collect();
    let select = |header: &jose::UnverifiedHeader| {
        Ok(certificates
            .iter()
            .filter(|cert| {
                header
                    .x5t_s256
                    .as_deref()
                    .is_none_or(|t| t == cert.thumbprint_s256())
            })
            .map(|cert| Candidate {
                public_key: cert.public_key(),
                key_type: cert.key_algorithm(),
                tag: cert,
            })
            .collect())
    };
    let verified = jose::verify::<jose::Registered, _, _>(
        token,
        select,
        &Rules {
            algorithms: jose::AGENCY_ALGORITHMS,
            typ: TypRule::JwtOrAbsent,
            issuers: Some(&agencies),
            audiences: Some(expected_audiences),
            require_sub: true,
            require_iat: false,
            require_jti: true,
            now,
            leeway: rules.leeway,
        },
    )?;
    let cert = verified.key;
    let claims = verified.registered;
    let iss = claims.iss.ok_or(TokenError::MissingClaim("iss"))?;
    let sub = claims.sub.ok_or(TokenError::MissingClaim("sub"))?;
    if iss != cert.agency_id() {
        return Err(TokenError::WrongIssuer);
    }
    if sub != iss {
        return Err(TokenError::WrongSubject);
    }
    let exp = claims.exp.ok_or(TokenError::MissingClaim("exp"))?;
    let max = rules.max_lifetime.num_seconds();
    if exp > now.timestamp().saturating_add(max) + rules.leeway.num_seconds()
        || claims.iat.is_some_and(|iat| exp.saturating_sub(iat) > max)
    {
        return Err(TokenError::LifetimeTooLong);
    }
    let jti = claims.jti.ok_or(TokenError::MissingClaim("jti"))?;
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
