//! The agency tables: agencies, their certificates, used client assertions,
//! and the hub's own key metadata.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::tables::{agencies, agency_certificates, hub_keys, used_assertions};
use super::{DbConnection, StoreError};
use crate::app::clock::db_time;

/// An agency as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = agencies)]
pub struct AgencyRow {
    /// e.g. `BE-0123456789`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `civil`, `social`, `tax`, …
    pub sector: String,
    /// Comma-separated roles, sorted.
    pub roles: String,
    /// Where a provider answers the hub.
    pub endpoint_url: Option<String>,
    /// `common_id` or `sector_pseudonym`.
    pub identifier_policy: String,
    /// `active` or `suspended`.
    pub status: String,
    /// When it was onboarded.
    pub created_at: NaiveDateTime,
    /// When it last changed.
    pub updated_at: NaiveDateTime,
}

/// A certificate as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = agency_certificates)]
pub struct CertificateRow {
    /// SHA-256 of the DER certificate, base64url (`x5t#S256`).
    pub thumbprint: String,
    /// The agency it binds.
    pub agency_id: String,
    /// The certificate (and any intermediate) as PEM.
    pub pem: String,
    /// Subject DN.
    pub subject: String,
    /// Serial number, hex.
    pub serial: String,
    /// `ES256`-compatible P-256, Ed25519 or RSA.
    pub key_algorithm: String,
    /// Start of validity.
    pub not_before: NaiveDateTime,
    /// End of validity.
    pub not_after: NaiveDateTime,
    /// When it was added.
    pub added_at: NaiveDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<NaiveDateTime>,
}

/// Inserts an agency; `Ok(false)` if one with that id exists.
pub fn insert(conn: &mut DbConnection, row: &AgencyRow) -> Result<bool, StoreError> {
    match diesel::insert_into(agencies::table)
        .values(row)
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// One agency.
pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<AgencyRow>, StoreError> {
    Ok(agencies::table
        .find(id)
        .select(AgencyRow::as_select())
        .first(conn)
        .optional()?)
}

/// Every agency, by id.
pub fn list(conn: &mut DbConnection) -> Result<Vec<AgencyRow>, StoreError> {
    Ok(agencies::table
        .order(agencies::id.asc())
        .select(AgencyRow::as_select())
        .load(conn)?)
}

/// Sets an agency's status; returns whether it changed.
pub fn set_status(
    conn: &mut DbConnection,
    id: &str,
    status: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        agencies::table
            .filter(agencies::id.eq(id))
            .filter(agencies::status.ne(status)),
    )
    .set((
        agencies::status.eq(status),
        agencies::updated_at.eq(db_time(now)),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Sets an agency's roles (comma-separated).
pub fn set_roles(
    conn: &mut DbConnection,
    id: &str,
    roles: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(agencies::table.filter(agencies::id.eq(id)))
        .set((
            agencies::roles.eq(roles),
            agencies::updated_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Inserts a certificate; `Ok(false)` if it is already registered.
pub fn insert_certificate(
    conn: &mut DbConnection,
    row: &CertificateRow,
) -> Result<bool, StoreError> {
    match diesel::insert_into(agency_certificates::table)
        .values(row)
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Every certificate of an agency, newest first.
pub fn certificates(
    conn: &mut DbConnection,
    agency_id: &str,
) -> Result<Vec<CertificateRow>, StoreError> {
    Ok(agency_certificates::table
        .filter(agency_certificates::agency_id.eq(agency_id))
        .order(agency_certificates::added_at.desc())
        .select(CertificateRow::as_select())
        .load(conn)?)
}

/// One certificate by thumbprint.
pub fn certificate(
    conn: &mut DbConnection,
    thumbprint: &str,
) -> Result<Option<CertificateRow>, StoreError> {
    Ok(agency_certificates::table
        .find(thumbprint)
        .select(CertificateRow::as_select())
        .first(conn)
        .optional()?)
}

/// Revokes a certificate of an agency; returns whether one was revoked.
pub fn revoke_certificate(
    conn: &mut DbConnection,
    agency_id: &str,
    thumbprint: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        agency_certificates::table
            .filter(agency_certificates::agency_id.eq(agency_id))
            .filter(agency_certificates::thumbprint.eq(thumbprint))
            .filter(agency_certificates::revoked_at.is_null()),
    )
    .set(agency_certificates::revoked_at.eq(Some(db_time(now))))
    .execute(conn)?;
    Ok(n == 1)
}

/// Records a client assertion's `jti`; `Ok(false)` if it was used before.
///
/// A record is kept until the assertion could no longer be accepted: its
/// `exp` plus `leeway` (the clock skew the check tolerates), so that an
/// assertion is never accepted twice. Older records are purged on the way.
/// `ON CONFLICT DO NOTHING` keeps a replay from aborting the caller's
/// transaction (PostgreSQL).
pub fn use_assertion(
    conn: &mut DbConnection,
    agency_id: &str,
    jti: &str,
    expires_at: DateTime<Utc>,
    leeway: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    diesel::delete(
        used_assertions::table.filter(used_assertions::expires_at.lt(db_time(now - leeway))),
    )
    .execute(conn)?;
    let values = (
        used_assertions::agency_id.eq(agency_id),
        used_assertions::jti.eq(jti),
        used_assertions::expires_at.eq(db_time(expires_at)),
    );
    let inserted = match conn {
        DbConnection::Sqlite(c) => diesel::insert_into(used_assertions::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConnection::Postgres(c) => diesel::insert_into(used_assertions::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(inserted == 1)
}

/// A hub signing key's public half, as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = hub_keys)]
pub struct HubKeyRow {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// The raw Ed25519 public key, base64url.
    pub public_key: String,
    /// When it was made.
    pub created_at: NaiveDateTime,
    /// When it stopped signing.
    pub retired_at: Option<NaiveDateTime>,
    /// Until when it stays in the JWKS.
    pub publish_until: Option<NaiveDateTime>,
}

/// Every hub key, oldest first.
pub fn hub_keys(conn: &mut DbConnection) -> Result<Vec<HubKeyRow>, StoreError> {
    Ok(hub_keys::table
        .order(hub_keys::created_at.asc())
        .select(HubKeyRow::as_select())
        .load(conn)?)
}

/// Stores a new key and retires every other unretired key.
pub fn add_hub_key(
    conn: &mut DbConnection,
    row: &HubKeyRow,
    now: DateTime<Utc>,
    publish_until: DateTime<Utc>,
) -> Result<(), StoreError> {
    super::write(conn, |conn| {
        diesel::update(
            hub_keys::table
                .filter(hub_keys::retired_at.is_null())
                .filter(hub_keys::kid.ne(&row.kid)),
        )
        .set((
            hub_keys::retired_at.eq(Some(db_time(now))),
            hub_keys::publish_until.eq(Some(db_time(publish_until))),
        ))
        .execute(conn)?;
        let exists = hub_keys::table
            .find(&row.kid)
            .count()
            .get_result::<i64>(conn)?
            > 0;
        if !exists {
            diesel::insert_into(hub_keys::table)
                .values(row)
                .execute(conn)?;
        }
        Ok::<_, DieselError>(())
    })?;
    Ok(())
}
