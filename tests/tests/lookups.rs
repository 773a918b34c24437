//! Brokered lookups end to end: `crossroads serve` and three
//! `crossroads agency-sim` providers as separate processes over real HTTP,
//! on SQLite and on PostgreSQL. Every outcome of `POST /v1/lookups` is
//! provoked once, and each must leave exactly one audit entry.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use e2e::{AgencySim, Hub, cli, crossroads};
use hub::dev::demo::certs::DemoCa;
use hub::dev::demo::client::HubClient;
use hub::dev::testing::{Backend, TestDb, skip};
use serde_json::{Value, json};

/// Population register: `person.address@1` (common IDs).
const REGISTER: &str = "BE-0200000001";
/// Tax authority: `tax.income-statement@1`, and a broken
/// `health.insurance-coverage@1` (its record does not match the schema).
const TAX: &str = "BE-0300000001";
/// Employment register: `employment.current-employer@1`, slow, then down.
const EMPLOYMENT: &str = "BE-0600000001";
/// Benefits agency: a consumer that sees common IDs.
const BENEFITS: &str = "BE-0400000001";
/// Health insurer: a consumer that sees persons by its sector pseudonym.
const INSURER: &str = "BE-0800000001";
/// A well-formed common ID that nobody holds.
const NOBODY: &str = "12345678978";
const PURPOSE: &str = "benefit-eligibility";

/// Registers a person with the operator CLI; returns the common ID's digits.
fn register(db: &TestDb, data: &Path, given: &str, family: &str, born: &str) -> String {
    let out = cli(
        db,
        data,
        &[
            "person",
            "register",
            "--given-names",
            given,
            "--family-name",
            family,
            "--birth-date",
            born,
        ],
    );
    out.lines()
        .find_map(|l| l.strip_prefix("common ID:"))
        .unwrap()
        .trim()
        .replace(['.', '-'], "")
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

/// A lookup's status and body.
async fn lookup(hub: &HubClient, token: &str, person: &str, record_type: &str) -> (u16, Value) {
    hub.send(
        reqwest::Method::POST,
        "/v1/lookups",
        Some(token),
        Some(&json!({"person": person, "record_type": record_type, "purpose": PURPOSE})),
    )
    .await
    .unwrap()
}

/// Checks a refused lookup's status, problem code and exchange id; returns
/// the exchange id.
fn refused(answer: &(u16, Value), status: u16, code: &str) -> String {
    let (got, body) = answer;
    assert_eq!(
        (*got, body["code"].as_str()),
        (status, Some(code)),
        "{body}"
    );
    assert_eq!(body["status"], status, "{body}");
    let exchange = body["exchange_id"].as_str().unwrap();
    assert!(exchange.starts_with("exc-"), "{body}");
    exchange.to_owned()
}

fn permitted(answer: &(u16, Value)) -> String {
    let (got, body) = answer;
    assert_eq!(*got, 200, "{body}");
    body["exchange_id"].as_str().unwrap().to_owned()
}

async fn every_outcome(backend: Backend, test: &str) {
    let Some(db) = TestDb::create(backend) else {
        skip(test);
        return;
    };
    // reqwest with rustls in this test binary: plain HTTP here, but a
    // client cannot be built without a crypto provider.
    e2e::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ca = DemoCa::new().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();

    // Operator set-up from the command line: schema, token, persons, a merge.
    cli(&db, &data, &["migrate"]);
    let operator = cli(&db, &data, &["operator", "token", "--name", "Olga"])
        .trim()
        .to_owned();
    let anna = register(&db, &data, "Anna", "Peeters", "1985-07-30");
    let tom = register(&db, &data, "Tom", "Janssens", "1983-02-15");
    let survivor = register(&db, &data, "Sofia", "El Amrani", "1992-11-03");
    let replaced = register(&db, &data, "Sophia", "Elamrani", "1992-03-11");
    let merged = cli(&db, &data, &["person", "merge", &survivor, &replaced]);
    assert!(merged.contains("now resolves to"), "{merged}");

    let mut serve = crossroads();
    serve
        .env("CROSSROADS_DATA_DIR", &data)
        .env("CROSSROADS_DATABASE_URL", db.url.expose_url())
        .env("CROSSROADS_TRUST_ANCHORS_FILE", &ca_file)
        // The population register serves HTTPS with a certificate of the
        // same private CA.
        .env("CROSSROADS_PROVIDER_CA_FILE", &ca_file);
    let hub_process = Hub::start(serve);
    let hub = HubClient::new(&hub_process.base_url);

    // The providers, as separate processes, each with its records file.
    let address = |id: &str, house: &str, town: &str| {
        json!({
            "commonId": id, "addressType": "legal-residence", "since": "2019-09-01",
            "address": {"street": "Rue de la Loi", "houseNumber": house, "box": "2",
                        "postcode": "1000", "municipality": town, "country": "BE"},
        })
    };
    let register_records = dir.path().join("register.json");
    write_json(
        &register_records,
        &json!({"person.address": {
            anna.clone(): address(&anna, "16", "Bruxelles"),
            survivor.clone(): address(&survivor, "42", "Gent"),
        }}),
    );
    let tax_records = dir.path().join("tax.json");
    write_json(
        &tax_records,
        &json!({
            "tax.income-statement": {anna.clone(): {
                "commonId": anna, "taxYear": 2026, "incomeYear": 2025, "status": "assessed",
                "currency": "EUR", "taxableIncome": 31250.0,
            }},
            // Not an insurance coverage: no insurer, a status that is a number.
            "health.insurance-coverage": {anna.clone(): {"commonId": anna, "status": "secret-status-4711"}},
        }),
    );
    let employment_records = dir.path().join("employment.json");
    write_json(
        &employment_records,
        &json!({"employment.current-employer": {anna.clone(): {
            "commonId": anna, "asOf": "2026-01-01", "employments": [],
        }}}),
    );
    let register_tls = ca.issue_server(&["127.0.0.1"]).unwrap();
    let register_cert = dir.path().join("register-tls.pem");
    let register_key = dir.path().join("register-tls.key");
    std::fs::write(&register_cert, &register_tls.certificate_pem).unwrap();
    std::fs::write(&register_key, &register_tls.key_pem).unwrap();
    let register_sim = AgencySim::start_tls(
        REGISTER,
        &hub_process.base_url,
        &register_records,
        &register_cert,
        &register_key,
    );
    assert!(
        register_sim.url.starts_with("https://"),
        "{}",
        register_sim.url
    );
    let tax_sim = AgencySim::start(TAX, &hub_process.base_url, &tax_records, 0);
    let mut slow_sim = AgencySim::start(
        EMPLOYMENT,
        &hub_process.base_url,
        &employment_records,
        2_000,
    );

    // Onboarding over HTTP, as an operator.
    let register_creds = ca.issue(REGISTER, "Population Register").unwrap();
    let tax_creds = ca.issue(TAX, "Tax Authority").unwrap();
    let employment_creds = ca.issue(EMPLOYMENT, "Employment Register").unwrap();
    let benefits_creds = ca.issue(BENEFITS, "Benefits Agency").unwrap();
    let insurer_creds = ca.issue(INSURER, "Health Insurer").unwrap();
    let agencies = [
        (
            REGISTER,
            "Population Register",
            "civil",
            "provider",
            Some(&register_sim.url),
            "common_id",
            &register_creds,
        ),
        (
            TAX,
            "Tax Authority",
            "tax",
            "provider",
            Some(&tax_sim.url),
            "common_id",
            &tax_creds,
        ),
        (
            EMPLOYMENT,
            "Employment Register",
            "employment",
            "provider",
            Some(&slow_sim.url),
            "common_id",
            &employment_creds,
        ),
        (
            BENEFITS,
            "Benefits Agency",
            "social",
            "consumer",
            None,
            "common_id",
            &benefits_creds,
        ),
        (
            INSURER,
            "Health Insurer",
            "health",
            "consumer",
            None,
            "sector_pseudonym",
            &insurer_creds,
        ),
    ];
    for (id, name, sector, role, endpoint, policy, creds) in agencies {
        hub.post(
            "/v1/admin/agencies",
            Some(&operator),
            &json!({
                "id": id, "name": name, "sector": sector, "roles": [role],
                "endpoint_url": endpoint, "identifier_policy": policy,
                "certificates": [creds.certificate_pem],
            }),
            201,
        )
        .await
        .unwrap();
    }
    for (record_type, provider, timeout_ms) in [
        ("person.address", REGISTER, 5_000),
        ("tax.income-statement", TAX, 5_000),
        ("health.insurance-coverage", TAX, 5_000),
        ("employment.current-employer", EMPLOYMENT, 300),
    ] {
        hub.post(
            "/v1/admin/sources",
            Some(&operator),
            &json!({"record_type": record_type, "major": 1, "provider": provider, "timeout_ms": timeout_ms}),
            201,
        )
        .await
        .unwrap();
    }
    // Nobody is the source of person.family-composition@1.

    hub.post(
        "/v1/admin/purposes",
        Some(&operator),
        &json!({
            "code": PURPOSE, "title": "Checking eligibility for a social benefit",
            "legal_reference": {"title": "Social Assistance Act, art. 12", "url": "https://law.example/sa#12"},
        }),
        201,
    )
    .await
    .unwrap();
    let legal = json!({"title": "Deliberation 26/042", "url": "https://law.example/isc/26-042"});
    // Every field the schema requires must be granted; the box number (not
    // required) and the income breakdown (withholdable) are not.
    let address_fields = json!([
        "/commonId",
        "/addressType",
        "/since",
        "/address/street",
        "/address/houseNumber",
        "/address/postcode",
        "/address/municipality",
        "/address/country",
    ]);
    for (consumer, record_type, fields, consent_required) in [
        (BENEFITS, "person.address", address_fields.clone(), false),
        (
            BENEFITS,
            "tax.income-statement",
            json!([
                "/commonId",
                "/taxYear",
                "/incomeYear",
                "/status",
                "/currency",
                "/taxableIncome"
            ]),
            true,
        ),
        (
            BENEFITS,
            "health.insurance-coverage",
            json!([
                "/commonId",
                "/insurer",
                "/status",
                "/coverage",
                "/increasedReimbursement"
            ]),
            false,
        ),
        (
            BENEFITS,
            "employment.current-employer",
            json!(["/commonId", "/asOf", "/employments"]),
            false,
        ),
        (
            BENEFITS,
            "person.family-composition",
            json!(["/commonId", "/asOf", "/householdSize", "/members"]),
            false,
        ),
        (INSURER, "person.address", address_fields, false),
    ] {
        hub.post(
            "/v1/admin/authorizations",
            Some(&operator),
            &json!({
                "consumer": {"agency": consumer}, "record_type": record_type, "major": 1,
                "fields": fields, "purposes": [PURPOSE], "legal_reference": legal,
                "consent_required": consent_required,
            }),
            201,
        )
        .await
        .unwrap();
    }

    let benefits = hub.agency_token(BENEFITS, &benefits_creds).await.unwrap();
    let insurer = hub.agency_token(INSURER, &insurer_creds).await.unwrap();
    // Every outcome's exchange id, to count its audit entries at the end.
    let mut exchanges: Vec<(&str, String)> = Vec::new();

    // Permitted, minimised: the box number is not granted.
    let answer = lookup(&hub, &benefits, &anna, "person.address@1").await;
    exchanges.push(("permitted", permitted(&answer)));
    let body = &answer.1;
    assert_eq!(body["provider"], REGISTER, "{body}");
    assert_eq!(body["person"], anna.as_str(), "{body}");
    assert!(
        body["record_type"]
            .as_str()
            .unwrap()
            .starts_with("person.address@1."),
        "{body}"
    );
    assert_eq!(body["data"]["address"]["houseNumber"], "16", "{body}");
    assert_eq!(body["data"]["address"]["municipality"], "Bruxelles");
    assert!(body["data"]["address"].get("box").is_none(), "{body}");
    assert_eq!(body["data"]["since"], "2019-09-01", "{body}");

    // Denied: no authorization for the record type.
    let answer = lookup(&hub, &benefits, &anna, "person.identity@1").await;
    exchanges.push((
        "no_authorization",
        refused(&answer, 403, "no_authorization"),
    ));
    // Denied: the rule requires the person's consent, and there is none.
    let answer = lookup(&hub, &benefits, &anna, "tax.income-statement@1").await;
    exchanges.push((
        "consent_required",
        refused(&answer, 403, "consent_required"),
    ));
    // Not a registered person.
    let answer = lookup(&hub, &benefits, NOBODY, "person.address@1").await;
    exchanges.push(("unknown_person", refused(&answer, 404, "unknown_person")));
    // The provider holds no record on Tom.
    let answer = lookup(&hub, &benefits, &tom, "person.address@1").await;
    exchanges.push(("no_record", refused(&answer, 404, "no_record")));
    // Nobody provides the record type.
    let answer = lookup(&hub, &benefits, &anna, "person.family-composition@1").await;
    exchanges.push(("no_provider", refused(&answer, 404, "no_provider")));
    // The provider answers something that does not match the schema: the
    // problem counts the schema errors and never shows the data.
    let answer = lookup(&hub, &benefits, &anna, "health.insurance-coverage@1").await;
    exchanges.push((
        "provider_invalid_response",
        refused(&answer, 502, "provider_invalid_response"),
    ));
    assert!(
        !answer.1.to_string().contains("secret-status-4711"),
        "{}",
        answer.1
    );
    // The provider takes 2 s; the source allows 300 ms.
    let started = std::time::Instant::now();
    let answer = lookup(&hub, &benefits, &anna, "employment.current-employer@1").await;
    exchanges.push((
        "provider_timeout",
        refused(&answer, 504, "provider_timeout"),
    ));
    assert!(started.elapsed() < Duration::from_millis(1_500));
    // The provider's process is gone.
    slow_sim.kill();
    let answer = lookup(&hub, &benefits, &anna, "employment.current-employer@1").await;
    exchanges.push((
        "provider_unavailable",
        refused(&answer, 503, "provider_unavailable"),
    ));

    // A merged ID answers for the survivor.
    let answer = lookup(&hub, &benefits, &replaced, "person.address@1").await;
    exchanges.push(("merged", permitted(&answer)));
    assert_eq!(answer.1["person"], survivor.as_str(), "{}", answer.1);
    assert_eq!(answer.1["data"]["commonId"], survivor.as_str());
    assert_eq!(answer.1["data"]["address"]["municipality"], "Gent");

    // A pseudonymous consumer: named by common ID once (a document the
    // person handed over), the answer names the person by the insurer's
    // sector pseudonym; asked by that pseudonym, the same.
    let answer = lookup(&hub, &insurer, &anna, "person.address@1").await;
    exchanges.push(("pseudonymous, by common ID", permitted(&answer)));
    let pseudonym = answer.1["person"].as_str().unwrap().to_owned();
    assert_ne!(pseudonym, anna);
    let answer = lookup(&hub, &insurer, &pseudonym, "person.address@1").await;
    exchanges.push(("pseudonymous", permitted(&answer)));
    assert_eq!(answer.1["person"], pseudonym.as_str(), "{}", answer.1);
    // The common ID does not reach it inside the record either.
    assert_eq!(
        answer.1["data"]["commonId"],
        pseudonym.as_str(),
        "{}",
        answer.1
    );
    assert!(!answer.1.to_string().contains(&anna), "{}", answer.1);
    assert_eq!(answer.1["data"]["address"]["municipality"], "Bruxelles");
    assert!(answer.1["data"]["address"].get("box").is_none());
    // Another sector's consumer cannot use it.
    let answer = lookup(&hub, &benefits, &pseudonym, "person.address@1").await;
    exchanges.push((
        "foreign pseudonym",
        refused(&answer, 422, "foreign_pseudonym"),
    ));

    drop(register_sim);
    drop(tax_sim);

    // Exactly one audit entry per exchange, of the right outcome.
    let pool = db.pool();
    let mut conn = pool.get().unwrap();
    let rows = hub::store::audit::entries_from(&mut conn, 0, 100_000).unwrap();
    let mut by_exchange: HashMap<String, Vec<Value>> = HashMap::new();
    for (_, entry) in rows {
        let entry: Value = serde_json::from_str(&entry).unwrap();
        if let Some(id) = entry["exchange_id"].as_str() {
            by_exchange.entry(id.to_owned()).or_default().push(entry);
        }
    }
    assert_eq!(by_exchange.len(), exchanges.len(), "{by_exchange:#?}");
    for (outcome, id) in &exchanges {
        let entries = by_exchange.get(id).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(entries.len(), 1, "{outcome}: {entries:#?}");
        let entry = &entries[0];
        let expected = match *outcome {
            "no_authorization" | "consent_required" => "denied",
            o if o.starts_with("permitted") || o.starts_with("pseudonymous") || o == "merged" => {
                "permitted"
            }
            _ => "error",
        };
        assert_eq!(entry["outcome"], expected, "{outcome}: {entry}");
        let caller = if outcome.starts_with("pseudonymous") {
            INSURER
        } else {
            BENEFITS
        };
        assert_eq!(entry["actor"]["id"], caller, "{outcome}: {entry}");
        if expected == "denied" {
            assert_eq!(entry["deny_code"], *outcome, "{entry}");
        }
        if expected == "permitted" {
            assert!(entry["response_digest"].is_string(), "{entry}");
        }
    }
    drop(conn);
    // The hub logged the invalid answer by where it failed, never by the
    // value the validator would quote.
    let (_, log) = hub_process.stop("TERM");
    let log = log.join("\n");
    assert!(log.contains("provider answer does not validate"), "{log}");
    assert!(!log.contains("secret-status-4711"), "{log}");
}

#[tokio::test]
async fn every_lookup_outcome_on_sqlite() {
    every_outcome(Backend::Sqlite, "lookups::every_lookup_outcome_on_sqlite").await;
}

#[tokio::test]
async fn every_lookup_outcome_on_postgres() {
    every_outcome(
        Backend::Postgres,
        "lookups::every_lookup_outcome_on_postgres",
    )
    .await;
}
