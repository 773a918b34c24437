//! The person tables: persons, their sector pseudonyms, citizen accounts.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::tables::{citizen_accounts, persons, sector_pseudonyms};
use super::{DbConnection, StoreError};
use crate::app::clock::db_time;

/// A person as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = persons)]
pub struct PersonRow {
    /// The common identifier, 11 digits.
    pub common_id: String,
    /// Given names as registered.
    pub given_names: String,
    /// Family name as registered.
    pub family_name: String,
    /// Date of birth.
    pub birth_date: NaiveDate,
    /// Place of birth.
    pub birth_place: Option<String>,
    /// `female`, `male`, `other`…
    pub sex: Option<String>,
    /// Normalised attributes, for finding duplicates.
    pub match_key: String,
    /// `active`, `deceased`, `inactive` or `replaced`.
    pub status: String,
    /// Date of death, for `deceased`.
    pub deceased_on: Option<NaiveDate>,
    /// The survivor, for `replaced`.
    pub replaced_by: Option<String>,
    /// The registrar agency.
    pub registered_by: String,
    /// When registered.
    pub created_at: NaiveDateTime,
    /// When last changed.
    pub updated_at: NaiveDateTime,
}

/// Inserts a person; `Ok(false)` if the identifier is taken.
pub fn insert(conn: &mut DbConnection, row: &PersonRow) -> Result<bool, StoreError> {
    match diesel::insert_into(persons::table)
        .values(row)
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// One person by common identifier.
pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<PersonRow>, StoreError> {
    Ok(persons::table
        .find(id)
        .select(PersonRow::as_select())
        .first(conn)
        .optional()?)
}

/// Persons whose normalised attributes match, not replaced.
pub fn by_match_key(conn: &mut DbConnection, key: &str) -> Result<Vec<PersonRow>, StoreError> {
    Ok(persons::table
        .filter(persons::match_key.eq(key))
        .filter(persons::status.ne("replaced"))
        .order(persons::created_at.asc())
        .select(PersonRow::as_select())
        .load(conn)?)
}

/// Writes a person's status columns.
pub fn update_status(conn: &mut DbConnection, row: &PersonRow) -> Result<(), StoreError> {
    diesel::update(persons::table.find(&row.common_id))
        .set((
            persons::status.eq(&row.status),
            persons::deceased_on.eq(row.deceased_on),
            persons::replaced_by.eq(&row.replaced_by),
            persons::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Stores a person's pseudonym in a sector.
pub fn insert_pseudonym(
    conn: &mut DbConnection,
    sector: &str,
    pseudonym: &str,
    id: &str,
) -> Result<(), StoreError> {
    diesel::insert_into(sector_pseudonyms::table)
        .values((
            sector_pseudonyms::sector.eq(sector),
            sector_pseudonyms::pseudonym.eq(pseudonym),
            sector_pseudonyms::common_id.eq(id),
        ))
        .execute(conn)?;
    Ok(())
}

/// The person behind a sector pseudonym.
pub fn by_pseudonym(
    conn: &mut DbConnection,
    sector: &str,
    pseudonym: &str,
) -> Result<Option<String>, StoreError> {
    Ok(sector_pseudonyms::table
        .filter(sector_pseudonyms::sector.eq(sector))
        .filter(sector_pseudonyms::pseudonym.eq(pseudonym))
        .select(sector_pseudonyms::common_id)
        .first(conn)
        .optional()?)
}

/// A citizen account as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = citizen_accounts, treat_none_as_null = true)]
pub struct AccountRow {
    /// Whose account.
    pub common_id: String,
    /// SHA-256 of the pending activation code (cleared once used).
    pub activation_digest: Option<String>,
    /// When the activation code expires.
    pub activation_expires_at: Option<NaiveDateTime>,
    /// Argon2id PHC string.
    pub password_hash: Option<String>,
    /// Base32 TOTP secret, when the citizen enrolled one.
    pub totp_secret: Option<String>,
    /// The last TOTP time step accepted (no code works twice).
    pub totp_last_step: Option<i64>,
    /// Consecutive failed attempts.
    pub failures: i32,
    /// The end of the current lock.
    pub locked_until: Option<NaiveDateTime>,
    /// When the account was activated.
    pub activated_at: Option<NaiveDateTime>,
    /// When made.
    pub created_at: NaiveDateTime,
    /// When last changed.
    pub updated_at: NaiveDateTime,
}

/// Inserts an account.
pub fn insert_account(conn: &mut DbConnection, row: &AccountRow) -> Result<(), StoreError> {
    diesel::insert_into(citizen_accounts::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// One account.
pub fn account(conn: &mut DbConnection, id: &str) -> Result<Option<AccountRow>, StoreError> {
    Ok(citizen_accounts::table
        .find(id)
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?)
}

/// Locks a person's row until the transaction ends (PostgreSQL; SQLite's
/// write transaction holds the whole database), so that a count of what
/// concerns the person and the write that depends on it follow each other.
pub fn lock_person(conn: &mut DbConnection, common_id: &str) -> Result<(), StoreError> {
    if let DbConnection::Postgres(pg) = conn {
        persons::table
            .find(common_id)
            .select(persons::common_id)
            .for_update()
            .first::<String>(pg)
            .optional()?;
    }
    Ok(())
}

/// An account, its row locked until the transaction ends (PostgreSQL;
/// SQLite's write transaction holds the whole database).
pub fn account_for_update(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<AccountRow>, StoreError> {
    if let DbConnection::Postgres(pg) = conn {
        return Ok(citizen_accounts::table
            .find(id)
            .select(AccountRow::as_select())
            .for_update()
            .first(pg)
            .optional()?);
    }
    account(conn, id)
}

/// Accepts TOTP time step `step` for an account unless that step or a
/// later one was accepted already; one atomic update.
pub fn accept_totp_step(conn: &mut DbConnection, id: &str, step: i64) -> Result<bool, StoreError> {
    let n = diesel::update(
        citizen_accounts::table.find(id).filter(
            citizen_accounts::totp_last_step
                .is_null()
                .or(citizen_accounts::totp_last_step.lt(step)),
        ),
    )
    .set(citizen_accounts::totp_last_step.eq(Some(step)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Sets (or, with `None`, removes) an account's TOTP secret and last
/// accepted step; with `only_if_none`, only while none is set. False when
/// nothing was written.
pub fn set_totp(
    conn: &mut DbConnection,
    id: &str,
    secret: Option<&str>,
    step: Option<i64>,
    only_if_none: bool,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let values = (
        citizen_accounts::totp_secret.eq(secret),
        citizen_accounts::totp_last_step.eq(step),
        citizen_accounts::updated_at.eq(db_time(now)),
    );
    let row = citizen_accounts::table.find(id);
    let n = if only_if_none {
        diesel::update(row.filter(citizen_accounts::totp_secret.is_null()))
            .set(values)
            .execute(conn)?
    } else {
        diesel::update(row).set(values).execute(conn)?
    };
    Ok(n == 1)
}

/// The TOTP secrets still stored in plaintext (not `v1.`-sealed), by
/// common ID: none once sealed, so a start reads nothing more.
pub fn plain_totp_secrets(conn: &mut DbConnection) -> Result<Vec<(String, String)>, StoreError> {
    Ok(citizen_accounts::table
        .filter(citizen_accounts::totp_secret.is_not_null())
        .filter(citizen_accounts::totp_secret.not_like("v1.%"))
        .select((
            citizen_accounts::common_id,
            citizen_accounts::totp_secret.assume_not_null(),
        ))
        .load(conn)?)
}

/// Replaces a stored TOTP secret `old` by its sealed form, unless it changed
/// meanwhile.
pub fn reseal_totp(
    conn: &mut DbConnection,
    id: &str,
    old: &str,
    sealed: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        citizen_accounts::table
            .find(id)
            .filter(citizen_accounts::totp_secret.eq(old)),
    )
    .set((
        citizen_accounts::totp_secret.eq(sealed),
        citizen_accounts::updated_at.eq(db_time(now)),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Clears an account's failures and delay after a success.
pub fn clear_failures(
    conn: &mut DbConnection,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(citizen_accounts::table.find(id))
        .set((
            citizen_accounts::failures.eq(0),
            citizen_accounts::locked_until.eq(None::<NaiveDateTime>),
            citizen_accounts::updated_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Activates an account whose activation code digest is still `digest`:
/// sets its password hash, spends the code and clears its failures, in one
/// statement. False when the code was spent meanwhile (or never was).
pub fn complete_activation(
    conn: &mut DbConnection,
    id: &str,
    digest: &str,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        citizen_accounts::table
            .find(id)
            .filter(citizen_accounts::activation_digest.eq(digest)),
    )
    .set((
        citizen_accounts::password_hash.eq(Some(password_hash)),
        citizen_accounts::activation_digest.eq(None::<String>),
        citizen_accounts::activation_expires_at.eq(None::<NaiveDateTime>),
        citizen_accounts::activated_at.eq(Some(db_time(now))),
        citizen_accounts::failures.eq(0),
        citizen_accounts::locked_until.eq(None::<NaiveDateTime>),
        citizen_accounts::updated_at.eq(db_time(now)),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Writes an account back.
pub fn save_account(conn: &mut DbConnection, row: &AccountRow) -> Result<(), StoreError> {
    diesel::update(citizen_accounts::table.find(&row.common_id))
        .set(row)
        .execute(conn)?;
    Ok(())
}

/// A citizen's web session as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::tables::citizen_sessions)]
pub struct SessionRow {
    /// SHA-256 of the session cookie's value, hex.
    pub id_digest: String,
    /// Whose session.
    pub common_id: String,
    /// The token forms must carry (CSRF).
    pub csrf_token: String,
    /// When signed in.
    pub created_at: NaiveDateTime,
    /// When it ends.
    pub expires_at: NaiveDateTime,
}

/// Stores a session.
pub fn insert_session(conn: &mut DbConnection, row: &SessionRow) -> Result<(), StoreError> {
    use super::tables::citizen_sessions;
    diesel::insert_into(citizen_sessions::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// A session that has not expired at `now`.
pub fn session(
    conn: &mut DbConnection,
    id_digest: &str,
    now: NaiveDateTime,
) -> Result<Option<SessionRow>, StoreError> {
    use super::tables::citizen_sessions;
    Ok(citizen_sessions::table
        .find(id_digest)
        .filter(citizen_sessions::expires_at.gt(now))
        .select(SessionRow::as_select())
        .first(conn)
        .optional()?)
}

/// Deletes the sessions that have expired at `now`; returns how many.
pub fn purge_sessions(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<usize, StoreError> {
    use super::tables::citizen_sessions;
    Ok(diesel::delete(
        citizen_sessions::table.filter(citizen_sessions::expires_at.le(db_time(now))),
    )
    .execute(conn)?)
}

/// Ends a session.
pub fn delete_session(conn: &mut DbConnection, id_digest: &str) -> Result<(), StoreError> {
    use super::tables::citizen_sessions;
    diesel::delete(citizen_sessions::table.find(id_digest)).execute(conn)?;
    Ok(())
}
