//! `crossroads audit verify`: recompute the whole tree from the stored
//! entries, compare it with the stored hashes and with every stored
//! checkpoint (whose signatures are checked), and name the first sequence
//! number that does not match.

use std::cell::RefCell;
use std::sync::mpsc;

use audit::{
    AuditError, Checkpoint, Entry, Hash, HashPosition, HashReader, LogVerifier, VerifierKey,
};

use crate::http::error::ApiError;
use crate::store::audit as store;
use crate::store::{Pool, PooledConnection, StoreError};

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Everything matched.
    Verified {
        /// Number of entries.
        size: u64,
        /// The recomputed root.
        root: Hash,
        /// Number of checkpoints checked.
        checkpoints: usize,
    },
    /// Entry `first_bad_seq` (or the tree from there) does not match.
    Mismatch {
        /// The first sequence number that does not match.
        first_bad_seq: u64,
        /// Why, for people.
        reason: String,
    },
    /// A stored checkpoint is not signed by the log's key or is malformed.
    BadCheckpoint {
        /// Its size.
        size: u64,
        /// Why.
        reason: String,
    },
}

/// Verifies the stored log against the verifier key `key`.
///
/// Two threads read, each on its own connection and in key order: one the
/// entries (checking each is canonical and carries its own sequence
/// number), the other the stored hashes; this thread recomputes the tree and
/// compares. Memory stays at a few pages of each.
pub fn verify_stored(pool: &Pool, key: &VerifierKey, origin: &str) -> Result<Verdict, ApiError> {
    let mut checkpoints = Vec::new();
    let size = {
        let mut conn = pool.get().map_err(StoreError::from)?;
        for row in store::checkpoints(&mut conn)? {
            let size = row.size as u64;
            let checkpoint = match Checkpoint::parse_and_verify_with(&row.note, key) {
                Ok(c) => c,
                Err(e) => {
                    return Ok(Verdict::BadCheckpoint {
                        size,
                        reason: e.to_string(),
                    });
                }
            };
            if checkpoint.size != size || checkpoint.root_hash.0.as_slice() != row.root_hash {
                return Ok(Verdict::BadCheckpoint {
                    size,
                    reason: "the stored size or root differs from the signed note".to_owned(),
                });
            }
            if checkpoint.origin != origin {
                return Ok(Verdict::BadCheckpoint {
                    size,
                    reason: format!("origin {:?} is not {origin:?}", checkpoint.origin),
                });
            }
            checkpoints.push(checkpoint);
        }
        // The log as it stands now, read after the checkpoints (none can be
        // beyond it): entries appended while verifying are left out, and
        // everything below it is committed, hashes included.
        store::tree_size(&mut conn)?
    };
    std::thread::scope(|scope| {
        let (page_tx, pages) = mpsc::sync_channel(AHEAD);
        let (hash_tx, hash_pages) = mpsc::sync_channel(AHEAD);
        let entries_conn = pool.get().map_err(StoreError::from)?;
        let hashes_conn = pool.get().map_err(StoreError::from)?;
        let hash_count = HashPosition::leaf(size).stored_index();
        scope.spawn(move || read_entries(entries_conn, size, &page_tx));
        scope.spawn(move || read_hashes(hashes_conn, hash_count, &hash_tx));
        let stored = StreamedHashes::new(hash_pages);
        let mut verifier = LogVerifier::new(&checkpoints).with_stored_hashes(&stored);
        for page in pages {
            let page = page?;
            for (seq, entry) in &page.entries {
                if let Err(e) = verifier.push(*seq, entry.as_bytes()) {
                    return verdict(e);
                }
            }
            if let Some(bad) = page.bad_entry {
                // Report it only if nothing before it differs.
                if let Err(e) = verifier.check_stored() {
                    return verdict(e);
                }
                return Ok(Verdict::Mismatch {
                    first_bad_seq: bad,
                    reason: "the entry is not a canonical entry carrying its own sequence number"
                        .to_owned(),
                });
            }
        }
        match verifier.finish() {
            Ok(tree) => Ok(Verdict::Verified {
                size: tree.size,
                root: tree.root,
                checkpoints: tree.checkpoints_verified,
            }),
            Err(e) => verdict(e),
        }
    })
    // Dropping the receivers ends both readers early when a mismatch is found.
}

/// Entries and stored hashes are read this many rows a query…
const PAGE: i64 = 8_192;
/// …and at most this many pages ahead of the verification.
const AHEAD: usize = 4;

/// Entries in sequence order, cut before the first one that is not a
/// canonical entry carrying its own sequence number.
struct EntryPage {
    entries: Vec<(u64, String)>,
    bad_entry: Option<u64>,
}

/// Reads entries `0..size`.
fn read_entries(
    mut conn: PooledConnection,
    size: u64,
    out: &mpsc::SyncSender<Result<EntryPage, ApiError>>,
) {
    let mut next = 0u64;
    while next < size {
        let limit = PAGE.min((size - next) as i64);
        let page = match store::entries_from(&mut conn, next, limit) {
            // Where entries are missing, the page may reach past `size`.
            Ok(mut page) => {
                page.retain(|(seq, _)| (*seq as u64) < size);
                page
            }
            Err(e) => {
                let _ = out.send(Err(e.into()));
                return;
            }
        };
        let Some(&(last, _)) = page.last() else {
            return;
        };
        let mut entries = Vec::with_capacity(page.len());
        let mut bad_entry = None;
        for (seq, entry) in page {
            let seq = seq as u64;
            match Entry::from_canonical_bytes(entry.as_bytes()) {
                Ok(e) if e.seq == seq => entries.push((seq, entry)),
                _ => {
                    bad_entry = Some(seq);
                    break;
                }
            }
        }
        let stop = bad_entry.is_some();
        if out.send(Ok(EntryPage { entries, bad_entry })).is_err() || stop {
            return;
        }
        next = last as u64 + 1;
    }
}

/// Stored hashes in stored-index order: `(stored index, hash bytes)`.
type HashPage = Result<Vec<(u64, Vec<u8>)>, ApiError>;

/// Reads the stored hashes `0..count`.
fn read_hashes(mut conn: PooledConnection, count: u64, out: &mpsc::SyncSender<HashPage>) {
    let mut next = 0u64;
    while next < count {
        let limit = PAGE.min((count - next) as i64);
        match store::hashes_from(&mut conn, next, limit) {
            Ok(mut page) => {
                page.retain(|(index, _)| *index < count);
                let Some(&(last, _)) = page.last() else {
                    return;
                };
                next = last + 1;
                if out.send(Ok(page)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = out.send(Err(e.into()));
                return;
            }
        }
    }
}

/// The stored hashes as a [`HashReader`] that must be read in stored-index
/// order, as [`LogVerifier`] does: served from pages read ahead by another
/// thread, so comparing every hash costs no query of its own.
struct StreamedHashes {
    pages: mpsc::Receiver<HashPage>,
    buffer: RefCell<std::collections::VecDeque<(u64, Vec<u8>)>>,
}

impl StreamedHashes {
    fn new(pages: mpsc::Receiver<HashPage>) -> Self {
        Self {
            pages,
            buffer: RefCell::new(std::collections::VecDeque::new()),
        }
    }
}

impl HashReader for StreamedHashes {
    fn read_hashes(&self, positions: &[HashPosition]) -> Result<Vec<Hash>, AuditError> {
        audit::all_present(positions, self.read_hashes_or_missing(positions)?)
    }

    fn read_hashes_or_missing(
        &self,
        positions: &[HashPosition],
    ) -> Result<Vec<Option<Hash>>, AuditError> {
        let store_error = |e: ApiError| AuditError::Store(Box::new(e));
        let mut buffer = self
            .buffer
            .try_borrow_mut()
            .map_err(|e| AuditError::Store(Box::new(e)))?;
        let mut out = Vec::with_capacity(positions.len());
        for pos in positions {
            let wanted = pos.stored_index();
            loop {
                match buffer.front() {
                    None => match self.pages.recv() {
                        Ok(page) => buffer.extend(page.map_err(store_error)?),
                        // The table ends before this hash.
                        Err(_) => {
                            out.push(None);
                            break;
                        }
                    },
                    Some((index, _)) if *index < wanted => {
                        buffer.pop_front();
                    }
                    Some((index, bytes)) if *index == wanted => {
                        out.push(Hash::from_slice(bytes));
                        buffer.pop_front();
                        break;
                    }
                    Some(_) => {
                        out.push(None);
                        break;
                    }
                }
            }
        }
        Ok(out)
    }
}

fn verdict(e: AuditError) -> Result<Verdict, ApiError> {
    match e {
        AuditError::Mismatch {
            first_bad_seq,
            reason,
        } => Ok(Verdict::Mismatch {
            first_bad_seq,
            reason: format!("{reason:?}"),
        }),
        AuditError::HashMissing { level, index } => Ok(Verdict::Mismatch {
            first_bad_seq: audit::HashPosition::new(level, index).first_leaf(),
            reason: format!("stored hash missing at level {level}, index {index}"),
        }),
        other => Err(ApiError::internal(format!("audit verification: {other}"))),
    }
}
