#![allow(clippy::unwrap_used, clippy::expect_used)]

use audit::{Actor, ActorType, Entry, EntryKind, LogVerifier, Outcome};
use audit::{AuditError, Checkpoint, MemoryLog, MismatchReason, verify_log};
use chrono::{TimeZone, Utc};

fn entries(n: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
                + chrono::Duration::seconds(i as i64);
            Entry::new(
                i,
                t,
                EntryKind::new("lookup.permitted").unwrap(),
                Actor::new(ActorType::Agency, format!("a{}", i % 7)),
                Outcome::Permitted,
            )
            .canonical_bytes()
            .unwrap()
        })
        .collect()
}

fn setup(n: u64) -> (Vec<Vec<u8>>, MemoryLog, Vec<Checkpoint>) {
    let es = entries(n);
    let mut log = MemoryLog::new();
    let mut cps = Vec::new();
    for (i, e) in es.iter().enumerate() {
        log.append_entry(e).unwrap();
        if (i + 1) % 100 == 0 {
            cps.push(Checkpoint::new("o", log.size(), log.root().unwrap()).unwrap());
        }
    }
    cps.push(Checkpoint::new("o", log.size(), log.root().unwrap()).unwrap());
    (es, log, cps)
}

fn seq(es: &[Vec<u8>]) -> impl Iterator<Item = (u64, &Vec<u8>)> {
    es.iter().enumerate().map(|(i, e)| (i as u64, e))
}

#[test]
fn intact_log_verifies() {
    let (es, log, cps) = setup(1234);
    let t = verify_log(seq(&es), &cps, Some(&log)).unwrap();
    assert_eq!(t.size, 1234);
    assert_eq!(t.root, log.root().unwrap());
    assert_eq!(t.checkpoints_verified, cps.len());
    verify_log(seq(&es), &cps, None).unwrap();
    let mut v = LogVerifier::new(&cps).check_entries(true);
    for (i, e) in seq(&es) {
        v.push(i, e).unwrap();
    }
    v.finish().unwrap();
    let empty = Checkpoint::new("o", 0, audit::EMPTY_ROOT).unwrap();
    verify_log(seq(&es), &[empty], None).unwrap();
}

#[test]
fn changed_entry_is_found_with_stored_hashes() {
    let (mut es, log, cps) = setup(1234);
    es[777][5] ^= 1;
    let err = verify_log(seq(&es), &cps, Some(&log)).unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::Mismatch {
                first_bad_seq: 777,
                reason: MismatchReason::StoredLeafHash
            }
        ),
        "{err:?}"
    );
}

#[test]
fn changed_entry_without_stored_hashes_is_placed_after_last_good_checkpoint() {
    let (mut es, _log, cps) = setup(1234);
    es[777][5] ^= 1;
    let err = verify_log(seq(&es), &cps, None).unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::Mismatch {
                first_bad_seq: 700,
                reason: MismatchReason::CheckpointRoot {
                    checkpoint_size: 800
                }
            }
        ),
        "{err:?}"
    );
}

#[test]
fn rewritten_stored_tree_is_reported() {
    let (es, log, cps) = setup(600);
    // A store whose interior hash at level 3, index 20 was changed.
    struct Tampered<'a>(&'a MemoryLog);
    impl audit::HashReader for Tampered<'_> {
        fn read_hashes(&self, p: &[audit::HashPosition]) -> Result<Vec<audit::Hash>, AuditError> {
            let mut v = self.0.read_hashes(p)?;
            for (i, pos) in p.iter().enumerate() {
                if pos.level == 3 && pos.index == 20 {
                    v[i].0[0] ^= 1;
                }
            }
            Ok(v)
        }
    }
    let err = verify_log(seq(&es), &cps, Some(&Tampered(&log))).unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::Mismatch {
                first_bad_seq: 160,
                reason: MismatchReason::StoredNodeHash { .. }
            }
        ),
        "{err:?}"
    );
}

#[test]
fn gaps_and_missing_entries() {
    let (es, _log, cps) = setup(300);
    let skipped = seq(&es).filter(|(i, _)| *i != 150);
    let err = verify_log(skipped, &cps, None).unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::Mismatch {
                first_bad_seq: 150,
                reason: MismatchReason::SequenceGap { found: 151 }
            }
        ),
        "{err:?}"
    );
    let truncated = seq(&es).take(250);
    let err = verify_log(truncated, &cps, None).unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::Mismatch {
                reason: MismatchReason::CheckpointBeyondLog {
                    checkpoint_size: 300
                },
                ..
            }
        ),
        "{err:?}"
    );
    // A wrong seq inside the entry bytes is caught when entries are checked.
    let mut v = LogVerifier::new(&[]).check_entries(true);
    v.push(0, &es[1]).unwrap_err();
}

#[test]
fn log_of_version_1_and_version_2_entries_verifies() {
    // A log written before version 2 and continued after it.
    let mut es = Vec::new();
    let mut salts = Vec::new();
    for i in 0..300u64 {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
            + chrono::Duration::seconds(i as i64);
        let mut e = Entry::new(
            i,
            t,
            EntryKind::new("person.read").unwrap(),
            Actor::new(ActorType::Agency, "a1"),
            Outcome::Recorded,
        );
        e.subject = Some(format!("850730{:05}", i));
        if i >= 150 {
            let salt = audit::Salt::generate().unwrap();
            e = e.into_v2(&salt);
            salts.push((i, salt));
        }
        es.push(e.canonical_bytes().unwrap());
    }
    let mut log = MemoryLog::new();
    let mut cps = Vec::new();
    for (i, e) in es.iter().enumerate() {
        log.append_entry(e).unwrap();
        if (i + 1) % 100 == 0 {
            cps.push(Checkpoint::new("o", log.size(), log.root().unwrap()).unwrap());
        }
    }
    let mut v = LogVerifier::new(&cps).check_entries(true);
    for (i, e) in seq(&es) {
        v.push(i, e).unwrap();
    }
    let tree = v.finish().unwrap();
    assert_eq!(tree.size, 300);
    assert_eq!(tree.checkpoints_verified, 3);
    // Each version 2 entry opens with its own salt, and with no other.
    for (i, salt) in &salts {
        let entry = Entry::from_canonical_bytes(&es[*i as usize]).unwrap();
        assert!(!String::from_utf8_lossy(&es[*i as usize]).contains(&format!("850730{:05}", i)));
        assert!(entry.concerns(&format!("850730{:05}", i), Some(salt)));
        assert!(!entry.concerns(&format!("850730{:05}", i + 1), Some(salt)));
    }
    let v1 = Entry::from_canonical_bytes(&es[10]).unwrap();
    assert_eq!(v1.v, audit::EntryVersion::V1);
    assert!(v1.concerns("85073000010", None));
}

#[test]
fn resuming_from_a_checkpoint_verifies_only_the_entries_after_it() {
    let (es, log, cps) = setup(1234);
    for from_size in [0u64, 1, 500, 512, 1000, 1234] {
        let from = Checkpoint::new("o", from_size, log.root_at(from_size).unwrap()).unwrap();
        let mut v = LogVerifier::resume(&from, &log, &cps)
            .unwrap()
            .with_stored_hashes(&log);
        assert_eq!(v.size(), from_size);
        for (i, e) in seq(&es).skip(from_size as usize) {
            v.push_leaf_hash(i, audit::leaf_hash(e)).unwrap();
        }
        let tree = v.finish().unwrap();
        assert_eq!(tree.size, 1234);
        assert_eq!(tree.root, log.root().unwrap());
        // The checkpoints at or after the start are the ones checked.
        let later = cps.iter().filter(|c| c.size >= from_size).count();
        assert_eq!(tree.checkpoints_verified, later, "from {from_size}");
    }
}

#[test]
fn resuming_finds_a_changed_entry_after_the_checkpoint_and_a_foreign_checkpoint() {
    let (mut es, log, cps) = setup(1234);
    let from = Checkpoint::new("o", 600, log.root_at(600).unwrap()).unwrap();
    // Entries below the checkpoint are not read: a change there is not
    // this verification's to find.
    es[100][5] ^= 1;
    es[777][5] ^= 1;
    let mut v = LogVerifier::resume(&from, &log, &cps)
        .unwrap()
        .with_stored_hashes(&log);
    let err = seq(&es)
        .skip(600)
        .try_for_each(|(i, e)| v.push_leaf_hash(i, audit::leaf_hash(e)))
        .unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::Mismatch {
                first_bad_seq: 777,
                reason: MismatchReason::StoredLeafHash
            }
        ),
        "{err:?}"
    );
    // A checkpoint whose root the stored tree does not rebuild.
    let foreign = Checkpoint::new("o", 600, log.root_at(601).unwrap()).unwrap();
    let err = LogVerifier::resume(&foreign, &log, &cps).err().unwrap();
    assert!(
        matches!(
            err,
            AuditError::Mismatch {
                first_bad_seq: 0,
                reason: MismatchReason::ResumeRoot {
                    checkpoint_size: 600
                }
            }
        ),
        "{err:?}"
    );
    // Beyond the stored tree: the hashes are missing.
    let beyond = Checkpoint::new("o", 2000, log.root().unwrap()).unwrap();
    assert!(LogVerifier::resume(&beyond, &log, &cps).is_err());
}
