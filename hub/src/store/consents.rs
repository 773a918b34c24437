//! The consent tables: consents at their latest revision, the fetches made
//! under them, and the state changes agencies poll for.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::tables::{consent_events, consent_uses, consents};
use super::{DbConnection, StoreError};
use crate::app::clock::db_time;

/// A consent as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = consents, treat_none_as_null = true)]
pub struct ConsentRow {
    /// `cns-…`.
    pub id: String,
    /// The person's common ID (digits).
    pub person: String,
    /// The consumer agency.
    pub consumer: String,
    /// JSON array of record type references (`person.address@1`).
    pub record_types: String,
    /// The purpose code.
    pub purpose: String,
    /// Start of the window (inclusive).
    pub valid_from: NaiveDateTime,
    /// End of the window (exclusive).
    pub valid_until: NaiveDateTime,
    /// JSON of the fetch frequency.
    pub frequency: String,
    /// `pending`, `active`, `paused`, `rejected`, `revoked` or `expired`.
    pub state: String,
    /// From 1, bumped by every change.
    pub revision: i32,
    /// When it was requested or granted.
    pub created_at: NaiveDateTime,
    /// When it last changed.
    pub updated_at: NaiveDateTime,
    /// The artefact of the current revision, while active.
    pub artefact: Option<String>,
}

/// A consent state change as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = consent_events)]
pub struct EventRow {
    /// The polling cursor.
    pub seq: i64,
    /// The consent.
    pub consent_id: String,
    /// The consumer agency that is told.
    pub agency: String,
    /// The person (common ID digits).
    pub person: String,
    /// `granted`, `approved`, `rejected`, `paused`, `resumed`, `revoked`, `expired`.
    pub kind: String,
    /// The consent's revision after the change.
    pub revision: i32,
    /// When.
    pub occurred_at: NaiveDateTime,
}

/// Inserts a consent.
pub fn insert(conn: &mut DbConnection, row: &ConsentRow) -> Result<(), StoreError> {
    diesel::insert_into(consents::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Saves a changed consent if its stored revision is still `previous`;
/// returns whether it was saved (false: someone else changed it first).
pub fn update(
    conn: &mut DbConnection,
    row: &ConsentRow,
    previous: i32,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        consents::table
            .filter(consents::id.eq(&row.id))
            .filter(consents::revision.eq(previous)),
    )
    .set(row)
    .execute(conn)?;
    Ok(n == 1)
}

/// Sets the stored artefact of a revision.
pub fn set_artefact(
    conn: &mut DbConnection,
    id: &str,
    revision: i32,
    artefact: &str,
) -> Result<(), StoreError> {
    diesel::update(
        consents::table
            .filter(consents::id.eq(id))
            .filter(consents::revision.eq(revision)),
    )
    .set(consents::artefact.eq(Some(artefact)))
    .execute(conn)?;
    Ok(())
}

/// One consent.
pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<ConsentRow>, StoreError> {
    Ok(consents::table
        .find(id)
        .select(ConsentRow::as_select())
        .first(conn)
        .optional()?)
}

/// A person's consents, newest first.
pub fn by_person(conn: &mut DbConnection, person: &str) -> Result<Vec<ConsentRow>, StoreError> {
    Ok(consents::table
        .filter(consents::person.eq(person))
        .order((consents::created_at.desc(), consents::id.asc()))
        .select(ConsentRow::as_select())
        .load(conn)?)
}

/// An agency's consents, optionally of one person and in one state, newest
/// first.
pub fn by_consumer(
    conn: &mut DbConnection,
    consumer: &str,
    person: Option<&str>,
    state: Option<&str>,
) -> Result<Vec<ConsentRow>, StoreError> {
    let mut query = consents::table
        .filter(consents::consumer.eq(consumer))
        .into_boxed();
    if let Some(person) = person {
        query = query.filter(consents::person.eq(person.to_owned()));
    }
    if let Some(state) = state {
        query = query.filter(consents::state.eq(state.to_owned()));
    }
    Ok(query
        .order((consents::created_at.desc(), consents::id.asc()))
        .select(ConsentRow::as_select())
        .load(conn)?)
}

/// Reserves one use of a consent for an exchange, if fewer than `limit`
/// uses were made from `since`; returns the number of uses made before,
/// and whether the reservation was made.
///
/// Atomic on both backends: the consent's row is locked first (`FOR
/// UPDATE` on PostgreSQL; SQLite's write transaction holds the database),
/// so two reservations against one consent follow each other and the
/// second counts the first. Call it inside [`super::write`].
pub fn reserve_use(
    conn: &mut DbConnection,
    consent: &str,
    exchange: &str,
    since: DateTime<Utc>,
    at: DateTime<Utc>,
    limit: u32,
) -> Result<(u32, bool), StoreError> {
    if let DbConnection::Postgres(pg) = conn {
        consents::table
            .find(consent)
            .select(consents::id)
            .for_update()
            .first::<String>(pg)
            .optional()?;
    }
    // Every use from the period's start, however late: a lookup that read
    // the clock earlier may reserve after one that read it later.
    let used: i64 = consent_uses::table
        .filter(consent_uses::consent_id.eq(consent))
        .filter(consent_uses::used_at.ge(db_time(since)))
        .count()
        .get_result(conn)?;
    let used = u32::try_from(used).unwrap_or(u32::MAX);
    if used >= limit {
        return Ok((used, false));
    }
    diesel::insert_into(consent_uses::table)
        .values((
            consent_uses::id.eq(exchange),
            consent_uses::consent_id.eq(consent),
            consent_uses::used_at.eq(db_time(at)),
            consent_uses::pending.eq(true),
        ))
        .execute(conn)?;
    Ok((used, true))
}

/// Gives back the reservation of an exchange whose provider call failed.
pub fn release_use(conn: &mut DbConnection, exchange: &str) -> Result<bool, StoreError> {
    let n =
        diesel::delete(consent_uses::table.filter(consent_uses::id.eq(exchange))).execute(conn)?;
    Ok(n == 1)
}

/// Marks the reservations of exchanges settled: their audit entries are in
/// the log (called in the transaction that stores them).
pub fn settle_reservations(
    conn: &mut DbConnection,
    exchanges: &[String],
) -> Result<(), StoreError> {
    for chunk in exchanges.chunks(1_000) {
        diesel::update(
            consent_uses::table
                .filter(consent_uses::id.eq_any(chunk))
                .filter(consent_uses::pending.eq(true)),
        )
        .set(consent_uses::pending.eq(false))
        .execute(conn)?;
    }
    Ok(())
}

/// A reservation still pending: `(exchange id, consent id, reserved at)`.
pub type PendingUse = (String, String, NaiveDateTime);

/// Reservations made before `before` that are still pending, oldest
/// first, at most `limit`.
pub fn pending_uses(
    conn: &mut DbConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<PendingUse>, StoreError> {
    Ok(consent_uses::table
        .filter(consent_uses::pending.eq(true))
        .filter(consent_uses::used_at.lt(db_time(before)))
        .order(consent_uses::used_at.asc())
        .limit(limit)
        .select((
            consent_uses::id,
            consent_uses::consent_id,
            consent_uses::used_at,
        ))
        .load(conn)?)
}

/// How many fetches were made under a consent from `since` (inclusive) to
/// `until` (inclusive).
pub fn count_uses(
    conn: &mut DbConnection,
    consent: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<u32, StoreError> {
    let n: i64 = consent_uses::table
        .filter(consent_uses::consent_id.eq(consent))
        .filter(consent_uses::used_at.ge(db_time(since)))
        .filter(consent_uses::used_at.le(db_time(until)))
        .count()
        .get_result(conn)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Appends a state change with the next sequence number. Call it inside the
/// transaction that changes the consent: a concurrent writer that takes the
/// same number fails on the primary key and retries.
pub fn insert_event(
    conn: &mut DbConnection,
    consent: &str,
    agency: &str,
    person: &str,
    kind: &str,
    revision: i32,
    at: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let last: Option<i64> = consent_events::table
        .select(diesel::dsl::max(consent_events::seq))
        .first(conn)?;
    let seq = last.unwrap_or(0) + 1;
    diesel::insert_into(consent_events::table)
        .values(EventRow {
            seq,
            consent_id: consent.to_owned(),
            agency: agency.to_owned(),
            person: person.to_owned(),
            kind: kind.to_owned(),
            revision,
            occurred_at: db_time(at),
        })
        .execute(conn)?;
    Ok(seq)
}

/// An agency's events after `after`, oldest first, at most `limit`.
pub fn events_after(
    conn: &mut DbConnection,
    agency: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<EventRow>, StoreError> {
    Ok(consent_events::table
        .filter(consent_events::agency.eq(agency))
        .filter(consent_events::seq.gt(after))
        .order(consent_events::seq.asc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)?)
}
