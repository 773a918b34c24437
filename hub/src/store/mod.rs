//! Storage: one diesel `MultiConnection` over SQLite and PostgreSQL, an r2d2
//! pool, embedded migrations. One file per table family.

pub mod agencies;
pub mod audit;
pub mod authorizations;
pub mod consents;
pub mod migrations;
pub mod notifications;
pub mod operators;
pub mod persons;
pub mod population;
pub mod references;
pub mod schemas;
pub mod settings;
pub mod tables;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::app::config::DatabaseUrl;

/// A connection to either backend; queries written once run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// The embedded default.
    Sqlite(diesel::SqliteConnection),
    /// Production, and every deployment with more than one hub process.
    Postgres(diesel::PgConnection),
}

impl DbConnection {
    /// The backend's short name.
    pub fn backend(&self) -> &'static str {
        match self {
            DbConnection::Sqlite(_) => "sqlite",
            DbConnection::Postgres(_) => "postgres",
        }
    }
}

/// A pool of connections.
pub type Pool = r2d2::Pool<Manager>;
/// A connection borrowed from the pool.
pub type PooledConnection = r2d2::PooledConnection<Manager>;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused the connection.
    #[error("cannot connect to the {backend} database: {source}")]
    Connect {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The driver's message.
        source: diesel::ConnectionError,
    },
    /// A statement failed.
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    /// The pool had no connection to give.
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::Error),
    /// Migrations could not be listed or applied.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The data directory could not be created.
    #[error("cannot create {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Opens connections of the backend named by the URL, and sets each one up.
///
/// The derived `MultiConnection::establish` tries every backend in turn and
/// hides the real error, so the backend is chosen here from the URL.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
    busy_timeout: Duration,
}

/// Why a pooled connection could not be made or checked.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// Connecting failed.
    #[error(transparent)]
    Connect(#[from] diesel::ConnectionError),
    /// Setting the connection up failed.
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

impl Manager {
    /// A manager for `url`.
    pub fn new(url: DatabaseUrl, busy_timeout: Duration) -> Self {
        Self { url, busy_timeout }
    }

    /// Opens and sets up one connection.
    pub fn open(&self) -> Result<DbConnection, ManagerError> {
        let target = self.url.connection_string();
        match &self.url {
            DatabaseUrl::Sqlite { .. } => {
                let mut conn = diesel::SqliteConnection::establish(&target)?;
                // WAL lets readers run beside the writer; FULL makes every
                // commit durable, which the audit log relies on.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {};
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = FULL;
                     PRAGMA foreign_keys = ON;",
                    self.busy_timeout.as_millis()
                ))?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres { .. } => {
                let mut conn = diesel::PgConnection::establish(&target)?;
                conn.batch_execute("SET TIME ZONE 'UTC'")?;
                Ok(DbConnection::Postgres(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = ManagerError;

    fn connect(&self) -> Result<DbConnection, ManagerError> {
        self.open()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ManagerError> {
        conn.batch_execute("SELECT 1")?;
        Ok(())
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// Builds a pool for `url`, failing with the driver's own message when the
/// database cannot be reached.
pub fn connect(url: &DatabaseUrl, size: u32, busy_timeout: Duration) -> Result<Pool, StoreError> {
    if let DatabaseUrl::Sqlite { path } = url
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
    {
        crate::secrets::create_private_dir(dir).map_err(|source| StoreError::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let new_file = match url {
        DatabaseUrl::Sqlite { path } => (!path.exists()).then(|| path.clone()),
        DatabaseUrl::Postgres { .. } => None,
    };
    let manager = Manager::new(url.clone(), busy_timeout);
    // One connection first, so that a bad URL reports the real cause.
    manager.open().map_err(|e| match e {
        ManagerError::Connect(source) => StoreError::Connect {
            backend: url.backend(),
            source,
        },
        ManagerError::Query(e) => StoreError::Query(e),
    })?;
    // A database the hub made is for the hub's user alone (SQLite gives its
    // journal files the database file's rights).
    if let Some(path) = new_file {
        crate::secrets::make_private(&path).map_err(|source| StoreError::DataDir {
            path: path.display().to_string(),
            source,
        })?;
    }
    let pool = r2d2::Pool::builder()
        .max_size(size)
        // No background replenishing: connections are opened when asked
        // for, never by a pool thread racing the process's exit (libpq and
        // its TLS library must not be mid-connect while exit handlers run).
        .min_idle(Some(0))
        .connection_timeout(Duration::from_secs(10))
        .build(manager)?;
    Ok(pool)
}

/// Whether an error is worth trying again: another writer held the lock
/// past the busy timeout, or the database asks to retry.
pub trait Transient {
    /// True for a lock, busy or serialization failure.
    fn is_transient(&self) -> bool;
}

impl Transient for diesel::result::Error {
    fn is_transient(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
            Error::DatabaseError(_, info) => {
                let message = info.message();
                message.contains("database is locked")
                    || message.contains("database is busy")
                    || message.contains("deadlock detected")
                    || message.contains("could not serialize access")
            }
            _ => false,
        }
    }
}

impl Transient for StoreError {
    fn is_transient(&self) -> bool {
        match self {
            StoreError::Query(e) => e.is_transient(),
            _ => false,
        }
    }
}

/// Attempts of [`write`] before a transient failure is reported.
const WRITE_ATTEMPTS: u32 = 6;
/// Attempts of [`write_or_race`] before a lost race is reported.
const RACE_ATTEMPTS: u32 = 5;

thread_local! {
    /// Set while a read runs inline on its thread's read-only connection
    /// (see [`read_inline`]).
    static READING_INLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Set when such a read asked for a write transaction.
    static WRITE_WANTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// What [`read_inline`] found.
pub enum Inline<T> {
    /// `f` ran to its end (successfully or not) without asking to write.
    Done(T),
    /// `f` asked for a write transaction, which was refused before anything
    /// was written: run it again on a connection that may write.
    NeedsWriter,
}

/// Runs `f` on `conn`, a connection that may not write (`query_only`):
/// [`write`] and [`write_or_race`] refuse to begin a transaction while it
/// runs, and report it as [`Inline::NeedsWriter`].
pub fn read_inline<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> T,
) -> Inline<T> {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            READING_INLINE.with(|r| r.set(false));
        }
    }
    READING_INLINE.with(|r| r.set(true));
    WRITE_WANTED.with(|w| w.set(false));
    let reset = Reset;
    let value = f(conn);
    drop(reset);
    if WRITE_WANTED.with(std::cell::Cell::take) {
        Inline::NeedsWriter
    } else {
        Inline::Done(value)
    }
}

/// Opens a connection of `url` that can only read, for [`read_inline`]:
/// SQLite only (PostgreSQL reads go through the pool).
pub fn open_reader(url: &DatabaseUrl, busy_timeout: Duration) -> Result<DbConnection, StoreError> {
    let mut conn = Manager::new(url.clone(), busy_timeout)
        .open()
        .map_err(|e| match e {
            ManagerError::Connect(source) => StoreError::Connect {
                backend: url.backend(),
                source,
            },
            ManagerError::Query(e) => StoreError::Query(e),
        })?;
    conn.batch_execute("PRAGMA query_only = ON")?;
    Ok(conn)
}

/// Runs `f` in a write transaction and commits it; rolls back on any error.
///
/// On SQLite the transaction begins `IMMEDIATE`: the write lock is taken
/// (waiting up to the busy timeout) before anything is read, so a
/// transaction that reads and then writes never fails with BUSY half-way.
/// On PostgreSQL it is an ordinary transaction. Inside another transaction
/// it is a savepoint of that one. A transient failure (a lock still held
/// after the busy timeout, a serialization failure, a deadlock) runs `f`
/// again after a short backoff, a few times.
///
/// This is the one transaction-and-retry helper of the hub: every write
/// transaction goes through it (or [`write_or_race`]).
pub fn write<T, E>(
    conn: &mut DbConnection,
    f: impl FnMut(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error> + Transient,
{
    write_or_race(conn, |_: &E| false, f)
}

/// [`write`], and `f` runs again (a few times, also as a savepoint of an
/// enclosing transaction) when it failed in a way `lost_race` says a second
/// try can succeed: another writer took the same number first.
pub fn write_or_race<T, E>(
    conn: &mut DbConnection,
    lost_race: impl Fn(&E) -> bool,
    mut f: impl FnMut(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error> + Transient,
{
    use diesel::connection::TransactionManager;
    type Manager = <DbConnection as Connection>::TransactionManager;

    if READING_INLINE.with(std::cell::Cell::get) {
        WRITE_WANTED.with(|w| w.set(true));
        return Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ReadOnlyTransaction,
            Box::new("a read on a worker thread may not write".to_owned()),
        )
        .into());
    }
    let nested = match Manager::transaction_manager_status_mut(conn) {
        diesel::connection::TransactionManagerStatus::Valid(status) => {
            status.transaction_depth().is_some()
        }
        diesel::connection::TransactionManagerStatus::InError => {
            return Err(diesel::result::Error::BrokenTransactionManager.into());
        }
    };
    let (mut transient, mut races) = (0, 0);
    loop {
        let result = if nested {
            // A savepoint: the enclosing transaction retries as a whole.
            conn.transaction(&mut f)
        } else {
            transact_once(conn, &mut f)
        };
        match result {
            Err(e) if !nested && transient + 1 < WRITE_ATTEMPTS && e.is_transient() => {
                transient += 1;
                let backoff = Duration::from_millis(5u64 << transient.min(6));
                tracing::debug!(
                    attempt = transient,
                    ?backoff,
                    "transient database failure; retrying"
                );
                std::thread::sleep(backoff);
            }
            Err(e) if races + 1 < RACE_ATTEMPTS && lost_race(&e) => races += 1,
            other => return other,
        }
    }
}

/// One write transaction around `f` (`BEGIN IMMEDIATE` on SQLite).
fn transact_once<T, E>(
    conn: &mut DbConnection,
    f: &mut impl FnMut(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Manager = <DbConnection as Connection>::TransactionManager;

    let begun = match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
        }
        DbConnection::Postgres(_) => Manager::begin_transaction(conn),
    };
    match begun {
        Err(e) => Err(E::from(e)),
        Ok(()) => match f(conn) {
            Ok(value) => Manager::commit_transaction(conn)
                .map(|()| value)
                .map_err(|e| {
                    // A failed COMMIT leaves the transaction open on some
                    // backends: end it before anything else runs.
                    let _ = Manager::rollback_transaction(conn);
                    E::from(e)
                }),
            Err(e) => {
                Manager::rollback_transaction(conn)?;
                Err(e)
            }
        },
    }
}
