//! The canonical check of stored entries refuses every form of an entry
//! but its canonical one: key order, whitespace, escapes, number forms,
//! duplicate keys, extra fields, hex and time forms.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use audit::{Actor, ActorType, Entry, EntryKind, EntryVersion, LegalBasis, Outcome, Salt, sha256};
use chrono::{TimeZone, Utc};

/// A lookup entry as the hub writes it (version 2, with details).
fn canonical() -> String {
    let time =
        Utc.with_ymd_and_hms(2026, 11, 3, 12, 34, 56).unwrap() + chrono::Duration::microseconds(7);
    let mut e = Entry::new(
        70,
        time,
        EntryKind::new("lookup.permitted").unwrap(),
        Actor::new(ActorType::Agency, "agency-a"),
        Outcome::Permitted,
    );
    e.subject = Some("85073003328".into());
    e.record_type = Some("income@1.0".into());
    e.purpose = Some("benefit-eligibility".into());
    e.legal_basis = Some(LegalBasis {
        authorization_id: "auth-7".into(),
        version: 2,
    });
    e.exchange_id = Some("ex-70".into());
    e.request_digest = Some(sha256(b"request"));
    e.response_digest = Some(sha256(b"response"));
    let mut details = serde_json::Map::new();
    details.insert("provider".into(), "agency-b".into());
    details.insert("tries".into(), 2.into());
    e.details = Some(details);
    let e = e.into_v2(&Salt::from_hex(&"ab".repeat(32)).unwrap());
    assert_eq!(e.v, EntryVersion::V2);
    String::from_utf8(e.canonical_bytes().unwrap()).unwrap()
}

/// `text` with the one occurrence of `from` replaced by `to`.
fn with(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "{from} in {text}");
    text.replacen(from, to, 1)
}

#[test]
fn the_canonical_form_is_accepted() {
    let text = canonical();
    let e = Entry::from_canonical_bytes(text.as_bytes()).unwrap();
    assert_eq!(e.seq, 70);
}

#[test]
fn every_other_form_is_refused() {
    let text = canonical();
    let digest = sha256(b"request").to_hex();
    let variants = [
        // Key order.
        with(&text, r#""kind":"lookup.permitted","#, "").replacen(
            r#""actor""#,
            r#""kind":"lookup.permitted","actor""#,
            1,
        ),
        with(
            &text,
            r#""provider":"agency-b","tries":2"#,
            r#""tries":2,"provider":"agency-b""#,
        ),
        with(
            &text,
            r#"{"id":"agency-a","type":"agency"}"#,
            r#"{"type":"agency","id":"agency-a"}"#,
        ),
        // Whitespace.
        format!(" {text}"),
        format!("{text}\n"),
        with(&text, r#""seq":70"#, r#""seq": 70"#),
        with(&text, r#","outcome""#, r#", "outcome""#),
        with(&text, r#""v":2}"#, "\"v\":2\n}"),
        // Escapes.
        with(&text, "agency-a", r"\u0061gency-a"),
        with(&text, "income@1.0", r"income@1\u002e0"),
        with(&text, "benefit-eligibility", r"benefit\/eligibility"),
        with(
            &text,
            &digest,
            &format!("\\u{:04x}{}", digest.as_bytes()[0], &digest[1..]),
        ),
        with(&text, "2026-11-03", r"2026\u002d11-03"),
        // Number forms.
        with(&text, r#""seq":70"#, r#""seq":70.0"#),
        with(&text, r#""seq":70"#, r#""seq":7e1"#),
        with(&text, r#""seq":70"#, r#""seq":070"#),
        with(&text, r#""v":2"#, r#""v":2.0"#),
        with(&text, r#""v":2"#, r#""v":2E0"#),
        with(&text, r#""version":2"#, r#""version":+2"#),
        with(&text, r#""tries":2"#, r#""tries":2.0"#),
        with(&text, r#""tries":2"#, r#""tries":20e-1"#),
        // Duplicate keys.
        with(&text, r#""seq":70,"#, r#""seq":70,"seq":70,"#),
        with(&text, r#""v":2}"#, r#""v":2,"v":2}"#),
        with(
            &text,
            r#""id":"agency-a","#,
            r#""id":"agency-a","id":"agency-a","#,
        ),
        with(
            &text,
            r#""provider":"agency-b","#,
            r#""provider":"agency-b","provider":"agency-b","#,
        ),
        // Extra fields.
        with(&text, r#""v":2}"#, r#""v":2,"w":0}"#),
        with(&text, r#""type":"agency"}"#, r#""type":"agency","x":1}"#),
        with(&text, r#""version":2}"#, r#""version":2,"y":null}"#),
        with(&text, r#""v":2}"#, r#""subject":"85073003328","v":2}"#),
        // Absent optional fields written as null.
        with(&text, r#""details""#, r#""deny_code":null,"details""#),
        // Hex and time forms.
        with(&text, &digest, &digest.to_uppercase()),
        with(&text, ".000007Z", ".000007+00:00"),
        with(&text, ".000007Z", ".0000070Z"),
        with(&text, "T12:34:56", "t12:34:56"),
        // Another sequence number than the one written (caught later by
        // the verifier), or trailing bytes.
        format!("{text}{{}}"),
    ];
    for variant in variants {
        if variant == text {
            continue;
        }
        assert!(
            Entry::from_canonical_bytes(variant.as_bytes()).is_err(),
            "accepted: {variant}"
        );
    }
}
