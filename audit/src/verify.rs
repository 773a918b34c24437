//! Verification of a whole log by outside tools: recompute the tree from the
//! entries, compare it with the stored hashes (when given) and with every
//! checkpoint, and name the first sequence number that disagrees.

use crate::checkpoint::Checkpoint;
use crate::entry::Entry;
use crate::error::{AuditError, MismatchReason, VerifyError};
use crate::hash::{EMPTY_ROOT, Hash, leaf_hash, node_hash};
use crate::tile::{HashPosition, HashReader};

/// Stored hashes are compared in batches of this many.
const STORED_BATCH: usize = 4096;

/// The tree a successful verification recomputed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTree {
    /// Number of entries.
    pub size: u64,
    /// Root hash of all entries.
    pub root: Hash,
    /// Number of checkpoints whose roots matched.
    pub checkpoints_verified: usize,
}

/// A streaming verifier: feed entries in order with [`LogVerifier::push`],
/// then call [`LogVerifier::finish`]. Memory stays O(log n) plus one batch.
pub struct LogVerifier<'a> {
    checkpoints: Vec<(u64, Hash)>,
    next_checkpoint: usize,
    last_good_size: u64,
    stored: Option<&'a dyn HashReader>,
    check_entries: bool,
    frontier: Vec<(HashPosition, Hash)>,
    pending: Vec<(HashPosition, Hash)>,
    size: u64,
}

impl<'a> LogVerifier<'a> {
    /// A verifier checking the roots of `checkpoints` (in any order).
    pub fn new(checkpoints: &[Checkpoint]) -> Self {
        let mut cps: Vec<(u64, Hash)> = checkpoints.iter().map(|c| (c.size, c.root_hash)).collect();
        cps.sort_by_key(|c| c.0);
        Self {
            checkpoints: cps,
            next_checkpoint: 0,
            last_good_size: 0,
            stored: None,
            check_entries: false,
            frontier: Vec::with_capacity(64),
            pending: Vec::new(),
            size: 0,
        }
    }

    /// Also compares every recomputed hash with the stored one: a changed
    /// entry is then reported at its own sequence number. The hashes are
    /// asked for in stored-index order (the tlog-tiles layout), each once,
    /// so `stored` may serve them from one sequential scan.
    pub fn with_stored_hashes(mut self, stored: &'a dyn HashReader) -> Self {
        self.stored = Some(stored);
        self.pending.reserve(STORED_BATCH + 64);
        self
    }

    /// Also parses every entry and checks it is canonical and carries its
    /// own sequence number.
    pub fn check_entries(mut self, on: bool) -> Self {
        self.check_entries = on;
        self
    }

    /// Adds the next entry.
    pub fn push(&mut self, seq: u64, bytes: &[u8]) -> Result<(), VerifyError> {
        if self.size == 0 {
            // Checkpoints of the empty tree.
            self.check_checkpoints()?;
        }
        if seq != self.size {
            return Err(mismatch(
                self.size,
                MismatchReason::SequenceGap { found: seq },
            ));
        }
        if self.check_entries {
            match Entry::from_canonical_bytes(bytes) {
                Ok(e) if e.seq == seq => {}
                _ => return Err(mismatch(seq, MismatchReason::BadEntry)),
            }
        }
        let mut pos = HashPosition::leaf(seq);
        let mut h = leaf_hash(bytes);
        let track = self.stored.is_some();
        if track {
            self.pending.push((pos, h));
        }
        for _ in 0..seq.trailing_ones() {
            let Some((_, left)) = self.frontier.pop() else {
                break;
            };
            h = node_hash(&left, &h);
            pos = HashPosition::new(pos.level + 1, pos.index >> 1);
            if track {
                self.pending.push((pos, h));
            }
        }
        self.frontier.push((pos, h));
        self.size += 1;
        if self.pending.len() >= STORED_BATCH {
            self.flush_stored()?;
        }
        self.check_checkpoints()
    }

    /// Compares the stored hashes of the entries pushed so far now, rather
    /// than when the next batch is full.
    pub fn check_stored(&mut self) -> Result<(), VerifyError> {
        self.flush_stored()
    }

    /// Ends the stream: checks the remaining stored hashes and that no
    /// checkpoint is beyond the log.
    pub fn finish(mut self) -> Result<VerifiedTree, VerifyError> {
        self.flush_stored()?;
        self.check_checkpoints()?;
        if let Some(&(size, _)) = self.checkpoints.get(self.next_checkpoint) {
            return Err(mismatch(
                self.size,
                MismatchReason::CheckpointBeyondLog {
                    checkpoint_size: size,
                },
            ));
        }
        Ok(VerifiedTree {
            size: self.size,
            root: self.root(),
            checkpoints_verified: self.checkpoints.len(),
        })
    }

    /// The root of the entries pushed so far.
    pub fn root(&self) -> Hash {
        let mut it = self.frontier.iter().rev();
        match it.next() {
            None => EMPTY_ROOT,
            Some((_, last)) => it.fold(*last, |acc, (_, h)| node_hash(h, &acc)),
        }
    }

    fn check_checkpoints(&mut self) -> Result<(), VerifyError> {
        while let Some(&(size, root)) = self.checkpoints.get(self.next_checkpoint) {
            if size != self.size {
                break;
            }
            self.flush_stored()?;
            if self.root() != root {
                return Err(mismatch(
                    self.last_good_size,
                    MismatchReason::CheckpointRoot {
                        checkpoint_size: size,
                    },
                ));
            }
            self.last_good_size = size;
            self.next_checkpoint += 1;
        }
        Ok(())
    }

    fn flush_stored(&mut self) -> Result<(), VerifyError> {
        let Some(stored) = self.stored else {
            return Ok(());
        };
        if self.pending.is_empty() {
            return Ok(());
        }
        let positions: Vec<HashPosition> = self.pending.iter().map(|p| p.0).collect();
        let hashes = stored.read_hashes_or_missing(&positions)?;
        for (i, (pos, h)) in self.pending.iter().enumerate() {
            let Some(Some(s)) = hashes.get(i) else {
                return Err(AuditError::HashMissing {
                    level: pos.level,
                    index: pos.index,
                });
            };
            if s != h {
                let reason = if pos.level == 0 {
                    MismatchReason::StoredLeafHash
                } else {
                    MismatchReason::StoredNodeHash { position: *pos }
                };
                return Err(mismatch(pos.first_leaf(), reason));
            }
        }
        self.pending.clear();
        Ok(())
    }
}

fn mismatch(first_bad_seq: u64, reason: MismatchReason) -> VerifyError {
    AuditError::Mismatch {
        first_bad_seq,
        reason,
    }
}

/// Verifies a whole log: `entries` are `(seq, canonical bytes)` in order
/// from 0; every checkpoint's root is checked at its size; with `stored`,
/// every recomputed hash is compared with the stored one, so a changed entry
/// is reported at its own sequence number (without it, a change can only be
/// placed after the last checkpoint that still matches).
pub fn verify_log<I, B>(
    entries: I,
    checkpoints: &[Checkpoint],
    stored: Option<&dyn HashReader>,
) -> Result<VerifiedTree, VerifyError>
where
    I: IntoIterator<Item = (u64, B)>,
    B: AsRef<[u8]>,
{
    let mut v = LogVerifier::new(checkpoints);
    if let Some(s) = stored {
        v = v.with_stored_hashes(s);
    }
    for (seq, bytes) in entries {
        v.push(seq, bytes.as_ref())?;
    }
    v.finish()
}
