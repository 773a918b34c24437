//! The RFC 6962 reference test data used by Certificate Transparency
//! implementations: eight leaves, the roots of sizes 0..=8, and the
//! reference inclusion and consistency proofs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use audit::merkle::{consistency_proof_from_leaves, inclusion_proof_from_leaves};
use audit::{
    EMPTY_ROOT, Hash, MemoryLog, leaf_hash, root_from_leaves, verify_consistency, verify_inclusion,
};

const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf index, tree size, proof)
const INCLUSION: &[(u64, u64, &[&str])] = &[
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// (old size, new size, proof)
const CONSISTENCY: &[(u64, u64, &[&str])] = &[
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn h(s: &str) -> Hash {
    s.parse().unwrap()
}

fn leaf_hashes() -> Vec<Hash> {
    LEAVES.iter().map(|l| leaf_hash(&unhex(l))).collect()
}

fn memory_log() -> MemoryLog {
    let mut log = MemoryLog::new();
    for l in LEAVES {
        log.append_entry(&unhex(l)).unwrap();
    }
    log
}

fn root(size: u64) -> Hash {
    h(ROOTS[size as usize])
}

#[test]
fn roots_of_every_size() {
    let leaves = leaf_hashes();
    let log = memory_log();
    assert_eq!(EMPTY_ROOT, root(0));
    for n in 0..=8u64 {
        assert_eq!(
            root_from_leaves(&leaves[..n as usize]),
            root(n),
            "slice, size {n}"
        );
        assert_eq!(log.root_at(n).unwrap(), root(n), "stored hashes, size {n}");
    }
}

#[test]
fn reference_inclusion_proofs() {
    let leaves = leaf_hashes();
    let log = memory_log();
    for &(index, size, proof) in INCLUSION {
        let want: Vec<Hash> = proof.iter().map(|p| h(p)).collect();
        let slice = inclusion_proof_from_leaves(&leaves[..size as usize], index).unwrap();
        assert_eq!(slice, want, "slice proof {index}/{size}");
        assert_eq!(
            log.inclusion_proof(index, size).unwrap(),
            want,
            "stored proof {index}/{size}"
        );
        verify_inclusion(&leaves[index as usize], index, size, &want, &root(size)).unwrap();
    }
}

#[test]
fn reference_inclusion_proofs_reject_corruption() {
    let leaves = leaf_hashes();
    let some = h("abacaba000000000000000000000000000000000000000000060061e00123456");
    for &(index, size, proof) in INCLUSION {
        let proof: Vec<Hash> = proof.iter().map(|p| h(p)).collect();
        let leaf = leaves[index as usize];
        let r = root(size);
        let ok = |i: u64, s: u64, p: &[Hash], r: &Hash, l: &Hash| {
            verify_inclusion(l, i, s, p, r).is_ok()
        };
        if index > 0 {
            assert!(!ok(index - 1, size, &proof, &r, &leaf));
        }
        assert!(!ok(index + 1, size, &proof, &r, &leaf));
        if index ^ 2 < size && index ^ 2 != index {
            assert!(!ok(index ^ 2, size, &proof, &r, &leaf));
        }
        assert!(!ok(index, size * 2, &proof, &r, &leaf));
        assert!(!ok(index, size / 2, &proof, &r, &leaf));
        assert!(!ok(index, size, &proof, &r, &leaf_hash(b"WrongLeaf")));
        assert!(!ok(index, size, &proof, &EMPTY_ROOT, &leaf));
        assert!(!ok(index, size, &proof, &some, &leaf));
        let mut longer = proof.clone();
        longer.push(r);
        assert!(!ok(index, size, &longer, &r, &leaf));
        let mut front = vec![r];
        front.extend_from_slice(&proof);
        assert!(!ok(index, size, &front, &r, &leaf));
        for i in 0..proof.len() {
            let mut p = proof.clone();
            p[i].0[0] ^= 8;
            assert!(!ok(index, size, &p, &r, &leaf));
        }
        if !proof.is_empty() {
            assert!(!ok(index, size, &proof[..proof.len() - 1], &r, &leaf));
        }
    }
}

#[test]
fn reference_consistency_proofs() {
    let leaves = leaf_hashes();
    let log = memory_log();
    for &(old, new, proof) in CONSISTENCY {
        let want: Vec<Hash> = proof.iter().map(|p| h(p)).collect();
        let slice = consistency_proof_from_leaves(&leaves[..new as usize], old).unwrap();
        assert_eq!(slice, want, "slice proof {old}->{new}");
        assert_eq!(
            log.consistency_proof(old, new).unwrap(),
            want,
            "stored proof {old}->{new}"
        );
        verify_consistency(old, new, &root(old), &root(new), &want).unwrap();
    }
}

#[test]
fn reference_consistency_proofs_reject_corruption() {
    for &(old, new, proof) in CONSISTENCY {
        let proof: Vec<Hash> = proof.iter().map(|p| h(p)).collect();
        if proof.is_empty() {
            continue;
        }
        let (r1, r2) = (root(old), root(new));
        let ok = |a: u64, b: u64, r1: &Hash, r2: &Hash, p: &[Hash]| {
            verify_consistency(a, b, r1, r2, p).is_ok()
        };
        assert!(!ok(old - 1, new, &r1, &r2, &proof));
        assert!(!ok(old + 1, new, &r1, &r2, &proof));
        assert!(!ok(old ^ 2, new, &r1, &r2, &proof));
        assert!(!ok(old, new * 2, &r1, &r2, &proof));
        assert!(!ok(old, new / 2, &r1, &r2, &proof));
        assert!(!ok(old, new, &leaf_hash(b"WrongRoot"), &r2, &proof));
        assert!(!ok(old, new, &r1, &leaf_hash(b"WrongRoot"), &proof));
        assert!(!ok(old, new, &r2, &r1, &proof));
        assert!(!ok(old, new, &r1, &r2, &[]));
        for extra in [r1, r2] {
            let mut p = proof.clone();
            p.push(extra);
            assert!(!ok(old, new, &r1, &r2, &p));
            let mut p = vec![extra];
            p.extend_from_slice(&proof);
            assert!(!ok(old, new, &r1, &r2, &p));
        }
        let mut p = vec![proof[0]];
        p.extend_from_slice(&proof);
        assert!(!ok(old, new, &r1, &r2, &p));
        assert!(!ok(old, new, &r1, &r2, &proof[..proof.len() - 1]));
        for i in 0..proof.len() {
            let mut p = proof.clone();
            p[i].0[0] ^= 16;
            assert!(!ok(old, new, &r1, &r2, &p));
        }
    }
}

#[test]
fn trivial_consistency() {
    let r = root(3);
    verify_consistency(3, 3, &r, &r, &[]).unwrap();
    assert!(verify_consistency(3, 3, &r, &root(4), &[]).is_err());
    assert!(verify_consistency(3, 3, &r, &r, &[r]).is_err());
    verify_consistency(0, 3, &EMPTY_ROOT, &r, &[]).unwrap();
    assert!(verify_consistency(0, 3, &EMPTY_ROOT, &r, &[r]).is_err());
    assert!(verify_consistency(4, 3, &r, &r, &[]).is_err());
    assert!(verify_consistency(1, 2, &root(1), &root(2), &[]).is_err());
}
