//! The audit tables: `audit_entries`, `audit_hashes`, `audit_checkpoints`
//! (append-only: triggers refuse UPDATE and DELETE) and `audit_queue`.

use std::cell::RefCell;
use std::collections::HashMap;

use audit::{AuditError, Hash, HashPosition, HashReader};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::tables::{audit_checkpoints, audit_entries, audit_hashes, audit_queue};
use super::{DbConnection, StoreError};
use crate::app::clock::db_time;

/// Runs `$body` with `$c` bound to the concrete connection: diesel's
/// batch INSERT and ON CONFLICT are not available on the multi-connection.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            DbConnection::Sqlite($c) => $body,
            DbConnection::Postgres($c) => $body,
        }
    };
}

/// Hashes per `IN (…)` read or delete.
const HASH_CHUNK: usize = 8_000;

/// Inserts the rows of a slice in statements of a few fixed sizes (256,
/// 64, 16, 4 and 1 rows): each size is one statement text, prepared once
/// per connection and then taken from diesel's statement cache, where a
/// statement of any other number of rows would be compiled again each
/// time. 256 rows of the widest table bind 3,072 parameters, below
/// SQLite's limit.
macro_rules! insert_in_fixed_chunks {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let rest: &[_] = $rows;
        let rest = insert_in_fixed_chunks!(@size $conn, $table, rest, 256);
        let rest = insert_in_fixed_chunks!(@size $conn, $table, rest, 64);
        let rest = insert_in_fixed_chunks!(@size $conn, $table, rest, 16);
        let rest = insert_in_fixed_chunks!(@size $conn, $table, rest, 4);
        let rest = insert_in_fixed_chunks!(@size $conn, $table, rest, 1);
        debug_assert!(rest.is_empty());
    }};
    (@size $conn:expr, $table:expr, $rest:ident, $n:literal) => {{
        let (chunks, tail) = $rest.as_chunks::<$n>();
        for chunk in chunks {
            on_backend!(&mut *$conn, |c| diesel::insert_into($table)
                .values(chunk)
                .execute(c))?;
        }
        tail
    }};
}

/// An entry as stored.
///
/// A `None` is inserted as NULL (the columns have no other default), so
/// that SQLite inserts many rows in one statement: with `DEFAULT` in the
/// values, diesel inserts the rows one by one there.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_entries, treat_none_as_null = true)]
pub struct EntryRow {
    /// The sequence number (the leaf index).
    pub seq: i64,
    /// The canonical JSON of the entry: what is hashed.
    pub entry: String,
    /// The entry's time.
    pub time: NaiveDateTime,
    /// The entry's kind.
    pub kind: String,
    /// `agency`, `citizen`, `operator` or `hub`.
    pub actor_type: String,
    /// The actor's identifier.
    pub actor_id: String,
    /// The person concerned.
    pub person: Option<String>,
    /// The record type.
    pub record_type: Option<String>,
    /// The outcome.
    pub outcome: String,
    /// The providing agency (`details.provider`), if named.
    pub provider: Option<String>,
    /// The hand-over queue row this entry came from, if any.
    pub queue_id: Option<i64>,
    /// The salt of the entry's commitments to the persons it concerns
    /// (hex; version 2 entries), outside the hashed bytes.
    pub subject_salt: Option<String>,
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_checkpoints)]
pub struct CheckpointRow {
    /// The tree size.
    pub size: i64,
    /// The root hash.
    pub root_hash: Vec<u8>,
    /// The signed note.
    pub note: String,
    /// When it was made.
    pub created_at: NaiveDateTime,
}

/// Number of entries in the log.
pub fn tree_size(conn: &mut DbConnection) -> Result<u64, StoreError> {
    let max: Option<i64> = audit_entries::table
        .select(diesel::dsl::max(audit_entries::seq))
        .first(conn)?;
    Ok(max.map_or(0, |m| m as u64 + 1))
}

/// Stores entries and hashes (in the caller's transaction).
pub fn insert_batch(
    conn: &mut DbConnection,
    entries: &[EntryRow],
    hashes: &[(HashPosition, Hash)],
) -> Result<(), StoreError> {
    insert_in_fixed_chunks!(conn, audit_entries::table, entries);
    let rows: Vec<_> = hashes
        .iter()
        .map(|(pos, h)| {
            (
                audit_hashes::stored_index.eq(pos.stored_index() as i64),
                audit_hashes::hash.eq(h.0.to_vec()),
            )
        })
        .collect();
    insert_in_fixed_chunks!(conn, audit_hashes::table, &rows);
    Ok(())
}

/// Reads stored hashes by position, one query per batch.
pub fn read_hashes(
    conn: &mut DbConnection,
    positions: &[HashPosition],
) -> Result<Vec<Option<Hash>>, StoreError> {
    let wanted: Vec<i64> = positions.iter().map(|p| p.stored_index() as i64).collect();
    let mut found: HashMap<i64, Hash> = HashMap::with_capacity(wanted.len());
    for chunk in wanted.chunks(HASH_CHUNK) {
        let rows: Vec<(i64, Vec<u8>)> = audit_hashes::table
            .filter(audit_hashes::stored_index.eq_any(chunk))
            .select((audit_hashes::stored_index, audit_hashes::hash))
            .load(conn)?;
        for (i, h) in rows {
            if let Some(h) = Hash::from_slice(&h) {
                found.insert(i, h);
            }
        }
    }
    Ok(wanted.iter().map(|i| found.get(i).copied()).collect())
}

/// [`HashReader`] over the database, one query per batch read.
pub struct DbHashReader<'a> {
    conn: RefCell<&'a mut DbConnection>,
}

impl<'a> DbHashReader<'a> {
    /// A reader over `conn`.
    pub fn new(conn: &'a mut DbConnection) -> Self {
        Self {
            conn: RefCell::new(conn),
        }
    }
}

impl HashReader for DbHashReader<'_> {
    fn read_hashes(&self, positions: &[HashPosition]) -> Result<Vec<Hash>, AuditError> {
        audit::all_present(positions, self.read_hashes_or_missing(positions)?)
    }

    fn read_hashes_or_missing(
        &self,
        positions: &[HashPosition],
    ) -> Result<Vec<Option<Hash>>, AuditError> {
        let mut conn = self
            .conn
            .try_borrow_mut()
            .map_err(|e| AuditError::Store(Box::new(e)))?;
        read_hashes(&mut conn, positions).map_err(|e| AuditError::Store(Box::new(e)))
    }
}

/// Stores a checkpoint unless one of that size exists (checkpoints are
/// deterministic: Ed25519 signatures of the same text are the same).
pub fn insert_checkpoint(
    conn: &mut DbConnection,
    size: u64,
    root: &Hash,
    note: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let values = (
        audit_checkpoints::size.eq(size as i64),
        audit_checkpoints::root_hash.eq(root.0.to_vec()),
        audit_checkpoints::note.eq(note),
        audit_checkpoints::created_at.eq(db_time(now)),
    );
    on_backend!(conn, |c| diesel::insert_into(audit_checkpoints::table)
        .values(values)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// The checkpoint with the largest size.
pub fn latest_checkpoint(conn: &mut DbConnection) -> Result<Option<CheckpointRow>, StoreError> {
    Ok(audit_checkpoints::table
        .order(audit_checkpoints::size.desc())
        .select(CheckpointRow::as_select())
        .first(conn)
        .optional()?)
}

/// The checkpoints of size `from` or more, smallest first.
pub fn checkpoints(conn: &mut DbConnection, from: u64) -> Result<Vec<CheckpointRow>, StoreError> {
    Ok(audit_checkpoints::table
        .filter(audit_checkpoints::size.ge(from as i64))
        .order(audit_checkpoints::size.asc())
        .select(CheckpointRow::as_select())
        .load(conn)?)
}

/// Entries `from..` in order, at most `limit`: `(seq, canonical JSON)`.
pub fn entries_from(
    conn: &mut DbConnection,
    from: u64,
    limit: i64,
) -> Result<Vec<(i64, String)>, StoreError> {
    Ok(audit_entries::table
        .filter(audit_entries::seq.ge(from as i64))
        .order(audit_entries::seq.asc())
        .limit(limit)
        .select((audit_entries::seq, audit_entries::entry))
        .load(conn)?)
}

/// Stored hashes from stored index `from` on, in order, at most `limit`.
pub fn hashes_from(
    conn: &mut DbConnection,
    from: u64,
    limit: i64,
) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
    let rows: Vec<(i64, Vec<u8>)> = audit_hashes::table
        .filter(audit_hashes::stored_index.ge(from as i64))
        .order(audit_hashes::stored_index.asc())
        .limit(limit)
        .select((audit_hashes::stored_index, audit_hashes::hash))
        .load(conn)?;
    Ok(rows.into_iter().map(|(i, h)| (i as u64, h)).collect())
}

/// One entry.
pub fn entry(conn: &mut DbConnection, seq: u64) -> Result<Option<EntryRow>, StoreError> {
    Ok(audit_entries::table
        .find(seq as i64)
        .select(EntryRow::as_select())
        .first(conn)
        .optional()?)
}

/// Which entries to list about a person.
#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    /// Entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub until: Option<DateTime<Utc>>,
    /// Entries whose actor or provider is this agency.
    pub agency: Option<String>,
    /// Entries about this record type: `name@major.minor` exactly, or
    /// every version of `name`.
    pub record_type: Option<String>,
    /// Entries with this outcome (`permitted`, `denied`, …).
    pub outcome: Option<String>,
}

/// A page of a listing: entries with `seq` below `before` (newest first).
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Only entries with a smaller sequence number (the previous page's last).
    pub before: Option<u64>,
    /// At most this many.
    pub limit: u32,
}

/// The entries about `person` that match `filter`, newest first.
pub fn person_entries(
    conn: &mut DbConnection,
    person: &str,
    filter: &EntryFilter,
    page: Page,
) -> Result<Vec<EntryRow>, StoreError> {
    let mut query = audit_entries::table
        .filter(audit_entries::person.eq(person))
        .select(EntryRow::as_select())
        .order(audit_entries::seq.desc())
        .limit(i64::from(page.limit))
        .into_boxed();
    if let Some(before) = page.before {
        // A bound past every sequence number keeps them all.
        query = query.filter(audit_entries::seq.lt(i64::try_from(before).unwrap_or(i64::MAX)));
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_entries::time.ge(db_time(since)));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_entries::time.lt(db_time(until)));
    }
    if let Some(agency) = &filter.agency {
        query = query.filter(
            audit_entries::actor_id
                .eq(agency.clone())
                .or(audit_entries::provider.eq(agency.clone())),
        );
    }
    if let Some(record_type) = &filter.record_type {
        query = if record_type.contains('@') {
            query.filter(audit_entries::record_type.eq(record_type.clone()))
        } else {
            let name = record_type
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            query.filter(
                audit_entries::record_type
                    .like(format!("{name}@%"))
                    .escape('\\'),
            )
        };
    }
    if let Some(outcome) = &filter.outcome {
        query = query.filter(audit_entries::outcome.eq(outcome.clone()));
    }
    Ok(query.load(conn)?)
}

/// Hands entries (JSON, without sequence number) to the sequencer.
pub fn enqueue(
    conn: &mut DbConnection,
    rows: &[(i64, String)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let values: Vec<_> = rows
        .iter()
        .map(|(id, entry)| {
            (
                audit_queue::id.eq(*id),
                audit_queue::entry.eq(entry.clone()),
                audit_queue::enqueued_at.eq(db_time(now)),
            )
        })
        .collect();
    insert_in_fixed_chunks!(conn, audit_queue::table, &values);
    Ok(())
}

/// The oldest handed-over entries, at most `limit`.
pub fn queued(conn: &mut DbConnection, limit: i64) -> Result<Vec<(i64, String)>, StoreError> {
    Ok(audit_queue::table
        .order((audit_queue::enqueued_at.asc(), audit_queue::id.asc()))
        .limit(limit)
        .select((audit_queue::id, audit_queue::entry))
        .load(conn)?)
}

/// Whether nothing waits in the hand-over table.
pub fn queue_is_empty(conn: &mut DbConnection) -> Result<bool, StoreError> {
    let any: Option<i64> = audit_queue::table
        .select(audit_queue::id)
        .first(conn)
        .optional()?;
    Ok(any.is_none())
}

/// How many entries wait in the hand-over table, and when the oldest was
/// handed over.
pub fn queue_depth(conn: &mut DbConnection) -> Result<(i64, Option<NaiveDateTime>), StoreError> {
    Ok(audit_queue::table
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(audit_queue::enqueued_at),
        ))
        .first(conn)?)
}

/// Removes handed-over entries once sequenced (in the same transaction).
pub fn dequeue(conn: &mut DbConnection, ids: &[i64]) -> Result<(), StoreError> {
    for chunk in ids.chunks(HASH_CHUNK) {
        diesel::delete(audit_queue::table.filter(audit_queue::id.eq_any(chunk))).execute(conn)?;
    }
    Ok(())
}

/// The sequence numbers given to handed-over entries: `(queue id, seq)`.
pub fn sequenced(
    conn: &mut DbConnection,
    queue_ids: &[i64],
) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut out = Vec::new();
    for chunk in queue_ids.chunks(HASH_CHUNK) {
        let rows: Vec<(Option<i64>, i64)> = audit_entries::table
            .filter(audit_entries::queue_id.eq_any(chunk))
            .select((audit_entries::queue_id, audit_entries::seq))
            .load(conn)?;
        out.extend(rows.into_iter().filter_map(|(q, s)| q.map(|q| (q, s))));
    }
    Ok(out)
}

/// The PostgreSQL advisory lock that elects the sequencer.
pub const SEQUENCER_LOCK: i64 = 0x6372_6f73_7361_7564; // "crossaud"

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    locked: bool,
}

/// Tries to take the sequencer lock on this session (PostgreSQL). On
/// SQLite the sequencer is elected by a file lock instead (see
/// `audit_log::sequencer`), so this always succeeds there.
pub fn try_sequencer_lock(conn: &mut DbConnection) -> Result<bool, StoreError> {
    match conn {
        DbConnection::Sqlite(_) => Ok(true),
        DbConnection::Postgres(pg) => {
            let row: Locked = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
                .bind::<diesel::sql_types::BigInt, _>(SEQUENCER_LOCK)
                .get_result(pg)?;
            Ok(row.locked)
        }
    }
}
