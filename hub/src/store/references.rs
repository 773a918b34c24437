//! The reference directory: record sources and the references agencies declare on persons.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::tables::{person_references, record_sources};
use super::{DbConnection, StoreError};

/// A provider registered as the authentic source of a record type.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = record_sources)]
pub struct SourceRow {
    /// Record type name, e.g. `person.address`.
    pub record_type: String,
    /// Major version.
    pub major: i32,
    /// The provider agency.
    pub provider_id: String,
    /// `direct`, or `by_reference` (the provider holding a file on the person).
    pub routing: String,
    /// How long the hub waits for this provider.
    pub timeout_ms: i32,
    /// When registered.
    pub created_at: NaiveDateTime,
}

/// Registers or replaces a source.
pub fn put_source(conn: &mut DbConnection, row: &SourceRow) -> Result<(), StoreError> {
    super::write(conn, |conn| {
        diesel::delete(
            record_sources::table
                .filter(record_sources::record_type.eq(&row.record_type))
                .filter(record_sources::major.eq(row.major))
                .filter(record_sources::provider_id.eq(&row.provider_id)),
        )
        .execute(conn)?;
        diesel::insert_into(record_sources::table)
            .values(row)
            .execute(conn)?;
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok(())
}

/// The sources of a record type and major.
pub fn sources(
    conn: &mut DbConnection,
    record_type: &str,
    major: i32,
) -> Result<Vec<SourceRow>, StoreError> {
    Ok(record_sources::table
        .filter(record_sources::record_type.eq(record_type))
        .filter(record_sources::major.eq(major))
        .order(record_sources::provider_id.asc())
        .select(SourceRow::as_select())
        .load(conn)?)
}

/// Every source.
pub fn all_sources(conn: &mut DbConnection) -> Result<Vec<SourceRow>, StoreError> {
    Ok(record_sources::table
        .order((
            record_sources::record_type.asc(),
            record_sources::major.asc(),
        ))
        .select(SourceRow::as_select())
        .load(conn)?)
}

/// An agency's declaration that it holds a file on a person.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = person_references)]
pub struct ReferenceRow {
    /// `ref-…`.
    pub id: String,
    /// The agency holding the file.
    pub agency_id: String,
    /// The person.
    pub common_id: String,
    /// In which capacity (e.g. `employer`, `insurer`, `resident`).
    pub capacity: String,
    /// From when.
    pub valid_from: NaiveDate,
    /// Until when, once ended.
    pub valid_until: Option<NaiveDate>,
    /// When declared.
    pub created_at: NaiveDateTime,
    /// When ended (never erased).
    pub ended_at: Option<NaiveDateTime>,
    /// `source` (the authentic source of `record_type`@`major` for the
    /// person) or `file` (holds a file on the person).
    pub kind: String,
    /// For a source reference: the record type's name.
    pub record_type: Option<String>,
    /// For a source reference: the record type's major version.
    pub major: Option<i32>,
}

/// Stores a reference.
pub fn insert_reference(conn: &mut DbConnection, row: &ReferenceRow) -> Result<(), StoreError> {
    diesel::insert_into(person_references::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// One reference.
pub fn reference(conn: &mut DbConnection, id: &str) -> Result<Option<ReferenceRow>, StoreError> {
    Ok(person_references::table
        .find(id)
        .select(ReferenceRow::as_select())
        .first(conn)
        .optional()?)
}

/// Ends a reference at `until`; returns whether it was open.
pub fn end_reference(
    conn: &mut DbConnection,
    id: &str,
    until: NaiveDate,
    at: NaiveDateTime,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        person_references::table
            .filter(person_references::id.eq(id))
            .filter(person_references::ended_at.is_null()),
    )
    .set((
        person_references::valid_until.eq(Some(until)),
        person_references::ended_at.eq(Some(at)),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// The agencies holding a source reference on a person for
/// `record_type`@`major` in force on `day`, the latest `valid_from` (then the
/// latest declaration) first.
pub fn source_holders(
    conn: &mut DbConnection,
    common_id: &str,
    record_type: &str,
    major: i32,
    day: NaiveDate,
) -> Result<Vec<String>, StoreError> {
    Ok(person_references::table
        .filter(person_references::common_id.eq(common_id))
        .filter(person_references::kind.eq("source"))
        .filter(person_references::record_type.eq(record_type))
        .filter(person_references::major.eq(major))
        .filter(person_references::ended_at.is_null())
        .filter(person_references::valid_from.le(day))
        .filter(
            person_references::valid_until
                .is_null()
                .or(person_references::valid_until.ge(day)),
        )
        .order((
            person_references::valid_from.desc(),
            person_references::created_at.desc(),
        ))
        .select(person_references::agency_id)
        .load(conn)?)
}

/// Every reference to a person, newest first (ended ones included).
pub fn references_for(
    conn: &mut DbConnection,
    common_id: &str,
) -> Result<Vec<ReferenceRow>, StoreError> {
    Ok(person_references::table
        .filter(person_references::common_id.eq(common_id))
        .order(person_references::created_at.desc())
        .select(ReferenceRow::as_select())
        .load(conn)?)
}
