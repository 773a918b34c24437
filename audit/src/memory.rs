//! An in-memory log, for tests, tools and benchmarks.

use crate::error::AuditError;
use crate::hash::{Hash, leaf_hash};
use crate::tile::{self, HashPosition, HashReader, stored_hash_count};

/// Stored hashes kept in memory in stored-index order.
#[derive(Clone, Debug, Default)]
pub struct MemoryLog {
    hashes: Vec<Hash>,
    size: u64,
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// All stored hashes, in stored-index order.
    pub fn stored_hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends an entry's bytes; returns the new leaf's index.
    pub fn append_entry(&mut self, entry: &[u8]) -> Result<u64, AuditError> {
        self.append_leaf(leaf_hash(entry))
    }

    /// Appends a leaf hash; returns the new leaf's index.
    pub fn append_leaf(&mut self, leaf: Hash) -> Result<u64, AuditError> {
        let new = tile::append(self.size, leaf, &*self)?;
        self.hashes.extend(new);
        self.size += 1;
        Ok(self.size - 1)
    }

    /// Appends many leaf hashes with one [`tile::append_batch`].
    pub fn append_leaves(&mut self, leaves: &[Hash]) -> Result<(), AuditError> {
        let new = tile::append_batch(self.size, leaves, &*self)?;
        self.hashes.extend(new.into_iter().map(|(_, h)| h));
        self.size += leaves.len() as u64;
        debug_assert_eq!(self.hashes.len() as u64, stored_hash_count(self.size));
        Ok(())
    }

    /// The root of the tree of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, AuditError> {
        self.check_size(size)?;
        tile::tree_hash(size, self)
    }

    /// The current root.
    pub fn root(&self) -> Result<Hash, AuditError> {
        tile::tree_hash(self.size, self)
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, AuditError> {
        self.check_size(size)?;
        tile::prove_inclusion(index, size, self)
    }

    /// The consistency proof from `old` leaves to `new` leaves.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, AuditError> {
        self.check_size(new)?;
        tile::prove_consistency(old, new, self)
    }

    /// The stored hash at `pos`, if this log has it.
    pub fn get(&self, pos: HashPosition) -> Option<Hash> {
        if pos.level >= 64 || pos.index >= self.size >> pos.level {
            return None;
        }
        usize::try_from(pos.stored_index())
            .ok()
            .and_then(|i| self.hashes.get(i).copied())
    }

    fn check_size(&self, size: u64) -> Result<(), AuditError> {
        if size > self.size {
            Err(AuditError::InvalidSizes {
                old: size,
                new: self.size,
            })
        } else {
            Ok(())
        }
    }
}

impl HashReader for MemoryLog {
    fn read_hashes(&self, positions: &[HashPosition]) -> Result<Vec<Hash>, AuditError> {
        positions
            .iter()
            .map(|p| {
                self.get(*p).ok_or(AuditError::HashMissing {
                    level: p.level,
                    index: p.index,
                })
            })
            .collect()
    }
}
