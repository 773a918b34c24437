//! Onboarding and managing agencies: the rules between the HTTP and CLI
//! edges and the agency tables.

use chrono::{DateTime, Utc};
use identity::x509::{TrustAnchors, ValidatedCertificate, validate_agency_certificate};
use identity::{AgencyId, IdentifierPolicy, Role, Sector};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::clock::{db_time, from_db};
use crate::http::error::ApiError;
use crate::store::agencies::{self as store, AgencyRow, CertificateRow};
use crate::store::{DbConnection, StoreError};

/// What an operator submits to onboard an agency.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAgency {
    /// e.g. `BE-0123456789`.
    #[schema(value_type = crate::api::ids::AgencyId)]
    pub id: String,
    /// The agency's name.
    pub name: String,
    /// `civil`, `social`, `tax`, `health`, `employment`, `education`, `justice` or `other`.
    pub sector: String,
    /// Any of `consumer`, `provider`, `registrar`.
    pub roles: Vec<String>,
    /// For providers: the base URL the hub calls.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// `common_id` or `sector_pseudonym`.
    pub identifier_policy: String,
    /// One or more PEM certificates binding the agency's keys.
    pub certificates: Vec<String>,
}

/// An agency as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AgencyView {
    /// e.g. `BE-0123456789`.
    pub id: String,
    /// The agency's name.
    pub name: String,
    /// Its sector.
    pub sector: String,
    /// Its roles.
    pub roles: Vec<String>,
    /// For providers: the base URL the hub calls.
    pub endpoint_url: Option<String>,
    /// `common_id` or `sector_pseudonym`.
    pub identifier_policy: String,
    /// `active` or `suspended`.
    pub status: String,
    /// Its certificates, newest first.
    pub certificates: Vec<CertificateView>,
    /// When it was onboarded.
    pub created_at: DateTime<Utc>,
}

/// A certificate as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CertificateView {
    /// `x5t#S256`: base64url SHA-256 of the DER certificate.
    pub thumbprint: String,
    /// Subject DN.
    pub subject: String,
    /// Serial number, hex.
    pub serial: String,
    /// Key algorithm.
    pub key_algorithm: String,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// `active` or `revoked`.
    pub status: String,
}

/// Parses a stored comma-separated role list.
pub fn parse_roles(roles: &str) -> Result<Vec<Role>, identity::UnknownNameError> {
    roles
        .split(',')
        .filter(|r| !r.is_empty())
        .map(str::parse)
        .collect()
}

/// Checks a certificate for `agency` against the trust anchors.
pub fn check_certificate(
    pem: &str,
    agency: &str,
    anchors: Option<&TrustAnchors>,
    now: DateTime<Utc>,
) -> Result<ValidatedCertificate, ApiError> {
    let anchors = anchors.ok_or_else(|| {
        ApiError::invalid(
            "untrusted_issuer",
            "no trust anchors are configured (trust_anchors_file): no certificate can be accepted",
        )
    })?;
    validate_agency_certificate(pem.as_bytes(), agency, anchors, now).map_err(|e| {
        ApiError::Invalid {
            code: e.code(),
            detail: format!("certificate refused: {e}"),
        }
    })
}

fn certificate_row(
    agency: &str,
    pem: &str,
    cert: &ValidatedCertificate,
    now: DateTime<Utc>,
) -> CertificateRow {
    CertificateRow {
        thumbprint: cert.thumbprint_s256().to_owned(),
        agency_id: agency.to_owned(),
        pem: pem.to_owned(),
        subject: cert.subject().to_owned(),
        serial: cert.serial().to_owned(),
        key_algorithm: cert.key_algorithm().as_str().to_owned(),
        not_before: db_time(cert.not_before()),
        not_after: db_time(cert.not_after()),
        added_at: db_time(now),
        revoked_at: None,
    }
}

/// Onboards an agency with its certificates, all or nothing.
pub fn onboard(
    conn: &mut DbConnection,
    anchors: Option<&TrustAnchors>,
    input: &NewAgency,
    allow_insecure_providers: bool,
    now: DateTime<Utc>,
) -> Result<AgencyView, ApiError> {
    let id: AgencyId = input
        .id
        .parse()
        .map_err(|e: identity::AgencyIdError| ApiError::invalid(e.code(), format!("id: {e}")))?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid(
            "invalid_name",
            "name: 1 to 200 characters",
        ));
    }
    let sector: Sector = input
        .sector
        .parse()
        .map_err(|e: identity::UnknownNameError| {
            ApiError::invalid(e.code(), format!("sector: {e}"))
        })?;
    let mut roles: Vec<Role> = input
        .roles
        .iter()
        .map(|r| r.parse())
        .collect::<Result<_, identity::UnknownNameError>>()
        .map_err(|e| ApiError::invalid(e.code(), format!("roles: {e}")))?;
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(ApiError::invalid(
            "invalid_roles",
            "roles: at least one role",
        ));
    }
    let policy: IdentifierPolicy =
        input
            .identifier_policy
            .parse()
            .map_err(|e: identity::UnknownNameError| {
                ApiError::invalid(e.code(), format!("identifier_policy: {e}"))
            })?;
    let endpoint = input
        .endpoint_url
        .as_deref()
        .map(|raw| provider_endpoint(raw, allow_insecure_providers))
        .transpose()?;
    if roles.contains(&Role::Provider) && endpoint.is_none() {
        return Err(ApiError::invalid(
            "invalid_endpoint_url",
            "endpoint_url: a provider needs one",
        ));
    }
    if input.certificates.is_empty() {
        return Err(ApiError::invalid(
            "certificate_required",
            "certificates: at least one PEM certificate",
        ));
    }
    let mut certs = Vec::new();
    for pem in &input.certificates {
        let cert = check_certificate(pem, id.as_str(), anchors, now)?;
        certs.push(certificate_row(id.as_str(), pem, &cert, now));
    }
    let row = AgencyRow {
        id: id.as_str().to_owned(),
        name: name.to_owned(),
        sector: sector.as_str().to_owned(),
        roles: roles.iter().map(Role::as_str).collect::<Vec<_>>().join(","),
        endpoint_url: endpoint,
        identifier_policy: policy.as_str().to_owned(),
        status: "active".to_owned(),
        created_at: db_time(now),
        updated_at: db_time(now),
    };
    crate::store::write(conn, |conn| {
        if !store::insert(conn, &row)? {
            return Err(ApiError::Conflict {
                code: "agency_exists",
                detail: format!("agency {id} is already onboarded"),
            });
        }
        for cert in &certs {
            if !store::insert_certificate(conn, cert)? {
                return Err(ApiError::Conflict {
                    code: "certificate_exists",
                    detail: format!("certificate {} is already registered", cert.thumbprint),
                });
            }
        }
        Ok(())
    })?;
    show(conn, id.as_str())
}

/// A provider's base URL, checked: `https://` (or `http://` where
/// `allow_insecure` says so), without query; returned without a trailing `/`.
pub fn provider_endpoint(raw: &str, allow_insecure: bool) -> Result<String, ApiError> {
    let url = url::Url::parse(raw)
        .map_err(|e| ApiError::invalid("invalid_endpoint_url", format!("endpoint_url: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
        return Err(ApiError::invalid(
            "invalid_endpoint_url",
            "endpoint_url: an http(s) URL without query",
        ));
    }
    if url.scheme() == "http" && !allow_insecure {
        return Err(ApiError::invalid(
            "insecure_endpoint_url",
            "endpoint_url: a provider is reached over https:// (plain http:// only where the hub's allow_insecure_providers is set)",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// One agency with its certificates.
pub fn show(conn: &mut DbConnection, id: &str) -> Result<AgencyView, ApiError> {
    let row = store::get(conn, id)?
        .ok_or_else(|| ApiError::not_found("agency_not_found", format!("no agency {id}")))?;
    let certs = store::certificates(conn, id)?;
    Ok(view(row, certs))
}

/// Every agency.
pub fn list(conn: &mut DbConnection) -> Result<Vec<AgencyView>, ApiError> {
    let rows = store::list(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let certs = store::certificates(conn, &row.id)?;
        out.push(view(row, certs));
    }
    Ok(out)
}

fn view(row: AgencyRow, certs: Vec<CertificateRow>) -> AgencyView {
    AgencyView {
        roles: row
            .roles
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
        certificates: certs
            .into_iter()
            .map(|c| CertificateView {
                status: if c.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                }
                .to_owned(),
                thumbprint: c.thumbprint,
                subject: c.subject,
                serial: c.serial,
                key_algorithm: c.key_algorithm,
                not_before: from_db(c.not_before),
                not_after: from_db(c.not_after),
            })
            .collect(),
        created_at: from_db(row.created_at),
        id: row.id,
        name: row.name,
        sector: row.sector,
        endpoint_url: row.endpoint_url,
        identifier_policy: row.identifier_policy,
        status: row.status,
    }
}

/// Replaces an agency's roles. Tokens already issued keep working only for
/// the roles the agency still holds (scopes are checked against the current
/// roles on every request).
pub fn set_roles(
    conn: &mut DbConnection,
    id: &str,
    roles: &[String],
    now: DateTime<Utc>,
) -> Result<AgencyView, ApiError> {
    let row = store::get(conn, id)?
        .ok_or_else(|| ApiError::not_found("agency_not_found", format!("no agency {id}")))?;
    let mut parsed: Vec<Role> = roles
        .iter()
        .map(|r| r.parse())
        .collect::<Result<_, identity::UnknownNameError>>()
        .map_err(|e| ApiError::invalid(e.code(), format!("roles: {e}")))?;
    parsed.sort();
    parsed.dedup();
    if parsed.is_empty() {
        return Err(ApiError::invalid(
            "invalid_roles",
            "roles: at least one role",
        ));
    }
    if parsed.contains(&Role::Provider) && row.endpoint_url.is_none() {
        return Err(ApiError::invalid(
            "invalid_endpoint_url",
            "endpoint_url: a provider needs one, and this agency has none",
        ));
    }
    let joined = parsed
        .iter()
        .map(Role::as_str)
        .collect::<Vec<_>>()
        .join(",");
    store::set_roles(conn, id, &joined, now)?;
    show(conn, id)
}

/// Suspends (`active = false`) or reactivates an agency.
pub fn set_active(
    conn: &mut DbConnection,
    id: &str,
    active: bool,
    now: DateTime<Utc>,
) -> Result<AgencyView, ApiError> {
    store::get(conn, id)?
        .ok_or_else(|| ApiError::not_found("agency_not_found", format!("no agency {id}")))?;
    store::set_status(conn, id, if active { "active" } else { "suspended" }, now)?;
    show(conn, id)
}

/// Adds a certificate to an agency (rotation: old and new overlap until the
/// old one is revoked).
pub fn add_certificate(
    conn: &mut DbConnection,
    anchors: Option<&TrustAnchors>,
    id: &str,
    pem: &str,
    now: DateTime<Utc>,
) -> Result<CertificateView, ApiError> {
    store::get(conn, id)?
        .ok_or_else(|| ApiError::not_found("agency_not_found", format!("no agency {id}")))?;
    let cert = check_certificate(pem, id, anchors, now)?;
    let row = certificate_row(id, pem, &cert, now);
    if !store::insert_certificate(conn, &row)? {
        return Err(ApiError::Conflict {
            code: "certificate_exists",
            detail: format!("certificate {} is already registered", row.thumbprint),
        });
    }
    show(conn, id)?
        .certificates
        .into_iter()
        .find(|c| c.thumbprint == row.thumbprint)
        .ok_or_else(|| ApiError::internal("certificate vanished after insert"))
}

/// Revokes a certificate of an agency.
pub fn revoke_certificate(
    conn: &mut DbConnection,
    id: &str,
    thumbprint: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    store::get(conn, id)?
        .ok_or_else(|| ApiError::not_found("agency_not_found", format!("no agency {id}")))?;
    if !store::revoke_certificate(conn, id, thumbprint, now)? {
        return Err(ApiError::NotFound {
            code: "certificate_not_found",
            detail: format!("agency {id} has no active certificate {thumbprint}"),
        });
    }
    Ok(())
}

/// The agency's certificates that are not revoked and still validate at `now`.
pub fn usable_certificates(
    conn: &mut DbConnection,
    anchors: Option<&TrustAnchors>,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<ValidatedCertificate>, ApiError> {
    let Some(anchors) = anchors else {
        return Ok(Vec::new());
    };
    Ok(store::certificates(conn, id)?
        .into_iter()
        .filter(|c| c.revoked_at.is_none())
        .filter_map(|c| validate_agency_certificate(c.pem.as_bytes(), id, anchors, now).ok())
        .collect())
}

/// What request checks need to know about an agency (the token cache keeps
/// it a few seconds).
#[derive(Debug, Clone)]
pub struct AgencyFacts {
    /// Whether it is active.
    pub active: bool,
    /// Its sector.
    pub sector: Sector,
    /// Its roles.
    pub roles: Vec<Role>,
    /// How it identifies persons.
    pub identifier_policy: IdentifierPolicy,
    /// The thumbprints of its revoked certificates.
    pub revoked: Vec<String>,
}

/// What request checks need to know about agency `id`, if it exists.
pub fn facts(conn: &mut DbConnection, id: &str) -> Result<Option<AgencyFacts>, ApiError> {
    let Some(row) = store::get(conn, id)? else {
        return Ok(None);
    };
    let revoked = store::certificates(conn, id)?
        .into_iter()
        .filter(|c| c.revoked_at.is_some())
        .map(|c| c.thumbprint)
        .collect();
    let internal = |what: &str| ApiError::internal(format!("stored agency {id} has a bad {what}"));
    Ok(Some(AgencyFacts {
        active: row.status == "active",
        sector: row.sector.parse().map_err(|_| internal("sector"))?,
        roles: parse_roles(&row.roles).map_err(|_| internal("role"))?,
        identifier_policy: row
            .identifier_policy
            .parse()
            .map_err(|_| internal("identifier policy"))?,
        revoked,
    }))
}

/// The name of agency `id`; empty when there is no such agency.
pub fn display_name(conn: &mut DbConnection, id: &str) -> Result<String, StoreError> {
    Ok(store::get(conn, id)?.map(|a| a.name).unwrap_or_default())
}
