//! Property tests: proofs of random trees verify, altered proofs do not, and
//! the stored-hash algorithms agree with the plain RFC 9162 definitions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use audit::merkle::{consistency_proof_from_leaves, inclusion_proof_from_leaves};
use audit::tile::{HashPosition, stored_hash_count};
use audit::{Hash, MemoryLog, leaf_hash, root_from_leaves, verify_consistency, verify_inclusion};
use proptest::prelude::*;

fn leaves(n: u64, salt: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("entry {i} salt {salt}").as_bytes()))
        .collect()
}

fn log_of(leaves: &[Hash]) -> MemoryLog {
    let mut log = MemoryLog::new();
    for l in leaves {
        log.append_leaf(*l).unwrap();
    }
    log
}

fn altered(proof: &[Hash], which: usize, bit: u8, extra: Hash) -> Vec<Vec<Hash>> {
    let mut out = Vec::new();
    if !proof.is_empty() {
        let mut p = proof.to_vec();
        let i = which % proof.len();
        p[i].0[usize::from(bit) % 32] ^= 1 << (bit % 8);
        out.push(p);
        let mut p = proof.to_vec();
        p.remove(which % proof.len());
        out.push(p);
    }
    let mut p = proof.to_vec();
    p.push(extra);
    out.push(p);
    let mut p = proof.to_vec();
    p.insert(which % (proof.len() + 1), extra);
    out.push(p);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn inclusion_proofs(size in 1u64..2000, picks in prop::collection::vec(any::<u64>(), 1..8),
                        which in any::<usize>(), bit in any::<u8>(), salt in any::<u64>()) {
        let leaves = leaves(size, salt);
        let log = log_of(&leaves);
        let root = log.root().unwrap();
        prop_assert_eq!(root, root_from_leaves(&leaves));
        let extra = leaf_hash(b"extra");
        for pick in picks {
            let index = pick % size;
            let leaf = leaves[index as usize];
            let proof = log.inclusion_proof(index, size).unwrap();
            prop_assert_eq!(&proof, &inclusion_proof_from_leaves(&leaves, index).unwrap());
            prop_assert!(verify_inclusion(&leaf, index, size, &proof, &root).is_ok());
            for bad in altered(&proof, which, bit, extra) {
                prop_assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err());
            }
            let other = (index + 1 + pick % size.max(2)) % size;
            if other != index {
                prop_assert!(verify_inclusion(&leaf, other, size, &proof, &root).is_err());
            }
            prop_assert!(verify_inclusion(&leaf, index, size * 2, &proof, &root).is_err());
            prop_assert!(verify_inclusion(&leaf, index, size / 2, &proof, &root).is_err());
            prop_assert!(verify_inclusion(&extra, index, size, &proof, &root).is_err());
        }
    }

    #[test]
    fn consistency_proofs(new in 1u64..2000, olds in prop::collection::vec(any::<u64>(), 1..8),
                          which in any::<usize>(), bit in any::<u8>(), salt in any::<u64>()) {
        let leaves = leaves(new, salt);
        let log = log_of(&leaves);
        let new_root = log.root().unwrap();
        let extra = leaf_hash(b"extra");
        for o in olds {
            let old = 1 + o % new;
            let old_root = log.root_at(old).unwrap();
            let proof = log.consistency_proof(old, new).unwrap();
            prop_assert_eq!(&proof, &consistency_proof_from_leaves(&leaves, old).unwrap());
            prop_assert!(verify_consistency(old, new, &old_root, &new_root, &proof).is_ok());
            if old == new {
                continue;
            }
            for bad in altered(&proof, which, bit, extra) {
                prop_assert!(verify_consistency(old, new, &old_root, &new_root, &bad).is_err());
            }
            prop_assert!(verify_consistency(old, new, &new_root, &new_root, &proof).is_err());
            prop_assert!(verify_consistency(old, new, &old_root, &old_root, &proof).is_err());
            prop_assert!(verify_consistency(old, new * 2, &old_root, &new_root, &proof).is_err());
            prop_assert!(verify_consistency(old - 1, new, &old_root, &new_root, &proof).is_err());
            prop_assert!(verify_consistency(old + 1, new, &old_root, &new_root, &proof).is_err());
        }
    }

    #[test]
    fn batch_append_matches_single_appends(sizes in prop::collection::vec(0u64..300, 1..6), salt in any::<u64>()) {
        let total: u64 = sizes.iter().sum();
        let all = leaves(total, salt);
        let single = log_of(&all);
        let mut batched = MemoryLog::new();
        let mut at = 0usize;
        for s in sizes {
            batched.append_leaves(&all[at..at + s as usize]).unwrap();
            at += s as usize;
        }
        prop_assert_eq!(single.stored_hashes(), batched.stored_hashes());
        prop_assert_eq!(single.stored_hashes().len() as u64, stored_hash_count(total));
    }

    #[test]
    fn stored_index_round_trips(stored in 0u64..(1 << 50)) {
        let pos = HashPosition::from_stored_index(stored);
        prop_assert_eq!(pos.stored_index(), stored);
    }
}

#[test]
fn stored_index_layout_is_append_order() {
    let leaves = leaves(300, 7);
    let log = log_of(&leaves);
    for (i, h) in log.stored_hashes().iter().enumerate() {
        let pos = HashPosition::from_stored_index(i as u64);
        assert_eq!(pos.stored_index(), i as u64);
        let lo = pos.first_leaf() as usize;
        let hi = lo + (1usize << pos.level);
        assert_eq!(
            *h,
            root_from_leaves(&leaves[lo..hi]),
            "stored index {i} = {pos:?}"
        );
    }
    // The first entries of the layout: leaf 0, leaf 1, node(1, 0), leaf 2, ...
    let order: Vec<(u8, u64)> = (0..7)
        .map(HashPosition::from_stored_index)
        .map(|p| (p.level, p.index))
        .collect();
    assert_eq!(
        order,
        vec![(0, 0), (0, 1), (1, 0), (0, 2), (0, 3), (1, 1), (2, 0)]
    );
}

#[test]
fn exhaustive_small_trees() {
    let leaves = leaves(70, 1);
    let log = log_of(&leaves);
    for n in 1..=70u64 {
        let root = log.root_at(n).unwrap();
        for i in 0..n {
            let p = log.inclusion_proof(i, n).unwrap();
            verify_inclusion(&leaves[i as usize], i, n, &p, &root).unwrap();
        }
        for m in 1..=n {
            let p = log.consistency_proof(m, n).unwrap();
            verify_consistency(m, n, &log.root_at(m).unwrap(), &root, &p).unwrap();
        }
    }
}
