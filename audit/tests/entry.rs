#![allow(clippy::unwrap_used, clippy::expect_used)]

use audit::{
    Actor, ActorType, EncodedTime, Entry, EntryKind, EntryVersion, LegalBasis, Outcome, Salt,
    leaf_hash, sha256,
};
use chrono::{TimeZone, Utc};

fn entry() -> Entry {
    let t = Utc.with_ymd_and_hms(2026, 11, 3, 12, 34, 56).unwrap()
        + chrono::Duration::nanoseconds(123_456_789);
    let mut e = Entry::new(
        7,
        t,
        EntryKind::new("lookup.permitted").unwrap(),
        Actor::new(ActorType::Agency, "agency-42"),
        Outcome::Permitted,
    );
    e.subject = Some("85073003328".into());
    e.record_type = Some("income@1.2".into());
    e.purpose = Some("benefit-eligibility".into());
    e.legal_basis = Some(LegalBasis {
        authorization_id: "auth-9".into(),
        version: 3,
    });
    e.exchange_id = Some("ex-1".into());
    e.request_digest = Some(sha256(b"request"));
    let mut d = serde_json::Map::new();
    d.insert("zeta".into(), serde_json::json!(1.5));
    d.insert(
        "alpha".into(),
        serde_json::json!({"b": 1, "a": [true, null]}),
    );
    e.details = Some(d);
    e
}

#[test]
fn canonical_encoding_is_sorted_and_compact() {
    let bytes = entry().canonical_bytes().unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    let want = concat!(
        r#"{"actor":{"id":"agency-42","type":"agency"},"#,
        r#""details":{"alpha":{"a":[true,null],"b":1},"zeta":1.5},"#,
        r#""exchange_id":"ex-1","kind":"lookup.permitted","#,
        r#""legal_basis":{"authorization_id":"auth-9","version":3},"#,
        r#""outcome":"permitted","purpose":"benefit-eligibility","record_type":"income@1.2","#,
    );
    assert!(text.starts_with(want), "{text}");
    assert!(text.contains(&format!(r#""request_digest":"{}""#, sha256(b"request"))));
    assert!(
        text.ends_with(
            r#""seq":7,"subject":"85073003328","time":"2026-11-03T12:34:56.123457Z","v":1}"#
        ),
        "{text}"
    );
    assert_eq!(entry().leaf_hash().unwrap(), leaf_hash(&bytes));
    assert_eq!(Entry::from_canonical_bytes(&bytes).unwrap(), entry());
}

#[test]
fn rejects_non_canonical_bytes() {
    let bytes = entry().canonical_bytes().unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let spaced = text.replacen(',', ", ", 1);
    assert!(Entry::from_canonical_bytes(spaced.as_bytes()).is_err());
    let reordered = text
        .replacen(r#"{"actor""#, r#"{"v":1,"actor""#, 1)
        .replacen(r#","v":1}"#, "}", 1);
    assert!(Entry::from_canonical_bytes(reordered.as_bytes()).is_err());
    let unknown = text.replacen(r#","v":1}"#, r#","v":1,"zzz":0}"#, 1);
    assert!(Entry::from_canonical_bytes(unknown.as_bytes()).is_err());
    let v2 = text.replacen(r#""v":1"#, r#""v":2"#, 1);
    assert!(Entry::from_canonical_bytes(v2.as_bytes()).is_err());
    let sloppy_time = text.replacen(".123457Z", ".123457000Z", 1);
    assert!(Entry::from_canonical_bytes(sloppy_time.as_bytes()).is_err());
}

#[test]
fn entry_kinds() {
    for ok in [
        "lookup.denied",
        "lookup.provider_error",
        "agency.suspended",
        "person.registered",
        "a.b.c2",
    ] {
        assert!(EntryKind::new(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "lookup",
        "Lookup.denied",
        "lookup..denied",
        ".x",
        "x.",
        "lookup.1st",
        "a b.c",
        "lookup-denied.x",
    ] {
        assert!(EntryKind::new(bad).is_err(), "{bad}");
    }
}

#[test]
fn limits() {
    let mut e = entry();
    e.seq = 1 << 53;
    assert!(e.canonical_bytes().is_err());
    let mut e = entry();
    e.subject = Some(String::new());
    assert!(e.canonical_bytes().is_err());
    let mut e = entry();
    let mut d = serde_json::Map::new();
    d.insert("big".into(), serde_json::json!("x".repeat(5000)));
    e.details = Some(d);
    assert!(e.canonical_bytes().is_err());
}

#[test]
fn minimal_entry() {
    let e = Entry::new(
        0,
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        EntryKind::new("consent.approved").unwrap(),
        Actor::new(ActorType::Citizen, "c-1"),
        Outcome::Recorded,
    );
    let bytes = e.canonical_bytes().unwrap();
    assert_eq!(
        String::from_utf8(bytes.clone()).unwrap(),
        r#"{"actor":{"id":"c-1","type":"citizen"},"kind":"consent.approved","outcome":"recorded","seq":0,"time":"2026-01-01T00:00:00.000000Z","v":1}"#
    );
    assert_eq!(Entry::from_canonical_bytes(&bytes).unwrap(), e);
}

#[test]
fn version_2_names_the_subject_by_commitment_only() {
    let salt = Salt::from_hex(&"5a".repeat(32)).unwrap();
    let v2 = entry().into_v2(&salt);
    assert_eq!(v2.v, EntryVersion::V2);
    assert_eq!(v2.subject, None);
    let bytes = v2.canonical_bytes().unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(!text.contains("85073003328"), "{text}");
    let commitment = salt.commit("85073003328");
    assert!(
        text.ends_with(&format!(
            r#""seq":7,"subject_commitment":"{commitment}","time":"2026-11-03T12:34:56.123457Z","v":2}}"#
        )),
        "{text}"
    );
    let parsed = Entry::from_canonical_bytes(&bytes).unwrap();
    assert_eq!(parsed, v2);
    assert!(parsed.concerns("85073003328", Some(&salt)));
    assert!(!parsed.concerns("85073003329", Some(&salt)));
    assert!(!parsed.concerns("85073003328", None));
    let other = Salt::from_hex(&"a5".repeat(32)).unwrap();
    assert!(!parsed.concerns("85073003328", Some(&other)));
    // Version 1 entries still parse and name their subject.
    let v1 = Entry::from_canonical_bytes(&entry().canonical_bytes().unwrap()).unwrap();
    assert_eq!(v1.v, EntryVersion::V1);
    assert!(v1.concerns("85073003328", None));
    // The template of a version 2 entry fills in as the entry encodes.
    let template = v2.template().unwrap();
    let time = EncodedTime::new(v2.time);
    assert_eq!(template.fill(7, &time).unwrap(), bytes);
}

#[test]
fn versions_refuse_each_others_subject_field() {
    let salt = Salt::generate().unwrap();
    let v2 = entry().into_v2(&salt);
    let text = String::from_utf8(v2.canonical_bytes().unwrap()).unwrap();
    // A version 2 entry that names its subject in plain.
    let plain = text.replacen(r#""seq":7,"#, r#""seq":7,"subject":"85073003328","#, 1);
    assert!(Entry::from_canonical_bytes(plain.as_bytes()).is_err());
    let mut both = v2.clone();
    both.subject = Some("85073003328".into());
    assert!(both.canonical_bytes().is_err());
    // A version 1 entry with a commitment.
    let v1 = text.replacen(r#""v":2"#, r#""v":1"#, 1);
    assert!(Entry::from_canonical_bytes(v1.as_bytes()).is_err());
    // A commitment that is not 64 lowercase hex digits.
    let short = text.replacen(
        r#""subject_commitment":""#,
        r#""subject_commitment":"ab"#,
        1,
    );
    assert!(Entry::from_canonical_bytes(short.as_bytes()).is_err());
    let upper = text.replacen(
        &salt.commit("85073003328").to_hex(),
        &salt.commit("85073003328").to_hex().to_uppercase(),
        1,
    );
    assert!(Entry::from_canonical_bytes(upper.as_bytes()).is_err());
    // An unknown version.
    let v3 = text.replacen(r#""v":2"#, r#""v":3"#, 1);
    assert!(Entry::from_canonical_bytes(v3.as_bytes()).is_err());
}
