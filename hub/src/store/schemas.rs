//! The `schemas` table: every published version of every record type.
//!
//! Documents are stored with their `$id` (and references to other catalog
//! schemas) under the catalog's canonical base URL
//! ([`::schemas::DEFAULT_BASE_URL`]), so that changing the hub's public URL never
//! requires rewriting stored rows.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::tables::schemas;
use super::{DbConnection, StoreError};
use crate::app::clock::{db_time, from_db};

/// Who published the versions seeded from the shipped catalog.
pub const SHIPPED_CATALOG: &str = "shipped-catalog";

/// Whether a version may still be chosen for new work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaStatus {
    /// In use.
    Active,
    /// Still served and honoured, but agencies should move to a newer version.
    Deprecated,
}

impl SchemaStatus {
    /// The stored (and serialised) form.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaStatus::Active => "active",
            SchemaStatus::Deprecated => "deprecated",
        }
    }

    fn parse(stored: &str) -> Result<Self, StoreError> {
        match stored {
            "active" => Ok(SchemaStatus::Active),
            "deprecated" => Ok(SchemaStatus::Deprecated),
            other => Err(StoreError::Query(DieselError::DeserializationError(
                format!("unknown schema status {other:?}").into(),
            ))),
        }
    }
}

/// One stored version.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = schemas)]
pub struct SchemaRow {
    /// The record type's name, e.g. `person.address`.
    pub name: String,
    /// The major version.
    pub major: i32,
    /// The minor version.
    pub minor: i32,
    /// The JSON Schema document, as JSON text.
    pub document: String,
    /// `active` or `deprecated`.
    pub status: String,
    /// When it was published.
    pub published_at: chrono::NaiveDateTime,
    /// The operator credential (or [`SHIPPED_CATALOG`]) that published it.
    pub published_by: String,
    /// When it was deprecated, if it was.
    pub deprecated_at: Option<chrono::NaiveDateTime>,
}

impl SchemaRow {
    /// The status, parsed.
    pub fn status(&self) -> Result<SchemaStatus, StoreError> {
        SchemaStatus::parse(&self.status)
    }

    /// When it was published, in UTC.
    pub fn published(&self) -> DateTime<Utc> {
        from_db(self.published_at)
    }

    /// When it was deprecated, in UTC.
    pub fn deprecated(&self) -> Option<DateTime<Utc>> {
        self.deprecated_at.map(from_db)
    }
}

fn column(version: u32) -> Result<i32, StoreError> {
    i32::try_from(version).map_err(|_| {
        StoreError::Query(DieselError::SerializationError(
            format!("version number {version} is too large to store").into(),
        ))
    })
}

/// A version to store.
#[derive(Debug, Clone, Copy)]
pub struct NewSchema<'a> {
    /// The record type's name.
    pub name: &'a str,
    /// The major version.
    pub major: u32,
    /// The minor version.
    pub minor: u32,
    /// The document as JSON text.
    pub document: &'a str,
    /// Who publishes it.
    pub published_by: &'a str,
}

/// Stores a new version, active. Returns `false`, storing nothing, when that
/// version is already stored (by this or another hub process).
pub fn insert(
    conn: &mut DbConnection,
    new: NewSchema<'_>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = diesel::insert_into(schemas::table)
        .values((
            schemas::name.eq(new.name),
            schemas::major.eq(column(new.major)?),
            schemas::minor.eq(column(new.minor)?),
            schemas::document.eq(new.document),
            schemas::status.eq(SchemaStatus::Active.as_str()),
            schemas::published_at.eq(db_time(now)),
            schemas::published_by.eq(new.published_by),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(true),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Every stored version, ordered by name, major, minor.
pub fn list(conn: &mut DbConnection) -> Result<Vec<SchemaRow>, StoreError> {
    Ok(schemas::table
        .order((schemas::name, schemas::major, schemas::minor))
        .select(SchemaRow::as_select())
        .load(conn)?)
}

/// What changes whenever a version is published or deprecated (versions
/// are never deleted, and deprecation is final): the number of versions, the
/// number deprecated, the latest publication and the latest deprecation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fingerprint {
    versions: i64,
    deprecated: i64,
    last_published: Option<chrono::NaiveDateTime>,
    last_deprecated: Option<chrono::NaiveDateTime>,
}

impl Fingerprint {
    /// The fingerprint of `rows` (every stored version).
    pub fn of(rows: &[SchemaRow]) -> Self {
        Self {
            versions: rows.len() as i64,
            deprecated: rows.iter().filter(|r| r.deprecated_at.is_some()).count() as i64,
            last_published: rows.iter().map(|r| r.published_at).max(),
            last_deprecated: rows.iter().filter_map(|r| r.deprecated_at).max(),
        }
    }
}

/// The stored versions' fingerprint, in one aggregate query.
pub fn fingerprint(conn: &mut DbConnection) -> Result<Fingerprint, StoreError> {
    use diesel::dsl::{count, count_star, max};
    let (versions, deprecated, last_published, last_deprecated) = schemas::table
        .select((
            count_star(),
            count(schemas::deprecated_at),
            max(schemas::published_at),
            max(schemas::deprecated_at),
        ))
        .first(conn)?;
    Ok(Fingerprint {
        versions,
        deprecated,
        last_published,
        last_deprecated,
    })
}

/// Exactly this version.
pub fn get(
    conn: &mut DbConnection,
    name: &str,
    major: u32,
    minor: u32,
) -> Result<Option<SchemaRow>, StoreError> {
    Ok(schemas::table
        .filter(schemas::name.eq(name))
        .filter(schemas::major.eq(column(major)?))
        .filter(schemas::minor.eq(column(minor)?))
        .select(SchemaRow::as_select())
        .first(conn)
        .optional()?)
}

/// Marks a version deprecated. Returns whether it exists; deprecating a
/// deprecated version keeps its first deprecation time.
pub fn deprecate(
    conn: &mut DbConnection,
    name: &str,
    major: u32,
    minor: u32,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let (major, minor) = (column(major)?, column(minor)?);
    let version = schemas::table
        .filter(schemas::name.eq(name))
        .filter(schemas::major.eq(major))
        .filter(schemas::minor.eq(minor));
    diesel::update(version.filter(schemas::status.eq(SchemaStatus::Active.as_str())))
        .set((
            schemas::status.eq(SchemaStatus::Deprecated.as_str()),
            schemas::deprecated_at.eq(Some(db_time(now))),
        ))
        .execute(conn)?;
    let found: i64 = version.count().get_result(conn)?;
    Ok(found == 1)
}

/// Stores every version of the shipped catalog that is not stored yet, and
/// returns the ones it stored (as `name@major.minor`). Running it again
/// stores nothing.
pub fn seed_shipped_catalog(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let mut seeded = Vec::new();
    for file in ::schemas::embedded::FILES {
        let (major, minor) = match ::schemas::Version::parse(file.version) {
            Ok(version) => (version.major, version.minor),
            Err(e) => {
                return Err(StoreError::Query(DieselError::SerializationError(
                    format!("shipped catalog version {:?}: {e}", file.version).into(),
                )));
            }
        };
        if get(conn, file.name, major, minor)?.is_some() {
            continue;
        }
        let new = NewSchema {
            name: file.name,
            major,
            minor,
            document: file.contents,
            published_by: SHIPPED_CATALOG,
        };
        if insert(conn, new, now)? {
            seeded.push(format!("{}@{}", file.name, file.version));
        }
    }
    Ok(seeded)
}
