//! The citizen portal through the app: sign-in with CSRF, the security
//! headers, session expiry, and that no citizen can see or act on
//! another's consents — on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use std::collections::HashMap;

use actix_web::test as web;
use chrono::Duration;
use common::*;
use hub::dev::testing::TestApp;
use hub::storage_test;
use serde_json::{Value, json};

/// A browser's cookie jar.
#[derive(Default)]
struct Browser {
    cookies: HashMap<String, String>,
    lang: Option<&'static str>,
}

struct Page {
    status: u16,
    headers: actix_web::http::header::HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get("location")
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }

    fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).expect("a form with a CSRF token") + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }
}

impl Browser {
    async fn go(
        &mut self,
        app: &TestApp,
        method: &str,
        uri: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Page {
        let mut req = match method {
            "GET" => web::TestRequest::get(),
            _ => web::TestRequest::post(),
        }
        .uri(uri);
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.insert_header(("cookie", jar.join("; ")));
        }
        if let Some(lang) = self.lang {
            req = req.insert_header(("accept-language", lang));
        }
        if let Some(form) = form {
            req = req.set_form(form);
        }
        let (status, headers, body) = app.send(req).await;
        let status = status.as_u16();
        for value in headers.get_all("set-cookie") {
            let cookie =
                actix_web::cookie::Cookie::parse(value.to_str().unwrap().to_owned()).unwrap();
            let removed = cookie
                .max_age()
                .is_some_and(|a| a.is_zero() || a.is_negative());
            if removed {
                self.cookies.remove(cookie.name());
            } else {
                self.cookies
                    .insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
        let body = String::from_utf8(body).unwrap();
        Page {
            status,
            headers,
            body,
        }
    }

    async fn sign_in(&mut self, app: &TestApp, id: &str) -> Page {
        let form = self.go(app, "GET", "/portal/sign-in", None).await;
        assert_eq!(form.status, 200);
        let csrf = form.csrf();
        self.go(
            app,
            "POST",
            "/portal/sign-in",
            Some(&[
                ("csrf", &csrf),
                ("common_id", id),
                ("password", PASSWORD),
                ("totp", ""),
            ]),
        )
        .await
    }

    /// The CSRF token of the session's forms.
    async fn session_csrf(&mut self, app: &TestApp) -> String {
        let page = self.go(app, "GET", "/portal/consents", None).await;
        assert_eq!(page.status, 200, "{}", page.body);
        page.csrf()
    }
}

async fn person(app: &TestApp, agency: &str, given: &str) -> String {
    activated(app, agency, peeters(given)).await
}

async fn request_consent(app: &TestApp, agency: &str, person: &str) -> String {
    let op = operator_token(app);
    let req = with_bearer(web::TestRequest::post().uri("/v1/admin/purposes"), &op).set_json(json!({
        "code": "benefit-eligibility", "title": "Checking eligibility for a benefit", "description": "",
        "legal_reference": {"title": "Law of 15 January 1990, art. 5", "url": "https://example.gov/law/1990#art5"},
    }));
    let (status, _, body) = call(app, req).await;
    assert!(status == 201 || status == 409, "{body}");
    // An authorization that needs the person's consent: only under one may
    // the agency ask.
    let req = with_bearer(web::TestRequest::post().uri("/v1/admin/authorizations"), &op).set_json(json!({
        "consumer": {"agency": AGENCY}, "record_type": "person.address", "major": 1,
        "fields": ["/commonId", "/addressType", "/since", "/address/street", "/address/houseNumber",
                   "/address/postcode", "/address/municipality", "/address/country"],
        "purposes": ["benefit-eligibility"],
        "legal_reference": {"title": "Law of 15 January 1990, art. 5", "url": "https://example.gov/law/1990#art5"},
        "consent_required": true,
    }));
    let (status, _, body) = call(app, req).await;
    assert_eq!(status, 201, "{body}");
    let until = app.clock.now() + Duration::days(30);
    let req = with_bearer(
        web::TestRequest::post().uri("/v1/consents/requests"),
        agency,
    )
    .set_json(json!({
        "person": person, "record_types": ["person.address@1"], "purpose": "benefit-eligibility",
        "valid_until": until, "frequency": {"kind": "once"},
    }));
    let (status, _, body) = call(app, req).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

fn consent_state(app: &TestApp, id: &str) -> String {
    use diesel::prelude::*;
    use hub::store::tables::consents;
    consents::table
        .find(id)
        .select(consents::state)
        .first::<String>(&mut *app.conn())
        .unwrap()
}

fn assert_secure_headers(page: &Page) {
    let header = |name: &str| {
        page.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        header("content-security-policy").as_deref(),
        Some(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
    );
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(header("referrer-policy").as_deref(), Some("no-referrer"));
}

storage_test!(
    sign_in_needs_csrf_and_sets_a_strict_cookie,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let agency = agency_token(&app, &["consumer", "registrar"], "common_id").await;
        let anna = person(&app, &agency, "Anna").await;
        let mut browser = Browser::default();

        // Not signed in: sent to sign-in; `/` leads to the portal.
        let root = browser.go(&app, "GET", "/", None).await;
        assert_eq!((root.status, root.location()), (303, "/portal/access-log"));
        let page = browser.go(&app, "GET", "/portal/access-log", None).await;
        assert_eq!((page.status, page.location()), (303, "/portal/sign-in"));
        assert_secure_headers(&page);

        let form = browser.go(&app, "GET", "/portal/sign-in", None).await;
        assert_eq!(form.status, 200);
        assert_secure_headers(&form);
        assert!(form.body.contains("<html lang=\"en\">"), "{}", form.body);
        assert!(form.body.contains("<label for=\"password\">"));

        // Without the token, or with a wrong one: 403, an HTML page, no session.
        for csrf in ["", "not-the-token"] {
            let refused = browser
                .go(
                    &app,
                    "POST",
                    "/portal/sign-in",
                    Some(&[("csrf", csrf), ("common_id", &anna), ("password", PASSWORD)]),
                )
                .await;
            assert_eq!(refused.status, 403, "{}", refused.body);
            assert!(
                refused
                    .headers
                    .get("content-type")
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with("text/html")
            );
            assert_secure_headers(&refused);
            assert!(!browser.cookies.contains_key("crossroads_session"));
        }

        // A wrong password: the form again, with a message.
        let csrf = form.csrf();
        let wrong = browser
            .go(
                &app,
                "POST",
                "/portal/sign-in",
                Some(&[
                    ("csrf", &csrf),
                    ("common_id", &anna),
                    ("password", "wrong password!!"),
                ]),
            )
            .await;
        assert_eq!(wrong.status, 401);
        assert!(wrong.body.contains("is not right"), "{}", wrong.body);

        let signed_in = browser.sign_in(&app, &anna).await;
        assert_eq!(
            (signed_in.status, signed_in.location()),
            (303, "/portal/access-log"),
            "{}",
            signed_in.body
        );
        let set_cookie = signed_in
            .headers
            .get_all("set-cookie")
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("crossroads_session="))
            .unwrap();
        for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
            assert!(
                set_cookie.contains(attribute),
                "{set_cookie} lacks {attribute}"
            );
        }
        let log = browser.go(&app, "GET", "/portal/access-log", None).await;
        assert_eq!(log.status, 200, "{}", log.body);
        // Activation is audited, and its proof checks out.
        assert!(log.body.contains("citizen.activated"), "{}", log.body);
        assert!(
            log.body.contains("proof verified ✓ against checkpoint"),
            "{}",
            log.body
        );
        assert!(!log.body.contains("proof-failed"));

        // Every page renders for the signed-in citizen.
        for path in ["/portal/consents", "/portal/holders", "/portal/by-law"] {
            let page = browser.go(&app, "GET", path, None).await;
            assert_eq!(page.status, 200, "{path}: {}", page.body);
            assert_secure_headers(&page);
        }

        // Signing out ends the session (the old cookie is no good either).
        let old_session = browser.cookies["crossroads_session"].clone();
        let csrf = browser.session_csrf(&app).await;
        let refused = browser
            .go(&app, "POST", "/portal/sign-out", Some(&[("csrf", "nope")]))
            .await;
        assert_eq!(refused.status, 403);
        let out = browser
            .go(&app, "POST", "/portal/sign-out", Some(&[("csrf", &csrf)]))
            .await;
        assert_eq!(
            (out.status, out.location()),
            (303, "/portal/sign-in?signed_out=1")
        );
        assert!(!browser.cookies.contains_key("crossroads_session"));
        browser
            .cookies
            .insert("crossroads_session".to_owned(), old_session);
        let after = browser.go(&app, "GET", "/portal/consents", None).await;
        assert_eq!(after.status, 303);
        assert!(after.location().starts_with("/portal/sign-in"));
    }
);

storage_test!(
    sessions_expire,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let agency = agency_token(&app, &["consumer", "registrar"], "common_id").await;
        let anna = person(&app, &agency, "Anna").await;
        let mut browser = Browser::default();
        assert_eq!(browser.sign_in(&app, &anna).await.status, 303);
        assert_eq!(
            browser
                .go(&app, "GET", "/portal/consents", None)
                .await
                .status,
            200
        );
        app.clock.advance(
            Duration::minutes(hub::services::citizens::SESSION_MINUTES) + Duration::seconds(1),
        );
        let expired = browser.go(&app, "GET", "/portal/consents", None).await;
        assert_eq!(
            (expired.status, expired.location()),
            (303, "/portal/sign-in?expired=1")
        );
        let form = browser.go(&app, "GET", expired.location(), None).await;
        assert!(
            form.body.contains("Your session has ended"),
            "{}",
            form.body
        );
    }
);

storage_test!(
    one_citizen_cannot_see_or_act_on_anothers_consents,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let agency = agency_token(&app, &["consumer", "registrar"], "common_id").await;
        let anna = person(&app, &agency, "Anna").await;
        let bert = person(&app, &agency, "Bert").await;
        let consent = request_consent(&app, &agency, &anna).await;

        let mut a = Browser::default();
        let mut b = Browser::default();
        assert_eq!(a.sign_in(&app, &anna).await.status, 303);
        assert_eq!(b.sign_in(&app, &bert).await.status, 303);

        let a_page = a.go(&app, "GET", "/portal/consents", None).await;
        assert!(a_page.body.contains(&consent), "{}", a_page.body);
        let b_page = b.go(&app, "GET", "/portal/consents", None).await;
        assert!(!b_page.body.contains(&consent));
        let a_csrf = a_page.csrf();
        let b_csrf = b_page.csrf();
        assert_ne!(a_csrf, b_csrf);

        // B, with B's own valid token, cannot approve A's request.
        for action in ["approve", "reject"] {
            let tried = b
                .go(
                    &app,
                    "POST",
                    &format!("/portal/consents/{consent}/{action}"),
                    Some(&[("csrf", &b_csrf)]),
                )
                .await;
            assert_eq!(tried.status, 404, "{}", tried.body);
        }
        assert_eq!(consent_state(&app, &consent), "pending");

        // A needs A's token: none, or B's, is refused.
        let uri = format!("/portal/consents/{consent}/approve");
        assert_eq!(
            a.go(&app, "POST", &uri, Some(&[("csrf", "")])).await.status,
            403
        );
        assert_eq!(
            a.go(&app, "POST", &uri, Some(&[("csrf", &b_csrf)]))
                .await
                .status,
            403
        );
        assert_eq!(consent_state(&app, &consent), "pending");
        let approved = a.go(&app, "POST", &uri, Some(&[("csrf", &a_csrf)])).await;
        assert_eq!(
            (approved.status, approved.location()),
            (303, "/portal/consents"),
            "{}",
            approved.body
        );
        assert_eq!(consent_state(&app, &consent), "active");

        // The artefact is A's alone.
        let artefact = format!("/portal/consents/{consent}/artefact");
        assert_eq!(b.go(&app, "GET", &artefact, None).await.status, 404);
        let download = a.go(&app, "GET", &artefact, None).await;
        assert_eq!(download.status, 200, "{}", download.body);
        assert_eq!(
            download.headers.get("content-type").unwrap(),
            "application/jose"
        );
        assert_eq!(download.body.split('.').count(), 3);

        // B cannot pause or revoke it either.
        for action in ["pause", "revoke"] {
            let tried = b
                .go(
                    &app,
                    "POST",
                    &format!("/portal/consents/{consent}/{action}"),
                    Some(&[("csrf", &b_csrf)]),
                )
                .await;
            assert_eq!(tried.status, 404);
        }
        assert_eq!(consent_state(&app, &consent), "active");

        // A's access log shows A's approval; B's shows nothing of A's.
        let a_log = a.go(&app, "GET", "/portal/access-log", None).await;
        assert!(a_log.body.contains(&consent), "{}", a_log.body);
        assert!(a_log.body.contains("consent.approved"));
        let filtered = a
            .go(
                &app,
                "GET",
                "/portal/access-log?record_type=no.such-type",
                None,
            )
            .await;
        assert!(
            filtered.body.contains("Nothing to show."),
            "{}",
            filtered.body
        );
        let b_log = b.go(&app, "GET", "/portal/access-log", None).await;
        assert!(!b_log.body.contains(&consent));
        assert!(!b_log.body.contains(&anna));

        // A pauses, resumes and revokes it.
        for (action, state) in [
            ("pause", "paused"),
            ("resume", "active"),
            ("revoke", "revoked"),
        ] {
            let done = a
                .go(
                    &app,
                    "POST",
                    &format!("/portal/consents/{consent}/{action}"),
                    Some(&[("csrf", &a_csrf)]),
                )
                .await;
            assert_eq!(done.status, 303, "{action}: {}", done.body);
            assert_eq!(consent_state(&app, &consent), state);
        }
        let past = a.go(&app, "GET", "/portal/consents", None).await;
        assert!(past.body.contains("revoked"), "{}", past.body);
    }
);

storage_test!(
    language_follows_accept_language_and_the_switch,
    |app: TestApp| async move {
        let mut browser = Browser {
            lang: Some("fr-BE,fr;q=0.9,en;q=0.5"),
            ..Browser::default()
        };
        let fr = browser.go(&app, "GET", "/portal/sign-in", None).await;
        assert!(fr.body.contains("<html lang=\"fr\">"));
        assert!(fr.body.contains("<h1>Se connecter</h1>"), "{}", fr.body);

        let switched = browser
            .go(
                &app,
                "GET",
                "/portal/language?lang=nl&back=/portal/sign-in",
                None,
            )
            .await;
        assert_eq!(
            (switched.status, switched.location()),
            (303, "/portal/sign-in")
        );
        let nl = browser.go(&app, "GET", "/portal/sign-in", None).await;
        assert!(nl.body.contains("<html lang=\"nl\">"));
        assert!(nl.body.contains("<h1>Aanmelden</h1>"));

        // The switch never sends anyone off the portal.
        for back in [
            "https://evil.example/",
            "//evil.example/portal/",
            "/v1/persons",
        ] {
            let page = browser
                .go(
                    &app,
                    "GET",
                    &format!("/portal/language?lang=en&back={back}"),
                    None,
                )
                .await;
            assert_eq!(page.location(), "/portal/access-log");
        }

        // The stylesheet is served under its hash, and nothing else is.
        let css = browser
            .go(&app, "GET", hub::portal::STYLE_PATH.as_str(), None)
            .await;
        assert_eq!(css.status, 200);
        assert!(
            css.headers
                .get("content-type")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("text/css")
        );
        let missing = browser
            .go(&app, "GET", "/portal/assets/style-0000.css", None)
            .await;
        assert_eq!(missing.status, 404);
        let _ = Value::Null;
    }
);

storage_test!(
    record_types_and_passed_on_changes_read_in_the_citizens_language,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let agency = agency_token(&app, &["consumer", "registrar"], "common_id").await;
        let anna = person(&app, &agency, "Anna").await;
        let consent = request_consent(&app, &agency, &anna).await;
        let op = operator_token(&app);
        let req =
            with_bearer(web::TestRequest::post().uri("/v1/admin/agencies"), &op).set_json(json!({
                "id": "BE-9999999999", "name": "Benefits Agency", "sector": "social",
                "roles": ["consumer"], "identifier_policy": "common_id",
                "certificates": [fixture("agency-wrong-id.pem")],
            }));
        let (status, _, body) = call(&app, req).await;
        assert_eq!(status, 201, "{body}");

        // The Population Register published a change of Anna's address; the
        // hub passed it on to the Benefits Agency.
        let entry = hub::audit_log::NewEntry::new(
            "notification.permitted",
            audit::Actor::new(audit::ActorType::Agency, "BE-9999999999"),
            audit::Outcome::Permitted,
        )
        .unwrap()
        .with_person(anna.clone())
        .with_record_type("person.address@1.1")
        .with_purpose("benefit-eligibility")
        .with_exchange("exc-0123456789abcdef0123456789abcdef")
        .with_provider(AGENCY);
        app.state.audit.append(entry).await.unwrap();

        let mut browser = Browser::default();
        assert_eq!(browser.sign_in(&app, &anna).await.status, 303);
        for (lang, sentence, kind, title) in [
            (
                "en",
                "Population Register told Benefits Agency about a change to your address.",
                "change passed on",
                "Your address",
            ),
            (
                "fr",
                "informé Benefits Agency d",
                "changement transmis",
                "Votre adresse",
            ),
            (
                "nl",
                "Population Register heeft Benefits Agency op de hoogte gebracht van een wijziging van uw adres.",
                "wijziging doorgegeven",
                "Uw adres",
            ),
        ] {
            browser.lang = Some(lang);
            let log = browser.go(&app, "GET", "/portal/access-log", None).await;
            assert_eq!(log.status, 200, "{}", log.body);
            assert!(log.body.contains(sentence), "{lang}: {}", log.body);
            assert!(log.body.contains(kind), "{lang}");
            assert!(log.body.contains("notification.permitted"), "{lang}");
            // The record type by its title, the technical name in small text.
            assert!(
                log.body.contains(&format!(
                    "<span class=\"record-type\">{title}</span><br><span class=\"small\"><code>person.address@1.1</code></span>"
                )),
                "{lang}: {}",
                log.body
            );

            let consents = browser.go(&app, "GET", "/portal/consents", None).await;
            assert!(consents.body.contains(&consent));
            assert!(
                consents.body.contains(&format!(
                    "<span class=\"record-type\">{title}</span><br><span class=\"small\"><code>person.address@1</code></span>"
                )),
                "{lang}: {}",
                consents.body
            );
            let by_law = browser.go(&app, "GET", "/portal/by-law", None).await;
            assert!(by_law.body.contains(title), "{lang}: {}", by_law.body);
            assert!(by_law.body.contains("<code>person.address@1</code>"));
        }
        let fr = {
            browser.lang = Some("fr");
            browser.go(&app, "GET", "/portal/access-log", None).await
        };
        assert!(
            fr.body.contains("un changement concernant votre adresse."),
            "{}",
            fr.body
        );
    }
);

storage_test!(
    a_single_use_consent_request_warns_of_an_agency_told_of_changes,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let agency = agency_token(&app, &["consumer", "registrar"], "common_id").await;
        let anna = person(&app, &agency, "Anna").await;
        let consent = request_consent(&app, &agency, &anna).await;
        let mut browser = Browser::default();
        assert_eq!(browser.sign_in(&app, &anna).await.status, 303);
        const EN: &str = "The first such notification uses up this consent";

        // No subscription yet: no notice.
        let page = browser.go(&app, "GET", "/portal/consents", None).await;
        assert!(page.body.contains(&consent), "{}", page.body);
        assert!(!page.body.contains("told-once"), "{}", page.body);

        // The agency subscribes to changes of the addresses the consent covers.
        let req = with_bearer(web::TestRequest::post().uri("/v1/subscriptions"), &agency).set_json(
            json!({"record_type": "person.address@1", "purpose": "benefit-eligibility",
                             "delivery": "pull"}),
        );
        let (status, _, subscription) = call(&app, req).await;
        assert_eq!(status, 201, "{subscription}");
        for (lang, words) in [
            ("en", EN),
            (
                "fr",
                "La première de ces notifications utilise ce consentement",
            ),
            ("nl", "De eerste zo"),
        ] {
            browser.lang = Some(lang);
            let page = browser.go(&app, "GET", "/portal/consents", None).await;
            assert_eq!(page.status, 200, "{}", page.body);
            assert_eq!(
                page.body.matches("told-once").count(),
                1,
                "{lang}: {}",
                page.body
            );
            assert!(page.body.contains(words), "{lang}: {}", page.body);
        }
        browser.lang = Some("en");

        // Once approved, the request is no longer waiting: no notice.
        let csrf = browser.session_csrf(&app).await;
        let approved = browser
            .go(
                &app,
                "POST",
                &format!("/portal/consents/{consent}/approve"),
                Some(&[("csrf", &csrf)]),
            )
            .await;
        assert_eq!(approved.status, 303, "{}", approved.body);
        let page = browser.go(&app, "GET", "/portal/consents", None).await;
        assert!(!page.body.contains(EN), "{}", page.body);

        // A new request after the subscription ended: no notice.
        let id = subscription["id"].as_str().unwrap();
        let req = with_bearer(
            web::TestRequest::delete().uri(&format!("/v1/subscriptions/{id}")),
            &agency,
        );
        let (status, _, body) = call(&app, req).await;
        assert_eq!(status, 204, "{body}");
        let again = request_consent(&app, &agency, &anna).await;
        let page = browser.go(&app, "GET", "/portal/consents", None).await;
        assert!(page.body.contains(&again), "{}", page.body);
        assert!(!page.body.contains("told-once"), "{}", page.body);
    }
);
