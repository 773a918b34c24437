//! `crossroads audit verify`: recompute the whole tree from the stored
//! entries, compare it with the stored hashes and with every stored
//! checkpoint (whose signatures are checked), and name the first sequence
//! number that does not match; or, from a checkpoint verified before, do
//! the same for the entries appended since.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, mpsc};

use audit::{
    AuditError, Checkpoint, Entry, Hash, HashPosition, HashReader, LogVerifier, VerifierKey,
};
use indicatif::ProgressBar;

use crate::http::error::ApiError;
use crate::store::audit::{self as store, DbHashReader};
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
        /// The size verification started from: 0, or the size of the
        /// checkpoint it went on from.
        from: u64,
        /// The signed note of the largest checkpoint checked, if any.
        latest: Option<String>,
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

/// Verifies the whole stored log against the verifier key `key`.
pub fn verify_stored(pool: &Pool, key: &VerifierKey, origin: &str) -> Result<Verdict, ApiError> {
    verify_stored_from(pool, key, origin, None, &ProgressBar::hidden())
}

/// Verifies the stored log against the verifier key `key`: the whole log,
/// or with `from` (a checkpoint whose signature the caller checked) only
/// the entries from `from.size` on, with the stored hashes written for
/// them and the stored checkpoints of size `from.size` or more.
///
/// Going on from `from` trusts nothing but its signed note: the stored
/// hashes of the complete subtrees of the tree at its size (O(log n) of
/// them) must fold to its root, and the new entries are hashed on top of
/// them. The entries and hashes below `from.size` are checked only insofar
/// as they rebuild that signed root; an entry changed there since is the
/// whole verification's to find.
///
/// Threads: one reads the entries in pages, one worker a core checks each
/// entry is canonical and carries its own sequence number and hashes it,
/// one reads the stored hashes; this thread puts the leaf hashes in order,
/// builds the tree and compares. Memory stays at a few pages of each.
/// `progress` counts the entries verified.
pub fn verify_stored_from(
    pool: &Pool,
    key: &VerifierKey,
    origin: &str,
    from: Option<&Checkpoint>,
    progress: &ProgressBar,
) -> Result<Verdict, ApiError> {
    let start = from.map_or(0, |c| c.size);
    let mut checkpoints = Vec::new();
    let mut latest = None;
    let mut conn = pool.get().map_err(StoreError::from)?;
    for row in store::checkpoints(&mut conn, start)? {
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
        latest = Some(row.note);
    }
    // The log as it stands now, read after the checkpoints (none can be
    // beyond it): entries appended while verifying are left out, and
    // everything below it is committed, hashes included.
    let size = store::tree_size(&mut conn)?;
    if start > size {
        return Ok(Verdict::Mismatch {
            first_bad_seq: size,
            reason: format!(
                "the log has {size} entries, fewer than the checkpoint of size {start} verified before"
            ),
        });
    }
    let verifier = match from {
        None => LogVerifier::new(&checkpoints),
        Some(from) => {
            match LogVerifier::resume(from, &DbHashReader::new(&mut conn), &checkpoints) {
                Ok(v) => v,
                Err(e) => return verdict(e),
            }
        }
    };
    drop(conn);
    progress.set_length(size - start);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    std::thread::scope(|scope| {
        let (raw_tx, raw_pages) = mpsc::sync_channel(AHEAD);
        let (leaf_tx, leaf_pages) = mpsc::sync_channel(AHEAD * workers);
        let (hash_tx, hash_pages) = mpsc::sync_channel(AHEAD);
        let entries_conn = pool.get().map_err(StoreError::from)?;
        let hashes_conn = pool.get().map_err(StoreError::from)?;
        scope.spawn(move || read_entries(entries_conn, start, size, &raw_tx));
        let raw_pages = Arc::new(Mutex::new(raw_pages));
        for _ in 0..workers {
            let raw_pages = Arc::clone(&raw_pages);
            let leaf_tx = leaf_tx.clone();
            scope.spawn(move || check_pages(&raw_pages, &leaf_tx));
        }
        drop((raw_pages, leaf_tx));
        let first_hash = HashPosition::leaf(start).stored_index();
        let hash_count = HashPosition::leaf(size).stored_index();
        scope.spawn(move || read_hashes(hashes_conn, first_hash, hash_count, &hash_tx));
        let stored = StreamedHashes::new(hash_pages);
        let mut verifier = verifier.with_stored_hashes(&stored);
        // Pages come back from the workers in any order.
        let mut waiting = BTreeMap::new();
        let mut next = 0usize;
        for (number, page) in leaf_pages {
            waiting.insert(number, page);
            while let Some(page) = waiting.remove(&next) {
                next += 1;
                let page: LeafPage = page?;
                for &(seq, leaf) in &page.leaves {
                    if let Err(e) = verifier.push_leaf_hash(seq, leaf) {
                        return verdict(e);
                    }
                }
                progress.inc(page.leaves.len() as u64);
                if let Some(bad) = page.bad_entry {
                    // Report it only if nothing before it differs: a gap
                    // before it, or a stored hash.
                    if let Err(e) = verifier.check_seq(bad) {
                        return verdict(e);
                    }
                    if let Err(e) = verifier.check_stored() {
                        return verdict(e);
                    }
                    return Ok(Verdict::Mismatch {
                        first_bad_seq: bad,
                        reason:
                            "the entry is not a canonical entry carrying its own sequence number"
                                .to_owned(),
                    });
                }
            }
        }
        match verifier.finish() {
            Ok(tree) => Ok(Verdict::Verified {
                size: tree.size,
                root: tree.root,
                checkpoints: tree.checkpoints_verified,
                from: start,
                latest,
            }),
            Err(e) => verdict(e),
        }
    })
    // Dropping the receivers ends the readers and workers early when a
    // mismatch is found.
}

/// Entries and stored hashes are read this many rows a query…
const PAGE: i64 = 8_192;
/// …and at most this many pages ahead of the verification.
const AHEAD: usize = 4;

/// A page of entries as read, numbered from 0 in sequence order.
type RawPage = (usize, Result<Vec<(i64, String)>, ApiError>);

/// Reads entries `start..size`.
fn read_entries(
    mut conn: PooledConnection,
    start: u64,
    size: u64,
    out: &mpsc::SyncSender<RawPage>,
) {
    let mut next = start;
    let mut number = 0;
    while next < size {
        let limit = PAGE.min((size - next) as i64);
        let page = match store::entries_from(&mut conn, next, limit) {
            // Where entries are missing, the page may reach past `size`.
            Ok(mut page) => {
                page.retain(|(seq, _)| (*seq as u64) < size);
                page
            }
            Err(e) => {
                let _ = out.send((number, Err(e.into())));
                return;
            }
        };
        let Some(&(last, _)) = page.last() else {
            return;
        };
        next = last as u64 + 1;
        if out.send((number, Ok(page))).is_err() {
            return;
        }
        number += 1;
    }
}

/// The leaf hashes of a page of entries, cut before the first one that is
/// not a canonical entry carrying its own sequence number.
struct LeafPage {
    leaves: Vec<(u64, Hash)>,
    bad_entry: Option<u64>,
}

/// A worker: checks and hashes the entries of the pages it takes.
fn check_pages(
    pages: &Mutex<mpsc::Receiver<RawPage>>,
    out: &mpsc::SyncSender<(usize, Result<LeafPage, ApiError>)>,
) {
    loop {
        // The lock is held only while taking a page.
        let taken = match pages.lock() {
            Ok(pages) => pages.recv(),
            Err(_) => return,
        };
        let Ok((number, page)) = taken else {
            return;
        };
        let checked = page.map(|page| {
            let mut leaves = Vec::with_capacity(page.len());
            let mut bad_entry = None;
            for (seq, entry) in page {
                let seq = seq as u64;
                match Entry::from_canonical_bytes(entry.as_bytes()) {
                    Ok(e) if e.seq == seq => leaves.push((seq, audit::leaf_hash(entry.as_bytes()))),
                    _ => {
                        bad_entry = Some(seq);
                        break;
                    }
                }
            }
            LeafPage { leaves, bad_entry }
        });
        if out.send((number, checked)).is_err() {
            return;
        }
    }
}

/// Stored hashes in stored-index order: `(stored index, hash bytes)`.
type HashPage = Result<Vec<(u64, Vec<u8>)>, ApiError>;

/// Reads the stored hashes `first..count`.
fn read_hashes(
    mut conn: PooledConnection,
    first: u64,
    count: u64,
    out: &mpsc::SyncSender<HashPage>,
) {
    let mut next = first;
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
