//! A failure of the hub inside a lookup goes through the one error mapping:
//! the caller gets `500 internal_error` with the exchange id and nothing
//! internal, the exchange is audited as `lookup.error`, and the log holds
//! the failure with its cause and the request id — once per lookup, for a
//! single lookup and inside a batch.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use actix_web::test as web;
use common::*;
use diesel::RunQueryDsl;
use hub::dev::testing::{Captured, TestApp};
use hub::storage_test;
use serde_json::json;

/// Stores a person as replaced by a person whose stored id is not a common
/// ID, and returns the first: resolving them fails inside the hub.
fn corrupt_person(app: &TestApp) -> String {
    let person = identity::CommonId::generate(&mut rand::rng());
    let person = person.as_digits().to_owned();
    let mut conn = app.conn();
    for statement in [
        "INSERT INTO persons (common_id, given_names, family_name, birth_date, match_key, status, registered_by, created_at, updated_at) \
         VALUES ('not-a-common-id', 'Broken', 'Row', '1985-07-30', 'broken', 'active', 'test', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
        "INSERT INTO persons (common_id, given_names, family_name, birth_date, match_key, status, replaced_by, registered_by, created_at, updated_at) \
         VALUES ('{person}', 'Anna', 'Row', '1985-07-30', 'anna', 'replaced', 'not-a-common-id', 'test', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
    ] {
        let statement = statement.replace("{person}", &person);
        diesel::sql_query(statement).execute(&mut *conn).unwrap();
    }
    person
}

/// The text the cause of the failure has.
fn cause() -> String {
    "not-a-common-id"
        .parse::<identity::CommonId>()
        .unwrap_err()
        .to_string()
}

storage_test!(
    an_internal_error_in_a_lookup_is_logged_and_audited,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let token = agency_token(&app, &["consumer"], "common_id").await;
        let person = corrupt_person(&app);
        let (captured, _guard) = Captured::install();
        let req = with_bearer(web::TestRequest::post().uri("/v1/lookups"), &token)
            .insert_header(("x-request-id", "req-lookup-7"))
            .set_json(json!({
                "person": person,
                "record_type": "person.address@1",
                "purpose": "benefit-eligibility",
            }));
        let (status, headers, body) = call(&app, req).await;
        assert_eq!(status, 500, "{body}");
        assert_eq!(body["code"], "internal_error", "{body}");
        assert_eq!(headers.get("cache-control").unwrap(), "no-store");
        let text = body.to_string();
        assert!(!text.contains(&cause()), "{text}");
        assert!(!text.contains("stored status"), "{text}");
        let exchange = body["exchange_id"].as_str().unwrap();
        let entries = entries_of(&app, exchange);
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0]["kind"], "lookup.error");
        assert_eq!(entries[0]["deny_code"], "internal_error");

        let failures = captured.failures();
        assert_eq!(failures.len(), 1, "{failures:?}");
        let fields = &failures[0];
        assert_eq!(fields["request_id"], "req-lookup-7", "{fields}");
        assert_eq!(fields["exchange_id"], exchange, "{fields}");
        let error = fields["error"].as_str().unwrap();
        assert!(
            error.contains(&format!("person {person} has a bad stored status")),
            "{error}"
        );
        assert!(error.ends_with(&cause()), "{error}");
    }
);

storage_test!(
    an_internal_error_in_a_batch_is_logged_and_answered_in_its_item,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let token = agency_token(&app, &["consumer"], "common_id").await;
        let person = corrupt_person(&app);
        let (captured, _guard) = Captured::install();
        let req = with_bearer(web::TestRequest::post().uri("/v1/lookups/batch"), &token)
            .insert_header(("x-request-id", "req-batch-8"))
            .set_json(json!({
                "persons": [person],
                "record_type": "person.address@1",
                "purpose": "benefit-eligibility",
            }));
        let (status, _, body) = call(&app, req).await;
        assert_eq!(status, 200, "{body}");
        let item = &body["results"][0];
        assert_eq!(item["status"], 500, "{item}");
        assert_eq!(item["problem"]["code"], "internal_error", "{item}");
        assert_eq!(
            item["problem"]["exchange_id"], item["exchange_id"],
            "{item}"
        );
        assert!(!body.to_string().contains(&cause()), "{body}");

        let failures = captured.failures();
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_eq!(failures[0]["request_id"], "req-batch-8");
        assert_eq!(failures[0]["exchange_id"], item["exchange_id"]);
        assert!(
            failures[0]["error"].as_str().unwrap().ends_with(&cause()),
            "{}",
            failures[0]
        );
    }
);
