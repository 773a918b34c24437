//! The `operator_tokens` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::tables::operator_tokens;
use super::{DbConnection, StoreError};
use crate::app::clock::{db_time, from_db};

/// An operator credential as stored (the token itself is never stored).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = operator_tokens)]
pub struct OperatorRow {
    /// Identifier of the credential.
    pub id: String,
    /// Who holds it.
    pub name: String,
    /// SHA-256 of the token, hex.
    pub token_digest: String,
    /// When it was made.
    pub created_at: chrono::NaiveDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<chrono::NaiveDateTime>,
}

impl OperatorRow {
    /// When it was made, in UTC.
    pub fn created(&self) -> DateTime<Utc> {
        from_db(self.created_at)
    }
}

/// Stores a new credential.
pub fn insert(
    conn: &mut DbConnection,
    id: &str,
    name: &str,
    token_digest: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::insert_into(operator_tokens::table)
        .values((
            operator_tokens::id.eq(id),
            operator_tokens::name.eq(name),
            operator_tokens::token_digest.eq(token_digest),
            operator_tokens::created_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The unrevoked credential with this digest.
pub fn find_active(
    conn: &mut DbConnection,
    token_digest: &str,
) -> Result<Option<OperatorRow>, StoreError> {
    Ok(operator_tokens::table
        .filter(operator_tokens::token_digest.eq(token_digest))
        .filter(operator_tokens::revoked_at.is_null())
        .select(OperatorRow::as_select())
        .first(conn)
        .optional()?)
}

/// Every credential, newest first.
pub fn list(conn: &mut DbConnection) -> Result<Vec<OperatorRow>, StoreError> {
    Ok(operator_tokens::table
        .order(operator_tokens::created_at.desc())
        .select(OperatorRow::as_select())
        .load(conn)?)
}

/// Revokes a credential; returns whether one was revoked.
pub fn revoke(conn: &mut DbConnection, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let n = diesel::update(
        operator_tokens::table
            .filter(operator_tokens::id.eq(id))
            .filter(operator_tokens::revoked_at.is_null()),
    )
    .set(operator_tokens::revoked_at.eq(Some(db_time(now))))
    .execute(conn)?;
    Ok(n == 1)
}
