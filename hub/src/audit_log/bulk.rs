//! Appending many entries in one transaction, outside the sequencer: for
//! loading a generated population (`crossroads populate`) into a log no
//! hub process is appending to. The entries are encoded, hashed and stored
//! exactly as the sequencer does it, so the log verifies and the hub goes
//! on appending after them.

use audit::Salt;
use chrono::{DateTime, Utc};

use super::NewEntry;
use crate::http::error::ApiError;
use crate::store::DbConnection;
use crate::store::audit::{self as store, DbHashReader};

/// Numbers, encodes and stores `entries` after the stored ones, with their
/// Merkle hashes, in the caller's transaction: each with its time, and the
/// salt of its commitments if it concerns a person. Returns the log's new
/// size.
pub fn append(
    conn: &mut DbConnection,
    entries: &[(NewEntry, DateTime<Utc>, Option<Salt>)],
) -> Result<u64, ApiError> {
    let refused = |e: audit::AuditError| ApiError::internal_from("audit entry refused", e);
    let size = store::tree_size(conn)?;
    let mut rows = Vec::with_capacity(entries.len());
    let mut leaves = Vec::with_capacity(entries.len());
    for (n, (entry, time, salt)) in (size..).zip(entries) {
        let prepared = entry.prepare_with_salt(*salt).map_err(refused)?;
        let time = audit::EncodedTime::new((*time).into());
        let (row, leaf) = prepared.to_row(n, &time, None).map_err(refused)?;
        rows.push(row);
        leaves.push(leaf);
    }
    let hashes = audit::append_batch(size, &leaves, &DbHashReader::new(conn)).map_err(refused)?;
    store::insert_batch(conn, &rows, &hashes)?;
    Ok(size + rows.len() as u64)
}
