//! The API description states what the hub really answers: the shared error
//! answers on every operation they apply to, identifiers with their
//! patterns, request bodies as one flat object; and the answers it states
//! are the ones given (415 for a body that is not JSON, 422 for a lookup
//! whose purpose is empty, audited, never a 500).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use actix_web::test as web;
use common::*;
use hub::storage_test;
use hub::testing::TestApp;
use serde_json::{Value, json};

fn document() -> Value {
    serde_json::to_value(hub::api::document()).unwrap()
}

/// Every operation of the document, with its path and method.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            all.push((path.clone(), method.clone(), op.clone()));
        }
    }
    all
}

#[test]
fn shared_answers_are_on_every_operation_they_apply_to() {
    let doc = document();
    let mut checked = 0;
    for (path, method, op) in operations(&doc) {
        let statuses = op["responses"].as_object().unwrap();
        let has = |s: &str| statuses.contains_key(s);
        let schemes: Vec<String> = op["security"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r.as_object().unwrap().keys().cloned())
            .collect();
        if !schemes.is_empty() {
            assert!(has("401"), "{method} {path} lacks 401");
        }
        if schemes.iter().any(|s| s == "agency") {
            for s in ["403", "429", "503"] {
                assert!(has(s), "{method} {path} lacks {s}");
            }
        }
        if op["requestBody"]["content"]["application/json"].is_object() {
            for s in ["400", "413", "415"] {
                assert!(has(s), "{method} {path} lacks {s}");
            }
        }
        checked += 1;
    }
    assert!(checked > 50, "{checked} operations");
    let too_many = &doc["components"]["responses"]["TooManyRequests"];
    assert!(too_many["headers"]["Retry-After"].is_object(), "{too_many}");
    // The rate-limited endpoints say so.
    for (path, method) in [
        ("/oauth/token", "post"),
        ("/v1/citizen/sign-in", "post"),
        ("/v1/citizen/activate", "post"),
        ("/v1/consents/requests", "post"),
        ("/v1/lookups", "post"),
        ("/v1/lookups/batch", "post"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op["responses"]["429"].is_object(), "{method} {path}: {op}");
    }
}

#[test]
fn identifiers_have_the_patterns_of_their_parsers() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let pattern = |name: &str| {
        let p = schemas[name]["pattern"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}"));
        regex_lite(p)
    };
    // Each pattern admits what the parser reads and refuses what it refuses.
    let cases: [(&str, &[&str], &[&str]); 5] = [
        (
            "AgencyId",
            &["BE-0123456789", "FR-a1"],
            &["be-1", "BE-", "BE-0123456789012345678901"],
        ),
        (
            "RecordTypeRef",
            &["person.address@1", "a.b.c@0.12"],
            &["person@1", "person.address@01", "person.address"],
        ),
        ("RecordType", &["person.address@1.2"], &["person.address@1"]),
        (
            "PurposeCode",
            &["benefit-eligibility", "a1"],
            &["-a", "Benefit", "a--b", "1a"],
        ),
        ("ConsentId", &["cns-7f3c"], &["cns-", "auth-1", "cns-A"]),
    ];
    for (name, good, bad) in cases {
        let re = pattern(name);
        for g in good {
            assert!(re(g), "{name} refuses {g}");
        }
        for b in bad {
            assert!(!re(b), "{name} admits {b}");
        }
    }
    for g in ["BE-0123456789", "FR-a1"] {
        assert!(g.parse::<identity::AgencyId>().is_ok());
    }
    for g in ["person.address@1", "a.b.c@0.12"] {
        assert!(schemas::RecordTypeRef::parse(g).is_ok());
    }
    for g in ["benefit-eligibility", "a1"] {
        assert!(consent::PurposeCode::parse(g).is_ok());
    }
    // The lookup's fields refer to them.
    let lookup = &schemas["LookupRequest"]["properties"];
    assert_eq!(
        lookup["purpose"]["$ref"],
        "#/components/schemas/PurposeCode"
    );
    assert_eq!(
        lookup["record_type"]["$ref"],
        "#/components/schemas/RecordTypeRef"
    );
    assert_eq!(lookup["person"]["$ref"], "#/components/schemas/PersonRef");
}

/// Whether a string matches `pattern`, as a JSON Schema validator reads it.
fn regex_lite(pattern: &str) -> impl Fn(&str) -> bool {
    let validator =
        jsonschema::validator_for(&json!({"type": "string", "pattern": pattern})).unwrap();
    move |s: &str| validator.is_valid(&json!(s))
}

#[test]
fn new_versions_are_one_flat_object() {
    let doc = document();
    for name in ["NewVersion", "NewAuthorization"] {
        let schema = &doc["components"]["schemas"][name];
        assert!(schema.get("allOf").is_none(), "{name}: {schema}");
        assert_eq!(schema["additionalProperties"], false, "{name}: {schema}");
        for field in [
            "consumer",
            "record_type",
            "major",
            "purposes",
            "consent_required",
        ] {
            assert!(
                schema["properties"][field].is_object(),
                "{name}.{field}: {schema}"
            );
        }
        let major = &schema["properties"]["major"];
        assert_eq!(major["type"], "integer", "{major}");
        assert_eq!(major["minimum"], 0, "{major}");
        assert_eq!(major["maximum"], u64::from(u32::MAX), "{major}");
    }
    assert!(doc["components"]["schemas"]["NewVersion"]["properties"]["from"].is_object());
    // The two `Me` answers do not share a name.
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["AgencyMe"]["properties"]["agency_id"].is_object());
    assert!(schemas["CitizenMe"]["properties"]["display_id"].is_object());
}

storage_test!(
    answers_are_the_documented_ones,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let token = agency_token(&app, &["consumer"], "common_id").await;

        // A body that is not JSON: 415, as documented.
        let req = with_bearer(web::TestRequest::post().uri("/v1/lookups"), &token)
            .insert_header(("content-type", "text/plain"))
            .set_payload("{}");
        let (status, _, body) = call(&app, req).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (415, Some("unsupported_media_type")),
            "{body}"
        );

        // An empty purpose: refused and audited, not a server error.
        let req =
            with_bearer(web::TestRequest::post().uri("/v1/lookups"), &token).set_json(json!({
                "person": "85073003328",
                "record_type": "",
                "purpose": "",
            }));
        let (status, _, body) = call(&app, req).await;
        assert_eq!(status, 422, "{body}");
        let exchange = body["exchange_id"].as_str().unwrap().to_owned();
        let entries: Vec<Value> = hub::store::audit::entries_from(&mut app.conn(), 0, 100_000)
            .unwrap()
            .into_iter()
            .map(|(_, e)| serde_json::from_str::<Value>(&e).unwrap())
            .filter(|e| e["exchange_id"] == exchange.as_str())
            .collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert!(
            entries[0].get("purpose").is_none_or(Value::is_null),
            "{}",
            entries[0]
        );
    }
);
