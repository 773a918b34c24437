//! Keeping the database ready to serve: the migrations and the data that
//! comes with them (run at start and by `crossroads migrate`), and the
//! readiness check.

use crate::app::clock::Clock;
use crate::http::error::ApiError;
use crate::secrets::TotpKey;
use crate::store::{DbConnection, migrations, schemas};

/// Runs pending migrations, then stores the versions of the shipped schema
/// catalog not stored yet and seals the TOTP secrets still stored in
/// plaintext; returns the migrations applied.
pub fn migrate(
    conn: &mut DbConnection,
    totp_key: &TotpKey,
    clock: &Clock,
) -> anyhow::Result<Vec<String>> {
    let pending = migrations::pending(conn)?;
    let progress = if pending.is_empty() {
        crate::app::progress::Progress::hidden()
    } else {
        crate::app::progress::Progress::new("migrations", pending.len() as u64)
    };
    let mut applied = Vec::with_capacity(pending.len());
    for _ in &pending {
        applied.push(migrations::run_next(conn)?);
        progress.inc(1);
    }
    progress.finish();
    for record_type in schemas::seed_shipped_catalog(conn, clock.now())? {
        tracing::info!(%record_type, "schema seeded from the shipped catalog");
    }
    // TOTP secrets stored before they were sealed are sealed now.
    let sealed = crate::services::citizens::seal_plain_totp_secrets(conn, totp_key, clock.now())?;
    if sealed > 0 {
        tracing::info!(sealed, "TOTP secrets sealed at rest");
    }
    Ok(applied)
}

/// A database that can serve: its backend and newest applied migration.
#[derive(Debug, Clone)]
pub struct DatabaseReady {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The newest applied migration.
    pub schema_version: Option<String>,
}

/// Whether the database answers with every migration applied; not ready
/// otherwise.
pub fn readiness(conn: &mut DbConnection) -> Result<DatabaseReady, ApiError> {
    let pending = migrations::pending(conn)
        .map_err(|e| ApiError::NotReady(format!("database not reachable: {e}")))?;
    if !pending.is_empty() {
        return Err(ApiError::NotReady(format!(
            "{} migration(s) pending: run `crossroads migrate`",
            pending.len()
        )));
    }
    let applied = migrations::applied(conn)
        .map_err(|e| ApiError::NotReady(format!("database not reachable: {e}")))?;
    Ok(DatabaseReady {
        backend: conn.backend(),
        schema_version: applied.last().cloned(),
    })
}
