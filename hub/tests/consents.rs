//! Purposes, authorizations, consents and the access decision, on both
//! backends.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use actix_web::test as web;
use chrono::{DateTime, Duration, Utc};
use common::*;
use consent::{ConsentId, DenyCode, PurposeCode};
use hub::dev::testing::TestApp;
use hub::services::access::{self, AccessQuery};
use hub::storage_test;
use identity::{AgencyId, CommonId, Role, Sector};
use serde_json::{Value, json};

const FIELDS: [&str; 4] = ["/commonId", "/addressType", "/since", "/address"];

async fn publish(app: &TestApp, op: &str, id: &str, consent_required: bool, from: DateTime<Utc>) {
    let (status, body) = send(
        app,
        "POST",
        "/v1/admin/authorizations",
        op,
        Some(json!({
            "id": id,
            "consumer": {"agency": AGENCY},
            "record_type": "person.address",
            "major": 1,
            "fields": FIELDS,
            "purposes": ["benefit-eligibility"],
            "legal_reference": legal(),
            "valid_from": from,
            "consent_required": consent_required,
        })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

async fn request_consent(app: &TestApp, w: &World, frequency: Value) -> Value {
    let until = app.clock.now() + Duration::days(30);
    let (status, body) = send(
        app,
        "POST",
        "/v1/consents/requests",
        &w.agency,
        Some(json!({
            "person": w.person,
            "record_types": ["person.address@1"],
            "purpose": "benefit-eligibility",
            "valid_until": until,
            "frequency": frequency,
        })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body
}

fn kinds(app: &TestApp, kind: &str) -> usize {
    audited(app, kind).len()
}

storage_test!(
    lifecycle_over_http,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let w = world(&app).await;
        publish(&app, &w.op, "auth-address", true, app.clock.now()).await;
        let requested = request_consent(&app, &w, json!({"kind": "once"})).await;
        assert_eq!(requested["state"], "pending");
        assert_eq!(requested["person"], w.person.as_str());
        let id = requested["id"].as_str().unwrap().to_owned();

        // The citizen sees the request with the agency's name and the purpose's title.
        let (status, mine) = send(&app, "GET", "/v1/citizen/consents", &w.citizen, None).await;
        assert_eq!(status, 200, "{mine}");
        assert_eq!(mine[0]["id"], id.as_str());
        assert_eq!(mine[0]["agency_name"], "Population Register");
        assert_eq!(mine[0]["purpose_title"], "Title of benefit-eligibility");

        // No artefact while pending; illegal transitions are refused.
        let artefact = format!("/v1/citizen/consents/{id}/artefact");
        let (status, body) = send(&app, "GET", &artefact, &w.citizen, None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("consent_not_active"))
        );
        problem_snapshot(&body);
        for action in ["pause", "resume", "revoke"] {
            let uri = format!("/v1/citizen/consents/{id}/{action}");
            let (status, body) = send(&app, "POST", &uri, &w.citizen, None).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (409, Some("illegal_transition")),
                "{action}: {body}"
            );
            if action == "pause" {
                problem_snapshot(&body);
            }
        }

        // Another citizen can neither see nor change it.
        let (_, other) = citizen(&app, &w.agency, "Bert").await;
        let (status, list) = send(&app, "GET", "/v1/citizen/consents", &other, None).await;
        assert_eq!((status, list.as_array().map(Vec::len)), (200, Some(0)));
        for action in ["approve", "reject"] {
            let uri = format!("/v1/citizen/consents/{id}/{action}");
            let (status, body) = send(&app, "POST", &uri, &other, None).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (404, Some("consent_not_found"))
            );
            problem_snapshot(&body);
        }
        let (status, _) = send(&app, "GET", &artefact, &other, None).await;
        assert_eq!(status, 404);

        // approve → pause → resume → revoke, each refused when repeated.
        let steps = [
            ("approve", "active", "consent.approved"),
            ("pause", "paused", "consent.paused"),
            ("resume", "active", "consent.resumed"),
            ("revoke", "revoked", "consent.revoked"),
        ];
        let mut revision = 1;
        for (action, state, kind) in steps {
            let uri = format!("/v1/citizen/consents/{id}/{action}");
            let (status, body) = send(&app, "POST", &uri, &w.citizen, None).await;
            assert_eq!(status, 200, "{action}: {body}");
            assert_eq!(body["state"], state);
            revision += 1;
            assert_eq!(body["revision"], revision);
            let (status, body) = send(&app, "POST", &uri, &w.citizen, None).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (409, Some("illegal_transition")),
                "{action} twice"
            );
            assert_eq!(
                audited(&app, kind),
                vec![(w.person.clone(), Some(w.person.clone()))]
            );
            if state == "active" {
                let (status, _, token) = call(
                    &app,
                    with_bearer(web::TestRequest::get().uri(&artefact), &w.citizen),
                )
                .await;
                assert_eq!(status, 200);
                let (_, _, jwks) =
                    call(&app, web::TestRequest::get().uri("/.well-known/jwks.json")).await;
                let keys = identity::keys::JwkSet::from_json(&jwks).unwrap();
                let claims =
                    consent::verify_artefact(token.as_str().unwrap(), &keys, app.clock.now())
                        .unwrap();
                assert_eq!(claims.consent_id.as_str(), id);
                assert_eq!(claims.revision, revision);
                assert_eq!(claims.aud.as_str(), AGENCY);
            }
        }
        // A final state is final.
        let uri = format!("/v1/citizen/consents/{id}/resume");
        let (status, _) = send(&app, "POST", &uri, &w.citizen, None).await;
        assert_eq!(status, 409);
        let (status, _) = send(&app, "GET", &uri, &w.citizen, None).await;
        assert_eq!(status, 405);

        // A second request is rejected.
        let second = request_consent(&app, &w, json!({"kind": "once"})).await;
        let sid = second["id"].as_str().unwrap();
        let uri = format!("/v1/citizen/consents/{sid}/reject");
        let (status, body) = send(&app, "POST", &uri, &w.citizen, None).await;
        assert_eq!((status, body["state"].as_str()), (200, Some("rejected")));
        let uri = format!("/v1/citizen/consents/{sid}/approve");
        let (status, _) = send(&app, "POST", &uri, &w.citizen, None).await;
        assert_eq!(status, 409);
        assert_eq!(kinds(&app, "consent.requested"), 2);
        assert_eq!(kinds(&app, "consent.rejected"), 1);

        // The agency polls the changes, page by page.
        let (status, page) =
            send(&app, "GET", "/v1/consents/events?limit=3", &w.agency, None).await;
        assert_eq!(status, 200, "{page}");
        let seen: Vec<&str> = page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(seen, ["approved", "paused", "resumed"]);
        let next = page["next_after"].as_i64().unwrap();
        let uri = format!("/v1/consents/events?after={next}");
        let (_, page) = send(&app, "GET", &uri, &w.agency, None).await;
        let rest: Vec<(&str, &str)> = page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap(),
                    e["consent_id"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(rest, [("revoked", id.as_str()), ("rejected", sid)]);
        assert_eq!(page["events"][0]["person"], w.person.as_str());
        let uri = format!("/v1/consents/events?after={}", page["next_after"]);
        let (_, page) = send(&app, "GET", &uri, &w.agency, None).await;
        assert_eq!(page["events"].as_array().map(Vec::len), Some(0));
    }
);

storage_test!(
    agency_api_and_expiry,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let mut w = world(&app).await;
        // Unknown purpose, unknown record type, unknown person.
        let until = app.clock.now() + Duration::days(10);
        for (body, code) in [
            (
                json!({"person": w.person, "record_types": ["person.address@1"], "purpose": "fishing", "valid_until": until, "frequency": {"kind": "once"}}),
                "unknown_purpose",
            ),
            (
                json!({"person": w.person, "record_types": ["person.shoe-size@1"], "purpose": "tax-assessment", "valid_until": until, "frequency": {"kind": "once"}}),
                "unknown_record_type",
            ),
            (
                json!({"person": w.person, "record_types": ["person.address@1"], "purpose": "tax-assessment", "valid_until": app.clock.now(), "frequency": {"kind": "once"}}),
                "consent_empty_window",
            ),
        ] {
            let (status, body) =
                send(&app, "POST", "/v1/consents/requests", &w.agency, Some(body)).await;
            assert_eq!((status, body["code"].as_str()), (422, Some(code)), "{body}");
        }

        // The citizen grants directly: active at once, the agency is told.
        let (status, granted) = send(
            &app,
            "POST",
            "/v1/citizen/consents",
            &w.citizen,
            Some(json!({"agency": AGENCY, "record_types": ["person.address@1"], "purpose": "tax-assessment", "valid_until": until, "frequency": {"kind": "max_per", "count": 2, "period": "month"}})),
        )
        .await;
        assert_eq!(status, 201, "{granted}");
        assert_eq!(granted["state"], "active");
        let id = granted["id"].as_str().unwrap().to_owned();
        assert_eq!(kinds(&app, "consent.granted"), 1);
        // Only an agency whose authorization needs the person's consent may
        // ask for it: none yet.
        let ask = json!({"person": w.person, "record_types": ["person.address@1"], "purpose": "benefit-eligibility", "valid_until": until, "frequency": {"kind": "once"}});
        let (status, body) = send(
            &app,
            "POST",
            "/v1/consents/requests",
            &w.agency,
            Some(ask.clone()),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("no_consent_authorization")),
            "{body}"
        );
        problem_snapshot(&body);
        // Nor under an authorization that does not need consent, nor for
        // another purpose than the authorization's.
        publish(&app, &w.op, "auth-no-consent", false, app.clock.now()).await;
        let (status, body) = send(
            &app,
            "POST",
            "/v1/consents/requests",
            &w.agency,
            Some(ask.clone()),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("no_consent_authorization"))
        );
        publish(&app, &w.op, "auth-address", true, app.clock.now()).await;
        let mut other = ask.clone();
        other["purpose"] = json!("tax-assessment");
        let (status, body) = send(
            &app,
            "POST",
            "/v1/consents/requests",
            &w.agency,
            Some(other),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("no_consent_authorization"))
        );
        let pending = request_consent(&app, &w, json!({"kind": "once"})).await;

        // The agency's views.
        let (status, list) = send(&app, "GET", "/v1/consents", &w.agency, None).await;
        assert_eq!(
            (status, list.as_array().map(Vec::len)),
            (200, Some(2)),
            "{list}"
        );
        let uri = format!("/v1/consents?person={}&state=active", w.person);
        let (_, list) = send(&app, "GET", &uri, &w.agency, None).await;
        assert_eq!(list.as_array().map(Vec::len), Some(1));
        assert_eq!(list[0]["id"], id.as_str());
        let (status, body) = send(&app, "GET", "/v1/consents?state=sleepy", &w.agency, None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("invalid_state"))
        );
        problem_snapshot(&body);
        let (status, shown) =
            send(&app, "GET", &format!("/v1/consents/{id}"), &w.agency, None).await;
        assert_eq!(
            (status, shown["purpose"].as_str()),
            (200, Some("tax-assessment"))
        );
        let (status, _) = send(&app, "GET", "/v1/consents/cns-nope", &w.agency, None).await;
        assert_eq!(status, 404);
        let (status, headers, token) = call(
            &app,
            with_bearer(
                web::TestRequest::get().uri(&format!("/v1/consents/{id}/artefact")),
                &w.agency,
            ),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(headers.get("content-type").unwrap(), "application/jose");
        assert_eq!(token.as_str().unwrap().split('.').count(), 3);
        let uri = format!("/v1/consents/{}/artefact", pending["id"].as_str().unwrap());
        let (status, _) = send(&app, "GET", &uri, &w.agency, None).await;
        assert_eq!(status, 409);
        // A citizen token is not an agency token, and the reverse.
        let (status, _) = send(&app, "GET", "/v1/consents", &w.citizen, None).await;
        assert_eq!(status, 401);
        let (status, _) = send(&app, "GET", "/v1/citizen/consents", &w.agency, None).await;
        assert_eq!(status, 401);

        // Past the window: expired when read, recorded once, and the agency told.
        app.clock.advance(Duration::days(11));
        w.refresh(&app).await;
        let (_, mine) = send(&app, "GET", "/v1/citizen/consents", &w.citizen, None).await;
        let states: Vec<&str> = mine
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["state"].as_str().unwrap())
            .collect();
        assert!(states.contains(&"expired"), "{mine}");
        let (_, _) = send(&app, "GET", "/v1/citizen/consents", &w.citizen, None).await;
        assert_eq!(kinds(&app, "consent.expired"), 1);
        let uri = format!("/v1/citizen/consents/{id}/resume");
        let (status, body) = send(&app, "POST", &uri, &w.citizen, None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("illegal_transition"))
        );
        let (_, page) = send(&app, "GET", "/v1/consents/events", &w.agency, None).await;
        let seen: Vec<&str> = page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(seen, ["granted", "expired"]);
        let uri = format!("/v1/citizen/consents/{id}/artefact");
        let (status, _) = send(&app, "GET", &uri, &w.citizen, None).await;
        assert_eq!(status, 409);

        // Who may see my data by law; the agency's own authorizations.
        let (status, laws) =
            send(&app, "GET", "/v1/citizen/authorizations", &w.citizen, None).await;
        assert_eq!(status, 200, "{laws}");
        let with_consent: Vec<&Value> = laws
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["consent_required"] == true)
            .collect();
        assert_eq!(with_consent.len(), 1, "{laws}");
        assert_eq!(with_consent[0]["legal_reference"], legal());
        assert_eq!(with_consent[0]["consumer"]["agency"], AGENCY);
        let (status, mine) = send(&app, "GET", "/v1/authorizations", &w.agency, None).await;
        assert_eq!((status, mine.as_array().map(Vec::len)), (200, Some(2)));
        let (status, _) = send(&app, "GET", "/v1/purposes", "", None).await;
        assert_eq!(status, 200);
    }
);

fn query(person: &str, purpose: &str, version: &str, consent: Option<&str>) -> AccessQuery {
    AccessQuery {
        agency: AGENCY.parse::<AgencyId>().unwrap(),
        agency_sector: Sector::Civil,
        agency_roles: vec![Role::Consumer, Role::Registrar],
        person: person.parse::<CommonId>().unwrap(),
        record_type: schemas::RecordType::parse(&format!("person.address@{version}")).unwrap(),
        purpose: PurposeCode::parse(purpose).unwrap(),
        consent_id: consent.map(|c| ConsentId::parse(c).unwrap()),
    }
}

async fn decide(app: &TestApp, q: AccessQuery) -> consent::Decision {
    let state = app.state.clone();
    let at = app.clock.now();
    app.state
        .db(move |conn| access::decide(conn, &state, &q, at))
        .await
        .unwrap()
        .0
}

async fn deny(app: &TestApp, q: AccessQuery) -> Option<DenyCode> {
    decide(app, q).await.deny_code()
}

/// Spends one use of a consent, as a permitted lookup does.
async fn use_consent(app: &TestApp, id: &str) {
    let reservation = access::Reservation {
        consent: ConsentId::parse(id).unwrap(),
        since: chrono::DateTime::UNIX_EPOCH,
        limit: u32::MAX,
    };
    let at = app.clock.now();
    let exchange = format!("exc-{}", uuid::Uuid::new_v4().simple());
    let refused = app
        .state
        .db(move |conn| access::reserve(conn, &reservation, &exchange, at))
        .await
        .unwrap();
    assert!(refused.is_none(), "{refused:?}");
}

storage_test!(
    access_decisions,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let mut w = world(&app).await;
        let person = w.person.clone();
        let p = person.as_str();
        let q = |purpose: &str| query(p, purpose, "1.0", None);

        assert_eq!(
            deny(&app, q("benefit-eligibility")).await,
            Some(DenyCode::NoAuthorization)
        );
        // In force from tomorrow only.
        let tomorrow = app.clock.now() + Duration::days(1);
        publish(&app, &w.op, "auth-address", true, tomorrow).await;
        assert_eq!(
            deny(&app, q("benefit-eligibility")).await,
            Some(DenyCode::AuthorizationNotInForce)
        );
        app.clock.advance(Duration::days(2));
        w.refresh(&app).await;
        assert_eq!(
            deny(&app, q("tax-assessment")).await,
            Some(DenyCode::PurposeNotAllowed)
        );
        assert_eq!(
            deny(&app, q("benefit-eligibility")).await,
            Some(DenyCode::ConsentRequired)
        );
        // Another major version has no authorization.
        assert_eq!(
            deny(&app, query(p, "benefit-eligibility", "2.0", None)).await,
            Some(DenyCode::NoAuthorization)
        );

        let c = request_consent(
            &app,
            &w,
            json!({"kind": "max_per", "count": 2, "period": "day"}),
        )
        .await;
        let id = c["id"].as_str().unwrap().to_owned();
        assert_eq!(
            deny(&app, q("benefit-eligibility")).await,
            Some(DenyCode::ConsentPending)
        );
        let act = |action: &str| format!("/v1/citizen/consents/{id}/{action}");
        send(&app, "POST", &act("approve"), &w.citizen, None).await;
        match decide(&app, q("benefit-eligibility")).await {
            consent::Decision::Permit {
                authorization,
                consent,
                fields,
            } => {
                assert_eq!(authorization.id.as_str(), "auth-address");
                assert_eq!(authorization.version, 1);
                assert_eq!(consent.map(|c| c.to_string()), Some(id.clone()));
                assert_eq!(fields, FIELDS);
            }
            other => panic!("expected a permit, got {other:?}"),
        }
        // Two uses a day.
        use_consent(&app, &id).await;
        assert!(decide(&app, q("benefit-eligibility")).await.is_permit());
        use_consent(&app, &id).await;
        assert_eq!(
            deny(&app, q("benefit-eligibility")).await,
            Some(DenyCode::ConsentUseExhausted)
        );
        app.clock.advance(Duration::days(1));
        w.refresh(&app).await;
        assert!(
            decide(&app, query(p, "benefit-eligibility", "1.1", Some(&id)))
                .await
                .is_permit()
        );

        send(&app, "POST", &act("pause"), &w.citizen, None).await;
        assert_eq!(
            deny(&app, q("benefit-eligibility")).await,
            Some(DenyCode::ConsentPaused)
        );
        send(&app, "POST", &act("resume"), &w.citizen, None).await;
        assert!(decide(&app, q("benefit-eligibility")).await.is_permit());

        // Suspended agency.
        let (status, _) = send(
            &app,
            "POST",
            &format!("/v1/admin/agencies/{AGENCY}/suspend"),
            &w.op,
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            deny(&app, q("benefit-eligibility")).await,
            Some(DenyCode::AgencySuspended)
        );
        let (status, _) = send(
            &app,
            "POST",
            &format!("/v1/admin/agencies/{AGENCY}/reactivate"),
            &w.op,
            None,
        )
        .await;
        assert_eq!(status, 200);

        // Expiry, recorded by the decision itself.
        app.clock.advance(Duration::days(40));
        w.refresh(&app).await;
        assert_eq!(
            deny(&app, q("benefit-eligibility")).await,
            Some(DenyCode::ConsentExpired)
        );
        assert_eq!(kinds(&app, "consent.expired"), 1);
        let (_, mine) = send(&app, "GET", "/v1/citizen/consents", &w.citizen, None).await;
        assert_eq!(mine[0]["state"], "expired");

        // Revocation.
        let c = request_consent(&app, &w, json!({"kind": "once"})).await;
        let id = c["id"].as_str().unwrap().to_owned();
        let act = |action: &str| format!("/v1/citizen/consents/{id}/{action}");
        send(&app, "POST", &act("approve"), &w.citizen, None).await;
        assert!(decide(&app, q("benefit-eligibility")).await.is_permit());
        send(&app, "POST", &act("revoke"), &w.citizen, None).await;
        assert_eq!(
            deny(&app, query(p, "benefit-eligibility", "1.0", Some(&id))).await,
            Some(DenyCode::ConsentRevoked)
        );

        // An inactive person.
        {
            use diesel::prelude::*;
            use hub::store::tables::persons;
            diesel::update(persons::table.filter(persons::common_id.eq(p)))
                .set(persons::status.eq("inactive"))
                .execute(&mut *app.conn())
                .unwrap();
        }
        assert_eq!(
            deny(&app, q("benefit-eligibility")).await,
            Some(DenyCode::PersonInactive)
        );
    }
);

storage_test!(
    supersession,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let w = world(&app).await;
        let p = w.person.as_str();
        let start = app.clock.now();
        publish(&app, &w.op, "auth-address", false, start).await;
        // A grant the registry refuses; a duplicate id.
        let (status, body) = send(
            &app,
            "POST",
            "/v1/admin/authorizations",
            &w.op,
            Some(json!({"consumer": {"agency": AGENCY}, "record_type": "person.address", "major": 1, "fields": ["/shoeSize"], "purposes": ["tax-assessment"], "legal_reference": legal(), "consent_required": false})),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("grant_invalid")),
            "{body}"
        );
        problem_snapshot(&body);
        let (status, body) = send(
            &app,
            "POST",
            "/v1/admin/authorizations",
            &w.op,
            Some(json!({"consumer": {"agency": AGENCY}, "record_type": "person.address", "major": 9, "fields": FIELDS, "purposes": ["tax-assessment"], "legal_reference": legal(), "consent_required": false})),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("unknown_record_type")),
            "{body}"
        );
        problem_snapshot(&body);
        let (status, body) = send(
            &app,
            "POST",
            "/v1/admin/authorizations",
            &w.op,
            Some(json!({"id": "auth-address", "consumer": {"sector": "tax", "role": "consumer"}, "record_type": "person.address", "major": 1, "fields": FIELDS, "purposes": ["tax-assessment"], "legal_reference": legal(), "consent_required": false})),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("authorization_exists")),
            "{body}"
        );
        problem_snapshot(&body);

        // Version 2 from in ten days: the tax purpose instead, with consent.
        let from = start + Duration::days(10);
        let (status, v2) = send(
            &app,
            "POST",
            "/v1/admin/authorizations/auth-address/versions",
            &w.op,
            Some(json!({"from": from, "consumer": {"agency": AGENCY}, "record_type": "person.address", "major": 1, "fields": FIELDS, "purposes": ["tax-assessment"], "legal_reference": legal(), "consent_required": false})),
        )
        .await;
        assert_eq!(status, 201, "{v2}");
        assert_eq!(v2["version"], 2);
        let (status, history) = send(
            &app,
            "GET",
            "/v1/admin/authorizations/auth-address",
            &w.op,
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(history.as_array().map(Vec::len), Some(2));
        assert_eq!(history[0]["superseded_from"], v2["valid_from"]);
        assert_eq!(history[0]["in_force"], true);
        assert_eq!(history[1]["in_force"], false);
        let (_, all) = send(&app, "GET", "/v1/admin/authorizations", &w.op, None).await;
        assert_eq!(all.as_array().map(Vec::len), Some(2));
        let (status, _) = send(
            &app,
            "GET",
            "/v1/admin/authorizations/auth-none",
            &w.op,
            None,
        )
        .await;
        assert_eq!(status, 404);
        let (status, _) = send(&app, "POST", "/v1/admin/authorizations/auth-none/versions", &w.op, Some(json!({"from": from, "consumer": {"agency": AGENCY}, "record_type": "person.address", "major": 1, "fields": FIELDS, "purposes": ["tax-assessment"], "legal_reference": legal(), "consent_required": false}))).await;
        assert_eq!(status, 404);
        assert_eq!(kinds(&app, "authorization.published"), 1);
        assert_eq!(kinds(&app, "authorization.superseded"), 1);
        assert_eq!(kinds(&app, "purpose.created"), 2);

        let benefit = query(p, "benefit-eligibility", "1.0", None);
        let tax = query(p, "tax-assessment", "1.0", None);
        assert!(decide(&app, benefit.clone()).await.is_permit());
        assert_eq!(
            deny(&app, tax.clone()).await,
            Some(DenyCode::PurposeNotAllowed)
        );
        app.clock.set(from - Duration::seconds(1));
        assert!(decide(&app, benefit.clone()).await.is_permit());
        app.clock.set(from);
        assert_eq!(deny(&app, benefit).await, Some(DenyCode::PurposeNotAllowed));
        match decide(&app, tax).await {
            consent::Decision::Permit { authorization, .. } => assert_eq!(authorization.version, 2),
            other => panic!("expected a permit, got {other:?}"),
        }
    }
);

storage_test!(
    an_unsettled_reservation_is_audited_as_interrupted,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        // A lookup reserved a use of a consent, then its process died
        // before the lookup's entry was appended: the reservation stays
        // pending.
        let w = world(&app).await;
        publish(&app, &w.op, "auth-address", true, app.clock.now()).await;
        let requested = request_consent(&app, &w, json!({"kind": "once"})).await;
        let id = requested["id"].as_str().unwrap().to_owned();
        let path = format!("/v1/citizen/consents/{id}/approve");
        let (status, body) = send(&app, "POST", &path, &w.citizen, Some(json!({}))).await;
        assert_eq!(status, 200, "{body}");
        use_consent(&app, &id).await;
        assert_eq!(kinds(&app, "lookup.interrupted"), 0);

        // Once no lookup can still be running, the sequencer audits it,
        // once, and the use stays spent.
        app.clock.advance(Duration::seconds(
            i64::from(app.state.config.lookup_interrupted_after_secs) + 1,
        ));
        app.state.audit.start().unwrap();
        let started = std::time::Instant::now();
        while kinds(&app, "lookup.interrupted") == 0 {
            assert!(started.elapsed() < std::time::Duration::from_secs(10));
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
        let found = audited(&app, "lookup.interrupted");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0], (AGENCY.to_owned(), Some(w.person.clone())));
        // Settled by that entry, still counted.
        use diesel::prelude::*;
        use hub::store::tables::consent_uses;
        let uses: Vec<bool> = consent_uses::table
            .filter(consent_uses::consent_id.eq(&id))
            .select(consent_uses::pending)
            .load(&mut *app.conn())
            .unwrap();
        assert_eq!(uses, vec![false]);
    }
);

storage_test!(
    pending_requests_are_capped_under_parallel_asks,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        // 16 parallel requests of one agency to one person: no more than the
        // cap are pending afterwards, the rest are refused 409.
        let w = world(&app).await;
        publish(&app, &w.op, "auth-address", true, app.clock.now()).await;
        let until = app.clock.now() + Duration::days(30);
        let ask = json!({"person": w.person, "record_types": ["person.address@1"], "purpose": "benefit-eligibility", "valid_until": until, "frequency": {"kind": "once"}});
        let asks = (0..16).map(|_| {
            send(
                &app,
                "POST",
                "/v1/consents/requests",
                &w.agency,
                Some(ask.clone()),
            )
        });
        let answers = futures_util::future::join_all(asks).await;
        let cap = app.state.config.consent_requests_pending_max as usize;
        let created = answers.iter().filter(|(s, _)| *s == 201).count();
        let capped = answers
            .iter()
            .filter(|(s, b)| *s == 409 && b["code"] == "too_many_pending_requests")
            .count();
        assert_eq!((created, capped), (cap, 16 - cap), "{answers:?}");
        let uri = format!("/v1/consents?person={}&state=pending", w.person);
        let (_, list) = send(&app, "GET", &uri, &w.agency, None).await;
        assert_eq!(list.as_array().map(Vec::len), Some(cap));
        assert_eq!(kinds(&app, "consent.requested"), cap);
    }
);
