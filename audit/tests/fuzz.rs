//! Fuzz targets for the audit log's parsers of outside input: canonical
//! entries (versions 1 and 2), checkpoint notes and verifier keys, and the
//! tile paths of `GET /log/tile/...`.
//!
//! Each target is a bolero `check!` that runs as an ordinary test on the
//! stable toolchain, over arbitrary inputs, over checked-in valid seeds with
//! a few byte edits, and over generated values. Inputs that once broke a
//! property live in `tests/fuzz-regressions/<target>/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../identity/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::sync::OnceLock;

use audit::entry::EntryVersion;
use audit::tile::{TILE_WIDTH, Tile};
use audit::{
    Actor, ActorType, Checkpoint, EncodedTime, Entry, EntryKind, EntryTime, Hash, LegalBasis,
    LogSigner, Outcome, Salt, VerifierKey,
};
use bolero::check;
use chrono::DateTime;
use fuzz_support::{SeedEdits, mutate_seed, replay, seeds};

const DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Runs `property` over arbitrary bytes and over mutated seeds.
macro_rules! fuzz_bytes_and_seeds {
    ($seeds:expr, $property:expr) => {{
        check!().for_each(|bytes: &[u8]| $property(bytes));
        let seeds: Vec<Vec<u8>> = $seeds;
        check!()
            .with_type::<SeedEdits>()
            .for_each(|input| $property(&mutate_seed(&seeds, input)));
    }};
}

// ---- canonical entries ----

/// An entry that parses re-encodes to exactly the bytes it came from, and
/// keeps the rules of its version.
fn entry_property(bytes: &[u8]) {
    let Ok(entry) = Entry::from_canonical_bytes(bytes) else {
        return;
    };
    assert_eq!(entry.canonical_bytes().unwrap(), bytes);
    entry.validate().unwrap();
    match entry.v {
        EntryVersion::V1 => assert!(entry.subject_commitment.is_none()),
        EntryVersion::V2 => assert!(entry.subject.is_none()),
    }
    let filled = entry
        .template()
        .unwrap()
        .fill(entry.seq, &EncodedTime::new(entry.time))
        .unwrap();
    assert_eq!(filled, bytes);
    let again = Entry::from_canonical_bytes(&filled).unwrap();
    assert_eq!(again.canonical_bytes().unwrap(), bytes);
}

#[test]
fn fuzz_entry() {
    let entry_seeds = seeds(DIR, "entry");
    for seed in &entry_seeds {
        Entry::from_canonical_bytes(seed).unwrap();
    }
    fuzz_bytes_and_seeds!(entry_seeds, entry_property);
}

/// The fields of a generated entry: (seq, microseconds, kind, actor type,
/// outcome, version 2), (subject, purpose, record type, legal basis),
/// (digests, details).
type EntryFields = (
    (u64, i64, u8, u8, u8, bool),
    (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<(String, u32)>,
    ),
    (Option<[u8; 32]>, Vec<(String, i64, Option<f64>)>),
);

const KINDS: &[&str] = &["lookup.permitted", "consent.approved", "agency.suspended_2"];

fn entry_from(fields: &EntryFields) -> Entry {
    let ((seq, micros, kind, actor, outcome, v2), strings, (digest, details)) = fields;
    let (subject, purpose, record_type, legal_basis) = strings;
    let time =
        DateTime::from_timestamp_micros(micros % 253_402_300_799_000_000).unwrap_or_default();
    let actor_type = [
        ActorType::Agency,
        ActorType::Citizen,
        ActorType::Operator,
        ActorType::Hub,
    ][usize::from(*actor) % 4];
    let outcome = [
        Outcome::Permitted,
        Outcome::Denied,
        Outcome::Error,
        Outcome::Recorded,
    ][usize::from(*outcome) % 4];
    let kind = EntryKind::new(KINDS[usize::from(*kind) % KINDS.len()]).unwrap();
    let mut entry = Entry::new(
        seq >> 11,
        EntryTime::new(time),
        kind,
        Actor::new(actor_type, "BE-0123456789"),
        outcome,
    );
    entry.subject = subject.clone();
    entry.purpose = purpose.clone();
    entry.record_type = record_type.clone();
    entry.legal_basis = legal_basis
        .clone()
        .map(|(authorization_id, version)| LegalBasis {
            authorization_id,
            version,
        });
    entry.request_digest = digest.map(Hash);
    if !details.is_empty() {
        let mut map = serde_json::Map::new();
        for (key, int, float) in details {
            let value = match float {
                Some(f) => serde_json::json!(f),
                None => serde_json::json!(int),
            };
            map.insert(key.clone(), value);
        }
        entry.details = Some(map);
    }
    if *v2 {
        entry = entry.into_v2(&Salt::from_bytes(digest.unwrap_or([9; 32])));
    }
    entry
}

#[test]
fn fuzz_entry_generated() {
    // A valid entry of either version encodes, and its encoding parses back
    // to the same entry and fills its template to the same bytes.
    check!().with_type::<EntryFields>().for_each(|fields| {
        let entry = entry_from(fields);
        let Ok(bytes) = entry.canonical_bytes() else {
            return;
        };
        let parsed = Entry::from_canonical_bytes(&bytes)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)));
        // Numbers in `details` may change representation (5.0 reads back
        // as 5) but never their encoding.
        let strip = |e: &Entry| Entry {
            details: None,
            ..e.clone()
        };
        assert_eq!(strip(&parsed), strip(&entry));
        entry_property(&bytes);
    });
}

#[test]
fn replay_entry() {
    assert!(replay(DIR, "entry", entry_property) > 0);
}

/// An entry at `micros` (decimal text, microseconds since the epoch) is
/// refused, or encodes to bytes that parse back.
fn entry_time_property(bytes: &[u8]) {
    let micros: i64 = std::str::from_utf8(bytes).unwrap().trim().parse().unwrap();
    let time = DateTime::from_timestamp_micros(micros).unwrap();
    let mut entry = Entry::new(
        1,
        EntryTime::new(time),
        EntryKind::new("lookup.permitted").unwrap(),
        Actor::new(ActorType::Hub, "hub"),
        Outcome::Recorded,
    );
    for v2 in [false, true] {
        if v2 {
            entry = entry.into_v2(&Salt::from_bytes([3; 32]));
        }
        if let Ok(bytes) = entry.canonical_bytes() {
            let parsed = Entry::from_canonical_bytes(&bytes)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)));
            assert_eq!(parsed, entry);
        }
    }
}

/// Found by `fuzz_entry_generated`: an entry dated before the year 0 or
/// after 9999 encoded to bytes that do not parse back (RFC 3339 times have
/// four-digit years), so a verifier could not read it from the log.
#[test]
fn replay_entry_time() {
    assert!(replay(DIR, "entry_time", entry_time_property) >= 3);
}

// ---- checkpoints and signed notes ----

const ORIGIN: &str = "crossroads.example/audit";

fn signer() -> &'static LogSigner {
    static SIGNER: OnceLock<LogSigner> = OnceLock::new();
    SIGNER.get_or_init(|| LogSigner::from_seed(ORIGIN, [5; 32]).unwrap())
}

fn signed_checkpoints() -> Vec<Checkpoint> {
    vec![
        Checkpoint::new(ORIGIN, 0, audit::EMPTY_ROOT).unwrap(),
        Checkpoint::new(ORIGIN, 1_234_567, Hash([0xab; 32])).unwrap(),
        Checkpoint {
            extensions: vec!["an extension".into()],
            ..Checkpoint::new(ORIGIN, u64::MAX, Hash([1; 32])).unwrap()
        },
    ]
}

/// A note that verifies carries one of the checkpoints the log signed,
/// whatever else was changed around it.
fn note_property(bytes: &[u8]) {
    let Ok(note) = std::str::from_utf8(bytes) else {
        return;
    };
    let key = signer().verifier_key().to_string();
    if let Ok(checkpoint) = Checkpoint::parse_and_verify(note, &key) {
        assert!(
            signed_checkpoints().contains(&checkpoint),
            "accepted a checkpoint the log did not sign: {note:?}"
        );
    }
    if let Ok(body) = signer().verifier_key().open_note(note) {
        assert!(note.starts_with(body));
    }
}

/// A body that parses formats back to itself.
fn body_property(bytes: &[u8]) {
    let Ok(body) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(checkpoint) = Checkpoint::parse_body(body) {
        assert_eq!(checkpoint.to_body(), body);
    }
}

/// A verifier key that parses formats back to itself.
fn verifier_key_property(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(key) = VerifierKey::parse(text) {
        assert_eq!(key.to_string(), text);
    }
}

#[test]
fn fuzz_checkpoint_note() {
    let notes: Vec<Vec<u8>> = signed_checkpoints()
        .iter()
        .map(|c| c.sign(signer()).into_bytes())
        .collect();
    for note in &notes {
        note_property(note);
        Checkpoint::parse_and_verify(
            std::str::from_utf8(note).unwrap(),
            &signer().verifier_key().to_string(),
        )
        .unwrap();
    }
    fuzz_bytes_and_seeds!(notes, note_property);
}

#[test]
fn fuzz_checkpoint_body_and_key() {
    fuzz_bytes_and_seeds!(seeds(DIR, "checkpoint_body"), body_property);
    let keys = vec![signer().verifier_key().to_string().into_bytes()];
    fuzz_bytes_and_seeds!(keys, verifier_key_property);
    // Any checkpoint with a one-line origin round-trips through its body.
    check!()
        .with_type::<(String, u64, [u8; 32])>()
        .for_each(|(origin, size, root)| {
            if let Ok(c) = Checkpoint::new(origin, *size, Hash(*root)) {
                assert_eq!(Checkpoint::parse_body(&c.to_body()).unwrap(), c);
                let note = c.sign(signer());
                let key = signer().verifier_key();
                assert_eq!(Checkpoint::parse_and_verify_with(&note, &key).unwrap(), c);
            }
        });
}

#[test]
fn replay_checkpoint() {
    assert!(replay(DIR, "checkpoint_body", body_property) > 0);
    replay(DIR, "checkpoint_note", note_property);
    replay(DIR, "verifier_key", verifier_key_property);
}

// ---- tile paths ----

/// A tile path that parses formats back to itself.
fn tile_path_property(bytes: &[u8]) {
    let Ok(path) = std::str::from_utf8(bytes) else {
        return;
    };
    for path in [path.to_owned(), format!("tile/{path}")] {
        if let Ok(tile) = Tile::parse_path(&path) {
            assert_eq!(tile.path(), path);
            assert!(tile.level <= 7);
            assert!((1..=TILE_WIDTH).contains(&u64::from(tile.width)));
        }
    }
}

#[test]
fn fuzz_tile_path() {
    fuzz_bytes_and_seeds!(seeds(DIR, "tile_path"), tile_path_property);
    // Every tile's path parses back to the same tile.
    check!()
        .with_type::<(u8, u64, u16)>()
        .for_each(|(level, index, width)| {
            let width = (width % 256) + 1;
            let tile = Tile {
                level: level % 8,
                index: *index,
                width,
            };
            assert_eq!(Tile::parse_path(&tile.path()).unwrap(), tile);
            tile_path_property(tile.path().as_bytes());
        });
}

#[test]
fn replay_tile_path() {
    assert!(replay(DIR, "tile_path", tile_path_property) > 0);
}
