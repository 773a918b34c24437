//! Bulk loading of a generated population (`crossroads populate`): many
//! rows per INSERT statement, and the few backend-specific settings and
//! size queries of a bulk load.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::consents::{ConsentRow, EventRow};
use super::persons::{AccountRow, PersonRow};
use super::references::ReferenceRow;
use super::tables::{
    citizen_accounts, consent_events, consents, person_references, persons, sector_pseudonyms,
};
use super::{DbConnection, StoreError};

/// Runs `$body` with `$c` bound to the concrete connection: diesel's
/// multi-row INSERT is not available on the multi-connection.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            DbConnection::Sqlite($c) => $body,
            DbConnection::Postgres($c) => $body,
        }
    };
}

/// Bound parameters per INSERT statement, below SQLite's limit (32,766)
/// and PostgreSQL's (65,535).
const PARAMETERS: usize = 30_000;

/// Inserts `rows` of a table with `columns` columns, as many rows per
/// statement as the parameter limit allows.
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr, $columns:expr) => {{
        for chunk in $rows.chunks(PARAMETERS / $columns) {
            on_backend!(&mut *$conn, |c| diesel::insert_into($table)
                .values(chunk)
                .execute(c))?;
        }
        Ok(())
    }};
}

/// Sets this connection up for a bulk load: on SQLite, commits that do not
/// wait for the disk (a crash mid-load loses the load, which is run again
/// from its seed) and a large page cache; on PostgreSQL, commits that do
/// not wait for the write-ahead log's flush. The settings end with the
/// connection.
pub fn begin_bulk_load(conn: &mut DbConnection, cache_mib: u32) -> Result<(), StoreError> {
    match conn {
        DbConnection::Sqlite(c) => c.batch_execute(&format!(
            "PRAGMA synchronous = OFF; PRAGMA cache_size = -{};",
            u64::from(cache_mib) * 1024
        ))?,
        DbConnection::Postgres(c) => c.batch_execute("SET synchronous_commit = off")?,
    }
    Ok(())
}

/// Makes the load durable and gives the planner fresh statistics.
pub fn end_bulk_load(conn: &mut DbConnection) -> Result<(), StoreError> {
    match conn {
        DbConnection::Sqlite(c) => {
            c.batch_execute("PRAGMA synchronous = FULL; PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;")?
        }
        DbConnection::Postgres(c) => c.batch_execute("ANALYZE")?,
    }
    Ok(())
}

/// Inserts persons.
pub fn insert_persons(conn: &mut DbConnection, rows: &[PersonRow]) -> Result<(), StoreError> {
    insert_rows!(conn, persons::table, rows, 13)
}

/// Inserts sector pseudonyms: `(sector, pseudonym, common ID)`.
pub fn insert_pseudonyms(
    conn: &mut DbConnection,
    rows: &[(String, String, String)],
) -> Result<(), StoreError> {
    let values: Vec<_> = rows
        .iter()
        .map(|(sector, pseudonym, id)| {
            (
                sector_pseudonyms::sector.eq(sector),
                sector_pseudonyms::pseudonym.eq(pseudonym),
                sector_pseudonyms::common_id.eq(id),
            )
        })
        .collect();
    insert_rows!(conn, sector_pseudonyms::table, values, 3)
}

/// Inserts citizen accounts.
pub fn insert_accounts(conn: &mut DbConnection, rows: &[AccountRow]) -> Result<(), StoreError> {
    insert_rows!(conn, citizen_accounts::table, rows, 11)
}

/// Inserts references.
pub fn insert_references(conn: &mut DbConnection, rows: &[ReferenceRow]) -> Result<(), StoreError> {
    insert_rows!(conn, person_references::table, rows, 11)
}

/// Inserts consents.
pub fn insert_consents(conn: &mut DbConnection, rows: &[ConsentRow]) -> Result<(), StoreError> {
    insert_rows!(conn, consents::table, rows, 13)
}

/// Inserts consent events (their sequence numbers chosen by the caller).
pub fn insert_consent_events(conn: &mut DbConnection, rows: &[EventRow]) -> Result<(), StoreError> {
    insert_rows!(conn, consent_events::table, rows, 7)
}

/// The largest consent event sequence number, 0 if none.
pub fn last_consent_event(conn: &mut DbConnection) -> Result<i64, StoreError> {
    let last: Option<i64> = consent_events::table
        .select(diesel::dsl::max(consent_events::seq))
        .first(conn)?;
    Ok(last.unwrap_or(0))
}

/// Rows in the tables a population fills: persons, sector pseudonyms,
/// citizen accounts, references, consents, audit entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Persons.
    pub persons: i64,
    /// Sector pseudonyms.
    pub pseudonyms: i64,
    /// Citizen accounts.
    pub accounts: i64,
    /// References (both kinds).
    pub references: i64,
    /// Consents.
    pub consents: i64,
    /// Audit entries.
    pub audit_entries: i64,
}

/// Counts the rows of the tables a population fills.
pub fn counts(conn: &mut DbConnection) -> Result<Counts, StoreError> {
    use super::tables::audit_entries;
    use diesel::dsl::count_star;
    Ok(Counts {
        persons: persons::table.select(count_star()).first(conn)?,
        pseudonyms: sector_pseudonyms::table.select(count_star()).first(conn)?,
        accounts: citizen_accounts::table.select(count_star()).first(conn)?,
        references: person_references::table.select(count_star()).first(conn)?,
        consents: consents::table.select(count_star()).first(conn)?,
        audit_entries: audit_entries::table.select(count_star()).first(conn)?,
    })
}

#[derive(QueryableByName)]
struct Sized {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    bytes: i64,
}

/// Bytes on disk of each table with its indexes, largest first (SQLite:
/// the pages of the table and of its indexes; PostgreSQL:
/// `pg_total_relation_size`, TOAST included).
pub fn table_bytes(conn: &mut DbConnection) -> Result<Vec<(String, i64)>, StoreError> {
    let rows: Vec<Sized> = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT m.tbl_name AS name, CAST(SUM(d.pgsize) AS BIGINT) AS bytes \
             FROM dbstat('main', 1) d JOIN sqlite_schema m ON m.name = d.name \
             GROUP BY m.tbl_name ORDER BY bytes DESC",
        )
        .load(c)?,
        DbConnection::Postgres(c) => diesel::sql_query(
            "SELECT tablename::text AS name, \
             pg_total_relation_size(quote_ident(tablename))::bigint AS bytes \
             FROM pg_tables WHERE schemaname = current_schema() ORDER BY bytes DESC",
        )
        .load(c)?,
    };
    Ok(rows.into_iter().map(|r| (r.name, r.bytes)).collect())
}

#[derive(QueryableByName)]
struct IndexDefinition {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    definition: String,
}

/// An index dropped for a bulk load: its name and the statement that makes
/// it again.
#[derive(Debug, Clone)]
pub struct DroppedIndex {
    /// The index.
    pub name: String,
    /// Its `CREATE INDEX` statement, as the database keeps it.
    pub definition: String,
}

/// Drops the secondary (not unique) indexes of `tables`, returning how to
/// make them again: rows loaded in an order that is not an index's order
/// would otherwise touch pages all over it at every commit, and building
/// an index once from all rows is a sort.
pub fn drop_secondary_indexes(
    conn: &mut DbConnection,
    tables: &[&str],
) -> Result<Vec<DroppedIndex>, StoreError> {
    let list = tables
        .iter()
        .map(|t| format!("'{}'", t.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ");
    let found: Vec<IndexDefinition> = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(format!(
            "SELECT name, sql AS definition FROM sqlite_schema \
             WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({list}) \
             AND sql NOT LIKE 'CREATE UNIQUE%' ORDER BY name"
        ))
        .load(c)?,
        DbConnection::Postgres(c) => diesel::sql_query(format!(
            "SELECT indexname::text AS name, indexdef AS definition FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename IN ({list}) \
             AND indexdef NOT LIKE 'CREATE UNIQUE%' ORDER BY indexname"
        ))
        .load(c)?,
    };
    let mut dropped = Vec::with_capacity(found.len());
    for index in found {
        conn.batch_execute(&format!(
            "DROP INDEX \"{}\"",
            index.name.replace('"', "\"\"")
        ))?;
        dropped.push(DroppedIndex {
            name: index.name,
            definition: index.definition,
        });
    }
    Ok(dropped)
}

/// Makes dropped indexes again.
pub fn create_indexes(conn: &mut DbConnection, indexes: &[DroppedIndex]) -> Result<(), StoreError> {
    for index in indexes {
        conn.batch_execute(&index.definition)?;
    }
    Ok(())
}
