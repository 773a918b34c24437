//! Verification of a whole log by outside tools: recompute the tree from the
//! entries, compare it with the stored hashes (when given) and with every
//! checkpoint, and name the first sequence number that disagrees.

use crate::checkpoint::Checkpoint;
use crate::entry::Entry;
use crate::error::{AuditError, MismatchReason, VerifyError};
use crate::hash::{EMPTY_ROOT, Hash, leaf_hash, node_hash};
use crate::tile::{HashPosition, HashReader, tree_hash_positions};

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
    started: bool,
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
            started: false,
        }
    }

    /// A verifier that goes on from `from`, a checkpoint trusted already
    /// (its signature checked by the caller), checking the roots of
    /// `checkpoints` (in any order; those below `from.size` are ignored).
    ///
    /// The tree at `from.size` is not recomputed: its compact range (the
    /// hashes of the complete subtrees along its right edge, O(log n) of
    /// them) is read from `stored` and must fold to `from`'s root. Nothing
    /// else below `from.size` is checked; the next entry pushed is
    /// `from.size`.
    pub fn resume(
        from: &Checkpoint,
        stored: &dyn HashReader,
        checkpoints: &[Checkpoint],
    ) -> Result<Self, VerifyError> {
        let later: Vec<Checkpoint> = checkpoints
            .iter()
            .filter(|c| c.size >= from.size)
            .cloned()
            .collect();
        let mut v = Self::new(&later);
        let positions = tree_hash_positions(from.size);
        let hashes = stored.read_hashes(&positions)?;
        if hashes.len() != positions.len() {
            return Err(mismatch(
                0,
                MismatchReason::ResumeRoot {
                    checkpoint_size: from.size,
                },
            ));
        }
        v.frontier = positions.into_iter().zip(hashes).collect();
        v.size = from.size;
        v.last_good_size = from.size;
        if v.root() != from.root_hash {
            return Err(mismatch(
                0,
                MismatchReason::ResumeRoot {
                    checkpoint_size: from.size,
                },
            ));
        }
        Ok(v)
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
        self.check_seq(seq)?;
        if self.check_entries {
            match Entry::from_canonical_bytes(bytes) {
                Ok(e) if e.seq == seq => {}
                _ => return Err(mismatch(seq, MismatchReason::BadEntry)),
            }
        }
        self.push_leaf_hash(seq, leaf_hash(bytes))
    }

    /// Adds the next entry by its leaf hash, computed (and the entry
    /// checked, where it must be) by the caller, e.g. on other threads.
    pub fn push_leaf_hash(&mut self, seq: u64, leaf: Hash) -> Result<(), VerifyError> {
        self.check_seq(seq)?;
        let mut pos = HashPosition::leaf(seq);
        let mut h = leaf;
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

    /// Checks `seq` is the next sequence number (without adding it), after
    /// the checkpoints of the tree so far when nothing was pushed yet.
    pub fn check_seq(&mut self, seq: u64) -> Result<(), VerifyError> {
        if !self.started {
            // Checkpoints of the tree before the first entry pushed.
            self.started = true;
            self.check_checkpoints()?;
        }
        if seq != self.size {
            return Err(mismatch(
                self.size,
                MismatchReason::SequenceGap { found: seq },
            ));
        }
        Ok(())
    }

    /// The number of entries in the tree so far.
    pub fn size(&self) -> u64 {
        self.size
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
