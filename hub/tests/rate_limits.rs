//! Rate limits per client address (believing `X-Forwarded-For` only from
//! trusted proxies) and per agency, on both backends: over the limit, 429
//! `too_many_requests` with `Retry-After`, and nothing done.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use actix_web::test as web;
use common::*;
use hub::dev::testing::TestApp;
use hub::storage_test;
use serde_json::json;

fn sign_in(peer: &str, forwarded: Option<&str>) -> web::TestRequest {
    let mut req = web::TestRequest::post()
        .uri("/v1/citizen/sign-in")
        .peer_addr(peer.parse().unwrap())
        .set_json(json!({"common_id": "85073003328", "password": "guess"}));
    if let Some(f) = forwarded {
        req = req.insert_header(("x-forwarded-for", f));
    }
    req
}

storage_test!(
    sign_in_attempts_are_limited_per_client_address,
    setup = |backend| hub::dev::testing::TestApp::with_config(backend, |config| {
        config.rate_limit_sign_in_per_minute = 5;
        config.trusted_proxies = vec!["10.0.0.0/8".to_owned()];
    }),
    |app: TestApp| async move {
        for _ in 0..5 {
            let (status, _, body) = call(&app, sign_in("192.0.2.1:1000", None)).await;
            assert_eq!(status, 401, "{body}");
        }
        let (status, headers, body) = call(&app, sign_in("192.0.2.1:1001", None)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (429, Some("too_many_requests")),
            "{body}"
        );
        problem_snapshot(&body);
        let wait: u64 = headers
            .get("retry-after")
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        assert_eq!(
            headers.get("content-type").unwrap(),
            "application/problem+json"
        );
        // Another address is not held up; an address a client writes
        // itself is not believed from an untrusted peer.
        let (status, _, _) = call(&app, sign_in("192.0.2.2:1000", None)).await;
        assert_eq!(status, 401);
        let (status, _, _) = call(&app, sign_in("192.0.2.1:1002", Some("198.51.100.7"))).await;
        assert_eq!(status, 429);
        // Behind a trusted proxy, each forwarded client counts alone.
        for client in 0..3 {
            for _ in 0..5 {
                let forwarded = format!("198.51.100.{client}");
                let (status, _, _) = call(&app, sign_in("10.1.2.3:443", Some(&forwarded))).await;
                assert_eq!(status, 401);
            }
        }
        let (status, _, _) = call(&app, sign_in("10.1.2.3:443", Some("198.51.100.0"))).await;
        assert_eq!(status, 429);
    }
);

storage_test!(
    lookups_are_limited_per_agency_each_person_counting,
    setup = |backend| hub::dev::testing::TestApp::with_config(backend, |config| {
        config.trust_anchors_file = Some(fixture_path("ca.pem"));
        config.rate_limit_lookups_per_second = 3;
        config.rate_limit_consent_requests_per_minute = 2;
    }),
    |app: TestApp| async move {
        let token = agency_token(&app, &["consumer"], "common_id").await;
        let batch = |n: usize| {
            let persons: Vec<String> = (0..n).map(|i| format!("8507300{i:04}")).collect();
            with_bearer(web::TestRequest::post().uri("/v1/lookups/batch"), &token).set_json(
                json!({"persons": persons, "record_type": "person.address@1", "purpose": "benefit-eligibility"}),
            )
        };
        // Four persons at once are more than three a second: refused whole,
        // nothing audited.
        let before = hub::store::audit::tree_size(&mut app.conn()).unwrap();
        let (status, headers, body) = call(&app, batch(4)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (429, Some("too_many_requests")),
            "{body}"
        );
        assert!(headers.get("retry-after").is_some());
        let (status, _, body) = call(&app, batch(3)).await;
        assert_eq!(status, 200, "{body}");
        let lookup = with_bearer(web::TestRequest::post().uri("/v1/lookups"), &token).set_json(
            json!({"person": "85073003328", "record_type": "person.address@1", "purpose": "benefit-eligibility"}),
        );
        let (status, _, body) = call(&app, lookup).await;
        assert_eq!(status, 429, "{body}");
        assert!(hub::store::audit::tree_size(&mut app.conn()).unwrap() >= before);

        // Consent requests per agency.
        let ask = || {
            with_bearer(web::TestRequest::post().uri("/v1/consents/requests"), &token).set_json(
                json!({"person": "85073003328", "record_types": ["person.address@1"], "purpose": "benefit-eligibility",
                       "valid_until": "2027-03-01T00:00:00Z", "frequency": {"kind": "once"}}),
            )
        };
        for _ in 0..2 {
            let (status, _, body) = call(&app, ask()).await;
            assert_ne!(status, 429, "{body}");
        }
        let (status, _, body) = call(&app, ask()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (429, Some("too_many_requests"))
        );
    }
);
