//! Agencies: callers that present a hub access token obtained at
//! `/oauth/token`. The [`AgencyCaller`] extractor checks the token (hub key,
//! issuer, audience, expiry), that the agency is active and that the
//! certificate its key came from is not revoked.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{FromRequest, HttpRequest};
use chrono::{DateTime, Utc};
use identity::jwt::{ACCESS_TOKEN_TYPE, AccessTokenClaims, HubTokenExpectations, verify_hub_token};
use identity::{AgencyId, IdentifierPolicy, Role, Sector};
use serde::{Deserialize, Serialize};

use super::token_and_state;
use crate::app::state::AppState;
use crate::http::error::{ApiError, ResultExt};
use crate::services::agencies::{self, AgencyFacts};

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
    /// The roles it acts in: those it holds now that its token's scopes
    /// name.
    pub roles: Vec<Role>,
    /// How it names persons.
    pub identifier_policy: IdentifierPolicy,
    /// The scopes of the token that the agency still holds as roles.
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

/// Requests per second and client address allowed with credentials that do
/// not verify, before `429 too_many_requests`.
const BAD_TOKENS_PER_SECOND: u32 = 20;

type BadTokenLimiter = governor::RateLimiter<
    std::net::IpAddr,
    governor::state::keyed::HashMapStateStore<std::net::IpAddr>,
    governor::clock::DefaultClock,
>;

/// Verified tokens (by SHA-256 of the token) and agency facts, each kept
/// for a short time so the hot path pays no signature check and no query;
/// and the rate limit on tokens that do not verify.
pub struct TokenCache {
    tokens: Mutex<HashMap<[u8; 32], (HubAccessClaims, i64)>>,
    agencies: Mutex<HashMap<String, (AgencyFacts, Instant)>>,
    bad_tokens: BadTokenLimiter,
}

impl Default for TokenCache {
    fn default() -> Self {
        let quota = governor::Quota::per_second(
            std::num::NonZeroU32::new(BAD_TOKENS_PER_SECOND).unwrap_or(std::num::NonZeroU32::MIN),
        );
        Self {
            tokens: Mutex::default(),
            agencies: Mutex::default(),
            bad_tokens: governor::RateLimiter::hashmap(quota),
        }
    }
}

impl TokenCache {
    /// Rate-limits tokens from `peer` that do not verify; false once that
    /// address sent too many.
    pub fn allow_bad_token(&self, peer: std::net::IpAddr) -> bool {
        if self.bad_tokens.len() > CACHE_CAP {
            self.bad_tokens.retain_recent();
            self.bad_tokens.shrink_to_fit();
        }
        self.bad_tokens.check_key(&peer).is_ok()
    }

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

fn token_refused(e: &identity::jwt::TokenError) -> ApiError {
    ApiError::InvalidToken {
        code: e.code(),
        detail: format!("the access token is not valid: {e}"),
    }
}

/// Whether a token refused with `e` carried the hub's valid signature: the
/// signature is checked before anything else, so these failures come from
/// tokens the hub issued (expired, say), whose subject names the caller.
fn signed_by_hub(e: &identity::jwt::TokenError) -> bool {
    use identity::jwt::TokenError;
    matches!(
        e,
        TokenError::Expired
            | TokenError::NotYetValid
            | TokenError::WrongIssuer
            | TokenError::WrongAudience
            | TokenError::WrongType
            | TokenError::MissingClaim(_)
    )
}

/// The `sub` of a token whose signature verified (see [`signed_by_hub`]).
fn subject_of(token: &str) -> Option<AgencyId> {
    #[derive(serde::Deserialize)]
    struct Subject {
        sub: String,
    }
    identity::jose::unverified_claims::<Subject>(token)
        .ok()?
        .sub
        .parse()
        .ok()
}

/// A refused access token, and the agency it names when the hub's
/// signature on it verified (a caller that can be named and audited).
#[derive(Debug)]
pub struct Refusal {
    /// Why.
    pub error: ApiError,
    /// The agency the verified token names; `None` when the token does not
    /// verify (it names nobody).
    pub agency: Option<AgencyId>,
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            agency: None,
        }
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
    authenticate_named(state, token, client_certificate, now)
        .await
        .map_err(|r| r.error)
}

/// [`authenticate`], naming the agency of a refused token whose hub
/// signature verified.
pub async fn authenticate_named(
    state: &AppState,
    token: String,
    client_certificate: Option<&str>,
    now: DateTime<Utc>,
) -> Result<AgencyCaller, Refusal> {
    let refused = |e: &identity::jwt::TokenError, token: &str| Refusal {
        error: token_refused(e),
        agency: if signed_by_hub(e) {
            subject_of(token)
        } else {
            None
        },
    };
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
            let shared = std::sync::Arc::new(token);
            let inner = std::sync::Arc::clone(&shared);
            let verify = move |ring: &identity::keys::KeyRing| {
                verify_hub_token::<HubAccessClaims>(
                    &inner,
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
            let verified = match state.keys.fresh() {
                Some(ring) => verify(&ring),
                None => {
                    let keys = state.keys.clone();
                    state
                        .db(move |conn| {
                            let ring = keys
                                .ring(conn, now)
                                .internal("the hub's signing keys cannot be read")?;
                            Ok(verify(&ring))
                        })
                        .await?
                }
            };
            let claims = verified.map_err(|e| refused(&e, &shared))?;
            state
                .verified_tokens
                .put_token(digest, claims.clone(), now.timestamp());
            claims
        }
    };
    let agency_id: AgencyId = claims
        .standard
        .sub
        .parse()
        .map_err(|_| ApiError::InvalidToken {
            code: "malformed_token",
            detail: "the access token's subject is not an agency".to_owned(),
        })?;
    let named = |error: ApiError| Refusal {
        error,
        agency: Some(agency_id.clone()),
    };
    if let Some(bound) = &claims.standard.cnf
        && client_certificate != Some(bound.x5t_s256.as_str())
    {
        return Err(named(ApiError::InvalidToken {
            code: "certificate_binding_mismatch",
            detail: "this token is bound to a client certificate (RFC 8705) that this connection did not present"
                .to_owned(),
        }));
    }
    let facts = match state.verified_tokens.agency(agency_id.as_str()) {
        Some(facts) => facts,
        None => {
            let id = agency_id.as_str().to_owned();
            let facts = state
                .db(move |conn| agencies::facts(conn, &id))
                .await?
                .ok_or_else(|| {
                    named(ApiError::InvalidToken {
                        code: "agency_unknown",
                        detail: "the access token names an agency that does not exist".to_owned(),
                    })
                })?;
            state
                .verified_tokens
                .put_agency(agency_id.as_str(), facts.clone());
            facts
        }
    };
    if !facts.active {
        return Err(named(ApiError::Forbidden {
            code: "agency_suspended",
            detail: format!("agency {agency_id} is suspended"),
        }));
    }
    if facts.revoked.contains(&claims.certificate) {
        return Err(named(ApiError::InvalidToken {
            code: "certificate_revoked",
            detail: "the certificate this token was obtained with has been revoked".to_owned(),
        }));
    }
    // The token's scopes as far as the agency still holds those roles: a
    // role removed since the token was issued is gone at once.
    let scopes: Vec<String> = claims
        .standard
        .scope
        .split_whitespace()
        .filter(|s| facts.roles.iter().any(|r| r.as_str() == *s))
        .map(str::to_owned)
        .collect();
    let roles = facts
        .roles
        .into_iter()
        .filter(|r| scopes.iter().any(|s| s == r.as_str()))
        .collect();
    Ok(AgencyCaller {
        agency_id,
        sector: facts.sector,
        roles,
        identifier_policy: facts.identifier_policy,
        scopes,
        token_id: claims.standard.jti,
    })
}

impl FromRequest for AgencyCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let started = token_and_state(
            req,
            "agency endpoints need `Authorization: Bearer <access token>` from /oauth/token",
        );
        let client_certificate = req
            .conn_data::<crate::app::tls::ClientCertificate>()
            .map(|c| c.0.clone());
        let peer = req.peer_addr().map(|a| a.ip());
        // Read only for a refusal: the request is a cheap handle.
        let request = req.clone();
        Box::pin(async move {
            let (token, state) = started?;
            let now = state.clock.now();
            match authenticate_named(&state, token, client_certificate.as_deref(), now).await {
                Ok(caller) => Ok(caller),
                Err(Refusal {
                    error,
                    agency: Some(agency),
                }) => {
                    let route = Route {
                        method: request.method().to_string(),
                        pattern: request
                            .match_pattern()
                            .unwrap_or_else(|| "unmatched".to_owned()),
                    };
                    Err(audit_refusal(&state, &agency, &route, error).await)
                }
                Err(Refusal {
                    error,
                    agency: None,
                }) => {
                    if !matches!(error, ApiError::InvalidToken { .. }) {
                        return Err(error);
                    }
                    // A token that does not verify names nobody: counted and
                    // rate-limited, never written to the permanent log.
                    state.hub_metrics.unverifiable_token();
                    match peer {
                        Some(ip) if !state.verified_tokens.allow_bad_token(ip) => {
                            Err(ApiError::TooManyBadCredentials)
                        }
                        _ => Err(error),
                    }
                }
            }
        })
    }
}

/// The route a refused request asked for.
struct Route {
    method: String,
    pattern: String,
}

/// Audits the refusal of a verified token that names `agency`: one entry
/// with its deny code, under a new exchange id that the problem carries.
/// On lookup routes it is a `lookup.denied` entry, as for a refusal by the
/// decision.
async fn audit_refusal(
    state: &AppState,
    agency: &AgencyId,
    route: &Route,
    error: ApiError,
) -> ApiError {
    let code = error.problem().code;
    let exchange_id = format!("exc-{}", uuid::Uuid::new_v4().simple());
    let kind = if route.pattern.starts_with("/v1/lookups") {
        "lookup.denied"
    } else {
        "request.refused"
    };
    let entry = crate::audit_log::NewEntry::new(
        kind,
        audit::Actor::new(audit::ActorType::Agency, agency.to_string()),
        audit::Outcome::Denied,
    )
    .map(|e| {
        e.with_exchange(exchange_id.clone())
            .with_deny_code(code)
            .with_details(serde_json::json!({
                "method": route.method,
                "route": route.pattern,
            }))
    });
    let appended = match entry {
        Ok(entry) => state.audit.append(entry).await,
        Err(e) => Err(e),
    };
    match appended {
        Ok(_) => ApiError::Audited {
            exchange_id,
            inner: Box::new(error),
        },
        Err(audit_error) => audit_error,
    }
}
