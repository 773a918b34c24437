//! Helpers shared by the hub's integration tests: fixture certificates made
//! with the openssl command line, and client assertions signed with their keys.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use actix_web::test as web;
use hub::dev::testing::TestApp;
use serde_json::{Value, json};

/// The agency the fixture certificates bind.
pub const AGENCY: &str = "BE-0123456789";

/// `identity/tests/fixtures/<name>`.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../identity/tests/fixtures")
        .join(name)
}

/// A fixture file's text.
pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).unwrap()
}

/// A compact JWS over `claims`, signed with the PKCS#8 key in `key_pem`.
pub fn sign(alg: &str, key_pem: &str, header_extra: Value, claims: &Value) -> String {
    hub::dev::testing::sign_jws(alg, key_pem, &header_extra, claims)
}

/// Claims of a client assertion for the test hub.
pub fn assertion_claims(agency: &str, aud: &str, now: i64, jti: &str) -> Value {
    json!({"iss": agency, "sub": agency, "aud": aud, "iat": now, "exp": now + 120, "jti": jti})
}

/// The form body of a token request, as the demo's client makes it.
pub use hub::dev::demo::client::client_credentials_form;

/// Calls the app once; the body as JSON (a string when it is not JSON,
/// null when empty).
pub async fn call(
    app: &hub::dev::testing::TestApp,
    req: web::TestRequest,
) -> (u16, actix_web::http::header::HeaderMap, Value) {
    let (status, headers, body) = app.send(req).await;
    let value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()))
    };
    (status.as_u16(), headers, value)
}

/// A new operator token on the app's database.
pub fn operator_token(app: &hub::dev::testing::TestApp) -> String {
    hub::services::operators::issue(&mut app.conn(), "Test Operator", app.clock.now())
        .unwrap()
        .token
}

/// A TestApp whose trust anchors are the fixture CA.
pub fn app_with_fixture_ca(
    backend: hub::dev::testing::Backend,
) -> Option<hub::dev::testing::TestApp> {
    hub::dev::testing::TestApp::with_config(backend, |config| {
        config.trust_anchors_file = Some(fixture_path("ca.pem"));
    })
}

/// Onboards the fixture agency with `roles` and `policy` and returns an
/// access token for it (signed with the P-256 fixture key).
pub async fn agency_token(
    app: &hub::dev::testing::TestApp,
    roles: &[&str],
    policy: &str,
) -> String {
    let op = operator_token(app);
    let req = web::TestRequest::post()
        .uri("/v1/admin/agencies")
        .insert_header(("authorization", format!("Bearer {op}")))
        .set_json(json!({
            "id": AGENCY,
            "name": "Population Register",
            "sector": "civil",
            "roles": roles,
            "identifier_policy": policy,
            "certificates": [fixture("agency-p256.pem")],
        }));
    let (status, _, body) = call(app, req).await;
    assert_eq!(status, 201, "{body}");
    access_token(app).await
}

/// An access token for the onboarded fixture agency (signed with the P-256
/// fixture key).
pub async fn access_token(app: &hub::dev::testing::TestApp) -> String {
    let aud = format!("{}/oauth/token", app.state.config.public_base());
    let now = app.clock.now().timestamp();
    let assertion = sign(
        "ES256",
        &fixture("agency-p256.key.pem"),
        json!({}),
        &assertion_claims(AGENCY, &aud, now, &uuid_like()),
    );
    let (status, body) = token_answer(app, &assertion).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// Asks for an access token with the client assertion `assertion`; the
/// status and body.
pub async fn token_answer(app: &hub::dev::testing::TestApp, assertion: &str) -> (u16, Value) {
    let req = web::TestRequest::post()
        .uri("/oauth/token")
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(client_credentials_form(assertion));
    let (status, _, body) = call(app, req).await;
    (status, body)
}

fn uuid_like() -> String {
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A request with a bearer token.
pub fn with_bearer(req: web::TestRequest, token: &str) -> web::TestRequest {
    req.insert_header(("authorization", format!("Bearer {token}")))
}

/// The audit entries of `kind`, as (actor id, person) pairs, oldest first.
pub fn audited(app: &hub::dev::testing::TestApp, kind: &str) -> Vec<(String, Option<String>)> {
    use diesel::prelude::*;
    use hub::store::tables::audit_entries;
    audit_entries::table
        .filter(audit_entries::kind.eq(kind))
        .order(audit_entries::seq.asc())
        .select((audit_entries::actor_id, audit_entries::person))
        .load(&mut *app.conn())
        .unwrap()
}

/// Snapshots a problem body as `hub/tests/snapshots/problem_<code>.snap`,
/// scrubbed of what changes from run to run: one representative body for
/// each problem code (`problems.rs` checks that every code has one).
pub fn problem_snapshot(body: &Value) {
    let code = body["code"]
        .as_str()
        .or_else(|| body["error"].as_str())
        .unwrap_or_else(|| panic!("not a problem: {body}"));
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        insta::assert_json_snapshot!(format!("problem_{code}"), hub::dev::testing::scrub(body));
    });
}

// The shared actors of the in-process tests: an operator, the fixture
// agency, a signed-in citizen.

/// A request with `token` as bearer and `body` as JSON: its status and
/// body.
pub async fn send(
    app: &TestApp,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let req = match method {
        "GET" => web::TestRequest::get(),
        _ => web::TestRequest::post(),
    }
    .uri(uri);
    let mut req = with_bearer(req, token);
    if let Some(body) = body {
        req = req.set_json(body);
    }
    let (status, _, body) = call(app, req).await;
    (status, body)
}

/// Registers `person` (the JSON body) as the agency `agency`; the status
/// and body.
pub async fn register(app: &TestApp, agency: &str, person: Value) -> (u16, Value) {
    send(app, "POST", "/v1/persons", agency, Some(person)).await
}

/// Activates the person `registered` (the answer to their registration)
/// with [`PASSWORD`]; their common ID.
pub async fn activate(app: &TestApp, registered: &Value) -> String {
    let id = registered["id"].as_str().unwrap().to_owned();
    let req = web::TestRequest::post()
        .uri("/v1/citizen/activate")
        .set_json(json!({"common_id": id, "activation_code": registered["activation_code"], "password": PASSWORD}));
    let (status, _, body) = call(app, req).await;
    assert_eq!(status, 204, "{body}");
    id
}

/// Registers `person` as the agency `agency` and activates them with
/// [`PASSWORD`]; their common ID.
pub async fn activated(app: &TestApp, agency: &str, person: Value) -> String {
    let (status, registered) = register(app, agency, person).await;
    assert_eq!(status, 201, "{registered}");
    activate(app, &registered).await
}

/// A person named `given` Peeters, born on 1 July 1985.
pub fn peeters(given: &str) -> Value {
    json!({"given_names": given, "family_name": "Peeters", "birth_date": "1985-07-01"})
}

/// Registers a person and signs them in; returns (common id, citizen token).
pub async fn citizen(app: &TestApp, agency: &str, given: &str) -> (String, String) {
    let id = activated(app, agency, peeters(given)).await;
    let token = sign_in(app, &id).await;
    (id, token)
}

/// The test citizens' password.
pub const PASSWORD: &str = "correct horse battery staple";

/// A fresh citizen token (tokens are short-lived; tests move the clock).
pub async fn sign_in(app: &TestApp, id: &str) -> String {
    let req = web::TestRequest::post()
        .uri("/v1/citizen/sign-in")
        .set_json(json!({"common_id": id, "password": PASSWORD}));
    let (status, _, body) = call(app, req).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// A legal reference for purposes and authorizations.
pub fn legal() -> Value {
    json!({"title": "Law of 15 January 1990, art. 5", "url": "https://example.gov/law/1990#art5"})
}

/// Declares the purpose `code` as the operator `op`.
pub async fn purpose(app: &TestApp, op: &str, code: &str) {
    let (status, body) = send(
        app,
        "POST",
        "/v1/admin/purposes",
        op,
        Some(json!({"code": code, "title": format!("Title of {code}"), "description": "", "legal_reference": legal()})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

/// The shared actors of a test: an operator, the fixture agency (consumer
/// and registrar), a signed-in citizen.
pub struct World {
    /// An operator token.
    pub op: String,
    /// The fixture agency's access token (consumer and registrar).
    pub agency: String,
    /// The citizen's common ID.
    pub person: String,
    /// The citizen's access token.
    pub citizen: String,
}

impl World {
    /// New tokens after the clock moved.
    pub async fn refresh(&mut self, app: &TestApp) {
        self.agency = access_token(app).await;
        self.citizen = sign_in(app, &self.person).await;
    }
}

/// An operator, the fixture agency (consumer and registrar), a signed-in
/// citizen, two purposes.
pub async fn world(app: &TestApp) -> World {
    let agency = agency_token(app, &["consumer", "registrar"], "common_id").await;
    let op = operator_token(app);
    purpose(app, &op, "benefit-eligibility").await;
    purpose(app, &op, "tax-assessment").await;
    let (person, citizen) = citizen(app, &agency, "Anna").await;
    World {
        op,
        agency,
        person,
        citizen,
    }
}

/// The audit entries about exchange `id`.
pub fn entries_of(app: &TestApp, id: &str) -> Vec<Value> {
    hub::store::audit::entries_from(&mut app.conn(), 0, 100_000)
        .unwrap()
        .into_iter()
        .map(|(_, e)| serde_json::from_str::<Value>(&e).unwrap())
        .filter(|e| e["exchange_id"] == id)
        .collect()
}

/// The text of every Rust file in `hub/src` outside `dev/`.
pub fn source_texts() -> Vec<String> {
    let mut texts = Vec::new();
    let mut dirs = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "dev") {
                    dirs.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                texts.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    texts
}
