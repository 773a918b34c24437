//! The person registry and citizen accounts, on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use actix_web::test as web;
use common::*;
use hub::dev::testing::TestApp;
use hub::storage_test;
use serde_json::{Value, json};

fn alice() -> Value {
    json!({"given_names": "Alice Marie", "family_name": "Dupont-Lefèvre", "birth_date": "1990-04-12", "birth_place": "Liège", "sex": "female"})
}

async fn show(app: &TestApp, token: &str, id: &str) -> (u16, Value) {
    let req = with_bearer(
        web::TestRequest::get().uri(&format!("/v1/persons/{id}")),
        token,
    );
    let (status, _, body) = call(app, req).await;
    (status, body)
}

async fn post(app: &TestApp, uri: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = web::TestRequest::post().uri(uri).set_json(body);
    if let Some(token) = token {
        req = with_bearer(req, token);
    }
    let (status, _, body) = call(app, req).await;
    (status, body)
}

/// Alice, registered and activated with [`PASSWORD`]; her common ID.
async fn activated_citizen(app: &TestApp) -> String {
    let token = agency_token(app, &["registrar"], "common_id").await;
    activated(app, &token, alice()).await
}

/// Alice, activated and signed in: her common ID and citizen token.
async fn signed_in_citizen(app: &TestApp) -> (String, String) {
    let id = activated_citizen(app).await;
    let token = sign_in(app, &id).await;
    (id, token)
}

storage_test!(
    register_duplicate_merge,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let token = agency_token(&app, &["registrar"], "common_id").await;
        let (status, first) = register(&app, &token, alice()).await;
        assert_eq!(status, 201, "{first}");
        let id = first["id"].as_str().unwrap().to_owned();
        assert!(id.parse::<identity::CommonId>().is_ok(), "{id}");
        assert!(first["activation_code"].as_str().unwrap().len() >= 16);

        // The same person written differently is a possible duplicate.
        let same = json!({"given_names": "alice  marie", "family_name": "DUPONT LEFEVRE", "birth_date": "1990-04-12"});
        let (status, dup) = register(&app, &token, same.clone()).await;
        assert_eq!(status, 409, "{dup}");
        assert_eq!(dup["code"], "possible_duplicate");
        problem_snapshot(&dup);
        assert_eq!(dup["candidate"], id.as_str());

        // The registrar confirms it is someone else.
        let mut distinct = same;
        distinct["distinct_from"] = json!([id]);
        let (status, second) = register(&app, &token, distinct).await;
        assert_eq!(status, 201, "{second}");
        let other = second["id"].as_str().unwrap().to_owned();
        assert_ne!(other, id);

        // It was the same person after all: merge; the old ID resolves.
        let (status, merged) = post(
            &app,
            &format!("/v1/persons/{id}/merge"),
            Some(&token),
            json!({"replaced": other}),
        )
        .await;
        assert_eq!(status, 200, "{merged}");
        let reads = audited(&app, "person.read").len();
        let (status, shown) = show(&app, &token, &other).await;
        assert_eq!(status, 200, "{shown}");
        assert_eq!(shown["id"], id.as_str());
        // A registrar's read is audited, about the survivor.
        assert_eq!(
            audited(&app, "person.read")[reads..],
            [(AGENCY.to_owned(), Some(id.clone()))]
        );
        assert_eq!(shown["resolved_from"], other.as_str());
        // The display form with separators is accepted too.
        let display = identity::CommonId::to_string(&other.parse().unwrap());
        assert_eq!(show(&app, &token, &display).await.1["id"], id.as_str());
        // Merging again is refused.
        let (status, again) = post(
            &app,
            &format!("/v1/persons/{id}/merge"),
            Some(&token),
            json!({"replaced": other}),
        )
        .await;
        assert_eq!(status, 409, "{again}");

        // Every change is in the audit log, naming the registrar and the person.
        let registered = audited(&app, "person.registered");
        assert_eq!(registered.len(), 2);
        assert!(registered.iter().all(|(actor, _)| actor == AGENCY));
        assert_eq!(registered[0].1.as_deref(), Some(id.as_str()));
        assert_eq!(audited(&app, "person.merged").len(), 1);

        // Status: deceased, and not before birth.
        let (status, bad) = post(
            &app,
            &format!("/v1/persons/{id}/status"),
            Some(&token),
            json!({"status": "deceased", "on": "1980-01-01"}),
        )
        .await;
        assert_eq!(status, 409, "{bad}");
        let (status, dead) = post(
            &app,
            &format!("/v1/persons/{id}/status"),
            Some(&token),
            json!({"status": "deceased", "on": "2026-12-01"}),
        )
        .await;
        assert_eq!(
            (status, dead["status"].as_str()),
            (200, Some("deceased")),
            "{dead}"
        );

        // Unknown and malformed IDs.
        let (status, body) = show(&app, &token, "00000000000").await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["code"], "bad_check_digits");
        problem_snapshot(&body);
        let unknown = identity::CommonId::generate(&mut rand::rng());
        let (status, body) = show(&app, &token, unknown.as_digits()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("unknown_person")),
            "{body}"
        );
        problem_snapshot(&body);
    }
);

storage_test!(
    only_registrars_register,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let token = agency_token(&app, &["consumer"], "common_id").await;
        let (status, body) = register(&app, &token, alice()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("insufficient_scope")),
            "{body}"
        );
        let (status, _) = post(&app, "/v1/persons", None, alice()).await;
        assert_eq!(status, 401);
    }
);

storage_test!(
    pseudonymous_registrar,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let token = agency_token(&app, &["registrar"], "sector_pseudonym").await;
        let (status, body) = register(&app, &token, alice()).await;
        assert_eq!(status, 201, "{body}");
        let pseudonym = body["id"].as_str().unwrap().to_owned();
        assert!(pseudonym.starts_with("civil:"), "{pseudonym}");
        assert!(!body.to_string().contains(&first_common_id(&app)));
        // The pseudonym is accepted on the way in, and so is the common ID.
        assert_eq!(
            show(&app, &token, &pseudonym).await.1["id"],
            pseudonym.as_str()
        );
        assert_eq!(
            show(&app, &token, &first_common_id(&app)).await.1["id"],
            pseudonym.as_str()
        );
        // Another sector's pseudonym is refused.
        let foreign = pseudonym.replacen("civil:", "tax:", 1);
        assert_eq!(
            show(&app, &token, &foreign).await.1["code"],
            "foreign_pseudonym"
        );
    }
);

fn first_common_id(app: &TestApp) -> String {
    use diesel::prelude::*;
    use hub::store::tables::persons;
    persons::table
        .select(persons::common_id)
        .first::<String>(&mut *app.conn())
        .unwrap()
}

storage_test!(
    activation_and_sign_in,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let token = agency_token(&app, &["registrar"], "common_id").await;
        let (_, a) = register(&app, &token, alice()).await;
        let bob =
            json!({"given_names": "Bob", "family_name": "Peeters", "birth_date": "1985-07-01"});
        let (_, b) = register(&app, &token, bob).await;
        let a_id = a["id"].as_str().unwrap().to_owned();
        let b_id = b["id"].as_str().unwrap().to_owned();
        let a_code = a["activation_code"].as_str().unwrap().to_owned();
        let password = "correct horse battery staple";

        // Wrong code, short password.
        let (status, body) = post(&app, "/v1/citizen/activate", None, json!({"common_id": a_id, "activation_code": "AAAA-AAAA-AAAA-AAAA", "password": password})).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("invalid_credentials")),
            "{body}"
        );
        problem_snapshot(&body);
        let (status, body) = post(
            &app,
            "/v1/citizen/activate",
            None,
            json!({"common_id": a_id, "activation_code": a_code, "password": "short"}),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        // Right code; lowercase and without hyphens works too.
        let typed = a_code.replace('-', "").to_lowercase();
        let (status, body) = post(
            &app,
            "/v1/citizen/activate",
            None,
            json!({"common_id": a_id, "activation_code": typed, "password": password}),
        )
        .await;
        assert_eq!(status, 204, "{body}");
        // Used once only; and the answer does not tell an activated account
        // from an unknown ID.
        let (status, body) = post(
            &app,
            "/v1/citizen/activate",
            None,
            json!({"common_id": a_id, "activation_code": a_code, "password": password}),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("invalid_credentials")),
            "{body}"
        );
        let (_, unknown) = post(
            &app,
            "/v1/citizen/activate",
            None,
            json!({"common_id": "85073003328", "activation_code": a_code, "password": password}),
        )
        .await;
        assert_eq!(unknown, body);

        // An expired code.
        app.clock.advance(chrono::Duration::days(31));
        let (status, body) = post(&app, "/v1/citizen/activate", None, json!({"common_id": b_id, "activation_code": b["activation_code"], "password": password})).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("activation_code_expired")),
            "{body}"
        );
        problem_snapshot(&body);

        // Sign in: the token reads A's data only.
        let req = web::TestRequest::post()
            .uri("/v1/citizen/sign-in")
            .set_json(json!({"common_id": a_id, "password": password}));
        let (status, headers, signed) = call(&app, req).await;
        assert_eq!(status, 200, "{signed}");
        let cookie = headers
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        for attribute in [
            "crossroads_session=",
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/",
        ] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        let citizen = signed["access_token"].as_str().unwrap().to_owned();
        let req = with_bearer(web::TestRequest::get().uri("/v1/citizen/me"), &citizen);
        let (status, _, me) = call(&app, req).await;
        assert_eq!(status, 200, "{me}");
        assert_eq!(me["person"]["id"], a_id.as_str());
        assert_eq!(me["person"]["family_name"], "Dupont-Lefèvre");
        // A citizen token is not an agency token: B's record stays closed.
        let (status, body) = show(&app, &citizen, &b_id).await;
        assert_eq!(status, 401, "{body}");
        // And an agency token is not a citizen token.
        let req = with_bearer(web::TestRequest::get().uri("/v1/citizen/me"), &token);
        assert_eq!(call(&app, req).await.0, 401);

        // Wrong passwords lock the account, and the right one then waits.
        for _ in 0..5 {
            let req = web::TestRequest::post()
                .uri("/v1/citizen/sign-in")
                .set_json(json!({"common_id": a_id, "password": "not the password at all"}));
            let (status, _, _) = call(&app, req).await;
            assert_eq!(status, 401);
        }
        let req = web::TestRequest::post()
            .uri("/v1/citizen/sign-in")
            .set_json(json!({"common_id": a_id, "password": password}));
        let (status, headers, body) = call(&app, req).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (429, Some("account_locked")),
            "{body}"
        );
        problem_snapshot(&body);
        assert!(headers.get("retry-after").is_some());
        // The lock is audited once, in the transaction that locked.
        let started = std::time::Instant::now();
        while audited(&app, "citizen.locked").is_empty() {
            assert!(started.elapsed() < std::time::Duration::from_secs(5));
            actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(audited(&app, "citizen.locked").len(), 1);
        app.clock.advance(chrono::Duration::minutes(2));
        let req = web::TestRequest::post()
            .uri("/v1/citizen/sign-in")
            .set_json(json!({"common_id": a_id, "password": password}));
        assert_eq!(call(&app, req).await.0, 200);
    }
);

storage_test!(
    totp_enrolment,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let password = PASSWORD;
        let (id, citizen) = signed_in_citizen(&app).await;
        let (status, offer) = post(&app, "/v1/citizen/totp", Some(&citizen), json!({})).await;
        assert_eq!(status, 200, "{offer}");
        let secret = identity::TotpSecret::from_base32(offer["secret"].as_str().unwrap()).unwrap();
        let totp = identity::Totp::default();
        let code = totp.code(&secret, app.clock.now()).unwrap();
        let (status, body) = post(
            &app,
            "/v1/citizen/totp/confirm",
            Some(&citizen),
            json!({"secret": offer["secret"], "code": code}),
        )
        .await;
        assert_eq!(status, 204, "{body}");
        // Now a password alone is not enough.
        let (status, _) = post(
            &app,
            "/v1/citizen/sign-in",
            None,
            json!({"common_id": id, "password": password}),
        )
        .await;
        assert_eq!(status, 401);
        app.clock.advance(chrono::Duration::seconds(60));
        let code = totp.code(&secret, app.clock.now()).unwrap();
        let (status, body) = post(
            &app,
            "/v1/citizen/sign-in",
            None,
            json!({"common_id": id, "password": password, "totp": code}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        // The same code does not work twice.
        let (status, _) = post(
            &app,
            "/v1/citizen/sign-in",
            None,
            json!({"common_id": id, "password": password, "totp": code}),
        )
        .await;
        assert_eq!(status, 401);
    }
);

storage_test!(
    access_log_with_proofs,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let token = agency_token(&app, &["registrar"], "common_id").await;
        let (_, a) = register(&app, &token, alice()).await;
        let bob =
            json!({"given_names": "Bob", "family_name": "Peeters", "birth_date": "1985-07-01"});
        let (_, b) = register(&app, &token, bob).await;
        let a_id = a["id"].as_str().unwrap().to_owned();
        let password = "correct horse battery staple";
        post(&app, "/v1/citizen/activate", None, json!({"common_id": a_id, "activation_code": a["activation_code"], "password": password})).await;
        let (_, signed) = post(
            &app,
            "/v1/citizen/sign-in",
            None,
            json!({"common_id": a_id, "password": password}),
        )
        .await;
        let citizen = signed["access_token"].as_str().unwrap().to_owned();

        let req = with_bearer(
            web::TestRequest::get().uri("/v1/citizen/access-log"),
            &citizen,
        );
        let (status, _, log) = call(&app, req).await;
        assert_eq!(status, 200, "{log}");
        let items = log["items"].as_array().unwrap();
        let kinds: Vec<&str> = items
            .iter()
            .map(|i| i["entry"]["kind"].as_str().unwrap())
            .collect();
        // Newest first: the sign-in, the activation, then the registration;
        // nothing of Bob's.
        assert_eq!(
            kinds,
            vec![
                "citizen.signed_in",
                "citizen.activated",
                "person.registered"
            ],
            "{log}"
        );
        assert!(!log.to_string().contains(b["id"].as_str().unwrap()));
        for item in items {
            let leaf = audit::leaf_hash(item["entry_json"].as_str().unwrap().as_bytes());
            let proof: Vec<audit::Hash> = item["inclusion_proof"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| audit::Hash::from_base64(h.as_str().unwrap()).unwrap())
                .collect();
            let key = app.state.audit.verifier_key().unwrap();
            let checkpoint =
                audit::Checkpoint::parse_and_verify(item["checkpoint"].as_str().unwrap(), &key)
                    .unwrap();
            let seq = item["seq"].as_u64().unwrap();
            audit::verify_inclusion(&leaf, seq, checkpoint.size, &proof, &checkpoint.root_hash)
                .unwrap();
        }

        // Filtering by outcome.
        let req = with_bearer(
            web::TestRequest::get().uri("/v1/citizen/access-log?outcome=denied"),
            &citizen,
        );
        let (_, _, log) = call(&app, req).await;
        assert!(log["items"].as_array().unwrap().is_empty());
        // Without a citizen token: nothing.
        let req = with_bearer(
            web::TestRequest::get().uri("/v1/citizen/access-log"),
            &token,
        );
        assert_eq!(call(&app, req).await.0, 401);
    }
);

storage_test!(
    the_second_factor_changes_only_with_password_and_code,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let password = PASSWORD;
        let (id, citizen) = signed_in_citizen(&app).await;
        let totp = identity::Totp::default();
        let offer = |app: &TestApp| {
            let citizen = citizen.clone();
            let app = app.state.clone();
            async move {
                let service = actix_web::test::init_service(hub::http::app(app)).await;
                let req = with_bearer(web::TestRequest::post().uri("/v1/citizen/totp"), &citizen)
                    .set_json(json!({}))
                    .to_request();
                let body: Value = actix_web::test::call_and_read_body_json(&service, req).await;
                let text = body["secret"].as_str().unwrap().to_owned();
                (identity::TotpSecret::from_base32(&text).unwrap(), text)
            }
        };
        let (first, first_text) = offer(&app).await;
        let code = totp.code(&first, app.clock.now()).unwrap();
        let (status, body) = post(
            &app,
            "/v1/citizen/totp/confirm",
            Some(&citizen),
            json!({"secret": first_text, "code": code}),
        )
        .await;
        assert_eq!(status, 204, "{body}");

        // Stored sealed: the secret is nowhere in the row.
        let stored = hub::store::persons::account(&mut app.conn(), &id)
            .unwrap()
            .unwrap()
            .totp_secret
            .unwrap();
        assert!(stored.starts_with("v1."), "{stored}");
        assert!(!stored.contains(&first_text), "{stored}");

        // A stolen bearer token alone cannot replace it, nor with a wrong
        // password, nor without the old factor's code.
        app.clock.advance(chrono::Duration::seconds(30));
        let (second, second_text) = offer(&app).await;
        let new_code = totp.code(&second, app.clock.now()).unwrap();
        let old_code = totp.code(&first, app.clock.now()).unwrap();
        for body in [
            json!({"secret": second_text, "code": new_code}),
            json!({"secret": second_text, "code": new_code, "password": "wrong", "current_code": old_code}),
            json!({"secret": second_text, "code": new_code, "password": password}),
        ] {
            let (status, answer) = post(
                &app,
                "/v1/citizen/totp/confirm",
                Some(&citizen),
                body.clone(),
            )
            .await;
            assert_eq!(
                (status, answer["code"].as_str()),
                (401, Some("invalid_credentials")),
                "{body}: {answer}"
            );
        }
        assert!(audited(&app, "citizen.totp_changed").is_empty());
        // With both, it is replaced (and audited).
        let (status, answer) = post(
            &app,
            "/v1/citizen/totp/confirm",
            Some(&citizen),
            json!({"secret": second_text, "code": new_code, "password": password, "current_code": old_code}),
        )
        .await;
        assert_eq!(status, 204, "{answer}");
        assert_eq!(audited(&app, "citizen.totp_changed").len(), 1);

        // Removing it needs the password and a current code too.
        app.clock.advance(chrono::Duration::seconds(30));
        let remove = |body: Value| {
            with_bearer(web::TestRequest::delete().uri("/v1/citizen/totp"), &citizen).set_json(body)
        };
        let now_code = totp.code(&second, app.clock.now()).unwrap();
        let (status, _, answer) =
            call(&app, remove(json!({"password": "wrong", "code": now_code}))).await;
        assert_eq!(status, 401, "{answer}");
        let stale = totp.code(&first, app.clock.now()).unwrap();
        let (status, _, answer) =
            call(&app, remove(json!({"password": password, "code": stale}))).await;
        assert_eq!(status, 401, "the old factor's code: {answer}");
        let (status, _, answer) = call(
            &app,
            remove(json!({"password": password, "code": now_code})),
        )
        .await;
        assert_eq!(status, 204, "{answer}");
        assert_eq!(audited(&app, "citizen.totp_removed").len(), 1);
        let (status, body) = post(
            &app,
            "/v1/citizen/sign-in",
            None,
            json!({"common_id": id, "password": password}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
);

storage_test!(
    secrets_stored_in_plaintext_are_sealed_by_the_migration,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let password = PASSWORD;
        let id = activated_citizen(&app).await;
        // A secret stored before secrets were sealed.
        let plain = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
        hub::store::persons::set_totp(
            &mut app.conn(),
            &id,
            Some(plain),
            None,
            false,
            app.clock.now(),
        )
        .unwrap();
        hub::app::server::migrate(&app.state).unwrap();
        let stored = hub::store::persons::account(&mut app.conn(), &id)
            .unwrap()
            .unwrap()
            .totp_secret
            .unwrap();
        assert!(
            stored.starts_with("v1.") && !stored.contains(plain),
            "{stored}"
        );
        // It still signs in with a code of the same secret.
        let secret = identity::TotpSecret::from_base32(plain).unwrap();
        let code = identity::Totp::default()
            .code(&secret, app.clock.now())
            .unwrap();
        let (status, body) = post(
            &app,
            "/v1/citizen/sign-in",
            None,
            json!({"common_id": id, "password": password, "totp": code}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
);

storage_test!(
    parallel_activations_with_one_code_activate_once,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let token = agency_token(&app, &["registrar"], "common_id").await;
        let (_, a) = register(&app, &token, alice()).await;
        let id = a["id"].as_str().unwrap().to_owned();
        let code = a["activation_code"].as_str().unwrap().to_owned();
        // 16 activations with the right code and different passwords at
        // once: one wins, the others are refused, and the password that
        // works is the winner's.
        let tries = (0..16).map(|i| {
            post(
                &app,
                "/v1/citizen/activate",
                None,
                json!({"common_id": id, "activation_code": code, "password": format!("correct horse battery staple {i}")}),
            )
        });
        let answers = futures_util::future::join_all(tries).await;
        let won: Vec<usize> = answers
            .iter()
            .enumerate()
            .filter(|(_, (s, _))| *s == 204)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(won.len(), 1, "{answers:?}");
        assert!(
            answers
                .iter()
                .all(|(s, b)| *s == 204 || b["code"] == "invalid_credentials"),
            "{answers:?}"
        );
        assert_eq!(audited(&app, "citizen.activated").len(), 1);
        let (status, body) = post(
            &app,
            "/v1/citizen/sign-in",
            None,
            json!({"common_id": id, "password": format!("correct horse battery staple {}", won[0])}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
);
