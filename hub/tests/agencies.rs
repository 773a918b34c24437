//! Agencies, certificates, and the OAuth client-credentials flow with
//! `private_key_jwt`, on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use actix_web::test as web;
use common::*;
use hub::dev::testing::TestApp;
use hub::storage_test;
use serde_json::{Value, json};

fn onboard_request(token: &str, certs: &[&str]) -> web::TestRequest {
    web::TestRequest::post()
        .uri("/v1/admin/agencies")
        .insert_header(("authorization", format!("Bearer {token}")))
        .set_json(json!({
            "id": AGENCY,
            "name": "Example Agency",
            "sector": "social",
            "roles": ["consumer", "registrar"],
            "identifier_policy": "common_id",
            "certificates": certs.iter().map(|c| fixture(c)).collect::<Vec<_>>(),
        }))
}

async fn onboard(app: &TestApp, certs: &[&str]) -> String {
    let op = operator_token(app);
    let (status, _, body) = call(app, onboard_request(&op, certs)).await;
    assert_eq!(status, 201, "{body}");
    op
}

fn aud(app: &TestApp) -> String {
    format!("{}/oauth/token", app.state.config.public_base())
}

async fn me(app: &TestApp, access_token: &str) -> (u16, Value) {
    let req = web::TestRequest::get()
        .uri("/v1/agencies/me")
        .insert_header(("authorization", format!("Bearer {access_token}")));
    let (status, _, body) = call(app, req).await;
    (status, body)
}

storage_test!(
    certificates_are_checked_one_by_one,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let op = operator_token(&app);
        let cases = [
            ("agency-expired.pem", "certificate_expired"),
            ("agency-not-yet-valid.pem", "certificate_not_yet_valid"),
            ("agency-unknown-ca.pem", "untrusted_issuer"),
            ("agency-wrong-id.pem", "agency_mismatch"),
            ("agency-no-digital-signature.pem", "key_usage"),
            ("malformed.pem", "malformed_certificate"),
        ];
        for (file, code) in cases {
            let (status, headers, body) = call(&app, onboard_request(&op, &[file])).await;
            assert_eq!(status, 422, "{file}: {body}");
            assert_eq!(body["code"], code, "{file}: {body}");
            assert_eq!(
                headers.get("content-type").unwrap(),
                "application/problem+json"
            );
        }
        for file in [
            "agency-p256.pem",
            "agency-ed25519.pem",
            "agency-rsa2048.pem",
        ] {
            let (status, _, body) = call(&app, onboard_request(&op, &[file])).await;
            assert_eq!(status, 201, "{file}: {body}");
            assert_eq!(body["certificates"][0]["status"], "active");
            // Start over for the next key type.
            let thumb = body["certificates"][0]["thumbprint"]
                .as_str()
                .unwrap()
                .to_owned();
            assert_eq!(
                thumb,
                fixture(&file.replace(".pem", ".x5t-s256.txt")).trim()
            );
            let mut conn = app.conn();
            use diesel::prelude::*;
            diesel::sql_query("DELETE FROM agency_certificates")
                .execute(&mut *conn)
                .unwrap();
            diesel::sql_query("DELETE FROM agencies")
                .execute(&mut *conn)
                .unwrap();
        }
        // Without an operator token nothing happens.
        let (status, _, body) =
            call(&app, onboard_request("crop_nope", &["agency-p256.pem"])).await;
        assert_eq!(status, 401, "{body}");
    }
);

storage_test!(
    client_credentials_with_each_key_type,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        onboard(
            &app,
            &[
                "agency-p256.pem",
                "agency-ed25519.pem",
                "agency-rsa2048.pem",
            ],
        )
        .await;
        let now = app.clock.now().timestamp();
        for (i, (alg, key)) in [
            ("ES256", "agency-p256.key.pem"),
            ("EdDSA", "agency-ed25519.key.pem"),
            ("RS256", "agency-rsa2048.key.pem"),
            ("PS256", "agency-rsa2048.key.pem"),
        ]
        .into_iter()
        .enumerate()
        {
            let claims = assertion_claims(AGENCY, &aud(&app), now, &format!("jti-{i}"));
            let assertion = sign(alg, &fixture(key), json!({}), &claims);
            let (status, body) = token_answer(&app, &assertion).await;
            assert_eq!(status, 200, "{alg}: {body}");
            assert_eq!(body["token_type"], "Bearer");
            assert!(body["expires_in"].as_i64().unwrap() <= 900);
            assert_eq!(body["scope"], "consumer registrar");
            let (status, who) = me(&app, body["access_token"].as_str().unwrap()).await;
            assert_eq!(status, 200, "{who}");
            assert_eq!(who["agency_id"], AGENCY);
        }
    }
);

storage_test!(
    bad_assertions_are_refused,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let op = onboard(&app, &["agency-p256.pem"]).await;
        let key = fixture("agency-p256.key.pem");
        let now = app.clock.now().timestamp();
        let good = sign(
            "ES256",
            &key,
            json!({}),
            &assertion_claims(AGENCY, &aud(&app), now, "once"),
        );
        let (status, body) = token_answer(&app, &good).await;
        assert_eq!(status, 200, "{body}");
        let access = body["access_token"].as_str().unwrap().to_owned();

        // A replayed jti.
        let (status, body) = token_answer(&app, &good).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{body}"
        );
        problem_snapshot(&body);

        // The wrong audience.
        let wrong_aud = sign(
            "ES256",
            &key,
            json!({}),
            &assertion_claims(AGENCY, "https://elsewhere", now, "a1"),
        );
        let (status, body) = token_answer(&app, &wrong_aud).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{body}"
        );
        problem_snapshot(&body);
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("wrong_audience"),
            "{body}"
        );

        // An expired assertion.
        let old = assertion_claims(AGENCY, &aud(&app), now - 3600, "a2");
        let (status, body) = token_answer(&app, &sign("ES256", &key, json!({}), &old)).await;
        assert_eq!(status, 401, "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("token_expired"),
            "{body}"
        );

        // alg none, and HS256 keyed with the certificate's public key.
        let claims = assertion_claims(AGENCY, &aud(&app), now, "a3");
        let none = format!(
            "{}.{}.",
            base64_url(&json!({"alg": "none", "typ": "JWT"})),
            base64_url(&claims)
        );
        let (status, body) = token_answer(&app, &none).await;
        assert_eq!(status, 401, "{body}");
        let input = format!(
            "{}.{}",
            base64_url(&json!({"alg": "HS256"})),
            base64_url(&claims)
        );
        let cert = fixture("agency-p256.pem");
        let mac = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, cert.as_bytes()),
            input.as_bytes(),
        );
        let hs = format!("{input}.{}", base64_url_bytes(mac.as_ref()));
        let (status, body) = token_answer(&app, &hs).await;
        assert_eq!(status, 401, "{body}");

        // Wrong grant type, and no assertion at all.
        let req = web::TestRequest::post()
            .uri("/oauth/token")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload("grant_type=password&username=x");
        let (status, _, body) = call(&app, req).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("unsupported_grant_type"))
        );
        problem_snapshot(&body);

        // Access tokens: tampered, alg none, and a garbage bearer.
        let mut parts: Vec<String> = access.split('.').map(str::to_owned).collect();
        let mut payload: Value = serde_json::from_slice(&base64_decode(&parts[1])).unwrap();
        payload["sub"] = json!("BE-9999999999");
        parts[1] = base64_url(&payload);
        let (status, body) = me(&app, &parts.join(".")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("bad_signature")),
            "{body}"
        );
        problem_snapshot(&body);
        let none_access = format!("{}.{}.", base64_url(&json!({"alg": "none"})), parts[1]);
        let (status, _) = me(&app, &none_access).await;
        assert_eq!(status, 401);
        let (status, _) = me(&app, "garbage").await;
        assert_eq!(status, 401);

        // Revoking the certificate ends the token, and no new one can be had.
        let thumb = fixture("agency-p256.x5t-s256.txt").trim().to_owned();
        let req = web::TestRequest::post()
            .uri(&format!(
                "/v1/admin/agencies/{AGENCY}/certificates/{thumb}/revoke"
            ))
            .insert_header(("authorization", format!("Bearer {op}")));
        let (status, _, body) = call(&app, req).await;
        assert_eq!(status, 204, "{body}");
        let (status, body) = me(&app, &access).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("certificate_revoked")),
            "{body}"
        );
        problem_snapshot(&body);
        let fresh = sign(
            "ES256",
            &key,
            json!({}),
            &assertion_claims(AGENCY, &aud(&app), now, "a4"),
        );
        let (status, body) = token_answer(&app, &fresh).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{body}"
        );
    }
);

storage_test!(
    suspension_stops_tokens,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let op = onboard(&app, &["agency-ed25519.pem"]).await;
        let key = fixture("agency-ed25519.key.pem");
        let now = app.clock.now().timestamp();
        let (status, body) = token_answer(
            &app,
            &sign(
                "EdDSA",
                &key,
                json!({}),
                &assertion_claims(AGENCY, &aud(&app), now, "s1"),
            ),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let access = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(me(&app, &access).await.0, 200);

        let suspend = web::TestRequest::post()
            .uri(&format!("/v1/admin/agencies/{AGENCY}/suspend"))
            .insert_header(("authorization", format!("Bearer {op}")));
        let (status, _, body) = call(&app, suspend).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("suspended")));
        let (status, body) = me(&app, &access).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("agency_suspended")),
            "{body}"
        );
        problem_snapshot(&body);
        let (status, body) = token_answer(
            &app,
            &sign(
                "EdDSA",
                &key,
                json!({}),
                &assertion_claims(AGENCY, &aud(&app), now, "s2"),
            ),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{body}"
        );

        assert_eq!(audited(&app, "agency.onboarded").len(), 1);
        assert_eq!(audited(&app, "agency.suspended").len(), 1);
        let reactivate = web::TestRequest::post()
            .uri(&format!("/v1/admin/agencies/{AGENCY}/reactivate"))
            .insert_header(("authorization", format!("Bearer {op}")));
        assert_eq!(call(&app, reactivate).await.0, 200);
        assert_eq!(me(&app, &access).await.0, 200);

        // Tokens expire.
        app.clock.advance(chrono::Duration::seconds(
            i64::from(app.state.config.access_token_ttl_secs) + 60,
        ));
        let (status, body) = me(&app, &access).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("token_expired")),
            "{body}"
        );
        problem_snapshot(&body);
    }
);

storage_test!(
    jwks_and_metadata,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let (status, _, jwks) =
            call(&app, web::TestRequest::get().uri("/.well-known/jwks.json")).await;
        assert_eq!(status, 200);
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["kty"], "OKP");
        assert_eq!(keys[0]["crv"], "Ed25519");
        assert_eq!(keys[0]["alg"], "EdDSA");
        let (status, _, meta) = call(
            &app,
            web::TestRequest::get().uri("/.well-known/oauth-authorization-server"),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(meta["issuer"], app.state.config.public_base());
        assert_eq!(
            meta["token_endpoint_auth_methods_supported"][0],
            "private_key_jwt"
        );

        // Rotation: the new key signs, the old one stays published.
        let old_kid = keys[0]["kid"].as_str().unwrap().to_owned();
        let new_kid =
            hub::secrets::keys::rotate(&mut app.conn(), &app.state.config, app.clock.now())
                .unwrap();
        app.state.keys.invalidate();
        let (_, _, jwks) = call(&app, web::TestRequest::get().uri("/.well-known/jwks.json")).await;
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids, vec![new_kid.as_str(), old_kid.as_str()]);
        // Once every token the old key signed has expired, it is gone.
        app.clock.advance(chrono::Duration::seconds(3600));
        app.state.keys.invalidate();
        let (_, _, jwks) = call(&app, web::TestRequest::get().uri("/.well-known/jwks.json")).await;
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    }
);

fn base64_url(v: &Value) -> String {
    base64_url_bytes(&serde_json::to_vec(v).unwrap())
}

fn base64_url_bytes(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

storage_test!(
    a_role_taken_away_stops_working_for_live_tokens,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        // A token issued for consumer and registrar; the operator takes
        // the consumer role away: the live token loses that scope at once,
        // and gets it back with the role.
        let token = agency_token(&app, &["consumer", "registrar"], "common_id").await;
        let op = operator_token(&app);
        let consents = || with_bearer(web::TestRequest::get().uri("/v1/consents"), &token);
        let (status, _, body) = call(&app, consents()).await;
        assert_eq!(status, 200, "{body}");
        let roles = |roles: Value| {
            with_bearer(
                web::TestRequest::put().uri(&format!("/v1/admin/agencies/{AGENCY}/roles")),
                &op,
            )
            .set_json(json!({"roles": roles}))
        };
        let (status, _, body) = call(&app, roles(json!(["registrar"]))).await;
        assert_eq!(
            (status, &body["roles"]),
            (200, &json!(["registrar"])),
            "{body}"
        );
        let (status, _, body) = call(&app, consents()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("insufficient_scope")),
            "{body}"
        );
        problem_snapshot(&body);
        let (status, body) = me(&app, &token).await;
        assert_eq!(
            (status, &body["roles"]),
            (200, &json!(["registrar"])),
            "{body}"
        );
        // A role the agency never had in its token stays out of reach.
        let (status, _, _) = call(&app, roles(json!(["consumer", "registrar", "provider"]))).await;
        assert_eq!(status, 422, "a provider needs an endpoint");
        let (status, _, body) = call(&app, roles(json!(["consumer", "registrar"]))).await;
        assert_eq!(status, 200, "{body}");
        let (status, _, body) = call(&app, consents()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(audited(&app, "agency.roles_changed").len(), 2);
        let (status, _, body) = call(&app, roles(json!(["overlord"]))).await;
        assert_eq!(status, 422, "{body}");
        let (status, _, _) = call(
            &app,
            with_bearer(
                web::TestRequest::put().uri("/v1/admin/agencies/BE-0999999999/roles"),
                &op,
            )
            .set_json(json!({"roles": ["consumer"]})),
        )
        .await;
        assert_eq!(status, 404);
    }
);

storage_test!(
    providers_are_reached_over_https_only,
    setup = |backend| hub::dev::testing::TestApp::with_config(backend, |config| {
        config.trust_anchors_file = Some(fixture_path("ca.pem"));
        config.allow_insecure_providers = false;
    }),
    |app: TestApp| async move {
        let op = operator_token(&app);
        let provider = |endpoint: &str| {
            with_bearer(web::TestRequest::post().uri("/v1/admin/agencies"), &op).set_json(json!({
                "id": AGENCY, "name": "Population Register", "sector": "civil",
                "roles": ["provider", "consumer", "registrar"], "endpoint_url": endpoint,
                "identifier_policy": "common_id", "certificates": [fixture("agency-p256.pem")],
            }))
        };
        let (status, _, body) = call(&app, provider("http://register.example")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("insecure_endpoint_url")),
            "{body}"
        );
        problem_snapshot(&body);
        let (status, _, body) = call(&app, provider("https://register.example")).await;
        assert_eq!(status, 201, "{body}");

        // An endpoint stored as plain http:// (before the rule, say) is
        // never called: the lookup is refused without a connection.
        {
            use diesel::prelude::*;
            use hub::store::tables::agencies;
            diesel::update(agencies::table.find(AGENCY))
                .set(agencies::endpoint_url.eq(Some("http://127.0.0.1:9")))
                .execute(&mut *app.conn())
                .unwrap();
        }
        for (path, body) in [
            (
                "/v1/admin/sources",
                json!({"record_type": "person.address", "major": 1, "provider": AGENCY}),
            ),
            (
                "/v1/admin/purposes",
                json!({"code": "benefit-eligibility", "title": "Eligibility", "description": "",
                       "legal_reference": {"title": "Act", "url": "https://law.example/a"}}),
            ),
            (
                "/v1/admin/authorizations",
                json!({"consumer": {"agency": AGENCY}, "record_type": "person.address", "major": 1,
                       "fields": ["/commonId", "/addressType", "/since", "/address/street", "/address/houseNumber",
                                  "/address/postcode", "/address/municipality", "/address/country"],
                       "purposes": ["benefit-eligibility"],
                       "legal_reference": {"title": "Act", "url": "https://law.example/a"},
                       "consent_required": false}),
            ),
        ] {
            let (status, _, answer) = call(
                &app,
                with_bearer(web::TestRequest::post().uri(path), &op).set_json(body),
            )
            .await;
            assert_eq!(status, 201, "{path}: {answer}");
        }
        let token = access_token(&app).await;
        let req =
            with_bearer(web::TestRequest::post().uri("/v1/persons"), &token).set_json(json!({
                "given_names": "Hanna", "family_name": "Https", "birth_date": "1990-04-05",
            }));
        let (status, _, body) = call(&app, req).await;
        assert_eq!(status, 201, "{body}");
        let person = body["id"].as_str().unwrap().to_owned();
        let (status, _, body) = call(
            &app,
            with_bearer(web::TestRequest::post().uri("/v1/lookups"), &token).set_json(json!({
                "person": person, "record_type": "person.address@1", "purpose": "benefit-eligibility",
            })),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (502, Some("provider_insecure")),
            "{body}"
        );
        problem_snapshot(&body);
    }
);

storage_test!(
    an_assertion_is_used_once_even_past_its_expiry_and_in_parallel,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        onboard(&app, &["agency-p256.pem"]).await;
        let key = fixture("agency-p256.key.pem");
        let now = app.clock.now().timestamp();
        // 16 requests with one assertion at once: one token.
        let once = sign(
            "ES256",
            &key,
            json!({}),
            &assertion_claims(AGENCY, &aud(&app), now, "parallel-1"),
        );
        let answers =
            futures_util::future::join_all((0..16).map(|_| token_answer(&app, &once))).await;
        let issued = answers.iter().filter(|(s, _)| *s == 200).count();
        assert_eq!(issued, 1, "{answers:?}");
        assert!(
            answers
                .iter()
                .all(|(s, b)| *s == 200 || b["error"] == "invalid_grant"),
            "{answers:?}"
        );
        // Used, then replayed after its exp while still inside the leeway:
        // its jti is remembered until then, so it is refused.
        let late = sign(
            "ES256",
            &key,
            json!({}),
            &assertion_claims(AGENCY, &aud(&app), now, "late-1"),
        );
        let (status, body) = token_answer(&app, &late).await;
        assert_eq!(status, 200, "{body}");
        app.clock.advance(chrono::Duration::seconds(120 + 3));
        let (status, body) = token_answer(&app, &late).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{body}"
        );
        // Past exp and the leeway, it is refused for its age.
        app.clock.advance(chrono::Duration::seconds(60));
        let (status, _) = token_answer(&app, &late).await;
        assert_eq!(status, 401);
    }
);
