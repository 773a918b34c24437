//! Refusals at authentication time, on both backends: a token whose hub
//! signature verifies but that is refused (agency suspended, certificate
//! revoked, token expired) leaves exactly one audit entry with its deny code,
//! and the problem carries its exchange id; tokens that do not verify name
//! nobody and leave nothing in the log (they are counted and rate-limited).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use actix_web::test as web;
use chrono::Duration;
use common::*;
use hub::dev::testing::TestApp;
use hub::storage_test;
use serde_json::{Value, json};

async fn lookup(app: &TestApp, token: &str) -> (u16, Value) {
    let req = with_bearer(web::TestRequest::post().uri("/v1/lookups"), token).set_json(json!({
        "person": "85073003328",
        "record_type": "person.address@1",
        "purpose": "benefit-eligibility",
    }));
    let (status, _, body) = call(app, req).await;
    (status, body)
}

/// Checks a refusal: its status and code, an exchange id in the problem,
/// and exactly one `lookup.denied` entry of the agency with that code.
fn audited_once(app: &TestApp, answer: &(u16, Value), status: u16, code: &str) {
    let (got, body) = answer;
    assert_eq!(
        (*got, body["code"].as_str()),
        (status, Some(code)),
        "{body}"
    );
    let id = body["exchange_id"].as_str().unwrap();
    let entries = entries_of(app, id);
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_eq!(entry["kind"], "lookup.denied", "{entry}");
    assert_eq!(entry["outcome"], "denied", "{entry}");
    assert_eq!(entry["deny_code"], code, "{entry}");
    assert_eq!(entry["actor"]["id"], AGENCY, "{entry}");
}

fn tree_size(app: &TestApp) -> u64 {
    hub::store::audit::tree_size(&mut app.conn()).unwrap()
}

storage_test!(
    refusals_of_named_callers_are_audited,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let token = agency_token(&app, &["consumer"], "common_id").await;
        let op = operator_token(&app);
        let admin = |path: String| {
            web::TestRequest::post()
                .uri(&path)
                .insert_header(("authorization", format!("Bearer {op}")))
        };

        // Suspended.
        let (status, _, _) =
            call(&app, admin(format!("/v1/admin/agencies/{AGENCY}/suspend"))).await;
        assert_eq!(status, 200);
        let answer = lookup(&app, &token).await;
        audited_once(&app, &answer, 403, "agency_suspended");
        let (status, _, _) = call(
            &app,
            admin(format!("/v1/admin/agencies/{AGENCY}/reactivate")),
        )
        .await;
        assert_eq!(status, 200);

        // Expired (past the leeway).
        app.clock.advance(Duration::seconds(
            i64::from(app.state.config.access_token_ttl_secs) + 120,
        ));
        let answer = lookup(&app, &token).await;
        audited_once(&app, &answer, 401, "token_expired");

        // Revoked certificate (with a fresh token).
        let fresh = {
            let aud = format!("{}/oauth/token", app.state.config.public_base());
            let assertion = sign(
                "ES256",
                &fixture("agency-p256.key.pem"),
                json!({}),
                &assertion_claims(AGENCY, &aud, app.clock.now().timestamp(), "fresh-1"),
            );
            let (status, body) = token_answer(&app, &assertion).await;
            assert_eq!(status, 200, "{body}");
            body["access_token"].as_str().unwrap().to_owned()
        };
        // The issuance was audited.
        assert_eq!(audited(&app, "token.issued").len(), 2);
        let thumb = fixture("agency-p256.x5t-s256.txt").trim().to_owned();
        let (status, _, body) = call(
            &app,
            admin(format!(
                "/v1/admin/agencies/{AGENCY}/certificates/{thumb}/revoke"
            )),
        )
        .await;
        assert_eq!(status, 204, "{body}");
        let answer = lookup(&app, &fresh).await;
        audited_once(&app, &answer, 401, "certificate_revoked");
    }
);

storage_test!(
    unverifiable_tokens_leave_nothing_in_the_log,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let token = agency_token(&app, &["consumer"], "common_id").await;
        // A forged signature, a token of another key, garbage.
        let mut parts: Vec<&str> = token.split('.').collect();
        // Another character in the middle of the signature (the last one
        // may only carry padding bits).
        let mut signature: Vec<char> = parts[2].chars().collect();
        signature[10] = if signature[10] == 'A' { 'B' } else { 'A' };
        let forged_signature: String = signature.into_iter().collect();
        parts[2] = &forged_signature;
        let forged = parts.join(".");
        let before = tree_size(&app);
        let service = web::init_service(hub::http::app(app.state.clone())).await;
        let peer: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let mut limited = 0;
        for i in 0..10_000 {
            let bad = match i % 3 {
                0 => forged.clone(),
                1 => format!("garbage-{i}"),
                _ => format!("{}.e30.AAAA", parts[0]),
            };
            let req = with_bearer(web::TestRequest::post().uri("/v1/lookups"), &bad)
                .peer_addr(peer)
                .set_json(
                    json!({"person": "85073003328", "record_type": "person.address@1",
                                 "purpose": "benefit-eligibility"}),
                );
            let res = web::call_service(&service, req.to_request()).await;
            match res.status().as_u16() {
                401 => {}
                429 => limited += 1,
                other => panic!("{other}"),
            }
        }
        assert_eq!(tree_size(&app), before, "garbage tokens reached the log");
        assert!(app.state.hub_metrics.unverifiable_tokens() >= 10_000);
        assert!(limited > 9_000, "only {limited} of 10,000 rate-limited");
    }
);

storage_test!(
    an_assertion_is_never_accepted_twice,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        agency_token(&app, &["consumer"], "common_id").await;
        let aud = format!("{}/oauth/token", app.state.config.public_base());
        let assertion = sign(
            "ES256",
            &fixture("agency-p256.key.pem"),
            json!({}),
            &assertion_claims(AGENCY, &aud, app.clock.now().timestamp(), "once-only"),
        );
        assert_eq!(token_answer(&app, &assertion).await.0, 200);
        let (status, body) = token_answer(&app, &assertion).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{body}"
        );
        // Past its `exp` (120 s) but within the accepted clock skew: still
        // refused as a replay, not accepted again.
        app.clock.advance(Duration::seconds(125));
        let (status, body) = token_answer(&app, &assertion).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{body}"
        );
        // The refusals of the verified assertion are audited.
        assert_eq!(audited(&app, "token.refused").len(), 2);
        // Past the skew, it is simply expired.
        app.clock.advance(Duration::seconds(60));
        let (status, body) = token_answer(&app, &assertion).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{body}"
        );
    }
);
