//! Pseudonyms never link: an agency whose identifier policy is
//! `sector_pseudonym`, after real lookups, references, consents and a merge
//! about the test persons, calls every operation of `/openapi.json` it may
//! call; no answer (body or header, JWS payloads included) holds a common ID
//! of those persons, and every inclusion proof it receives verifies. The
//! person concerned, and operators, get the salt that opens the audit
//! entries' commitments. `crossroads serve` and a provider run as separate
//! processes, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use e2e::{AgencySpec, World};
use hub::dev::demo::client::HubClient;
use hub::dev::testing::{Backend, skip};
use serde_json::{Value, json};

/// Population register: the source of `person.address@1` (common IDs).
const REGISTER: &str = "BE-0200000001";
/// Health insurer: consumer and registrar, sees persons by pseudonym.
const INSURER: &str = "BE-0800000001";
const PURPOSE: &str = "benefit-eligibility";

/// Every written form of the test persons' common IDs.
struct Secrets(Vec<String>);

impl Secrets {
    fn new(ids: &[&str]) -> Self {
        let mut forms = Vec::new();
        for id in ids {
            let parsed: identity::CommonId = id.parse().unwrap();
            forms.push(parsed.as_digits().to_owned());
            forms.push(parsed.to_string());
        }
        Self(forms)
    }

    /// Panics if `text`, or the payload of a compact JWS inside it, holds
    /// one of the common IDs.
    fn check(&self, what: &str, text: &str) {
        for form in &self.0 {
            assert!(!text.contains(form.as_str()), "{what} holds {form}: {text}");
        }
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c))) {
            let parts: Vec<&str> = word.split('.').collect();
            if parts.len() == 3
                && let Ok(payload) = URL_SAFE_NO_PAD.decode(parts[1])
            {
                let payload = String::from_utf8_lossy(&payload);
                for form in &self.0 {
                    assert!(
                        !payload.contains(form.as_str()),
                        "{what}: a JWS payload holds {form}: {payload}"
                    );
                }
            }
        }
    }
}

/// The pseudonymous agency's view of the hub: every answer is checked.
struct Agency<'a> {
    http: reqwest::Client,
    base: String,
    token: String,
    secrets: &'a Secrets,
    /// Every inclusion proof received: `(seq, entry_json)`.
    proofs: Vec<(u64, String)>,
    key: String,
}

impl Agency<'_> {
    /// Calls `method path` with `body`; checks the answer; returns the
    /// status and the body (JSON, or a string).
    async fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = self
            .http
            .request(method.parse().unwrap(), &url)
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let what = format!("{method} {path} ({status})");
        for (name, value) in res.headers() {
            self.secrets.check(
                &format!("{what}, header {name}"),
                &String::from_utf8_lossy(value.as_bytes()),
            );
        }
        let bytes = res.bytes().await.unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        self.secrets.check(&what, &text);
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::String(text));
        self.verify_proofs(&what, &value);
        (status, value)
    }

    /// Verifies every inclusion proof in `value` (an entry proof, or a list).
    fn verify_proofs(&mut self, what: &str, value: &Value) {
        match value {
            Value::Object(map) if map.get("entry_json").is_some_and(Value::is_string) => {
                assert!(
                    map.get("subject_salt").is_none(),
                    "{what}: an agency got a salt: {value}"
                );
                let entry_json = map["entry_json"].as_str().unwrap();
                let seq = map["seq"].as_u64().unwrap();
                verify_inclusion(&self.key, value);
                let entry = audit::Entry::from_canonical_bytes(entry_json.as_bytes()).unwrap();
                assert_eq!(entry.v, audit::EntryVersion::V2, "{what}: {entry_json}");
                self.proofs.push((seq, entry_json.to_owned()));
            }
            Value::Object(map) => map.values().for_each(|v| self.verify_proofs(what, v)),
            Value::Array(items) => items.iter().for_each(|v| self.verify_proofs(what, v)),
            _ => {}
        }
    }
}

/// Verifies an entry proof's checkpoint and inclusion with the `audit` crate.
fn verify_inclusion(key: &str, proof: &Value) {
    let checkpoint =
        audit::Checkpoint::parse_and_verify(proof["checkpoint"].as_str().unwrap(), key).unwrap();
    let hashes: Vec<audit::Hash> = proof["inclusion_proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| audit::Hash::from_base64(h.as_str().unwrap()).unwrap())
        .collect();
    let leaf = audit::leaf_hash(proof["entry_json"].as_str().unwrap().as_bytes());
    assert_eq!(leaf.to_base64(), proof["leaf_hash"].as_str().unwrap());
    assert_eq!(proof["tree_size"].as_u64().unwrap(), checkpoint.size);
    audit::verify_inclusion(
        &leaf,
        proof["seq"].as_u64().unwrap(),
        checkpoint.size,
        &hashes,
        &checkpoint.root_hash,
    )
    .unwrap();
}

/// The operations of the OpenAPI document an agency may call: those with no
/// security requirement or with the `agency` scheme, as `METHOD /path`.
fn agency_operations(doc: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(op) = op.as_object() else { continue };
            if !op.contains_key("responses") {
                continue;
            }
            let callable = match op.get("security").and_then(Value::as_array) {
                None => true,
                Some(schemes) => {
                    schemes.is_empty()
                        || schemes
                            .iter()
                            .any(|s| s.as_object().is_some_and(|s| s.contains_key("agency")))
                }
            };
            if callable {
                out.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    out
}

async fn sweep(backend: Backend, test: &str) {
    let Some(mut world) = World::create(backend) else {
        skip(test);
        return;
    };
    let operator = world.operator.clone();
    let anna = world.register("Anna", "Peeters", "1985-07-30");
    let bob = world.register("Bob", "Maes", "1979-04-02");
    let carl = world.register("Carl", "Wouters", "1990-01-20");
    let carla = world.register("Karl", "Wouters", "1990-02-01");
    let secrets = Secrets::new(&[&anna.id, &bob.id, &carl.id, &carla.id]);

    world.serve();

    let address = |id: &str, house: &str| {
        json!({
            "commonId": id, "addressType": "legal-residence", "since": "2019-09-01",
            "address": {"street": "Rue de la Loi", "houseNumber": house, "postcode": "1000",
                        "municipality": "Bruxelles", "country": "BE"},
        })
    };
    let register_sim = world.provider(
        REGISTER,
        &json!({"person.address": {
            anna.id.clone(): address(&anna.id, "16"),
            bob.id.clone(): address(&bob.id, "18"),
            carl.id.clone(): address(&carl.id, "20"),
        }}),
        0,
    );
    let register_url = register_sim.url.clone();
    for agency in [
        AgencySpec::provider(REGISTER, "Population Register", "civil", &register_url),
        AgencySpec {
            id: INSURER,
            name: "Health Insurer",
            sector: "health",
            roles: &["consumer", "registrar"],
            endpoint: None,
            policy: "sector_pseudonym",
        },
    ] {
        world.onboard(agency).await;
    }
    world
        .admin(
            "/v1/admin/sources",
            &json!({"record_type": "person.address", "major": 1, "provider": REGISTER, "timeout_ms": 5_000}),
        )
        .await;
    world
        .purpose(PURPOSE, "Checking eligibility for a social benefit")
        .await;
    world
        .authorize(
            INSURER,
            "person.address",
            e2e::ADDRESS_FIELDS,
            PURPOSE,
            true,
        )
        .await;
    let hub = world.client().clone();
    let hub_process = world.hub();

    let http = e2e::http_client();
    let key = http
        .get(hub_process.url("/log/verifier-key"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .trim()
        .to_owned();
    let mut agency = Agency {
        http: http.clone(),
        base: hub_process.base_url.clone(),
        token: world.token(INSURER).to_owned(),
        secrets: &secrets,
        proofs: Vec::new(),
        key,
    };

    // First contact by common ID (a document each person handed over):
    // consent requests, answered with the insurer's pseudonyms.
    let until = (chrono::Utc::now() + chrono::Duration::days(90)).to_rfc3339();
    let mut pseudonyms = Vec::new();
    let mut consents = Vec::new();
    for person in [&anna, &bob, &carl, &carla] {
        let (status, body) = agency
            .call(
                "POST",
                "/v1/consents/requests",
                Some(
                    json!({"person": person.id, "record_types": ["person.address@1"],
                            "purpose": PURPOSE, "valid_until": until,
                            "frequency": {"kind": "max_per", "count": 40, "period": "month"}}),
                ),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        pseudonyms.push(body["person"].as_str().unwrap().to_owned());
        consents.push(body["id"].as_str().unwrap().to_owned());
    }
    let (anna_p, bob_p, carl_p, carla_p) = (
        pseudonyms[0].clone(),
        pseudonyms[1].clone(),
        pseudonyms[2].clone(),
        pseudonyms[3].clone(),
    );

    // Anna approves; Bob does not.
    hub.post(
        "/v1/citizen/activate",
        None,
        &json!({"common_id": anna.id, "activation_code": anna.code, "password": "correct horse battery staple"}),
        204,
    )
    .await
    .unwrap();
    let signed_in = hub
        .post(
            "/v1/citizen/sign-in",
            None,
            &json!({"common_id": anna.id, "password": "correct horse battery staple"}),
            200,
        )
        .await
        .unwrap();
    let citizen = signed_in["access_token"].as_str().unwrap().to_owned();
    hub.post(
        &format!("/v1/citizen/consents/{}/approve", consents[0]),
        Some(&citizen),
        &json!({}),
        200,
    )
    .await
    .unwrap();

    // The attack: three lookups by pseudonym, then the insurer reads every
    // audit entry it may read.
    let mut exchanges = Vec::new();
    for _ in 0..3 {
        let (status, body) = agency
            .call(
                "POST",
                "/v1/lookups",
                Some(json!({"person": anna_p, "record_type": "person.address@1", "purpose": PURPOSE})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["person"], anna_p.as_str());
        assert_eq!(body["data"]["commonId"], anna_p.as_str());
        exchanges.push(body["exchange_id"].as_str().unwrap().to_owned());
    }
    // Refused: Bob gave no consent.
    let (status, body) = agency
        .call(
            "POST",
            "/v1/lookups",
            Some(json!({"person": bob_p, "record_type": "person.address@1", "purpose": PURPOSE})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    exchanges.push(body["exchange_id"].as_str().unwrap().to_owned());
    // References declared by pseudonym; one ended.
    let mut references = Vec::new();
    for person in [&anna_p, &bob_p] {
        let (status, body) = agency
            .call(
                "POST",
                "/v1/references",
                Some(json!({"person": person, "kind": "file", "capacity": "insured"})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["person"], person.as_str());
        references.push(body["id"].as_str().unwrap().to_owned());
    }
    // Notifications: the insurer subscribes; the register publishes Anna's
    // new address; the insurer is told under its pseudonym only (checked
    // in `call`).
    let (status, subscription) = agency
        .call(
            "POST",
            "/v1/subscriptions",
            Some(
                json!({"record_type": "person.address@1", "purpose": PURPOSE, "delivery": "pull"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{subscription}");
    let today = chrono::Utc::now().date_naive().to_string();
    let (status, body) = hub
        .send(
            reqwest::Method::POST,
            "/v1/changes",
            Some(world.token(REGISTER)),
            Some(
                &json!({"person": anna.id, "record_type": "person.address@1.0", "kind": "updated",
                         "effective_date": today, "record": address(&anna.id, "22"),
                         "reference": "anna-moves"}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(status, 202, "{body}");
    let (status, feed) = agency.call("GET", "/v1/notifications?wait=10", None).await;
    assert_eq!(status, 200, "{feed}");
    let told = &feed["notifications"][0];
    assert_eq!(told["person"], anna_p.as_str(), "{feed}");
    assert_eq!(told["data"]["commonId"], anna_p.as_str(), "{feed}");
    assert_eq!(told["data"]["address"]["houseNumber"], "22", "{feed}");

    // A merge by pseudonym: Karl was registered twice.
    let (status, body) = agency
        .call(
            "POST",
            &format!("/v1/persons/{carl_p}/merge"),
            Some(json!({"replaced": carla_p})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // Every entry the insurer may read: its lookups (permitted and
    // refused), references, consent requests and the merge; none names a
    // person, each proof verifies (checked in `call`).
    let size = audit_size(&hub, &operator).await;
    let mut readable = Vec::new();
    for seq in 0..size {
        let (status, body) = agency
            .call("GET", &format!("/v1/audit/entries/{seq}"), None)
            .await;
        match status {
            200 => readable.push(body),
            404 => {}
            other => panic!("entry {seq}: {other} {body}"),
        }
    }
    for exchange in &exchanges {
        assert!(
            readable
                .iter()
                .any(|e| e["entry"]["exchange_id"] == exchange.as_str()),
            "the insurer cannot read the entry of its exchange {exchange}"
        );
    }
    let merge_entry = readable
        .iter()
        .find(|e| e["entry"]["kind"] == "person.merged")
        .expect("the merge entry");
    assert!(
        merge_entry["entry"]["details"]["replaced_commitment"].is_string(),
        "{merge_entry}"
    );
    assert!(readable.iter().all(|e| e["entry"].get("subject").is_none()));

    // The same entries, for the operator: with the salt, which opens each
    // commitment to the person's common ID (and to no other).
    let all_ids = [&anna.id, &bob.id, &carl.id, &carla.id];
    for entry in &readable {
        let seq = entry["seq"].as_u64().unwrap();
        let (status, proof) = hub
            .send(
                reqwest::Method::GET,
                &format!("/v1/audit/entries/{seq}"),
                Some(&operator),
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, 200);
        verify_inclusion(&agency.key, &proof);
        let parsed =
            audit::Entry::from_canonical_bytes(proof["entry_json"].as_str().unwrap().as_bytes())
                .unwrap();
        let Some(commitment) = parsed.subject_commitment else {
            continue;
        };
        let salt: audit::Salt = proof["subject_salt"].as_str().unwrap().parse().unwrap();
        let opened: Vec<_> = all_ids
            .iter()
            .filter(|id| salt.verify(id, &commitment))
            .collect();
        assert_eq!(opened.len(), 1, "entry {seq}: {proof}");
        if parsed.kind.as_str() == "person.merged" {
            let replaced = audit::Hash::from_hex(
                parsed.details.as_ref().unwrap()["replaced_commitment"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
            assert!(salt.verify(&carl.id, &commitment));
            assert!(salt.verify(&carla.id, &replaced));
        }
    }

    // Anna's access log: her entries, each with its salt, which opens the
    // commitment to her common ID; every proof verifies.
    let (status, log) = hub
        .send(
            reqwest::Method::GET,
            "/v1/citizen/access-log",
            Some(&citizen),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{log}");
    let items = log["items"].as_array().unwrap();
    let lookups = items
        .iter()
        .filter(|i| i["entry"]["kind"] == "lookup.permitted")
        .count();
    assert_eq!(lookups, 3, "{log}");
    for item in items {
        verify_inclusion(&agency.key, item);
        let entry =
            audit::Entry::from_canonical_bytes(item["entry_json"].as_str().unwrap().as_bytes())
                .unwrap();
        let salt: audit::Salt = item["subject_salt"].as_str().unwrap().parse().unwrap();
        assert!(entry.concerns(&anna.id, Some(&salt)), "{item}");
        assert!(!entry.concerns(&bob.id, Some(&salt)), "{item}");
    }

    // The sweep: every operation the insurer may call, with the ids it
    // legitimately knows.
    let (_, doc) = agency.call("GET", "/openapi.json", None).await;
    let operations = agency_operations(&doc);
    let batch =
        json!({"persons": [anna_p, bob_p], "record_type": "person.address@1", "purpose": PURPOSE});
    let calls: Vec<(&str, String, Option<Value>)> = vec![
        (
            "GET /.well-known/jwks.json",
            "/.well-known/jwks.json".into(),
            None,
        ),
        (
            "GET /.well-known/oauth-authorization-server",
            "/.well-known/oauth-authorization-server".into(),
            None,
        ),
        ("GET /healthz", "/healthz".into(), None),
        ("GET /readyz", "/readyz".into(), None),
        ("GET /openapi.json", "/openapi.json".into(), None),
        ("GET /log/checkpoint", "/log/checkpoint".into(), None),
        ("GET /log/verifier-key", "/log/verifier-key".into(), None),
        (
            "GET /log/proof/consistency",
            format!("/log/proof/consistency?from=1&to={size}"),
            None,
        ),
        ("GET /log/tile/{path}", "/log/tile/0/000.p/1".into(), None),
        ("POST /oauth/token", "/oauth/token".into(), Some(json!({}))),
        (
            "POST /v1/citizen/activate",
            "/v1/citizen/activate".into(),
            Some(json!({"common_id": anna_p, "activation_code": "x", "password": "y"})),
        ),
        (
            "POST /v1/citizen/sign-in",
            "/v1/citizen/sign-in".into(),
            Some(json!({"common_id": anna_p, "password": "y"})),
        ),
        ("GET /v1/purposes", "/v1/purposes".into(), None),
        ("GET /v1/schemas", "/v1/schemas".into(), None),
        (
            "GET /v1/schemas/{name}",
            "/v1/schemas/person.address".into(),
            None,
        ),
        (
            "GET /v1/schemas/{name}/{version}",
            "/v1/schemas/person.address/1.0".into(),
            None,
        ),
        ("GET /v1/agencies/me", "/v1/agencies/me".into(), None),
        ("GET /v1/authorizations", "/v1/authorizations".into(), None),
        ("GET /v1/consents", "/v1/consents".into(), None),
        (
            "GET /v1/consents/events",
            "/v1/consents/events".into(),
            None,
        ),
        (
            "POST /v1/consents/requests",
            "/v1/consents/requests".into(),
            Some(
                json!({"person": carl_p, "record_types": ["person.address@1"], "purpose": PURPOSE,
                     "valid_until": until, "frequency": {"kind": "max_per", "count": 4, "period": "month"}}),
            ),
        ),
        (
            "POST /v1/lookups",
            "/v1/lookups".into(),
            Some(json!({"person": anna_p, "record_type": "person.address@1", "purpose": PURPOSE})),
        ),
        (
            "POST /v1/lookups/batch",
            "/v1/lookups/batch".into(),
            Some(batch),
        ),
        ("POST /v1/persons", "/v1/persons".into(), Some(json!({}))),
        (
            "POST /v1/persons/{id}/status",
            format!("/v1/persons/{bob_p}/status"),
            Some(json!({"status": "inactive"})),
        ),
        (
            "POST /v1/persons/{id}/merge",
            format!("/v1/persons/{carl_p}/merge"),
            Some(json!({"replaced": carla_p})),
        ),
        (
            "POST /v1/references",
            "/v1/references".into(),
            Some(json!({"person": carl_p, "capacity": "insured"})),
        ),
        (
            "DELETE /v1/references/{id}",
            format!("/v1/references/{}", references[1]),
            None,
        ),
        (
            "POST /v1/changes",
            "/v1/changes".into(),
            Some(
                json!({"person": anna_p, "record_type": "person.address@1.0", "kind": "deleted",
                        "effective_date": today, "reference": "not-a-source"}),
            ),
        ),
        ("GET /v1/subscriptions", "/v1/subscriptions".into(), None),
        (
            "POST /v1/subscriptions",
            "/v1/subscriptions".into(),
            Some(
                json!({"record_type": "person.address@1", "purpose": PURPOSE, "delivery": "pull"}),
            ),
        ),
        ("GET /v1/notifications", "/v1/notifications".into(), None),
        (
            "GET /v1/notifications/failed",
            "/v1/notifications/failed".into(),
            None,
        ),
        (
            "DELETE /v1/subscriptions/{id}",
            format!("/v1/subscriptions/{}", subscription["id"].as_str().unwrap()),
            None,
        ),
    ];
    let mut covered: BTreeSet<String> = calls.iter().map(|(op, _, _)| (*op).to_owned()).collect();
    for (op, path, body) in &calls {
        let method = op.split(' ').next().unwrap();
        agency.call(method, path, body.clone()).await;
    }
    for id in [&anna_p, &bob_p, &carl_p, &carla_p] {
        agency.call("GET", &format!("/v1/persons/{id}"), None).await;
    }
    covered.insert("GET /v1/persons/{id}".to_owned());
    for consent in &consents {
        agency
            .call("GET", &format!("/v1/consents/{consent}"), None)
            .await;
        agency
            .call("GET", &format!("/v1/consents/{consent}/artefact"), None)
            .await;
    }
    covered.insert("GET /v1/consents/{id}".to_owned());
    covered.insert("GET /v1/consents/{id}/artefact".to_owned());
    // Every entry again, the newest included.
    let size = audit_size(&hub, &operator).await;
    for seq in 0..size {
        agency
            .call("GET", &format!("/v1/audit/entries/{seq}"), None)
            .await;
    }
    covered.insert("GET /v1/audit/entries/{seq}".to_owned());
    let forgotten: Vec<_> = operations.difference(&covered).collect();
    assert!(
        forgotten.is_empty(),
        "operations an agency may call that the sweep does not: {forgotten:?}"
    );
    assert!(
        agency.proofs.len() >= 10,
        "{} proofs received",
        agency.proofs.len()
    );
    drop(register_sim);
}

/// The number of entries in the log now: the first sequence number the
/// operator, who may read every entry, cannot read.
async fn audit_size(hub: &HubClient, operator: &str) -> u64 {
    let mut seq = 0;
    loop {
        let (status, _) = hub
            .send(
                reqwest::Method::GET,
                &format!("/v1/audit/entries/{seq}"),
                Some(operator),
                None,
            )
            .await
            .unwrap();
        if status == 404 {
            return seq;
        }
        assert_eq!(status, 200);
        seq += 1;
    }
}

#[tokio::test]
async fn a_pseudonymous_agency_never_reads_a_common_id_on_sqlite() {
    sweep(
        Backend::Sqlite,
        "a_pseudonymous_agency_never_reads_a_common_id_on_sqlite",
    )
    .await;
}

#[tokio::test]
async fn a_pseudonymous_agency_never_reads_a_common_id_on_postgres() {
    sweep(
        Backend::Postgres,
        "a_pseudonymous_agency_never_reads_a_common_id_on_postgres",
    )
    .await;
}
