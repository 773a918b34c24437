//! Change notifications: published changes, subscriptions, the
//! notifications fanned out to them and the pull feed's cursors.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::tables::{
    changes, notification_cursors, notifications, person_references, subscriptions,
};
use super::{DbConnection, StoreError};
use crate::app::clock::db_time;

/// The PostgreSQL advisory lock held by the transaction that fans out:
/// notifications are numbered and committed in one order, so a feed read
/// after `seq` never misses one committed later with a smaller number.
pub const FAN_OUT_LOCK: i64 = 0x6372_6f73_736e_7466; // "crossntf"

/// `status = 'pending'` written out, not bound: SQLite uses a partial index
/// (`… WHERE status = 'pending'`) only for a query whose condition states
/// it literally.
fn pending() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>("notifications.status = 'pending'")
}

/// A published change, as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = changes)]
pub struct ChangeRow {
    /// `chg-…`.
    pub id: String,
    /// The publishing agency (`hub` for lifecycle events).
    pub publisher: String,
    /// The publisher's own reference (unique per publisher).
    pub reference: String,
    /// The person (after merges).
    pub common_id: String,
    /// `name@major.minor`.
    pub record_type: String,
    /// The record type's name.
    pub record_name: String,
    /// Its major version.
    pub major: i32,
    /// `created`, `updated` or `deleted`.
    pub kind: String,
    /// When the change took effect.
    pub effective_date: NaiveDate,
    /// JSON array of JSON Pointers, when given.
    pub changed_fields: Option<String>,
    /// The new record (JSON), until fanned out.
    pub record: Option<String>,
    /// When accepted.
    pub accepted_at: NaiveDateTime,
    /// When fanned out.
    pub fanned_out_at: Option<NaiveDateTime>,
}

/// Inserts a change unless the publisher used its reference already;
/// returns the id of the change under that reference (this one, or the
/// earlier one) and whether it was new.
pub fn insert_change(
    conn: &mut DbConnection,
    row: &ChangeRow,
) -> Result<(String, bool), StoreError> {
    let inserted = match conn {
        DbConnection::Sqlite(c) => diesel::insert_into(changes::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConnection::Postgres(c) => diesel::insert_into(changes::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    if inserted == 1 {
        return Ok((row.id.clone(), true));
    }
    let id = changes::table
        .filter(changes::publisher.eq(&row.publisher))
        .filter(changes::reference.eq(&row.reference))
        .select(changes::id)
        .first::<String>(conn)?;
    Ok((id, false))
}

/// Changes not fanned out yet, oldest first, at most `limit`.
pub fn to_fan_out(conn: &mut DbConnection, limit: i64) -> Result<Vec<ChangeRow>, StoreError> {
    Ok(changes::table
        .filter(changes::fanned_out_at.is_null())
        .order(changes::seq.asc())
        .limit(limit)
        .select(ChangeRow::as_select())
        .load(conn)?)
}

/// Takes the fan-out lock for the rest of the transaction (PostgreSQL;
/// SQLite's write transaction holds the whole database).
pub fn lock_fan_out(conn: &mut DbConnection) -> Result<(), StoreError> {
    if let DbConnection::Postgres(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(FAN_OUT_LOCK)
            .execute(pg)?;
    }
    Ok(())
}

/// Marks a change fanned out and drops its record; `false` when another
/// worker did it first.
pub fn mark_fanned_out(
    conn: &mut DbConnection,
    id: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        changes::table
            .filter(changes::id.eq(id))
            .filter(changes::fanned_out_at.is_null()),
    )
    .set((
        changes::fanned_out_at.eq(db_time(at)),
        changes::record.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// How many changes wait to be fanned out.
pub fn fan_out_depth(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(changes::table
        .filter(changes::fanned_out_at.is_null())
        .count()
        .get_result(conn)?)
}

/// A subscription, as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = subscriptions)]
pub struct SubscriptionRow {
    /// `sub-…`.
    pub id: String,
    /// The subscribing agency.
    pub agency_id: String,
    /// The record type's name.
    pub record_name: String,
    /// Its major version.
    pub major: i32,
    /// The purpose notifications are decided for.
    pub purpose: String,
    /// `pull` or `webhook`.
    pub delivery: String,
    /// Where webhook batches go.
    pub webhook_url: Option<String>,
    /// When made.
    pub created_at: NaiveDateTime,
    /// When deleted.
    pub deleted_at: Option<NaiveDateTime>,
    /// The worker holding the delivery lease.
    pub lease_owner: Option<String>,
    /// Until when.
    pub lease_until: Option<NaiveDateTime>,
    /// Failed attempts of the batch at the head.
    pub attempts: i32,
    /// Not before this time again.
    pub next_attempt_at: Option<NaiveDateTime>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// Stores a new subscription.
pub fn insert_subscription(
    conn: &mut DbConnection,
    row: &SubscriptionRow,
) -> Result<(), StoreError> {
    diesel::insert_into(subscriptions::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// An agency's subscriptions in force, oldest first.
pub fn subscriptions_of(
    conn: &mut DbConnection,
    agency_id: &str,
) -> Result<Vec<SubscriptionRow>, StoreError> {
    Ok(subscriptions::table
        .filter(subscriptions::agency_id.eq(agency_id))
        .filter(subscriptions::deleted_at.is_null())
        .order((subscriptions::created_at.asc(), subscriptions::id.asc()))
        .select(SubscriptionRow::as_select())
        .load(conn)?)
}

/// The subscriptions in force to `record_name@major`.
pub fn subscribers(
    conn: &mut DbConnection,
    record_name: &str,
    major: i32,
) -> Result<Vec<SubscriptionRow>, StoreError> {
    Ok(subscriptions::table
        .filter(subscriptions::record_name.eq(record_name))
        .filter(subscriptions::major.eq(major))
        .filter(subscriptions::deleted_at.is_null())
        .order(subscriptions::id.asc())
        .select(SubscriptionRow::as_select())
        .load(conn)?)
}

/// Ends an agency's subscription; `false` when it has none in force by
/// that id.
pub fn delete_subscription(
    conn: &mut DbConnection,
    agency_id: &str,
    id: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        subscriptions::table
            .find(id)
            .filter(subscriptions::agency_id.eq(agency_id))
            .filter(subscriptions::deleted_at.is_null()),
    )
    .set(subscriptions::deleted_at.eq(db_time(at)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Whether `agency_id` holds a `file` reference on the person in force on
/// `day`.
pub fn holds_file(
    conn: &mut DbConnection,
    agency_id: &str,
    common_id: &str,
    day: NaiveDate,
) -> Result<bool, StoreError> {
    let n: i64 = person_references::table
        .filter(person_references::common_id.eq(common_id))
        .filter(person_references::agency_id.eq(agency_id))
        .filter(person_references::kind.eq("file"))
        .filter(person_references::ended_at.is_null())
        .filter(person_references::valid_from.le(day))
        .filter(
            person_references::valid_until
                .is_null()
                .or(person_references::valid_until.ge(day)),
        )
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// A notification, as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications)]
pub struct NotificationRow {
    /// Feed order.
    pub seq: i64,
    /// `ntf-…`: the idempotency id.
    pub id: String,
    /// The change.
    pub change_id: String,
    /// The subscription.
    pub subscription_id: String,
    /// The receiving agency.
    pub agency_id: String,
    /// The person (common ID), for ordering and the person's access log.
    pub common_id: String,
    /// `pull` or `webhook`.
    pub delivery: String,
    /// The notification as delivered, without its record (JSON).
    pub body: String,
    /// The minimised record (JSON), until the retention period ends.
    pub data: Option<String>,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    /// When made.
    pub created_at: NaiveDateTime,
    /// When delivered.
    pub delivered_at: Option<NaiveDateTime>,
    /// When dead-lettered.
    pub failed_at: Option<NaiveDateTime>,
    /// Delivery attempts.
    pub attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// A notification to store (its `seq` is given by the database).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = notifications)]
pub struct NewNotificationRow {
    /// `ntf-…`.
    pub id: String,
    /// The change.
    pub change_id: String,
    /// The subscription.
    pub subscription_id: String,
    /// The receiving agency.
    pub agency_id: String,
    /// The person (common ID).
    pub common_id: String,
    /// `pull` or `webhook`.
    pub delivery: String,
    /// The notification without its record (JSON).
    pub body: String,
    /// The minimised record (JSON).
    pub data: Option<String>,
    /// `pending`, or `dead` when the agency's backlog is full.
    pub status: String,
    /// When made.
    pub created_at: NaiveDateTime,
    /// When dead-lettered (a full backlog).
    pub failed_at: Option<NaiveDateTime>,
    /// Why (a full backlog).
    pub last_error: Option<String>,
}

/// Stores a notification unless (change, subscription) has one already;
/// `true` when stored.
pub fn insert_notification(
    conn: &mut DbConnection,
    row: &NewNotificationRow,
) -> Result<bool, StoreError> {
    let n = match conn {
        DbConnection::Sqlite(c) => diesel::insert_into(notifications::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConnection::Postgres(c) => diesel::insert_into(notifications::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(n == 1)
}

/// How many notifications wait for an agency.
pub fn backlog(conn: &mut DbConnection, agency_id: &str) -> Result<i64, StoreError> {
    Ok(notifications::table
        .filter(notifications::agency_id.eq(agency_id))
        .filter(pending())
        .count()
        .get_result(conn)?)
}

/// An agency's pull notifications after `after`, not dead-lettered, in
/// feed order, at most `limit`.
pub fn feed(
    conn: &mut DbConnection,
    agency_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<NotificationRow>, StoreError> {
    Ok(notifications::table
        .filter(notifications::agency_id.eq(agency_id))
        .filter(notifications::delivery.eq("pull"))
        .filter(notifications::seq.gt(after))
        .filter(notifications::status.ne("dead"))
        .order(notifications::seq.asc())
        .limit(limit)
        .select(NotificationRow::as_select())
        .load(conn)?)
}

/// The newest notification number of the whole table (0 when empty).
pub fn last_seq(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(notifications::table
        .select(diesel::dsl::max(notifications::seq))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0))
}

/// Marks an agency's pending pull notifications up to `upto` delivered;
/// returns them (to audit).
pub fn acknowledge(
    conn: &mut DbConnection,
    agency_id: &str,
    upto: i64,
    at: DateTime<Utc>,
) -> Result<Vec<NotificationRow>, StoreError> {
    // Locked on PostgreSQL (SQLite's write transaction holds the whole
    // database): two reads on from one cursor at once acknowledge, and
    // audit, each notification once.
    let waiting = notifications::table
        .filter(notifications::agency_id.eq(agency_id))
        .filter(notifications::delivery.eq("pull"))
        .filter(pending())
        .filter(notifications::seq.le(upto))
        .order(notifications::seq.asc());
    let rows: Vec<NotificationRow> = match conn {
        DbConnection::Postgres(pg) => waiting
            .select(NotificationRow::as_select())
            .for_update()
            .load(pg)?,
        DbConnection::Sqlite(_) => waiting.select(NotificationRow::as_select()).load(conn)?,
    };
    if rows.is_empty() {
        return Ok(rows);
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    for chunk in ids.chunks(500) {
        diesel::update(
            notifications::table
                .filter(notifications::id.eq_any(chunk))
                .filter(pending()),
        )
        .set((
            notifications::status.eq("delivered"),
            notifications::delivered_at.eq(db_time(at)),
        ))
        .execute(conn)?;
    }
    let values = (
        notification_cursors::agency_id.eq(agency_id),
        notification_cursors::acknowledged.eq(upto),
        notification_cursors::updated_at.eq(db_time(at)),
    );
    match conn {
        DbConnection::Sqlite(c) => diesel::insert_into(notification_cursors::table)
            .values(values)
            .on_conflict(notification_cursors::agency_id)
            .do_update()
            .set((
                notification_cursors::acknowledged.eq(upto),
                notification_cursors::updated_at.eq(db_time(at)),
            ))
            .execute(c)?,
        DbConnection::Postgres(c) => diesel::insert_into(notification_cursors::table)
            .values(values)
            .on_conflict(notification_cursors::agency_id)
            .do_update()
            .set((
                notification_cursors::acknowledged.eq(upto),
                notification_cursors::updated_at.eq(db_time(at)),
            ))
            .execute(c)?,
    };
    Ok(rows)
}

/// An agency's dead-lettered notifications, newest first, at most `limit`.
pub fn failed(
    conn: &mut DbConnection,
    agency_id: Option<&str>,
    limit: i64,
) -> Result<Vec<NotificationRow>, StoreError> {
    let mut query = notifications::table
        .filter(notifications::status.eq("dead"))
        .into_boxed();
    if let Some(agency_id) = agency_id {
        query = query.filter(notifications::agency_id.eq(agency_id.to_owned()));
    }
    Ok(query
        .order(notifications::seq.desc())
        .limit(limit)
        .select(NotificationRow::as_select())
        .load(conn)?)
}

/// Claims up to `limit` webhook subscriptions with pending notifications
/// that are due and not leased by another worker: each is leased to
/// `owner` until `until`. On PostgreSQL, rows another worker is claiming
/// are skipped (`FOR UPDATE SKIP LOCKED`).
pub fn claim_subscriptions(
    conn: &mut DbConnection,
    owner: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<SubscriptionRow>, StoreError> {
    let now = db_time(now);
    let pending = subscriptions::id.eq_any(
        notifications::table
            .filter(pending())
            .filter(notifications::delivery.eq("webhook"))
            .select(notifications::subscription_id),
    );
    let due = subscriptions::table
        .filter(subscriptions::delivery.eq("webhook"))
        .filter(
            subscriptions::next_attempt_at
                .is_null()
                .or(subscriptions::next_attempt_at.le(now)),
        )
        .filter(
            subscriptions::lease_until
                .is_null()
                .or(subscriptions::lease_until.lt(now)),
        )
        .filter(pending)
        .order(subscriptions::next_attempt_at.asc())
        .limit(limit)
        .select(subscriptions::id);
    let ids: Vec<String> = match conn {
        DbConnection::Postgres(pg) => due.for_update().skip_locked().load(pg)?,
        DbConnection::Sqlite(_) => due.load(conn)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(subscriptions::table.filter(subscriptions::id.eq_any(&ids)))
        .set((
            subscriptions::lease_owner.eq(owner),
            subscriptions::lease_until.eq(db_time(until)),
        ))
        .execute(conn)?;
    Ok(subscriptions::table
        .filter(subscriptions::id.eq_any(&ids))
        .select(SubscriptionRow::as_select())
        .load(conn)?)
}

/// The pending notifications at the head of a subscription, in order, at
/// most `limit`.
pub fn head(
    conn: &mut DbConnection,
    subscription_id: &str,
    limit: i64,
) -> Result<Vec<NotificationRow>, StoreError> {
    Ok(notifications::table
        .filter(notifications::subscription_id.eq(subscription_id))
        .filter(pending())
        .order(notifications::seq.asc())
        .limit(limit)
        .select(NotificationRow::as_select())
        .load(conn)?)
}

/// Which of `ids` are still pending, locked until the transaction ends
/// on PostgreSQL (SQLite's write transaction holds the whole database):
/// of two workers settling the same notifications, only the first moves
/// (and audits) them.
fn still_pending(conn: &mut DbConnection, ids: &[String]) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let query = notifications::table
            .filter(notifications::id.eq_any(chunk))
            .filter(pending())
            .select(notifications::id);
        out.extend(match conn {
            DbConnection::Postgres(pg) => query.for_update().load::<String>(pg)?,
            DbConnection::Sqlite(_) => query.load::<String>(conn)?,
        });
    }
    Ok(out)
}

/// Marks notifications delivered (those still pending); returns the ids
/// it moved.
pub fn mark_delivered(
    conn: &mut DbConnection,
    ids: &[String],
    at: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let moved = still_pending(conn, ids)?;
    for chunk in moved.chunks(500) {
        diesel::update(notifications::table.filter(notifications::id.eq_any(chunk)))
            .set((
                notifications::status.eq("delivered"),
                notifications::delivered_at.eq(db_time(at)),
                notifications::attempts.eq(notifications::attempts + 1),
            ))
            .execute(conn)?;
    }
    Ok(moved)
}

/// Dead-letters notifications (those still pending); returns the ids it
/// moved.
pub fn mark_dead(
    conn: &mut DbConnection,
    ids: &[String],
    reason: &str,
    at: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let moved = still_pending(conn, ids)?;
    for chunk in moved.chunks(500) {
        diesel::update(notifications::table.filter(notifications::id.eq_any(chunk)))
            .set((
                notifications::status.eq("dead"),
                notifications::failed_at.eq(db_time(at)),
                notifications::last_error.eq(reason),
            ))
            .execute(conn)?;
    }
    Ok(moved)
}

/// Counts a failed attempt on notifications.
pub fn count_attempt(
    conn: &mut DbConnection,
    ids: &[String],
    error: &str,
) -> Result<(), StoreError> {
    for chunk in ids.chunks(500) {
        diesel::update(notifications::table.filter(notifications::id.eq_any(chunk)))
            .set((
                notifications::attempts.eq(notifications::attempts + 1),
                notifications::last_error.eq(error),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Ends `owner`'s lease on a subscription and sets when it may be tried
/// again (`None`: at once) with its failure count.
pub fn release_subscription(
    conn: &mut DbConnection,
    id: &str,
    owner: &str,
    attempts: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_error: Option<&str>,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        subscriptions::table
            .find(id)
            .filter(subscriptions::lease_owner.eq(owner)),
    )
    .set((
        subscriptions::lease_owner.eq(None::<String>),
        subscriptions::lease_until.eq(None::<NaiveDateTime>),
        subscriptions::attempts.eq(attempts),
        subscriptions::next_attempt_at.eq(next_attempt_at.map(db_time)),
        subscriptions::last_error.eq(last_error),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Deletes the record data of notifications made before `before`, at most
/// `limit` of them; returns how many.
pub fn expire_data(
    conn: &mut DbConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<usize, StoreError> {
    let ids: Vec<i64> = notifications::table
        .filter(notifications::data.is_not_null())
        .filter(notifications::created_at.lt(db_time(before)))
        .order(notifications::created_at.asc())
        .limit(limit)
        .select(notifications::seq)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(
        diesel::update(notifications::table.filter(notifications::seq.eq_any(&ids)))
            .set(notifications::data.eq(None::<String>))
            .execute(conn)?,
    )
}

/// Per agency: pending notifications and when the oldest was made.
pub fn outbox(
    conn: &mut DbConnection,
) -> Result<Vec<(String, i64, Option<NaiveDateTime>)>, StoreError> {
    Ok(notifications::table
        .filter(pending())
        .group_by(notifications::agency_id)
        .select((
            notifications::agency_id,
            diesel::dsl::count_star(),
            diesel::dsl::min(notifications::created_at),
        ))
        .load(conn)?)
}

/// Every notification about a person (for the person's own view), newest
/// first, at most `limit`.
pub fn about_person(
    conn: &mut DbConnection,
    common_id: &str,
    limit: i64,
) -> Result<Vec<NotificationRow>, StoreError> {
    Ok(notifications::table
        .filter(notifications::common_id.eq(common_id))
        .order(notifications::seq.desc())
        .limit(limit)
        .select(NotificationRow::as_select())
        .load(conn)?)
}
