//! The `hub_settings` table: small named values the hub keeps about itself.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::tables::hub_settings;
use super::{DbConnection, StoreError};

/// Reads a setting.
pub fn get(conn: &mut DbConnection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(hub_settings::table
        .filter(hub_settings::key.eq(key))
        .select(hub_settings::value)
        .first::<String>(conn)
        .optional()?)
}

/// Writes a setting, replacing any earlier value.
pub fn put(
    conn: &mut DbConnection,
    key: &str,
    value: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let at = crate::app::clock::db_time(now);
    super::write(conn, |conn| {
        let updated = diesel::update(hub_settings::table.filter(hub_settings::key.eq(key)))
            .set((
                hub_settings::value.eq(value),
                hub_settings::updated_at.eq(at),
            ))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(hub_settings::table)
                .values((
                    hub_settings::key.eq(key),
                    hub_settings::value.eq(value),
                    hub_settings::updated_at.eq(at),
                ))
                .execute(conn)?;
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok(())
}

/// Returns the setting, first storing `make()` if it is absent.
pub fn get_or_init(
    conn: &mut DbConnection,
    key: &str,
    now: DateTime<Utc>,
    make: impl FnOnce() -> String,
) -> Result<String, StoreError> {
    if let Some(value) = get(conn, key)? {
        return Ok(value);
    }
    let value = make();
    let at = crate::app::clock::db_time(now);
    let inserted = diesel::insert_into(hub_settings::table)
        .values((
            hub_settings::key.eq(key),
            hub_settings::value.eq(&value),
            hub_settings::updated_at.eq(at),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(value),
        // Another process stored it first: theirs wins.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => get(conn, key)?.ok_or(StoreError::Query(diesel::result::Error::NotFound)),
        Err(e) => Err(e.into()),
    }
}
