//! The OAuth 2.0 client-credentials grant with `private_key_jwt` client
//! authentication (RFC 6749 §4.4, RFC 7523): a verified client assertion in,
//! a short-lived hub access token out.

use chrono::{DateTime, Utc};
use identity::jwt::{AccessTokenClaims, AssertionRules, Audience, verify_client_assertion};
use identity::{AgencyId, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::callers::agency::HubAccessClaims;
use crate::services::agencies::{parse_roles, usable_certificates};
use audit::{Actor, ActorType, Outcome};

use crate::app::state::AppState;
use crate::audit_log;
use crate::http::error::{ApiError, OAuthError, ResultExt};
use crate::store::{DbConnection, agencies};

/// `client_assertion_type` of RFC 7523.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The form fields of a token request.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// Must be `client_credentials`.
    pub grant_type: Option<String>,
    /// Must be `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    pub client_assertion_type: Option<String>,
    /// The signed client assertion (a JWT).
    pub client_assertion: Option<String>,
    /// The agency id, if given; must equal the assertion's `iss`.
    pub client_id: Option<String>,
    /// Space-separated scopes: any of the agency's roles; default all.
    pub scope: Option<String>,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// The access token (a JWT).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The scopes granted.
    pub scope: String,
}

/// The token endpoint's URL: an accepted client-assertion audience.
pub fn token_endpoint(state: &AppState) -> String {
    format!("{}/oauth/token", state.config.public_base())
}

/// Reads `iss` from a JWT without verifying it, only to find whose
/// certificates to verify it with.
fn unverified_issuer(token: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Issuer {
        iss: String,
    }
    identity::jose::unverified_claims::<Issuer>(token)
        .ok()
        .map(|claims| claims.iss)
}

fn client_error(description: impl Into<String>) -> OAuthError {
    OAuthError::new("invalid_client", description)
}

/// Handles a token request at `now`.
pub fn grant(
    conn: &mut DbConnection,
    state: &AppState,
    request: &TokenRequest,
    client_certificate: Option<String>,
    now: DateTime<Utc>,
) -> Result<TokenResponse, OAuthError> {
    match request.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(other) => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                format!("grant_type `{other}` is not supported; use client_credentials"),
            ));
        }
        None => return Err(OAuthError::new("invalid_request", "grant_type is missing")),
    }
    if request.client_assertion_type.as_deref() != Some(JWT_BEARER) {
        return Err(client_error(format!(
            "client authentication needs client_assertion_type={JWT_BEARER}"
        )));
    }
    let assertion = request
        .client_assertion
        .as_deref()
        .ok_or_else(|| client_error("client_assertion is missing"))?;
    let issuer = unverified_issuer(assertion)
        .ok_or_else(|| client_error("the client assertion is not a JWT with an `iss`"))?;
    if let Some(client_id) = &request.client_id
        && client_id != &issuer
    {
        return Err(client_error("client_id differs from the assertion's iss"));
    }
    let agency_id: AgencyId = issuer
        .parse()
        .map_err(|_| client_error("the assertion's iss is not an agency identifier"))?;
    let agency = agencies::get(conn, agency_id.as_str())
        .map_err(ApiError::from)?
        .ok_or_else(|| client_error(format!("unknown client {agency_id}")))?;
    let certificates = usable_certificates(
        conn,
        state.trust_anchors.as_deref(),
        agency_id.as_str(),
        now,
    )?;
    if certificates.is_empty() {
        return Err(client_error(format!(
            "agency {agency_id} has no valid, unrevoked certificate"
        )));
    }
    let endpoint = token_endpoint(state);
    let hub = state.config.public_base();
    let verified = verify_client_assertion(
        assertion,
        &certificates,
        &[endpoint.as_str(), hub.as_str()],
        now,
        &AssertionRules::default(),
    )
    .map_err(|e| client_error(format!("client assertion refused ({}): {e}", e.code())))?;
    // From here the assertion verified: the agency is named, and a refusal
    // is audited like the issuance.
    let refused = |error: OAuthError| audit_refusal(state, &agency_id, error);
    if let Err(ApiError::RateLimited { detail, .. }) =
        state
            .rate_limits
            .check_agency(crate::http::rate_limit::Class::Token, agency_id.as_str(), 1)
    {
        return Err(OAuthError::new("slow_down", detail));
    }
    if agency.status != "active" {
        return Err(refused(OAuthError::new(
            "invalid_client",
            format!("agency {agency_id} is suspended"),
        )));
    }
    let roles = parse_roles(&agency.roles)
        .map_err(|e| ApiError::internal_from(format!("stored roles of {agency_id}"), e))?;
    let scope = granted_scope(&roles, request.scope.as_deref()).map_err(refused)?;
    let token_id = uuid::Uuid::new_v4().to_string();
    let issued = audit_log::NewEntry::new(
        "token.issued",
        Actor::new(ActorType::Agency, agency_id.to_string()),
        Outcome::Recorded,
    )?
    .with_details(serde_json::json!({
        "token_id": token_id,
        "scope": scope,
        "certificate": verified.thumbprint_s256,
        "mtls_bound": client_certificate.is_some(),
    }));
    // The assertion is spent and the issuance audited in one transaction.
    let spent = audit_log::commit_change(conn, now, |conn| {
        let fresh = agencies::use_assertion(
            conn,
            agency_id.as_str(),
            &verified.jti,
            verified.exp,
            AssertionRules::default().leeway,
            now,
        )?;
        Ok((
            fresh,
            if fresh {
                vec![issued.clone()]
            } else {
                Vec::new()
            },
        ))
    })?;
    let (fresh, staged) = spent;
    if !fresh {
        return Err(refused(OAuthError::new(
            "invalid_grant",
            "this client assertion (jti) was already used",
        )));
    }
    state.audit.settle_blocking(&staged);
    let ttl = i64::from(state.config.access_token_ttl_secs);
    let claims = HubAccessClaims {
        standard: AccessTokenClaims {
            iss: hub.clone(),
            sub: agency_id.to_string(),
            aud: Audience::One(hub),
            exp: now.timestamp() + ttl,
            iat: now.timestamp(),
            nbf: None,
            jti: token_id,
            scope: scope.clone(),
            client_id: Some(agency_id.to_string()),
            // Over mutual TLS the token is bound to the client's certificate
            // (RFC 8705): presented over any other, it is refused.
            cnf: client_certificate.map(|x5t_s256| identity::jwt::Confirmation { x5t_s256 }),
        },
        certificate: verified.thumbprint_s256,
    };
    let ring = state
        .keys
        .ring(conn, now)
        .internal("the hub's signing keys cannot be read")?;
    // Hub tokens carry the certificate claim too, so they are signed here
    // rather than by `issue_access_token`.
    let access_token =
        identity::jwt::sign_token(&claims, ring.current(), identity::jwt::ACCESS_TOKEN_TYPE)
            .internal("an agency's access token cannot be signed")?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: ttl,
        scope,
    })
}

/// Audits the refusal of a verified client assertion; returns the error.
fn audit_refusal(state: &AppState, agency: &AgencyId, error: OAuthError) -> OAuthError {
    let entry = audit_log::NewEntry::new(
        "token.refused",
        Actor::new(ActorType::Agency, agency.to_string()),
        Outcome::Denied,
    )
    .map(|e| {
        e.with_deny_code(error.error)
            .with_details(serde_json::json!({"reason": error.description}))
    });
    match entry.and_then(|e| state.audit.append_blocking(e)) {
        Ok(_) => error,
        Err(audit_error) => OAuthError::from(audit_error),
    }
}

/// The scopes granted: those asked for, each of which must be a role of the
/// agency; all its roles when none is asked for.
fn granted_scope(roles: &[Role], asked: Option<&str>) -> Result<String, OAuthError> {
    let all: Vec<&str> = roles.iter().map(Role::as_str).collect();
    let asked: Vec<&str> = asked
        .map(|s| s.split_whitespace().collect())
        .unwrap_or_default();
    if asked.is_empty() {
        return Ok(all.join(" "));
    }
    for scope in &asked {
        if !all.contains(scope) {
            return Err(OAuthError::new(
                "invalid_scope",
                format!(
                    "scope `{scope}` is not granted to this agency (its roles: {})",
                    all.join(" ")
                ),
            ));
        }
    }
    Ok(asked.join(" "))
}
