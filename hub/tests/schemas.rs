//! The schema registry on both backends: seeding, reading over HTTP, and
//! publishing and deprecating as an operator.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::test as web;
use common::{operator_token, problem_snapshot};
use hub::app::state::AppState;
use hub::dev::testing::{Backend, TestApp};
use hub::storage_test;
use hub::store::schemas as rows;
use serde_json::{Value, json};

const PUBLIC_URL: &str = "https://hub.example.gov";
const ADDRESS_1_1: &str = include_str!("../../schemas/catalog/person.address/1.1.json");

fn app_on(backend: Backend) -> Option<TestApp> {
    TestApp::with_config(backend, |config| {
        config.public_url = Some(PUBLIC_URL.parse().unwrap());
    })
}

/// Like `storage_test!`, on an app whose public URL is [`PUBLIC_URL`].
macro_rules! schema_test {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[actix_web::test]
            async fn sqlite() {
                ($body)(app_on(Backend::Sqlite).unwrap()).await;
            }

            #[actix_web::test]
            async fn postgres() {
                match app_on(Backend::Postgres) {
                    Some(app) => ($body)(app).await,
                    None => hub::dev::testing::skip(concat!(module_path!(), "::postgres")),
                }
            }
        }
    };
}

async fn get_json(app: &TestApp, uri: &str) -> (StatusCode, HeaderMap, Value) {
    let (status, headers, body) = app.send(web::TestRequest::get().uri(uri)).await;
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{uri}: {e}: {}", String::from_utf8_lossy(&body)));
    (status, headers, value)
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get("content-type")
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

async fn publish(
    app: &TestApp,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = web::TestRequest::post()
        .uri("/v1/admin/schemas")
        .set_json(body);
    if let Some(token) = token {
        req = req.insert_header(("authorization", format!("Bearer {token}")));
    }
    let (status, headers, body) = app.send(req).await;
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, headers, value)
}

/// person.address 1.1 with an optional `region` in the address: a
/// compatible 1.2.
fn address_1_2() -> Value {
    let mut document: Value = serde_json::from_str(ADDRESS_1_1).unwrap();
    document["$id"] = json!("https://crossroads.example/schemas/person.address/1.2");
    document["description"] = json!("A person's registered address. Version 1.2 adds the region.");
    document["properties"]["address"]["properties"]["region"] = json!({
        "description": "Region, province or state, where the country has them.",
        "type": "string",
        "maxLength": 100
    });
    document
}

fn pointers(problem: &Value) -> Vec<(String, String)> {
    problem["violations"]
        .as_array()
        .unwrap_or_else(|| panic!("no violations: {problem}"))
        .iter()
        .map(|v| {
            assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
            (
                v["pointer"].as_str().unwrap().to_owned(),
                v["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

storage_test!(
    the_shipped_catalog_is_seeded_on_migrate,
    |app: TestApp| async move {
        let mut conn = app.conn();
        let stored: Vec<String> = rows::list(&mut conn)
            .unwrap()
            .iter()
            .map(|r| format!("{}@{}.{}", r.name, r.major, r.minor))
            .collect();
        for file in schemas::embedded::FILES {
            let name = format!("{}@{}", file.name, file.version);
            assert!(stored.contains(&name), "{name} not seeded: {stored:?}");
        }
        assert_eq!(stored.len(), schemas::embedded::FILES.len());
        let row = rows::get(&mut conn, "person.address", 1, 1)
            .unwrap()
            .unwrap();
        assert_eq!(row.status().unwrap(), rows::SchemaStatus::Active);
        assert_eq!(row.published_by, rows::SHIPPED_CATALOG);
        // Seeding again stores nothing.
        let again = rows::seed_shipped_catalog(&mut conn, app.clock.now()).unwrap();
        assert!(again.is_empty(), "{again:?}");
        assert_eq!(rows::list(&mut conn).unwrap().len(), stored.len());
    }
);

schema_test!(
    schemas_are_listed_and_served_at_their_id,
    |app: TestApp| async move {
        let (status, _, list) = get_json(&app, "/v1/schemas").await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let types = list["record_types"].as_array().unwrap();
        let names: Vec<&str> = types.iter().map(|t| t["name"].as_str().unwrap()).collect();
        for expected in [
            "person.identity",
            "person.address",
            "person.family-composition",
            "social.benefit-entitlement",
            "tax.income-statement",
            "health.insurance-coverage",
            "employment.current-employer",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        let address = types
            .iter()
            .find(|t| t["name"] == "person.address")
            .unwrap();
        assert_eq!(address["latest"], "1.1");
        let versions: Vec<&str> = address["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_str().unwrap())
            .collect();
        assert_eq!(versions, ["1.0", "1.1"]);
        assert_eq!(address["versions"][0]["status"], "active");
        assert_eq!(address["versions"][0]["record_type"], "person.address@1.0");

        let (status, _, one) = get_json(&app, "/v1/schemas/person.address").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(one, *address);

        // Every version is served at its own `$id`.
        for t in types {
            for v in t["versions"].as_array().unwrap() {
                let url = v["url"].as_str().unwrap();
                let path = url.strip_prefix(PUBLIC_URL).unwrap();
                assert_eq!(
                    path,
                    format!(
                        "/v1/schemas/{}/{}",
                        t["name"].as_str().unwrap(),
                        v["version"].as_str().unwrap()
                    )
                );
                let (status, headers, document) = get_json(&app, path).await;
                assert_eq!(status, StatusCode::OK, "{path}");
                assert_eq!(content_type(&headers), "application/schema+json");
                assert_eq!(document["$id"], url, "{path}");
                assert_eq!(
                    document["$schema"],
                    "https://json-schema.org/draft/2020-12/schema"
                );
            }
        }

        // A major alone names its latest minor.
        let (status, headers, document) = get_json(&app, "/v1/schemas/person.address/1").await;
        assert_eq!(status, StatusCode::OK);
        let exact = format!("{PUBLIC_URL}/v1/schemas/person.address/1.1");
        assert_eq!(document["$id"], exact.as_str());
        assert_eq!(headers.get("content-location").unwrap(), exact.as_str());

        for (uri, code, status) in [
            (
                "/v1/schemas/person.nobody",
                "schema_not_found",
                StatusCode::NOT_FOUND,
            ),
            (
                "/v1/schemas/person.address/1.9",
                "schema_not_found",
                StatusCode::NOT_FOUND,
            ),
            (
                "/v1/schemas/person.address/2",
                "schema_not_found",
                StatusCode::NOT_FOUND,
            ),
            (
                "/v1/schemas/person.address/1.x",
                "bad_request",
                StatusCode::BAD_REQUEST,
            ),
            (
                "/v1/schemas/Not%20A%20Name",
                "bad_request",
                StatusCode::BAD_REQUEST,
            ),
        ] {
            let (got, headers, problem) = get_json(&app, uri).await;
            assert_eq!(got, status, "{uri}: {problem}");
            assert_eq!(content_type(&headers), "application/problem+json");
            assert_eq!(problem["code"], code, "{uri}");
        }

        let (status, _, _) = app
            .send(web::TestRequest::delete().uri("/v1/schemas/person.address/1.1"))
            .await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        let (status, _, _) = app.send(web::TestRequest::post().uri("/v1/schemas")).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

        let (status, _, openapi) = get_json(&app, "/openapi.json").await;
        assert_eq!(status, StatusCode::OK);
        for path in [
            "/v1/schemas",
            "/v1/schemas/{name}",
            "/v1/schemas/{name}/{version}",
            "/v1/admin/schemas",
            "/v1/admin/schemas/{name}/{version}/deprecate",
        ] {
            assert!(
                openapi["paths"][path].is_object(),
                "{path} not in the OpenAPI document"
            );
        }
    }
);

schema_test!(
    a_compatible_minor_is_published_and_becomes_latest,
    |app: TestApp| async move {
        let token = operator_token(&app);
        let body = json!({"record_type": "person.address@1.2", "document": address_1_2()});
        let (status, headers, created) = publish(&app, Some(&token), body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let url = format!("{PUBLIC_URL}/v1/schemas/person.address/1.2");
        assert_eq!(headers.get("location").unwrap(), url.as_str());
        assert_eq!(created["record_type"], "person.address@1.2");
        assert_eq!(created["status"], "active");
        assert_eq!(created["url"], url.as_str());

        let (status, _, latest) = get_json(&app, "/v1/schemas/person.address/1").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(latest["$id"], url.as_str());
        assert!(latest["properties"]["address"]["properties"]["region"].is_object());

        // Stored under the catalog's own base, so the public URL may change.
        let row = rows::get(&mut app.conn(), "person.address", 1, 2)
            .unwrap()
            .unwrap();
        let stored: Value = serde_json::from_str(&row.document).unwrap();
        assert_eq!(
            stored["$id"],
            "https://crossroads.example/schemas/person.address/1.2"
        );
        assert!(row.published_by.starts_with("op-"), "{}", row.published_by);

        // Another hub process on the same database loads it from there.
        let mut config = app.db.config();
        config.public_url = Some("https://other.example.gov/".parse().unwrap());
        let other = actix_web::web::Data::new(
            AppState::with_pool(config, app.state.pool.clone(), app.clock.clone()).unwrap(),
        );
        let (status, _, served) = hub::dev::testing::send(
            &other,
            web::TestRequest::get().uri("/v1/schemas/person.address/1"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let document: Value = serde_json::from_slice(&served).unwrap();
        assert_eq!(
            document["$id"],
            "https://other.example.gov/v1/schemas/person.address/1.2"
        );

        // The same version again is a conflict.
        let (status, _, problem) = publish(&app, Some(&token), body).await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        assert_eq!(problem["code"], "schema_exists");
        problem_snapshot(&problem);
    }
);

schema_test!(
    a_breaking_minor_is_refused_with_its_pointers,
    |app: TestApp| async move {
        let token = operator_token(&app);
        let mut document = address_1_2();
        // Narrowed, newly required, removed: three breaking changes.
        document["properties"]["address"]["properties"]["street"]["maxLength"] = json!(100);
        document["properties"]["address"]["required"]
            .as_array_mut()
            .unwrap()
            .push(json!("municipalityCode"));
        document["properties"]["address"]["properties"]
            .as_object_mut()
            .unwrap()
            .remove("box");
        let body = json!({"record_type": "person.address@1.2", "document": document});
        let (status, headers, problem) = publish(&app, Some(&token), body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(content_type(&headers), "application/problem+json");
        assert_eq!(problem["code"], "schema_incompatible");
        problem_snapshot(&problem);
        assert_eq!(
            problem["type"],
            "urn:crossroads:problem:schema_incompatible"
        );
        assert_eq!(problem["status"], 422);
        let mut found = pointers(&problem);
        found.sort();
        assert_eq!(
            found,
            [
                (
                    "/properties/address/properties/box".to_owned(),
                    "property_removed".to_owned()
                ),
                (
                    "/properties/address/properties/street/maxLength".to_owned(),
                    "max_length_tightened".to_owned()
                ),
                (
                    "/properties/address/required".to_owned(),
                    "required_added".to_owned()
                ),
            ]
        );
        // Nothing was stored; 1.1 is still the latest.
        assert!(
            rows::get(&mut app.conn(), "person.address", 1, 2)
                .unwrap()
                .is_none()
        );
        let (_, _, latest) = get_json(&app, "/v1/schemas/person.address/1").await;
        assert_eq!(
            latest["$id"],
            format!("{PUBLIC_URL}/v1/schemas/person.address/1.1")
        );

        // The same document as a new major may break.
        let mut major = body["document"].clone();
        major["$id"] = json!("https://crossroads.example/schemas/person.address/2.0");
        for example in major["examples"].as_array_mut().unwrap() {
            let address = example["address"].as_object_mut().unwrap();
            address.remove("box");
            address.entry("municipalityCode").or_insert(json!("99999"));
        }
        let (status, _, created) = publish(
            &app,
            Some(&token),
            json!({"record_type": "person.address@2.0", "document": major}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");

        // A document that is not fit for publication at all.
        let mut undescribed = address_1_2();
        undescribed["properties"]["address"]["properties"]["region"]
            .as_object_mut()
            .unwrap()
            .remove("description");
        let (status, _, problem) = publish(
            &app,
            Some(&token),
            json!({"record_type": "person.address@1.2", "document": undescribed}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["code"], "schema_invalid");
        problem_snapshot(&problem);
        assert_eq!(
            pointers(&problem),
            [(
                "/properties/address/properties/region".to_owned(),
                "lint".to_owned()
            )]
        );

        // A new major must start at minor 0.
        let mut unnumbered = address_1_2();
        unnumbered.as_object_mut().unwrap().remove("$id");
        let (status, _, problem) = publish(
            &app,
            Some(&token),
            json!({"record_type": "person.address@3.1", "document": unnumbered}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["code"], "schema_version_refused");
        problem_snapshot(&problem);

        let (status, _, problem) = publish(
            &app,
            Some(&token),
            json!({"record_type": "person.address", "document": address_1_2()}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    }
);

schema_test!(publishing_needs_an_operator, |app: TestApp| async move {
    let body = json!({"record_type": "person.address@1.2", "document": address_1_2()});
    let (status, headers, problem) = publish(&app, None, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    assert_eq!(problem["code"], "unauthenticated");
    problem_snapshot(&problem);
    assert!(headers.contains_key("www-authenticate"));
    let (status, _, _) = publish(&app, Some("crop_not-a-real-token"), body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = app
        .send(web::TestRequest::post().uri("/v1/admin/schemas/person.address/1.0/deprecate"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        rows::get(&mut app.conn(), "person.address", 1, 2)
            .unwrap()
            .is_none()
    );
});

schema_test!(a_version_is_deprecated, |app: TestApp| async move {
    let token = operator_token(&app);
    let now = app.clock.now();
    let at = now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let deprecate = |uri: &str| {
        web::TestRequest::post()
            .uri(uri)
            .insert_header(("authorization", format!("Bearer {token}")))
    };
    let (status, _, body) = app
        .send(deprecate("/v1/admin/schemas/person.address/1.0/deprecate"))
        .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let version: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(version["status"], "deprecated");
    assert_eq!(version["deprecated_at"], at.as_str());

    let (_, _, address) = get_json(&app, "/v1/schemas/person.address").await;
    assert_eq!(address["versions"][0]["status"], "deprecated");
    assert_eq!(address["versions"][1]["status"], "active");

    // Still served, marked deprecated (RFC 9745).
    let (status, headers, _) = get_json(&app, "/v1/schemas/person.address/1.0").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get("deprecation").unwrap(),
        format!("@{}", now.timestamp()).as_str()
    );
    let (_, headers, _) = get_json(&app, "/v1/schemas/person.address/1.1").await;
    assert!(!headers.contains_key("deprecation"));

    // Again: no change, first deprecation time kept.
    app.clock.advance(chrono::Duration::days(1));
    let (status, _, body) = app
        .send(deprecate("/v1/admin/schemas/person.address/1.0/deprecate"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let version: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(version["deprecated_at"], at.as_str());

    let row = rows::get(&mut app.conn(), "person.address", 1, 0)
        .unwrap()
        .unwrap();
    assert_eq!(row.status().unwrap(), rows::SchemaStatus::Deprecated);

    let (status, _, body) = app
        .send(deprecate("/v1/admin/schemas/person.address/7.0/deprecate"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["code"], "schema_not_found");
    problem_snapshot(&problem);
    let (status, _, _) = app
        .send(deprecate("/v1/admin/schemas/person.address/1/deprecate"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
});

schema_test!(
    another_process_sees_publications_and_deprecations_within_a_second,
    |app: TestApp| async move {
        // Another hub process on the same database, its registry loaded.
        let other = actix_web::web::Data::new(
            AppState::with_pool(app.db.config(), app.state.pool.clone(), app.clock.clone())
                .unwrap(),
        );
        let latest_of = |state: actix_web::web::Data<AppState>| async move {
            let (status, _, served) = hub::dev::testing::send(
                &state,
                web::TestRequest::get().uri("/v1/schemas/person.address/1"),
            )
            .await;
            assert_eq!(status, StatusCode::OK);
            let document: Value = serde_json::from_slice(&served).unwrap();
            document["$id"].as_str().unwrap().to_owned()
        };
        assert!(
            latest_of(other.clone())
                .await
                .ends_with("/person.address/1.1")
        );

        let token = operator_token(&app);
        let body = json!({"record_type": "person.address@1.2", "document": address_1_2()});
        let (status, _, created) = publish(&app, Some(&token), body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let (status, _, _) = app
            .send(
                web::TestRequest::post()
                    .uri("/v1/admin/schemas/person.address/1.0/deprecate")
                    .insert_header(("authorization", format!("Bearer {token}"))),
            )
            .await;
        assert_eq!(status, StatusCode::OK);

        std::thread::sleep(
            hub::services::schemas::RECHECK_EVERY + std::time::Duration::from_millis(100),
        );
        assert!(
            latest_of(other.clone())
                .await
                .ends_with("/person.address/1.2")
        );
        let (status, _, versions) = hub::dev::testing::send(
            &other,
            web::TestRequest::get().uri("/v1/schemas/person.address"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let versions: Value = serde_json::from_slice(&versions).unwrap();
        let statuses: Vec<&str> = versions["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["deprecated", "active", "active"]);
    }
);
