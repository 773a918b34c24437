//! Merkle tree math of RFC 9162 section 2.1: the tree hash (MTH), inclusion
//! proofs (PATH), consistency proofs (PROOF) and their verification.
//!
//! The functions over slices of leaf hashes are the plain recursive
//! definitions; they serve small trees and tests. Large logs use the
//! stored-hash functions of [`crate::tile`], which need O(log n) reads.

use crate::error::AuditError;
use crate::hash::{EMPTY_ROOT, Hash, node_hash};

/// The largest power of two strictly below `n` (`n >= 2`).
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH over a list of leaf hashes (RFC 9162 section 2.1.1).
pub fn root_from_leaves(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(
                &root_from_leaves(&leaves[..k]),
                &root_from_leaves(&leaves[k..]),
            )
        }
    }
}

/// PATH(index, leaves): the inclusion proof of one leaf (RFC 9162 2.1.3.1).
pub fn inclusion_proof_from_leaves(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, AuditError> {
    let size = leaves.len() as u64;
    if index >= size {
        return Err(AuditError::IndexOutOfRange { index, size });
    }
    Ok(inclusion_ranges(index, size)
        .into_iter()
        .map(|(lo, hi)| root_from_leaves(&leaves[lo as usize..hi as usize]))
        .collect())
}

/// PROOF(old_size, leaves): the consistency proof between the tree of the
/// first `old_size` leaves and the tree of all leaves (RFC 9162 2.1.4.1).
pub fn consistency_proof_from_leaves(
    leaves: &[Hash],
    old_size: u64,
) -> Result<Vec<Hash>, AuditError> {
    let new_size = leaves.len() as u64;
    Ok(consistency_ranges(old_size, new_size)?
        .into_iter()
        .map(|(lo, hi)| root_from_leaves(&leaves[lo as usize..hi as usize]))
        .collect())
}

/// The leaf ranges `[lo, hi)` whose tree hashes form the inclusion proof of
/// leaf `index` in a tree of `size` leaves, in proof order (leaf upwards).
pub fn inclusion_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    fn walk(m: u64, lo: u64, hi: u64, out: &mut Vec<(u64, u64)>) {
        if hi - lo <= 1 {
            return;
        }
        let k = split_point(hi - lo);
        if m < lo + k {
            walk(m, lo, lo + k, out);
            out.push((lo + k, hi));
        } else {
            walk(m, lo + k, hi, out);
            out.push((lo, lo + k));
        }
    }
    let mut out = Vec::with_capacity(64);
    if index < size {
        walk(index, 0, size, &mut out);
    }
    out
}

/// The leaf ranges `[lo, hi)` whose tree hashes form the consistency proof
/// from `old_size` to `new_size`, in proof order.
pub fn consistency_ranges(old_size: u64, new_size: u64) -> Result<Vec<(u64, u64)>, AuditError> {
    fn sub(m: u64, lo: u64, hi: u64, whole: bool, out: &mut Vec<(u64, u64)>) {
        if m == hi - lo {
            if !whole {
                out.push((lo, hi));
            }
            return;
        }
        let k = split_point(hi - lo);
        if m <= k {
            sub(m, lo, lo + k, whole, out);
            out.push((lo + k, hi));
        } else {
            sub(m - k, lo + k, hi, false, out);
            out.push((lo, lo + k));
        }
    }
    if old_size > new_size || (old_size == 0 && new_size != 0) {
        return Err(AuditError::InvalidSizes {
            old: old_size,
            new: new_size,
        });
    }
    let mut out = Vec::with_capacity(64);
    if old_size < new_size {
        sub(old_size, 0, new_size, true, &mut out);
    }
    Ok(out)
}

/// Verifies an inclusion proof (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), AuditError> {
    let bad = || AuditError::ProofInvalid("inclusion");
    if index >= tree_size {
        return Err(AuditError::IndexOutOfRange {
            index,
            size: tree_size,
        });
    }
    let mut f_n = index;
    let mut s_n = tree_size - 1;
    let mut r = *leaf_hash;
    for p in proof {
        if s_n == 0 {
            return Err(bad());
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n == 0 && r == *root {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Verifies a consistency proof (RFC 9162 section 2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots; an old size of 0 needs an
/// empty proof and the empty-tree root as the old root (every tree extends
/// the empty tree).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), AuditError> {
    let bad = || AuditError::ProofInvalid("consistency");
    if old_size > new_size {
        return Err(AuditError::InvalidSizes {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == new_size {
        return if proof.is_empty() && old_root == new_root {
            Ok(())
        } else {
            Err(bad())
        };
    }
    if old_size == 0 {
        return if proof.is_empty() && *old_root == EMPTY_ROOT {
            Ok(())
        } else {
            Err(bad())
        };
    }
    let Some((first, rest)) = proof.split_first() else {
        return Err(bad());
    };
    // When the old size is a power of two, the old root is the first element
    // of the path and is not sent in the proof.
    let (start, rest): (Hash, &[Hash]) = if old_size.is_power_of_two() {
        (*old_root, proof)
    } else {
        (*first, rest)
    };
    let mut f_n = old_size - 1;
    let mut s_n = new_size - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut f_r = start;
    let mut s_r = start;
    for c in rest {
        if s_n == 0 {
            return Err(bad());
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if f_r == *old_root && s_r == *new_root && s_n == 0 {
        Ok(())
    } else {
        Err(bad())
    }
}
