//! `crossroads audit verify`: recompute the whole tree from the stored
//! entries, compare it with the stored hashes and with every stored
//! checkpoint (whose signatures are checked), and name the first sequence
//! number that does not match.

use audit::{AuditError, Checkpoint, Hash, LogVerifier, VerifierKey};

use crate::error::ApiError;
use crate::store::Pool;
use crate::store::audit::{self as store, DbHashReader};

/// Entries read per query.
const PAGE: i64 = 10_000;

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
pub fn verify_stored(pool: &Pool, key: &VerifierKey, origin: &str) -> Result<Verdict, ApiError> {
    let mut entries_conn = pool.get().map_err(crate::store::StoreError::from)?;
    let mut hashes_conn = pool.get().map_err(crate::store::StoreError::from)?;
    let mut checkpoints = Vec::new();
    for row in store::checkpoints(&mut entries_conn)? {
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
    let reader = DbHashReader::new(&mut hashes_conn);
    let mut verifier = LogVerifier::new(&checkpoints)
        .with_stored_hashes(&reader)
        .check_entries(true);
    let mut next = 0u64;
    loop {
        let page = store::entries_from(&mut entries_conn, next, PAGE)?;
        if page.is_empty() {
            break;
        }
        for (seq, entry, leaf) in &page {
            let seq = *seq as u64;
            if let Err(e) = verifier.push(seq, entry.as_bytes()) {
                return verdict(e);
            }
            if audit::leaf_hash(entry.as_bytes()).0.as_slice() != leaf.as_slice() {
                return Ok(Verdict::Mismatch {
                    first_bad_seq: seq,
                    reason: "the entry's leaf hash column differs".to_owned(),
                });
            }
            next = seq + 1;
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
        other => Err(ApiError::Internal(format!("audit verification: {other}"))),
    }
}
