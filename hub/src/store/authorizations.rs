//! The legal-basis tables: purposes and every version of every
//! authorization.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::tables::{authorizations, purposes};
use super::{DbConnection, StoreError};
use crate::app::clock::db_time;

/// A purpose as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = purposes)]
pub struct PurposeRow {
    /// e.g. `benefit-eligibility`.
    pub code: String,
    /// A short title.
    pub title: String,
    /// What it covers.
    pub description: String,
    /// The legal reference's title.
    pub legal_title: String,
    /// The legal reference's URL.
    pub legal_url: String,
    /// When it was added.
    pub created_at: NaiveDateTime,
    /// The operator who added it.
    pub created_by: String,
}

/// One version of an authorization as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = authorizations)]
pub struct AuthorizationRow {
    /// `auth-…`.
    pub id: String,
    /// From 1.
    pub version: i32,
    /// The one consumer agency, or
    pub consumer_agency: Option<String>,
    /// every agency of this sector
    pub consumer_sector: Option<String>,
    /// with this role.
    pub consumer_role: Option<String>,
    /// The record type's name.
    pub record_type: String,
    /// Its major version.
    pub major: i32,
    /// JSON array of the granted JSON Pointers.
    pub fields: String,
    /// JSON array of the allowed purpose codes.
    pub purposes: String,
    /// JSON of the legal reference (`title`, `url`).
    pub legal_reference: String,
    /// Start (inclusive).
    pub valid_from: NaiveDateTime,
    /// End (exclusive), if any.
    pub valid_until: Option<NaiveDateTime>,
    /// Whether the person's consent is needed too.
    pub consent_required: bool,
    /// When the next version takes over.
    pub superseded_from: Option<NaiveDateTime>,
    /// When this version was published.
    pub published_at: NaiveDateTime,
    /// The operator who published it.
    pub published_by: String,
}

/// Inserts a purpose; `Ok(false)` if one with that code exists.
pub fn insert_purpose(conn: &mut DbConnection, row: &PurposeRow) -> Result<bool, StoreError> {
    match diesel::insert_into(purposes::table)
        .values(row)
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// One purpose.
pub fn purpose(conn: &mut DbConnection, code: &str) -> Result<Option<PurposeRow>, StoreError> {
    Ok(purposes::table
        .find(code)
        .select(PurposeRow::as_select())
        .first(conn)
        .optional()?)
}

/// Every purpose, by code.
pub fn purposes(conn: &mut DbConnection) -> Result<Vec<PurposeRow>, StoreError> {
    Ok(purposes::table
        .order(purposes::code.asc())
        .select(PurposeRow::as_select())
        .load(conn)?)
}

/// Inserts a version; `Ok(false)` if that id and version exist.
pub fn insert(conn: &mut DbConnection, row: &AuthorizationRow) -> Result<bool, StoreError> {
    match diesel::insert_into(authorizations::table)
        .values(row)
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Closes a version that is not yet superseded; returns whether it was
/// (false: another writer closed it first).
pub fn close(
    conn: &mut DbConnection,
    id: &str,
    version: i32,
    from: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        authorizations::table
            .filter(authorizations::id.eq(id))
            .filter(authorizations::version.eq(version))
            .filter(authorizations::superseded_from.is_null()),
    )
    .set(authorizations::superseded_from.eq(Some(db_time(from))))
    .execute(conn)?;
    Ok(n == 1)
}

/// Every version of every authorization, by id and version.
pub fn all(conn: &mut DbConnection) -> Result<Vec<AuthorizationRow>, StoreError> {
    Ok(authorizations::table
        .order((authorizations::id.asc(), authorizations::version.asc()))
        .select(AuthorizationRow::as_select())
        .load(conn)?)
}

/// Every version of one authorization, oldest first.
pub fn history(conn: &mut DbConnection, id: &str) -> Result<Vec<AuthorizationRow>, StoreError> {
    Ok(authorizations::table
        .filter(authorizations::id.eq(id))
        .order(authorizations::version.asc())
        .select(AuthorizationRow::as_select())
        .load(conn)?)
}
