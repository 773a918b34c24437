//! The fast canonical encoding and the templates the sequencer fills agree
//! byte for byte with serde_jcs, the reference RFC 8785 serialiser, for
//! any entry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use audit::{
    Actor, ActorType, EncodedTime, Entry, EntryKind, EntryTime, LegalBasis, Outcome, sha256,
};
use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn text() -> impl Strategy<Value = String> {
    // Control characters, quotes, backslashes, non-ASCII and astral
    // characters, and the key names the template looks for.
    prop_oneof![
        "[ -~]{1,20}",
        "\\PC{1,12}",
        "[\\u{0}-\\u{1f}\"\\\\/é€😀\u{7f}\u{2028}]{1,8}",
        Just(",\"seq\":1,\"time\":\"x\"".to_owned()),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{1,8}",
        Just("seq".to_owned()),
        Just("time".to_owned()),
        "\\PC{1,4}",
        "[\u{e000}-\u{ffff}\u{10000}-\u{10ffff}]{1,2}",
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-(1i64 << 53)..=(1i64 << 53)).prop_map(Value::from),
        prop::num::f64::NORMAL.prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn opt(s: impl Strategy<Value = String>) -> impl Strategy<Value = Option<String>> {
    prop::option::of(s)
}

prop_compose! {
    fn entry()(
        seq in 0u64..=audit::MAX_SEQ,
        micros in 0i64..4_000_000_000_000_000,
        actor in (0..4u8, text()),
        outcome in 0..4u8,
        subject in opt(text()),
        record_type in opt(text()),
        purpose in opt(text()),
        legal in prop::option::of((text(), any::<u32>())),
        consent in opt(text()),
        deny in opt(text()),
        exchange in opt(text()),
        digests in (any::<bool>(), any::<bool>()),
        details in prop::option::of(prop::collection::btree_map(key(), value(), 0..5)),
    ) -> Entry {
        let actor_type = [ActorType::Agency, ActorType::Citizen, ActorType::Operator, ActorType::Hub]
            [usize::from(actor.0)];
        let outcome = [Outcome::Permitted, Outcome::Denied, Outcome::Error, Outcome::Recorded]
            [usize::from(outcome)];
        let time = Utc.timestamp_micros(micros).unwrap();
        let mut e = Entry::new(
            seq,
            time,
            EntryKind::new("lookup.permitted").unwrap(),
            Actor::new(actor_type, actor.1),
            outcome,
        );
        e.subject = subject;
        e.record_type = record_type;
        e.purpose = purpose;
        e.legal_basis = legal.map(|(authorization_id, version)| LegalBasis { authorization_id, version });
        e.consent_id = consent;
        e.deny_code = deny;
        e.exchange_id = exchange;
        e.request_digest = digests.0.then(|| sha256(b"request"));
        e.response_digest = digests.1.then(|| sha256(b"response"));
        e.details = details.map(|m| m.into_iter().collect());
        e
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn canonical_bytes_are_rfc8785(e in entry()) {
        prop_assume!(e.validate().is_ok());
        let fast = e.canonical_bytes().unwrap();
        let reference = serde_jcs::to_vec(&e).unwrap();
        prop_assert_eq!(String::from_utf8_lossy(&fast), String::from_utf8_lossy(&reference));
        // RFC 8785 numbers are doubles: integers beyond 2^53 and some
        // floats in `details` come back rounded, so compare encodings.
        let back = Entry::from_canonical_bytes(&fast).unwrap();
        prop_assert_eq!(back.canonical_bytes().unwrap(), fast);
    }

    #[test]
    fn filled_template_is_the_canonical_encoding(
        e in entry(),
        seq in 0u64..=audit::MAX_SEQ,
        micros in 0i64..4_000_000_000_000_000,
    ) {
        prop_assume!(e.validate().is_ok());
        let template = e.template().unwrap();
        let time = EntryTime::new(Utc.timestamp_micros(micros).unwrap());
        let mut filled = e.clone();
        filled.seq = seq;
        filled.time = time;
        let got = template.fill(seq, &EncodedTime::new(time)).unwrap();
        let want = serde_jcs::to_vec(&filled).unwrap();
        prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
    }
}

/// Bytes that turn canonical JSON into something close to it: whitespace,
/// escapes, number forms, structure.
const EDIT_BYTES: &[u8] = b" \n\t\"\\/,:{}[]0123456789.eE+-uaAfFnt";

/// `bytes` with one edit: delete, insert, replace or swap at `at`.
fn edited(bytes: &[u8], kind: u8, at: usize, byte: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let at = at % (out.len() + 1);
    match kind {
        0 if at < out.len() => {
            out.remove(at);
        }
        1 => out.insert(at, byte),
        2 if at < out.len() => out[at] = byte,
        _ if at + 1 < out.len() => out.swap(at, at + 1),
        _ => out.insert(at, byte),
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3_000))]

    /// The canonical check accepts exactly what parses to an entry whose
    /// canonical encoding is those bytes (the definition, built the slow
    /// way), and what it accepts is RFC 8785 by serde_jcs.
    #[test]
    fn the_canonical_check_accepts_only_canonical_bytes(
        e in entry(),
        edits in prop::collection::vec((0..4u8, any::<usize>(), prop::sample::select(EDIT_BYTES)), 1..4),
    ) {
        prop_assume!(e.validate().is_ok());
        let mut bytes = e.canonical_bytes().unwrap();
        prop_assert!(Entry::from_canonical_bytes(&bytes).is_ok());
        for (kind, at, byte) in edits {
            bytes = edited(&bytes, kind, at, byte);
        }
        let by_definition = serde_json::from_slice::<Entry>(&bytes)
            .ok()
            .and_then(|e| e.canonical_bytes().ok())
            .is_some_and(|c| c == bytes);
        let checked = Entry::from_canonical_bytes(&bytes);
        prop_assert_eq!(checked.is_ok(), by_definition, "{}", String::from_utf8_lossy(&bytes));
        if let Ok(back) = checked {
            prop_assert_eq!(serde_jcs::to_vec(&back).unwrap(), bytes);
        }
    }
}

#[test]
fn template_refuses_a_sequence_number_beyond_two_to_the_53() {
    let e = Entry::new(
        0,
        Utc.timestamp_micros(0).unwrap(),
        EntryKind::new("consent.approved").unwrap(),
        Actor::new(ActorType::Citizen, "c-1"),
        Outcome::Recorded,
    );
    let time = EncodedTime::new(EntryTime::new(Utc.timestamp_micros(0).unwrap()));
    let template = e.template().unwrap();
    assert!(template.fill(audit::MAX_SEQ, &time).is_ok());
    assert!(template.fill(audit::MAX_SEQ + 1, &time).is_err());
}

#[test]
fn times_are_written_as_chrono_writes_them() {
    for t in [
        Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 5, 7).unwrap() + chrono::Duration::microseconds(42),
        Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
    ] {
        let t = EntryTime::new(t);
        assert_eq!(
            t.to_string(),
            t.get().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
        );
    }
}

#[test]
fn details_that_serde_json_would_write_differently_are_canonicalised() {
    // Keys that sort differently in UTF-16 and in UTF-8, and numbers whose
    // shortest form differs between serde_json and ECMAScript.
    let cases = [
        serde_json::json!({"\u{e000}": 1, "\u{10000}": 2}),
        serde_json::json!({"a": 1e21, "b": 1e-7, "c": 5e-324, "d": 0.1, "e": 100.0}),
        serde_json::json!({"n": [9_007_199_254_740_993u64, -9_007_199_254_740_993i64]}),
    ];
    for details in cases {
        let mut e = Entry::new(
            3,
            Utc.timestamp_micros(0).unwrap(),
            EntryKind::new("agency.suspended").unwrap(),
            Actor::new(ActorType::Operator, "op"),
            Outcome::Recorded,
        );
        let Value::Object(map) = details else {
            unreachable!()
        };
        e.details = Some(map);
        assert_eq!(
            String::from_utf8(e.canonical_bytes().unwrap()).unwrap(),
            serde_jcs::to_string(&e).unwrap()
        );
    }
}
