//! Agencies: callers that present a hub access token obtained at
//! `/oauth/token`. The [`AgencyCaller`] extractor checks the token (hub key,
//! issuer, audience, expiry), that the agency is active and that the
//! certificate its key came from is not revoked.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{FromRequest, HttpRequest, web};
use chrono::{DateTime, Utc};
use identity::jwt::{ACCESS_TOKEN_TYPE, AccessTokenClaims, HubTokenExpectations, verify_hub_token};
use identity::{AgencyId, IdentifierPolicy, Role, Sector};
use serde::{Deserialize, Serialize};

use super::bearer;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{DbConnection, agencies};

/// Clock skew tolerated on hub tokens.
pub const LEEWAY_SECS: i64 = 30;
/// How long an agency's status and revoked certificates are cached.
const AGENCY_TTL: Duration = Duration::from_secs(5);
/// Cached entries at the most before expired ones are swept.
const CACHE_CAP: usize = 50_000;

/// The claims of a hub access token: the standard ones and the certificate
/// whose key signed the client assertion (so revoking it ends the token).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HubAccessClaims {
    /// RFC 9068 claims.
    #[serde(flatten)]
    pub standard: AccessTokenClaims,
    /// `x5t#S256` of the agency certificate that authenticated the client.
    #[serde(rename = "crt")]
    pub certificate: String,
}

/// An authenticated agency.
#[derive(Debug, Clone)]
pub struct AgencyCaller {
    /// Which agency.
    pub agency_id: AgencyId,
    /// Its sector.
    pub sector: Sector,
    /// Its roles.
    pub roles: Vec<Role>,
    /// How it names persons.
    pub identifier_policy: IdentifierPolicy,
    /// The scopes of the token.
    pub scopes: Vec<String>,
    /// The token's `jti`.
    pub token_id: String,
}

impl AgencyCaller {
    /// Refuses with 403 `insufficient_scope` unless the token has `scope`.
    pub fn require_scope(&self, scope: &str) -> Result<(), ApiError> {
        if self.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                code: "insufficient_scope",
                detail: format!("this needs the `{scope}` scope"),
            })
        }
    }
}

/// What is cached about an agency for request checks.
#[derive(Debug, Clone)]
struct AgencyFacts {
    active: bool,
    sector: Sector,
    roles: Vec<Role>,
    identifier_policy: IdentifierPolicy,
    revoked: Vec<String>,
}

/// Verified tokens (by SHA-256 of the token) and agency facts, each kept
/// for a short time so the hot path pays no signature check and no query.
#[derive(Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<[u8; 32], (HubAccessClaims, i64)>>,
    agencies: Mutex<HashMap<String, (AgencyFacts, Instant)>>,
}

impl TokenCache {
    /// A verified token's claims, if cached and unexpired at `now`.
    pub fn token(&self, digest: &[u8; 32], now: i64) -> Option<HubAccessClaims> {
        let tokens = self.tokens.lock().ok()?;
        let (claims, exp) = tokens.get(digest)?;
        (*exp > now).then(|| claims.clone())
    }

    /// Caches verified claims until they expire.
    pub fn put_token(&self, digest: [u8; 32], claims: HubAccessClaims, now: i64) {
        if let Ok(mut tokens) = self.tokens.lock() {
            if tokens.len() >= CACHE_CAP {
                tokens.retain(|_, (_, exp)| *exp > now);
                if tokens.len() >= CACHE_CAP {
                    tokens.clear();
                }
            }
            let exp = claims.standard.exp;
            tokens.insert(digest, (claims, exp));
        }
    }

    fn agency(&self, id: &str) -> Option<AgencyFacts> {
        let agencies = self.agencies.lock().ok()?;
        let (facts, at) = agencies.get(id)?;
        (at.elapsed() < AGENCY_TTL).then(|| facts.clone())
    }

    fn put_agency(&self, id: &str, facts: AgencyFacts) {
        if let Ok(mut agencies) = self.agencies.lock() {
            if agencies.len() >= CACHE_CAP {
                agencies.clear();
            }
            agencies.insert(id.to_owned(), (facts, Instant::now()));
        }
    }

    /// Forgets what is cached about an agency (after a change to it here).
    pub fn forget_agency(&self, id: &str) {
        if let Ok(mut agencies) = self.agencies.lock() {
            agencies.remove(id);
        }
    }
}

fn load_facts(conn: &mut DbConnection, id: &str) -> Result<Option<AgencyFacts>, ApiError> {
    let Some(row) = agencies::get(conn, id)? else {
        return Ok(None);
    };
    let revoked = agencies::certificates(conn, id)?
        .into_iter()
        .filter(|c| c.revoked_at.is_some())
        .map(|c| c.thumbprint)
        .collect();
    let internal = |what: &str| ApiError::Internal(format!("stored agency {id} has a bad {what}"));
    Ok(Some(AgencyFacts {
        active: row.status == "active",
        sector: row.sector.parse().map_err(|_| internal("sector"))?,
        roles: crate::agencies::parse_roles(&row.roles).map_err(|_| internal("role"))?,
        identifier_policy: row
            .identifier_policy
            .parse()
            .map_err(|_| internal("identifier policy"))?,
        revoked,
    }))
}

fn token_refused(e: &identity::jwt::TokenError) -> ApiError {
    ApiError::InvalidToken {
        code: e.code(),
        detail: format!("the access token is not valid: {e}"),
    }
}

/// Verifies `token` for `state` at `now`, presented over a connection with
/// `client_certificate` (if any): cached, or checked in full.
pub async fn authenticate(
    state: &AppState,
    token: String,
    client_certificate: Option<&str>,
    now: DateTime<Utc>,
) -> Result<AgencyCaller, ApiError> {
    let digest: [u8; 32] = {
        let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    };
    let claims = match state.verified_tokens.token(&digest, now.timestamp()) {
        Some(claims) => claims,
        None => {
            let issuer = state.config.public_base();
            let verify = move |ring: &identity::keys::KeyRing| {
                verify_hub_token::<HubAccessClaims>(
                    &token,
                    ring,
                    &HubTokenExpectations {
                        issuer: &issuer,
                        audience: &issuer,
                        typ: ACCESS_TOKEN_TYPE,
                    },
                    now,
                    chrono::Duration::seconds(LEEWAY_SECS),
                )
            };
            let claims = match state.keys.fresh() {
                Some(ring) => verify(&ring).map_err(|e| token_refused(&e))?,
                None => {
                    let keys = state.keys.clone();
                    state
                        .db(move |conn| {
                            let ring = keys
                                .ring(conn, now)
                                .map_err(|e| ApiError::Internal(e.to_string()))?;
                            verify(&ring).map_err(|e| token_refused(&e))
                        })
                        .await?
                }
            };
            state
                .verified_tokens
                .put_token(digest, claims.clone(), now.timestamp());
            claims
        }
    };
    if let Some(bound) = &claims.standard.cnf
        && client_certificate != Some(bound.x5t_s256.as_str())
    {
        return Err(ApiError::InvalidToken {
            code: "certificate_binding_mismatch",
            detail: "this token is bound to a client certificate (RFC 8705) that this connection did not present"
                .to_owned(),
        });
    }
    let agency_id: AgencyId = claims
        .standard
        .sub
        .parse()
        .map_err(|_| ApiError::InvalidToken {
            code: "malformed_token",
            detail: "the access token's subject is not an agency".to_owned(),
        })?;
    let facts = match state.verified_tokens.agency(agency_id.as_str()) {
        Some(facts) => facts,
        None => {
            let id = agency_id.as_str().to_owned();
            let facts = state
                .db(move |conn| load_facts(conn, &id))
                .await?
                .ok_or_else(|| ApiError::InvalidToken {
                    code: "agency_unknown",
                    detail: "the access token names an agency that does not exist".to_owned(),
                })?;
            state
                .verified_tokens
                .put_agency(agency_id.as_str(), facts.clone());
            facts
        }
    };
    if !facts.active {
        return Err(ApiError::Forbidden {
            code: "agency_suspended",
            detail: format!("agency {agency_id} is suspended"),
        });
    }
    if facts.revoked.contains(&claims.certificate) {
        return Err(ApiError::InvalidToken {
            code: "certificate_revoked",
            detail: "the certificate this token was obtained with has been revoked".to_owned(),
        });
    }
    Ok(AgencyCaller {
        agency_id,
        sector: facts.sector,
        roles: facts.roles,
        identifier_policy: facts.identifier_policy,
        scopes: claims
            .standard
            .scope
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        token_id: claims.standard.jti,
    })
}

impl FromRequest for AgencyCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = bearer(req).map(str::to_owned);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let client_certificate = req
            .conn_data::<crate::tls::ClientCertificate>()
            .map(|c| c.0.clone());
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("no state".to_owned()))?;
            let token = token.ok_or(ApiError::Unauthenticated(
                "agency endpoints need `Authorization: Bearer <access token>` from /oauth/token",
            ))?;
            let now = state.clock.now();
            authenticate(&state, token, client_certificate.as_deref(), now).await
        })
    }
}
