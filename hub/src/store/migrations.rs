//! Embedded migrations, one folder per backend with the same names.

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{DbConnection, StoreError};

/// Migrations for SQLite.
pub const SQLITE: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
/// Migrations for PostgreSQL.
pub const POSTGRES: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

fn failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::Migration(e.to_string())
}

/// Applies every pending migration; returns the versions applied.
pub fn run_pending(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    let applied = match conn {
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE).map_err(failed)?,
        DbConnection::Postgres(c) => c.run_pending_migrations(POSTGRES).map_err(failed)?,
    };
    Ok(applied.into_iter().map(|v| v.to_string()).collect())
}

/// The versions of migrations not yet applied.
pub fn pending(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    let pending = match conn {
        DbConnection::Sqlite(c) => c
            .pending_migrations(SQLITE)
            .map_err(failed)?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect(),
        DbConnection::Postgres(c) => c
            .pending_migrations(POSTGRES)
            .map_err(failed)?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect(),
    };
    Ok(pending)
}

/// The versions of migrations applied, oldest first.
pub fn applied(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    let mut applied: Vec<String> = match conn {
        DbConnection::Sqlite(c) => c.applied_migrations().map_err(failed)?,
        DbConnection::Postgres(c) => c.applied_migrations().map_err(failed)?,
    }
    .into_iter()
    .map(|v| v.to_string())
    .collect();
    applied.sort();
    Ok(applied)
}

/// Reverts the most recently applied migration; returns its version.
pub fn revert_last(conn: &mut DbConnection) -> Result<String, StoreError> {
    let version = match conn {
        DbConnection::Sqlite(c) => c.revert_last_migration(SQLITE).map_err(failed)?,
        DbConnection::Postgres(c) => c.revert_last_migration(POSTGRES).map_err(failed)?,
    };
    Ok(version.to_string())
}

/// Applies the next pending migration; returns its version.
pub fn run_next(conn: &mut DbConnection) -> Result<String, StoreError> {
    fn none() -> StoreError {
        StoreError::Migration("no pending migration".to_owned())
    }
    let version = match conn {
        DbConnection::Sqlite(c) => {
            let pending = c.pending_migrations(SQLITE).map_err(failed)?;
            let next = pending.first().ok_or_else(none)?;
            c.run_migration(&**next).map_err(failed)?.to_string()
        }
        DbConnection::Postgres(c) => {
            let pending = c.pending_migrations(POSTGRES).map_err(failed)?;
            let next = pending.first().ok_or_else(none)?;
            c.run_migration(&**next).map_err(failed)?.to_string()
        }
    };
    Ok(version)
}

/// The names of the embedded migrations of each backend, in order.
pub fn names() -> Result<(Vec<String>, Vec<String>), StoreError> {
    use diesel::migration::MigrationSource;
    let sqlite = MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE)
        .map_err(failed)?
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    let postgres = MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES)
        .map_err(failed)?
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    Ok((sqlite, postgres))
}
