//! One audit entry of each kind, snapshotted: every kind of entry the hub
//! writes is driven once through the API (in-process), the console commands
//! or the `crossroads` binary, in one world, and the first stored entry of
//! each kind is compared with its snapshot (`snapshots/audit_<kind>.snap`),
//! scrubbed of identifiers, times, hashes and salts. The kinds are read from
//! the hub's source; a kind that is neither driven here nor listed in
//! [`NOT_DRIVEN`] fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use actix_web::test as web;
use chrono::Duration;
use common::*;
use hub::dev::testing::{Backend, TestApp};
use serde_json::{Value, json};

/// Kinds this test cannot drive, and why.
const NOT_DRIVEN: &[(&str, &str)] = &[
    (
        "lookup.permitted",
        "needs a provider answering the hub's signed request; tests/tests/lookups.rs covers it",
    ),
    (
        "lookup.error",
        "an internal failure during a lookup (storage, signing); not provoked through the API",
    ),
    (
        "lookup.interrupted",
        "written at start for a lookup cut short by a crash; tests/tests/pressure.rs covers it",
    ),
    (
        "notification.dead_lettered",
        "needs a full backlog or a webhook failing for the retry period; tests/tests/notifications.rs covers it",
    ),
];

/// Kinds made at run time rather than written out in the source:
/// `consent.{done}` for the citizen's changes of a consent.
const COMPOSED: &[&str] = &[
    "consent.approved",
    "consent.rejected",
    "consent.paused",
    "consent.resumed",
    "consent.revoked",
];

/// Every audit entry kind written out in `hub/src` (outside `dev/`).
fn kinds_in_source() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let record_types: BTreeSet<String> = std::fs::read_dir(root.join("../schemas/catalog"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let pattern = regex::Regex::new(
        r#""((?:agency|audit|authorization|change|citizen|consent|key|lookup|notification|operator|person|purpose|reference|schema|source|subscription|token)\.[a-z_]+)""#,
    )
    .unwrap();
    let mut kinds = BTreeSet::new();
    for text in source_texts() {
        for found in pattern.captures_iter(&text) {
            if !record_types.contains(&found[1]) {
                kinds.insert(found[1].to_owned());
            }
        }
    }
    kinds.extend(COMPOSED.iter().map(|k| (*k).to_owned()));
    kinds
}

async fn post(app: &TestApp, uri: &str, token: &str, body: Value) -> (u16, Value) {
    send(app, "POST", uri, token, Some(body)).await
}

/// Runs the `crossroads` binary on the app's database; its standard output.
fn crossroads(app: &TestApp, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crossroads"))
        .env("CROSSROADS_DATABASE_URL", app.db.url.expose_url())
        .env("CROSSROADS_DATA_DIR", app.db.data_dir())
        .env("CROSSROADS_LOG_LEVEL", "warn")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Drives every kind it can; returns the first stored entry of each kind.
async fn drive(app: &TestApp) -> BTreeMap<String, Value> {
    // The fixture agency: consumer, registrar and provider (at a port where
    // nothing answers).
    let op = operator_token(app);
    let (status, body) = post(
        app,
        "/v1/admin/agencies",
        &op,
        json!({
            "id": AGENCY, "name": "Population Register", "sector": "civil",
            "roles": ["consumer", "registrar", "provider"], "endpoint_url": "http://127.0.0.1:9",
            "identifier_policy": "common_id", "certificates": [fixture("agency-p256.pem")],
        }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let mut w = World {
        agency: access_token(app).await,
        op: op.clone(),
        person: String::new(),
        citizen: String::new(),
    };
    purpose(app, &op, "benefit-eligibility").await;
    let (person, citizen_token) = citizen(app, &w.agency, "Anna").await;
    w.person = person;
    w.citizen = citizen_token;

    // Agencies: roles, certificates, suspension.
    let req = with_bearer(
        web::TestRequest::put().uri(&format!("/v1/admin/agencies/{AGENCY}/roles")),
        &op,
    )
    .set_json(json!({"roles": ["consumer", "registrar", "provider"]}));
    let (status, _, body) = call(app, req).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(
        app,
        &format!("/v1/admin/agencies/{AGENCY}/certificates"),
        &op,
        json!({"pem": fixture("agency-ed25519.pem")}),
    )
    .await;
    assert!(status == 200 || status == 201, "{status} {body}");
    let thumb = fixture("agency-ed25519.x5t-s256.txt").trim().to_owned();
    let (status, body) = post(
        app,
        &format!("/v1/admin/agencies/{AGENCY}/certificates/{thumb}/revoke"),
        &op,
        json!({}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    for action in ["suspend", "reactivate"] {
        if action == "reactivate" {
            // token.refused: a verified assertion of a suspended agency.
            let assertion = sign(
                "ES256",
                &fixture("agency-p256.key.pem"),
                json!({}),
                &assertion_claims(
                    AGENCY,
                    &format!("{}/oauth/token", app.state.config.public_base()),
                    app.clock.now().timestamp(),
                    "while-suspended",
                ),
            );
            let (status, body) = token_answer(app, &assertion).await;
            assert_eq!(status, 401, "{body}");
        }
        let (status, body) = post(
            app,
            &format!("/v1/admin/agencies/{AGENCY}/{action}"),
            &op,
            json!({}),
        )
        .await;
        assert_eq!(status, 200, "{action}: {body}");
    }

    // Authorizations, a source.
    let fields = ["/commonId", "/addressType", "/since", "/address"];
    let (status, body) = post(
        app,
        "/v1/admin/authorizations",
        &op,
        json!({"id": "auth-address", "consumer": {"agency": AGENCY}, "record_type": "person.address",
               "major": 1, "fields": fields, "purposes": ["benefit-eligibility"],
               "legal_reference": legal(), "consent_required": true}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = post(
        app,
        "/v1/admin/authorizations/auth-address/versions",
        &op,
        json!({"from": app.clock.now(), "consumer": {"agency": AGENCY}, "record_type": "person.address",
               "major": 1, "fields": fields, "purposes": ["benefit-eligibility"],
               "legal_reference": legal(), "consent_required": true}),
    )
    .await;
    assert!(status == 200 || status == 201, "{status} {body}");
    let (status, body) = post(
        app,
        "/v1/admin/authorizations",
        &op,
        json!({"id": "auth-family", "consumer": {"agency": AGENCY}, "record_type": "person.family-composition",
               "major": 1, "fields": ["/commonId", "/asOf", "/householdSize", "/members"],
               "purposes": ["benefit-eligibility"], "legal_reference": legal(), "consent_required": false}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = post(
        app,
        "/v1/admin/sources",
        &op,
        json!({"record_type": "person.address", "major": 1, "provider": AGENCY, "timeout_ms": 500}),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // Lookups: refused without consent, an unknown purpose, nobody provides,
    // the provider does not answer (after consent below).
    let lookup = |record_type: &str, purpose: &str| json!({"person": w.person, "record_type": record_type, "purpose": purpose});
    let (status, body) = post(
        app,
        "/v1/lookups",
        &w.agency,
        lookup("person.address@1", "benefit-eligibility"),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = post(
        app,
        "/v1/lookups",
        &w.agency,
        lookup("person.address@1", "no-such-purpose"),
    )
    .await;
    assert!(status >= 400, "{body}");
    // lookup.invalid: nobody holds this common ID.
    let (status, body) = post(
        app,
        "/v1/lookups",
        &w.agency,
        json!({"person": "12345678978", "record_type": "person.address@1", "purpose": "benefit-eligibility"}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = post(
        app,
        "/v1/lookups",
        &w.agency,
        lookup("person.family-composition@1", "benefit-eligibility"),
    )
    .await;
    assert_eq!(status, 404, "{body}");

    // Consents: requested and approved, paused, resumed, revoked; another
    // requested and rejected; one granted; one that expires.
    let until = app.clock.now() + Duration::days(30);
    let request = json!({"person": w.person, "record_types": ["person.address@1"],
                         "purpose": "benefit-eligibility", "valid_until": until,
                         "frequency": {"kind": "max_per", "count": 5, "period": "month"}});
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (status, body) = post(app, "/v1/consents/requests", &w.agency, request.clone()).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    for (id, action) in [
        (&ids[0], "approve"),
        (&ids[1], "reject"),
        (&ids[0], "pause"),
        (&ids[0], "resume"),
    ] {
        let (status, body) = post(
            app,
            &format!("/v1/citizen/consents/{id}/{action}"),
            &w.citizen,
            json!({}),
        )
        .await;
        assert_eq!(status, 200, "{action}: {body}");
    }
    // With consent, the provider is asked, and does not answer.
    let (status, body) = post(
        app,
        "/v1/lookups",
        &w.agency,
        lookup("person.address@1", "benefit-eligibility"),
    )
    .await;
    assert!(status >= 500, "{status} {body}");
    let (status, body) = post(
        app,
        &format!("/v1/citizen/consents/{}/revoke", ids[0]),
        &w.citizen,
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let soon = app.clock.now() + Duration::days(1);
    let (status, body) = post(
        app,
        "/v1/citizen/consents",
        &w.citizen,
        json!({"agency": AGENCY, "record_types": ["person.address@1"], "purpose": "benefit-eligibility",
               "valid_until": soon, "frequency": {"kind": "once"}}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    app.clock.advance(Duration::days(2));
    w.refresh(app).await;
    let (status, body) = send(app, "GET", "/v1/citizen/consents", &w.citizen, None).await;
    assert_eq!(status, 200, "{body}");

    // References: declared and ended.
    let (status, body) = post(
        app,
        "/v1/references",
        &w.agency,
        json!({"person": w.person, "kind": "file", "capacity": "insured"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let reference = body["id"].as_str().unwrap().to_owned();
    let req = with_bearer(
        web::TestRequest::delete().uri(&format!("/v1/references/{reference}")),
        &w.agency,
    );
    let (status, _, body) = call(app, req).await;
    assert!(status == 200 || status == 204, "{status} {body}");

    // Persons: read, merged, status changed.
    let (status, body) = send(
        app,
        "GET",
        &format!("/v1/persons/{}", w.person),
        &w.agency,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut others = Vec::new();
    for (given, born) in [("Bert", "1970-01-02"), ("Carl", "1971-03-04")] {
        let (status, body) = post(
            app,
            "/v1/persons",
            &w.agency,
            json!({"given_names": given, "family_name": "Janssens", "birth_date": born}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        others.push(body["id"].as_str().unwrap().to_owned());
    }
    let (status, body) = post(
        app,
        &format!("/v1/persons/{}/merge", others[0]),
        &w.agency,
        json!({"replaced": others[1]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(
        app,
        &format!("/v1/persons/{}/status", others[0]),
        &w.agency,
        json!({"status": "deceased", "on": "2026-12-01"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Change notifications: the agency, a source of household compositions
    // holding a file on Anna and on the deceased person, subscribes; it is
    // told of Anna's change (then reads on, which delivers it) and refused
    // the other; the subscription ends.
    let (status, body) = post(
        app,
        "/v1/admin/sources",
        &op,
        json!({"record_type": "person.family-composition", "major": 1, "provider": AGENCY, "timeout_ms": 500}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    for person in [&w.person, &others[0]] {
        let (status, body) = post(
            app,
            "/v1/references",
            &w.agency,
            json!({"person": person, "kind": "file", "capacity": "beneficiary", "valid_from": "2020-01-01"}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = post(
        app,
        "/v1/subscriptions",
        &w.agency,
        json!({"record_type": "person.family-composition@1", "purpose": "benefit-eligibility", "delivery": "pull"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let subscription = body["id"].as_str().unwrap().to_owned();
    for person in [&w.person, &others[0]] {
        let (status, body) = post(
            app,
            "/v1/changes",
            &w.agency,
            json!({"person": person, "record_type": "person.family-composition@1.0", "kind": "deleted",
                   "effective_date": "2026-12-01", "reference": format!("household-{person}")}),
        )
        .await;
        assert_eq!(status, 202, "{body}");
    }
    let state = app.state.clone();
    actix_web::web::block(move || hub::services::notifications::fanout::fan_out_once(&state))
        .await
        .unwrap()
        .unwrap();
    let (status, body) = send(app, "GET", "/v1/notifications", &w.agency, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["notifications"].as_array().unwrap().len(), 1, "{body}");
    let cursor = body["cursor"].as_str().unwrap().to_owned();
    let (status, body) = send(
        app,
        "GET",
        &format!("/v1/notifications?after={cursor}"),
        &w.agency,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let req = with_bearer(
        web::TestRequest::delete().uri(&format!("/v1/subscriptions/{subscription}")),
        &w.agency,
    );
    let (status, _, body) = call(app, req).await;
    assert_eq!(status, 204, "{body}");

    // Citizens: a second factor enabled, changed, removed; an account
    // locked by wrong passwords.
    let totp = identity::Totp::default();
    let offer = |app: &TestApp, citizen: String| {
        let app = app.state.clone();
        async move {
            let req = with_bearer(web::TestRequest::post().uri("/v1/citizen/totp"), &citizen)
                .set_json(json!({}));
            let (_, _, body) = hub::dev::testing::send(&app, req).await;
            let body: Value = serde_json::from_slice(&body).unwrap();
            body["secret"].as_str().unwrap().to_owned()
        }
    };
    let first = offer(app, w.citizen.clone()).await;
    let first_secret = identity::TotpSecret::from_base32(&first).unwrap();
    let code = totp.code(&first_secret, app.clock.now()).unwrap();
    let (status, body) = post(
        app,
        "/v1/citizen/totp/confirm",
        &w.citizen,
        json!({"secret": first, "code": code}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    app.clock.advance(Duration::seconds(30));
    let second = offer(app, w.citizen.clone()).await;
    let second_secret = identity::TotpSecret::from_base32(&second).unwrap();
    let new_code = totp.code(&second_secret, app.clock.now()).unwrap();
    let old_code = totp.code(&first_secret, app.clock.now()).unwrap();
    let (status, body) = post(
        app,
        "/v1/citizen/totp/confirm",
        &w.citizen,
        json!({"secret": second, "code": new_code, "password": PASSWORD, "current_code": old_code}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    app.clock.advance(Duration::seconds(30));
    let now_code = totp.code(&second_secret, app.clock.now()).unwrap();
    let req = with_bearer(
        web::TestRequest::delete().uri("/v1/citizen/totp"),
        &w.citizen,
    )
    .set_json(json!({"password": PASSWORD, "code": now_code}));
    let (status, _, body) = call(app, req).await;
    assert_eq!(status, 204, "{body}");
    for _ in 0..10 {
        let req = web::TestRequest::post()
            .uri("/v1/citizen/sign-in")
            .set_json(json!({"common_id": w.person, "password": "wrong"}));
        if call(app, req).await.0 == 429 {
            break;
        }
    }

    // Schemas: a new minor published, the old one deprecated.
    let mut document: Value = serde_json::from_str(include_str!(
        "../../schemas/catalog/person.address/1.1.json"
    ))
    .unwrap();
    document["$id"] = json!("https://crossroads.example/schemas/person.address/1.2");
    let (status, body) = post(
        app,
        "/v1/admin/schemas",
        &op,
        json!({"record_type": "person.address@1.2", "document": document}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = post(
        app,
        "/v1/admin/schemas/person.address/1.0/deprecate",
        &op,
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Console commands: a key rotation, and the log accepted as it is.
    hub::cli::keys::run(hub::cli::keys::KeysCommand::Rotate, &app.state).unwrap();
    hub::audit_log::cli::run(
        hub::audit_log::cli::AuditCommand::AcceptDatabase,
        app.db.config(),
    )
    .unwrap();
    // The binary: an operator token made and revoked.
    let token = crossroads(app, &["operator", "token", "--name", "Olga"]);
    assert!(!token.trim().is_empty());
    let listed = crossroads(app, &["operator", "list"]);
    let olga = listed
        .lines()
        .filter(|l| l.contains("Olga"))
        .find_map(|l| l.split_whitespace().find(|w| w.starts_with("op-")))
        .unwrap_or_else(|| panic!("{listed}"))
        .to_owned();
    crossroads(app, &["operator", "revoke", &olga]);

    // The stored entries, the first of each kind.
    let mut conn = app.conn();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !hub::store::audit::queue_is_empty(&mut conn).unwrap() {
        assert!(
            std::time::Instant::now() < deadline,
            "the hand-over table is not drained"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut first = BTreeMap::new();
    for (_, entry) in hub::store::audit::entries_from(&mut conn, 0, 1_000_000).unwrap() {
        let entry: Value = serde_json::from_str(&entry).unwrap();
        let kind = entry["kind"].as_str().unwrap().to_owned();
        first.entry(kind).or_insert(entry);
    }
    first
}

#[actix_web::test]
async fn one_entry_of_each_kind() {
    let app = app_with_fixture_ca(Backend::Sqlite).unwrap();
    let entries = drive(&app).await;
    let in_source = kinds_in_source();
    let not_driven: BTreeSet<String> = NOT_DRIVEN.iter().map(|(k, _)| (*k).to_owned()).collect();
    for (kind, _) in NOT_DRIVEN {
        assert!(
            in_source.contains(*kind),
            "{kind} is no longer in the source"
        );
        assert!(
            !entries.contains_key(*kind),
            "{kind} is driven now: take it off NOT_DRIVEN"
        );
    }
    let missing: Vec<&String> = in_source
        .iter()
        .filter(|k| !entries.contains_key(*k) && !not_driven.contains(*k))
        .collect();
    assert!(missing.is_empty(), "kinds not driven: {missing:?}");
    let unknown: Vec<&String> = entries.keys().filter(|k| !in_source.contains(*k)).collect();
    assert!(
        unknown.is_empty(),
        "kinds the source scan missed: {unknown:?}"
    );

    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        for (kind, entry) in &entries {
            insta::assert_json_snapshot!(
                format!("audit_{}", kind.replace('.', "_")),
                hub::dev::testing::scrub(entry)
            );
        }
    });
}
