//! The foundation on both backends: migrations, storage, and the HTTP
//! skeleton (health, readiness, metrics, OpenAPI, problem details, limits).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use actix_web::http::StatusCode;
use actix_web::test as web;
use common::{operator_token, problem_snapshot};
use hub::dev::testing::TestApp;
use hub::storage_test;
use hub::store::{migrations, settings};
use serde_json::Value;

fn problem(headers: &actix_web::http::header::HeaderMap, body: &[u8]) -> Value {
    assert_eq!(
        headers
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("")),
        Some("application/problem+json"),
        "not a problem document: {}",
        String::from_utf8_lossy(body)
    );
    serde_json::from_slice(body).unwrap()
}

#[test]
fn both_backends_have_the_same_migrations() {
    let (sqlite, postgres) = migrations::names().unwrap();
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
}

/// Without the query planner stability guarantee SQLite compiles a cached
/// statement again whenever a bound value its plan may depend on changes
/// (every `LIMIT ?`, so every `.first()`): the workspace builds the bundled
/// SQLite with it (`.cargo/config.toml`).
#[test]
fn the_bundled_sqlite_keeps_a_statement_plan_whatever_is_bound() {
    use diesel::{Connection as _, RunQueryDsl as _};
    #[derive(diesel::QueryableByName)]
    struct CompileOption {
        #[diesel(sql_type = diesel::sql_types::Text)]
        compile_options: String,
    }
    let mut conn = diesel::SqliteConnection::establish(":memory:").unwrap();
    let options: Vec<CompileOption> =
        diesel::sql_query("SELECT compile_options FROM pragma_compile_options")
            .load(&mut conn)
            .unwrap();
    let options: Vec<String> = options.into_iter().map(|o| o.compile_options).collect();
    assert!(
        options.iter().any(|o| o == "ENABLE_QPSG"),
        "SQLite was built without SQLITE_ENABLE_QPSG (LIBSQLITE3_FLAGS): {options:?}"
    );
}

storage_test!(
    each_migration_runs_up_down_and_up_again,
    |app: TestApp| async move {
        let mut conn = app.conn();
        let all = migrations::applied(&mut conn).unwrap();
        assert!(!all.is_empty());
        for _ in 0..all.len() {
            migrations::revert_last(&mut conn).unwrap();
        }
        assert!(migrations::applied(&mut conn).unwrap().is_empty());
        for version in &all {
            assert_eq!(&migrations::run_next(&mut conn).unwrap(), version);
            assert_eq!(&migrations::revert_last(&mut conn).unwrap(), version);
            assert_eq!(&migrations::run_next(&mut conn).unwrap(), version);
        }
        assert!(migrations::pending(&mut conn).unwrap().is_empty());
    }
);

storage_test!(
    reads_that_must_write_run_again_where_they_may,
    |app: TestApp| async move {
        let now = app.clock.now();
        let sqlite = matches!(
            app.state.config.database(),
            hub::app::config::DatabaseUrl::Sqlite { .. }
        );
        // Sixteen reads at once, each finding it must write (as a decision
        // that records an expired consent does): on SQLite each is refused
        // before writing on its thread's read-only connection and runs again
        // on the pool; every write lands once.
        let reads = (0..16).map(|i| {
            let state = app.state.clone();
            async move {
                state
                    .read(move |conn| {
                        let key = format!("read-{i}");
                        if settings::get(conn, &key)?.is_none() {
                            settings::put(conn, &key, "written", now)?;
                        }
                        Ok(settings::get(conn, &key)?)
                    })
                    .await
            }
        });
        for value in futures_util::future::join_all(reads).await {
            assert_eq!(value.unwrap().as_deref(), Some("written"));
        }
        let mut conn = app.conn();
        for i in 0..16 {
            assert_eq!(
                settings::get(&mut conn, &format!("read-{i}"))
                    .unwrap()
                    .as_deref(),
                Some("written")
            );
        }
        // A write that bypasses the transaction helper is refused by the
        // connection itself on SQLite (`query_only`): nothing is written.
        let bypass = app
            .state
            .read(|conn| {
                use diesel::RunQueryDsl as _;
                diesel::sql_query("UPDATE hub_settings SET value = 'bypassed' WHERE key = 'read-0'")
                    .execute(conn)
                    .map_err(|e| hub::http::error::ApiError::internal(e.to_string()))
            })
            .await;
        let stored = settings::get(&mut conn, "read-0").unwrap();
        if sqlite {
            assert!(bypass.is_err(), "{bypass:?}");
            assert_eq!(stored.as_deref(), Some("written"));
        } else {
            assert_eq!(bypass.unwrap(), 1);
            assert_eq!(stored.as_deref(), Some("bypassed"));
        }
    }
);

storage_test!(settings_round_trip, |app: TestApp| async move {
    let mut conn = app.conn();
    let now = app.clock.now();
    assert_eq!(settings::get(&mut conn, "instance_id").unwrap(), None);
    let first = settings::get_or_init(&mut conn, "instance_id", now, || "a".to_owned()).unwrap();
    let again = settings::get_or_init(&mut conn, "instance_id", now, || "b".to_owned()).unwrap();
    assert_eq!((first.as_str(), again.as_str()), ("a", "a"));
    settings::put(&mut conn, "instance_id", "c", now).unwrap();
    assert_eq!(
        settings::get(&mut conn, "instance_id").unwrap().as_deref(),
        Some("c")
    );
});

storage_test!(health_and_readiness, |app: TestApp| async move {
    let (status, _, body) = app.send(web::TestRequest::get().uri("/healthz")).await;
    assert_eq!(status, StatusCode::OK);
    let health: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(health["status"], "ok");

    let (status, _, body) = app.send(web::TestRequest::get().uri("/readyz")).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let ready: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(ready["status"], "ready");
    // The backend and schema version are for operators only.
    assert_eq!(ready.get("database"), None, "{ready}");
    assert_eq!(ready.get("schema_version"), None, "{ready}");
    let op = operator_token(&app);
    let (status, _, body) = app
        .send(
            web::TestRequest::get()
                .uri("/readyz")
                .insert_header(("authorization", format!("Bearer {op}"))),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let ready: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(ready["database"], app.db.url.backend());
    assert!(ready["schema_version"].is_string(), "{ready}");
});

storage_test!(
    not_ready_while_migrations_are_pending,
    |app: TestApp| async move {
        migrations::revert_last(&mut app.conn()).unwrap();
        let (status, headers, body) = app.send(web::TestRequest::get().uri("/readyz")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let p = problem(&headers, &body);
        assert_eq!(p["code"], "not_ready");
        problem_snapshot(&p);
        assert!(p["detail"].as_str().unwrap().contains("pending"));
    }
);

#[actix_web::test]
async fn unknown_route_is_a_404_problem() {
    let app = TestApp::new(hub::dev::testing::Backend::Sqlite).unwrap();
    let (status, headers, body) = app
        .send(web::TestRequest::get().uri("/no/such/thing"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let p = problem(&headers, &body);
    assert_eq!(p["code"], "not_found");
    problem_snapshot(&p);
    assert_eq!(p["status"], 404);
    assert_eq!(p["type"], "urn:crossroads:problem:not_found");
}

#[actix_web::test]
async fn wrong_method_is_a_405_problem() {
    let app = TestApp::new(hub::dev::testing::Backend::Sqlite).unwrap();
    let (status, headers, body) = app.send(web::TestRequest::delete().uri("/healthz")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(problem(&headers, &body)["code"], "method_not_allowed");
    problem_snapshot(&problem(&headers, &body));
}

#[actix_web::test]
async fn a_ten_megabyte_body_is_a_413_problem() {
    let app = TestApp::new(hub::dev::testing::Backend::Sqlite).unwrap();
    let big = vec![b'x'; 10 * 1024 * 1024];
    for uri in ["/healthz", "/nowhere"] {
        let req = web::TestRequest::post()
            .uri(uri)
            .insert_header(("content-type", "application/json"))
            .set_payload(big.clone());
        let (status, headers, body) = app.send(req).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{uri}");
        assert_eq!(problem(&headers, &body)["code"], "payload_too_large");
    }
}

#[actix_web::test]
async fn request_ids_are_kept_or_made() {
    let app = TestApp::new(hub::dev::testing::Backend::Sqlite).unwrap();
    let req = web::TestRequest::get()
        .uri("/healthz")
        .insert_header(("x-request-id", "abc-123"));
    let (_, headers, _) = app.send(req).await;
    assert_eq!(headers.get("x-request-id").unwrap(), "abc-123");

    let (_, headers, _) = app.send(web::TestRequest::get().uri("/nowhere")).await;
    let made = headers.get("x-request-id").unwrap().to_str().unwrap();
    assert!(uuid::Uuid::parse_str(made).is_ok(), "{made}");

    // A header that could forge log lines is replaced.
    let req = web::TestRequest::get()
        .uri("/healthz")
        .insert_header(("x-request-id", "a b\tc"));
    let (_, headers, _) = app.send(req).await;
    assert_ne!(headers.get("x-request-id").unwrap(), "a b\tc");
}

#[actix_web::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::new(hub::dev::testing::Backend::Sqlite).unwrap();
    let service = web::init_service(hub::http::app(app.state.clone())).await;
    for uri in ["/healthz", "/healthz", "/missing/1", "/missing/2"] {
        web::call_service(&service, web::TestRequest::get().uri(uri).to_request()).await;
    }
    // Not for anyone: an operator token, or the separate metrics address.
    let res = web::call_service(
        &service,
        web::TestRequest::get().uri("/metrics").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let op = operator_token(&app);
    let res = web::call_service(
        &service,
        web::TestRequest::get()
            .uri("/metrics")
            .insert_header(("authorization", format!("Bearer {op}")))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = String::from_utf8(web::read_body(res).await.to_vec()).unwrap();
    assert!(
        text.contains(
            r#"crossroads_http_requests_total{endpoint="/healthz",method="GET",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"crossroads_http_requests_total{endpoint="unmatched",method="GET",status="404"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains("crossroads_http_requests_duration_seconds_bucket"),
        "{text}"
    );
}

#[actix_web::test]
async fn openapi_document_and_docs_page() {
    let app = TestApp::new(hub::dev::testing::Backend::Sqlite).unwrap();
    let (status, _, body) = app.send(web::TestRequest::get().uri("/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    for path in ["/healthz", "/readyz", "/openapi.json"] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    assert!(doc["components"]["schemas"].get("Problem").is_some());

    let (status, headers, body) = app.send(web::TestRequest::get().uri("/docs")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("/readyz"));
    // Nothing is loaded from elsewhere.
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
}

#[actix_web::test]
async fn answers_are_not_sniffed_and_tls_is_strict() {
    let plain = TestApp::new(hub::dev::testing::Backend::Sqlite).unwrap();
    for uri in [
        "/healthz",
        "/v1/nowhere",
        "/openapi.json",
        "/portal/sign-in",
    ] {
        let (_, headers, _) = plain.send(web::TestRequest::get().uri(uri)).await;
        assert_eq!(
            headers
                .get("x-content-type-options")
                .map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{uri}"
        );
        assert!(headers.get("strict-transport-security").is_none(), "{uri}");
    }
    let tls = TestApp::with_config(hub::dev::testing::Backend::Sqlite, |config| {
        config.tls_cert_file = Some("hub.pem".into());
    })
    .unwrap();
    let (_, headers, _) = tls.send(web::TestRequest::get().uri("/healthz")).await;
    assert_eq!(
        headers
            .get("strict-transport-security")
            .map(|v| v.to_str().unwrap()),
        Some("max-age=31536000")
    );
}
