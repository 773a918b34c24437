//! The API description states what the hub really answers: the shared error
//! answers on every operation they apply to, identifiers with their
//! patterns, request bodies as one flat object; and the answers it states
//! are the ones given (415 for a body that is not JSON, 422 for a lookup
//! whose purpose is empty, audited, never a 500).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use actix_web::test as web;
use common::*;
use hub::dev::testing::TestApp;
use hub::storage_test;
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
        problem_snapshot(&body);

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

/// A validator for the document's schema `name`, its references resolved
/// against the document's components.
fn validator_for(doc: &Value, name: &str) -> jsonschema::Validator {
    let root = json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": doc["components"],
    });
    jsonschema::validator_for(&root).unwrap()
}

#[test]
fn a_fetch_frequency_is_described_as_its_parser_reads_it() {
    let doc = document();
    let schema = validator_for(&doc, "Frequency");
    for good in [
        json!({"kind": "once"}),
        json!({"kind": "max_per", "count": 4, "period": "month"}),
        json!({"kind": "max_per", "count": 1, "period": "day"}),
        // JSON Schema's integers include whole numbers written as floats.
        json!({"kind": "max_per", "count": 4.0, "period": "year"}),
        json!({"kind": "max_per", "count": u32::MAX, "period": "week"}),
    ] {
        assert!(schema.is_valid(&good), "the description refuses {good}");
        let read: Result<consent::FetchFrequency, _> = serde_json::from_value(good.clone());
        assert!(read.is_ok(), "the parser refuses {good}: {read:?}");
    }
    for bad in [
        json!({}),
        json!({"kind": "twice"}),
        json!({"kind": "max_per", "count": 4}),
        json!({"kind": "max_per", "count": 0, "period": "month"}),
        json!({"kind": "max_per", "count": 1.5, "period": "month"}),
        json!({"kind": "max_per", "count": 4, "period": "fortnight"}),
        json!({"kind": "max_per", "count": u64::from(u32::MAX) + 1, "period": "day"}),
    ] {
        assert!(!schema.is_valid(&bad), "the description admits {bad}");
    }
    // Both bodies that carry one refer to it.
    for name in ["NewRequest", "NewGrant", "ConsentView"] {
        assert_eq!(
            doc["components"]["schemas"][name]["properties"]["frequency"]["$ref"],
            "#/components/schemas/Frequency",
            "{name}"
        );
    }
}

#[test]
fn request_bodies_admit_only_what_their_parsers_read() {
    let doc = document();
    // Sex: one of the registry's three values, nothing else.
    let person = validator_for(&doc, "NewPerson");
    let base = json!({"given_names": "Anna", "family_name": "Peeters", "birth_date": "1985-07-01"});
    for (sex, accepted) in [
        (json!("female"), true),
        (json!("other"), true),
        (Value::Null, true),
        (json!("unknown"), false),
        (json!(""), false),
    ] {
        let mut body = base.clone();
        body["sex"] = sex.clone();
        assert_eq!(person.is_valid(&body), accepted, "sex {sex}");
        let read = serde_json::from_value::<hub::services::persons::NewPerson>(body);
        assert_eq!(read.is_ok(), accepted, "sex {sex}: {read:?}");
    }
    // A status change takes no member it does not name, like its parser.
    let change = validator_for(&doc, "StatusChange");
    for (body, accepted) in [
        (json!({"status": "deceased", "on": "2020-01-01"}), true),
        (json!({"status": "inactive"}), true),
        (
            json!({"status": "deceased", "on": "2020-01-01", "x": 1}),
            false,
        ),
        (json!({"status": "active", "x": []}), false),
    ] {
        assert_eq!(change.is_valid(&body), accepted, "{body}");
        let read = serde_json::from_value::<hub::services::persons::StatusChange>(body.clone());
        assert_eq!(read.is_ok(), accepted, "{body}: {read:?}");
    }
    // A major version is an integer, in any JSON spelling of one.
    let authorization = validator_for(&doc, "NewAuthorization");
    for major in [json!(2), json!(2.0), json!(4294967295.0)] {
        let body = json!({
            "consumer": {"role": "consumer"},
            "record_type": "person.address",
            "major": major,
            "fields": [],
            "purposes": ["benefit-eligibility"],
            "legal_reference": {"title": "Act", "url": "https://law.example/act"},
            "consent_required": false,
        });
        assert!(authorization.is_valid(&body), "{body}");
        let read =
            serde_json::from_value::<hub::services::authorizations::NewAuthorization>(body.clone());
        assert!(read.is_ok(), "{body}: {read:?}");
    }
}

#[test]
fn every_rate_limited_operation_documents_429() {
    let doc = document();
    let mut limited = 0;
    for (path, method, op) in operations(&doc) {
        let method = actix_web::http::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        if hub::http::rate_limit::Class::of(&method, &path).is_some() {
            limited += 1;
            assert!(
                op["responses"]["429"].is_object(),
                "{method} {path} is rate-limited but does not say so"
            );
        }
    }
    // Sign-in, activation, token, consent requests, lookup and batch.
    assert!(limited >= 6, "{limited} rate-limited operations");
    let request = &doc["paths"]["/v1/consents/requests"]["post"]["responses"];
    assert!(
        request["403"].is_object() && request["409"].is_object(),
        "{request}"
    );
}

storage_test!(
    malformed_filters_and_batches_are_refused,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let token = agency_token(&app, &["consumer", "registrar"], "common_id").await;
        let entries = || {
            hub::store::audit::entries_from(&mut app.conn(), 0, 100_000)
                .unwrap()
                .len()
        };
        let batch = |record_type: &str, purpose: &str, person: &str| {
            with_bearer(web::TestRequest::post().uri("/v1/lookups/batch"), &token).set_json(
                json!({"persons": [person], "record_type": record_type, "purpose": purpose}),
            )
        };
        // A batch whose record type or purpose breaks its pattern is
        // refused as a whole, before any lookup.
        let before = entries();
        for (record_type, purpose, code) in [
            ("0", "a", "invalid_record_type"),
            ("person.address@1", "Not-A-Code", "invalid_purpose"),
        ] {
            let (status, _, body) = call(&app, batch(record_type, purpose, "85073003328")).await;
            assert_eq!((status, body["code"].as_str()), (422, Some(code)), "{body}");
        }
        assert_eq!(before, entries(), "a refused batch looked someone up");
        // A malformed person is answered in its own result.
        let req = batch("person.address@1", "benefit-eligibility", "0*");
        let (status, _, body) = call(&app, req).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["results"][0]["status"], 422, "{body}");

        // The access log's agency filter holds to the agency ID's pattern.
        let (_, citizen) = citizen(&app, &token, "Anna").await;
        for (query, expected) in [
            ("agency=BE-0123456789", 200),
            ("agency=not%20an%20agency", 400),
            ("before=18446744073709551615", 200),
            ("before=-1", 400),
        ] {
            let req = with_bearer(
                web::TestRequest::get().uri(&format!("/v1/citizen/access-log?{query}")),
                &citizen,
            );
            let (status, _, body) = call(&app, req).await;
            assert_eq!(status, expected, "{query}: {body}");
        }
    }
);
