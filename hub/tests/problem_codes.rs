//! One problem body for each code the API can answer, snapshotted
//! (`snapshots/problem_<code>.snap`): most codes are snapshotted by the test
//! that provokes them (through `common::problem_snapshot`), the lookup
//! outcomes by `tests/tests/lookups.rs`, the rest here. The codes are read
//! from the hub's source; a code with no snapshot that is not listed in
//! [`NOT_DRIVEN`] fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use actix_web::test as web;
use common::*;
use hub::dev::testing::Backend;
use serde_json::json;

/// Codes that no test provokes through a request, and why.
const NOT_DRIVEN: &[(&str, &str)] = &[
    (
        "error",
        "the fallback for a 4xx status the hub never answers itself",
    ),
    (
        "forbidden",
        "the fallback for a bare 403; every refusal names its own code",
    ),
    (
        "unprocessable_content",
        "the fallback for a bare 422; every refusal names its own code",
    ),
    (
        "internal_error",
        "a failure of storage or of the hub itself",
    ),
    ("server_error", "the OAuth form of internal_error"),
    (
        "unavailable",
        "the fallback for a bare 503 (readiness answers not_ready)",
    ),
    (
        "request_timeout",
        "the server's client timeout, below the app",
    ),
    (
        "length_required",
        "answered by the HTTP layer, below the app",
    ),
    ("uri_too_long", "answered by the HTTP layer, below the app"),
    (
        "slow_down",
        "the OAuth form of the per-address limit on bad credentials; rate_limits.rs checks it",
    ),
    (
        "audit_unavailable",
        "the audit log not recording in time; audit.rs checks the sequencer's stall",
    ),
    (
        "batch_timeout",
        "a batch past its overall deadline; needs slow providers",
    ),
    (
        "certificate_binding_mismatch",
        "needs a TLS client certificate; tests/tests/mtls.rs checks it",
    ),
    (
        "major_too_large",
        "a major version beyond 32 bits that passes every earlier check",
    ),
    (
        "agency_unknown",
        "a verified token of an agency removed from the store",
    ),
    (
        "authorization_changed",
        "an authorization changed between the decision and its use (a race)",
    ),
    (
        "consent_changed",
        "a consent changed between the decision and its use (a race)",
    ),
    (
        "tree_size_not_signed",
        "a consistency proof to a size no checkpoint was signed at",
    ),
    (
        "too_many_pending_requests",
        "the cap on pending consent requests (hundreds of requests)",
    ),
    ("reference_ended", "a reference ended twice by a race"),
    (
        "authorization_not_in_force",
        "a deny code of the access decision; consents.rs checks it through access::decide, not over HTTP",
    ),
    (
        "consent_expired",
        "a deny code of the access decision; consents.rs checks it through access::decide, not over HTTP",
    ),
    (
        "consent_paused",
        "a deny code of the access decision; consents.rs checks it through access::decide, not over HTTP",
    ),
    (
        "consent_pending",
        "a deny code of the access decision; consents.rs checks it through access::decide, not over HTTP",
    ),
    (
        "consent_revoked",
        "a deny code of the access decision; consents.rs checks it through access::decide, not over HTTP",
    ),
    (
        "consent_use_exhausted",
        "a deny code of the access decision; consents.rs checks it through access::decide, not over HTTP",
    ),
    (
        "person_inactive",
        "a deny code of the access decision; consents.rs checks it through access::decide, not over HTTP",
    ),
    (
        "purpose_not_allowed",
        "a deny code of the access decision; consents.rs checks it through access::decide, not over HTTP",
    ),
];

/// Every problem code written out in `hub/src` (outside `dev/`).
fn codes_in_source() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let literal = regex::Regex::new(r#"code: "([a-z_]+)""#).unwrap();
    let mapped = regex::Regex::new(
        r#"(?m)=> \("([a-z_]+)",|StatusCode::[A-Z_]+, "([a-z_]+)"\)|^\s+"([a-z_]+)" =>"#,
    )
    .unwrap();
    let mut codes = BTreeSet::new();
    for text in source_texts() {
        for found in literal.captures_iter(&text) {
            codes.insert(found[1].to_owned());
        }
    }
    let errors = std::fs::read_to_string(root.join("http/error.rs")).unwrap();
    for found in mapped.captures_iter(&errors) {
        let code = found.iter().skip(1).flatten().next().unwrap();
        codes.insert(code.as_str().to_owned());
    }
    codes.extend(consent::DenyCode::ALL.iter().map(|c| c.as_str().to_owned()));
    codes
}

/// Whether a snapshot of `code` is checked in, by this crate's tests or
/// by the end-to-end tests.
fn snapshotted(code: &str) -> bool {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["tests/snapshots", "../tests/tests/snapshots"]
        .iter()
        .any(|dir| root.join(dir).join(format!("problem_{code}.snap")).exists())
}

#[test]
fn every_problem_code_has_a_snapshot() {
    let codes = codes_in_source();
    for (code, _) in NOT_DRIVEN {
        assert!(codes.contains(*code), "{code} is no longer in the source");
        assert!(
            !snapshotted(code),
            "{code} has a snapshot now: take it off NOT_DRIVEN"
        );
    }
    let missing: Vec<&String> = codes
        .iter()
        .filter(|c| !snapshotted(c) && !NOT_DRIVEN.iter().any(|(n, _)| n == c))
        .collect();
    assert!(
        missing.is_empty(),
        "problem codes without a snapshot: {missing:?}"
    );
}

/// The codes no other test provokes, each through a real request.
#[actix_web::test]
async fn problems_of_the_remaining_codes() {
    let app = app_with_fixture_ca(Backend::Sqlite).unwrap();
    let w = world(&app).await;
    let op = w.op.clone();
    let expect = |code: &str, (status, body): (u16, serde_json::Value)| {
        assert_eq!(body["code"].as_str(), Some(code), "{status} {body}");
        problem_snapshot(&body);
    };

    // The body is not JSON.
    let req = with_bearer(web::TestRequest::post().uri("/v1/admin/purposes"), &op)
        .insert_header(("content-type", "application/json"))
        .set_payload("{not json");
    let (status, _, body) = call(&app, req).await;
    expect("bad_request", (status, body));
    // Too large a body.
    let req = web::TestRequest::post()
        .uri("/healthz")
        .insert_header(("content-type", "application/json"))
        .set_payload(vec![b'x'; 10 * 1024 * 1024]);
    let (status, _, body) = call(&app, req).await;
    expect("payload_too_large", (status, body));

    // Agencies and certificates.
    let onboard = json!({
        "id": AGENCY, "name": "Population Register", "sector": "civil",
        "roles": ["consumer"], "identifier_policy": "common_id",
        "certificates": [fixture("agency-p256.pem")],
    });
    expect(
        "agency_exists",
        send(&app, "POST", "/v1/admin/agencies", &op, Some(onboard)).await,
    );
    expect(
        "agency_not_found",
        send(&app, "GET", "/v1/admin/agencies/BE-0999999999", &op, None).await,
    );
    expect(
        "certificate_exists",
        send(
            &app,
            "POST",
            &format!("/v1/admin/agencies/{AGENCY}/certificates"),
            &op,
            Some(json!({"pem": fixture("agency-p256.pem")})),
        )
        .await,
    );
    let nothing = "A".repeat(43);
    expect(
        "certificate_not_found",
        send(
            &app,
            "POST",
            &format!("/v1/admin/agencies/{AGENCY}/certificates/{nothing}/revoke"),
            &op,
            None,
        )
        .await,
    );

    // Purposes, authorizations, references, the log.
    let purpose = json!({"code": "benefit-eligibility", "title": "Again", "description": "", "legal_reference": legal()});
    expect(
        "purpose_exists",
        send(&app, "POST", "/v1/admin/purposes", &op, Some(purpose)).await,
    );
    expect(
        "authorization_not_found",
        send(&app, "GET", "/v1/admin/authorizations/auth-none", &op, None).await,
    );
    let req = with_bearer(
        web::TestRequest::delete().uri("/v1/references/ref-0000000000"),
        &w.agency,
    );
    let (status, _, body) = call(&app, req).await;
    expect("reference_not_found", (status, body));
    expect(
        "audit_entry_not_found",
        send(&app, "GET", "/v1/audit/entries/999999", &op, None).await,
    );
    let (status, _, body) = call(&app, web::TestRequest::get().uri("/log/tile/0/002")).await;
    expect("tile_not_found", (status, body));

    // Tokens and the second factor.
    expect(
        "malformed_token",
        send(&app, "GET", "/v1/agencies/me", "not-a-token", None).await,
    );
    let req = with_bearer(
        web::TestRequest::delete().uri("/v1/citizen/totp"),
        &w.citizen,
    )
    .set_json(json!({"password": PASSWORD, "code": "123456"}));
    let (status, _, body) = call(&app, req).await;
    expect("totp_not_enrolled", (status, body));

    // Lookups with malformed terms, and batches of the wrong size.
    let lookup = |record_type: &str, purpose: &str| json!({"person": w.person, "record_type": record_type, "purpose": purpose});
    expect(
        "invalid_record_type",
        send(
            &app,
            "POST",
            "/v1/lookups",
            &w.agency,
            Some(lookup("not a type", "benefit-eligibility")),
        )
        .await,
    );
    expect(
        "invalid_purpose",
        send(
            &app,
            "POST",
            "/v1/lookups",
            &w.agency,
            Some(lookup("person.address@1", "Not A Purpose!")),
        )
        .await,
    );
    expect(
        "batch_size",
        send(
            &app,
            "POST",
            "/v1/lookups/batch",
            &w.agency,
            Some(json!({"persons": [], "record_type": "person.address@1", "purpose": "benefit-eligibility"})),
        )
        .await,
    );
    expect(
        "batch_duplicate_person",
        send(
            &app,
            "POST",
            "/v1/lookups/batch",
            &w.agency,
            Some(json!({"persons": [w.person, w.person], "record_type": "person.address@1", "purpose": "benefit-eligibility"})),
        )
        .await,
    );
}
