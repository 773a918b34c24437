//! The demo's story, one function a step: providers start, agencies are
//! onboarded, legal bases published, persons registered; then lookups with
//! and without consent, a consent approved and revoked, a batch, a change
//! of address passed on to the subscribed agency, the citizen's access log
//! and the audit log verified.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use actix_web::web::Data;
use serde_json::json;

use super::certs::{AgencyCredentials, DemoCa};
use super::client::HubClient;
use super::scenario;
use crate::app::state::AppState;
use crate::dev::sim::{self, Records, SimOptions};

const REGISTER: &str = "BE-0200000001";
const TAX: &str = "BE-0300000001";
const BENEFITS: &str = "BE-0400000001";
const PASSWORD: &str = "demo-password-for-anna";

/// An agency of the story.
struct Agency {
    id: &'static str,
    name: &'static str,
    sector: &'static str,
    roles: &'static [&'static str],
    credentials: AgencyCredentials,
}

/// The three agencies: the register, the tax authority, the benefits agency.
struct Agencies {
    register: Agency,
    tax: Agency,
    benefits: Agency,
}

/// The two simulated providers: where they answer, and their records.
struct Providers {
    register_url: String,
    tax_url: String,
    register_records: Arc<RwLock<Records>>,
    tax_records: Arc<RwLock<Records>>,
}

/// The registered persons: their common IDs and activation codes, in order.
struct Registered {
    register_token: String,
    ids: Vec<String>,
    codes: Vec<String>,
}

const PEOPLE: [(&str, &str, &str); 4] = [
    ("Anna Maria", "Peeters", "1985-07-30"),
    ("Tom", "Janssens", "1983-02-15"),
    ("Sofia", "El Amrani", "1992-11-03"),
    ("Lucas", "Dubois", "1978-04-21"),
];

fn say(line: &str) {
    println!("{line}");
}

fn step(title: &str) {
    println!("\n\u{25b6} {title}");
}

/// Tells the story against the hub at `hub_url`, every step over HTTP.
pub(super) async fn tell(
    state: &Data<AppState>,
    hub_url: &str,
    ca: &DemoCa,
    scenario_file: Option<&Path>,
) -> anyhow::Result<()> {
    let hub = HubClient::new(hub_url);
    say(&format!(
        "hub listening on {hub_url} (API description: {hub_url}/docs)"
    ));
    let providers = start_providers(hub_url)?;

    step("Onboarding three agencies with freshly made certificates");
    let operator = operator_token(state)?;
    let agencies = onboard(&hub, &operator, ca, &providers).await?;

    step("Publishing the legal bases");
    publish_legal_bases(&hub, &operator).await?;

    step("The population register registers four persons");
    let registered = register_persons(&hub, &agencies.register).await?;
    fill_records(&providers, &registered.ids)?;
    let anna = registered.ids[0].clone();

    step("The benefits agency gets an access token (private_key_jwt)");
    let benefits = hub
        .agency_token(BENEFITS, &agencies.benefits.credentials)
        .await?;
    say("  token issued for BE-0400000001, scope consumer");
    follow(&hub, &benefits, &anna).await?;

    step("1. A lookup the law allows without consent");
    tell_lookup(&hub, &benefits, &anna, "person.address@1", "permitted").await?;

    step("2. The income statement needs Anna's consent");
    tell_lookup(&hub, &benefits, &anna, "tax.income-statement@1", "refused").await?;

    step("3. The agency asks Anna for consent; Anna signs in and approves");
    let (consent_id, citizen) =
        consent_approved(&hub, &benefits, &anna, &registered.codes[0]).await?;

    step("4. The same lookup, now with consent");
    tell_lookup(
        &hub,
        &benefits,
        &anna,
        "tax.income-statement@1",
        "permitted",
    )
    .await?;

    step("5. Anna revokes her consent; the next lookup is refused");
    hub.post(
        &format!("/v1/citizen/consents/{consent_id}/revoke"),
        Some(&citizen),
        &json!({}),
        200,
    )
    .await?;
    tell_lookup(&hub, &benefits, &anna, "tax.income-statement@1", "refused").await?;

    step("6. A batch lookup: four addresses in one call");
    batch_lookup(&hub, &benefits, &registered.ids).await?;

    step("7. Anna moves: the register publishes her new address");
    anna_moves(
        &hub,
        &registered.register_token,
        &benefits,
        &anna,
        &providers,
    )
    .await?;

    step("Anna's access log: who looked at her data");
    access_log(&hub, &citizen).await?;

    step("Verifying the audit log");
    let key = verify_log(state, hub_url).await?;

    if let Some(path) = scenario_file {
        let cast = scenario::Cast {
            hub_url,
            data_dir: &state.config.data_dir,
            consumer: (BENEFITS, &benefits, &agencies.benefits.credentials.key_pem),
            registrar: (
                REGISTER,
                &registered.register_token,
                &agencies.register.credentials.key_pem,
            ),
            person: (&registered.ids[1], &registered.codes[1]),
        };
        scenario::write(&hub, cast, path).await?;
    }

    step("Try it yourself");
    try_it_yourself(hub_url, &anna, &key);
    Ok(())
}

/// Starts the two providers, run by the agency simulator; their records
/// come once the persons are registered.
fn start_providers(hub_url: &str) -> anyhow::Result<Providers> {
    let register_records: Arc<RwLock<Records>> = Arc::default();
    let tax_records: Arc<RwLock<Records>> = Arc::default();
    let sim_options = |id: &str| SimOptions {
        id: id.to_owned(),
        hub: hub_url.to_owned(),
        records: PathBuf::new(),
        listen: ([127, 0, 0, 1], 0).into(),
        delay_ms: 0,
        tls_cert: None,
        tls_key: None,
        webhook_status: 204,
        publish: None,
        key: None,
    };
    let register_sim = sim::start(&sim_options(REGISTER), register_records.clone())?;
    let tax_sim = sim::start(&sim_options(TAX), tax_records.clone())?;
    let providers = Providers {
        register_url: register_sim.url.clone(),
        tax_url: tax_sim.url.clone(),
        register_records,
        tax_records,
    };
    actix_web::rt::spawn(register_sim.server);
    actix_web::rt::spawn(tax_sim.server);
    Ok(providers)
}

/// An operator credential for the story, made as `crossroads operator
/// token` makes one.
fn operator_token(state: &Data<AppState>) -> anyhow::Result<String> {
    let mut conn = state.pool.get()?;
    Ok(crate::services::operators::issue(&mut conn, "demo operator", state.clock.now())?.token)
}

/// Onboards the three agencies with certificates from the demo CA, and
/// registers the providers as the sources of their record types.
async fn onboard(
    hub: &HubClient,
    operator: &str,
    ca: &DemoCa,
    providers: &Providers,
) -> anyhow::Result<Agencies> {
    let agencies = Agencies {
        register: Agency {
            id: REGISTER,
            name: "Population Register",
            sector: "civil",
            roles: &["provider", "registrar"],
            credentials: ca.issue(REGISTER, "Population Register")?,
        },
        tax: Agency {
            id: TAX,
            name: "Tax Authority",
            sector: "tax",
            roles: &["provider"],
            credentials: ca.issue(TAX, "Tax Authority")?,
        },
        benefits: Agency {
            id: BENEFITS,
            name: "Benefits Agency",
            sector: "social",
            roles: &["consumer"],
            credentials: ca.issue(BENEFITS, "Benefits Agency")?,
        },
    };
    for (agency, endpoint) in [
        (&agencies.register, Some(&providers.register_url)),
        (&agencies.tax, Some(&providers.tax_url)),
        (&agencies.benefits, None),
    ] {
        hub.post(
            "/v1/admin/agencies",
            Some(operator),
            &json!({
                "id": agency.id, "name": agency.name, "sector": agency.sector, "roles": agency.roles,
                "endpoint_url": endpoint, "identifier_policy": "common_id",
                "certificates": [agency.credentials.certificate_pem],
            }),
            201,
        )
        .await?;
        say(&format!(
            "  {} {} ({}, {})",
            agency.id,
            agency.name,
            agency.sector,
            agency.roles.join("+")
        ));
    }
    for (record_type, provider) in [
        ("person.identity", REGISTER),
        ("person.address", REGISTER),
        ("tax.income-statement", TAX),
    ] {
        hub.post(
            "/v1/admin/sources",
            Some(operator),
            &json!({"record_type": record_type, "major": 1, "provider": provider}),
            201,
        )
        .await?;
    }
    say(
        "  sources: person.identity@1 and person.address@1 from the register, tax.income-statement@1 from the tax authority",
    );
    Ok(agencies)
}

/// Publishes the purpose and the benefits agency's two authorizations.
async fn publish_legal_bases(hub: &HubClient, operator: &str) -> anyhow::Result<()> {
    hub.post(
        "/v1/admin/purposes",
        Some(operator),
        &json!({
            "code": "benefit-eligibility", "title": "Checking eligibility for a social benefit",
            "description": "Whether a person meets the conditions of a benefit they applied for.",
            "legal_reference": {"title": "Social Assistance Act, art. 12", "url": "https://law.example/social-assistance#art12"},
        }),
        201,
    )
    .await?;
    let legal = json!({"title": "Deliberation 26/042 of the Information Security Committee", "url": "https://law.example/isc/26-042"});
    hub.post(
        "/v1/admin/authorizations",
        Some(operator),
        &json!({
            "consumer": {"agency": BENEFITS}, "record_type": "person.address", "major": 1,
            "fields": ["/commonId", "/addressType", "/since", "/address/street", "/address/houseNumber", "/address/postcode", "/address/municipality", "/address/country"],
            "purposes": ["benefit-eligibility"], "legal_reference": legal, "consent_required": false,
        }),
        201,
    )
    .await?;
    hub.post(
        "/v1/admin/authorizations",
        Some(operator),
        &json!({
            "consumer": {"agency": BENEFITS}, "record_type": "tax.income-statement", "major": 1,
            "fields": ["/commonId", "/taxYear", "/incomeYear", "/status", "/currency", "/taxableIncome"],
            "purposes": ["benefit-eligibility"], "legal_reference": legal, "consent_required": true,
        }),
        201,
    )
    .await?;
    say(
        "  the benefits agency may read a person's legal address (not the box number) without consent,",
    );
    say(
        "  and the totals of their income statement (not the breakdown) only with the person's consent",
    );
    Ok(())
}

/// The register registers the four persons of the story.
async fn register_persons(hub: &HubClient, register: &Agency) -> anyhow::Result<Registered> {
    let register_token = hub.agency_token(REGISTER, &register.credentials).await?;
    let mut ids = Vec::new();
    let mut codes = Vec::new();
    for (given, family, born) in PEOPLE {
        let registered = hub
            .post(
                "/v1/persons",
                Some(&register_token),
                &json!({"given_names": given, "family_name": family, "birth_date": born}),
                201,
            )
            .await?;
        let id = registered["id"].as_str().unwrap_or_default().to_owned();
        codes.push(
            registered["activation_code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        say(&format!(
            "  {given} {family}, born {born}: common ID {}",
            display_id(&id)
        ));
        ids.push(id);
    }
    Ok(Registered {
        register_token,
        ids,
        codes,
    })
}

/// A common ID as printed (grouped), or as given if it does not parse.
fn display_id(id: &str) -> String {
    id.parse::<identity::CommonId>()
        .map(|c| c.to_string())
        .unwrap_or_else(|_| id.to_owned())
}

/// The agency asks for consent; Anna activates her account, signs in and
/// approves. Returns the consent's id and Anna's citizen token.
async fn consent_approved(
    hub: &HubClient,
    benefits: &str,
    anna: &str,
    anna_code: &str,
) -> anyhow::Result<(String, String)> {
    let until = (chrono::Utc::now() + chrono::Duration::days(90)).to_rfc3339();
    let request = hub
        .post(
            "/v1/consents/requests",
            Some(benefits),
            &json!({"person": anna, "record_types": ["tax.income-statement@1"], "purpose": "benefit-eligibility",
                    "valid_until": until, "frequency": {"kind": "max_per", "count": 4, "period": "month"}}),
            201,
        )
        .await?;
    let consent_id = request["id"].as_str().unwrap_or_default().to_owned();
    say(&format!("  consent request {consent_id}: pending"));
    let citizen = hub.activate_and_sign_in(anna, anna_code, PASSWORD).await?;
    hub.post(
        &format!("/v1/citizen/consents/{consent_id}/approve"),
        Some(&citizen),
        &json!({}),
        200,
    )
    .await?;
    say("  Anna activated her account with the code from her letter, signed in and approved");
    Ok((consent_id, citizen))
}

/// Asks for a record and tells the outcome in one line, saying whether it
/// was `permitted` or `refused`.
async fn tell_lookup(
    hub: &HubClient,
    token: &str,
    person: &str,
    record_type: &str,
    expected: &str,
) -> anyhow::Result<()> {
    let (exchange, outcome) = lookup(hub, token, person, record_type).await?;
    say(&format!("  {expected} — exchange {exchange} — {outcome}"));
    Ok(())
}

/// Asks for a record and describes the outcome in one line.
async fn lookup(
    hub: &HubClient,
    token: &str,
    person: &str,
    record_type: &str,
) -> anyhow::Result<(String, String)> {
    let (status, body) = hub
        .send(
            reqwest::Method::POST,
            "/v1/lookups",
            Some(token),
            Some(&json!({"person": person, "record_type": record_type, "purpose": "benefit-eligibility"})),
        )
        .await?;
    let exchange = body["exchange_id"].as_str().unwrap_or("-").to_owned();
    if status == 200 {
        Ok((
            exchange,
            format!(
                "{} from {}: {}",
                body["record_type"].as_str().unwrap_or_default(),
                body["provider"].as_str().unwrap_or_default(),
                body["data"]
            ),
        ))
    } else {
        Ok((
            exchange,
            format!(
                "{status} {}: {}",
                body["code"].as_str().unwrap_or_default(),
                body["detail"].as_str().unwrap_or_default()
            ),
        ))
    }
}

/// The benefits agency opens a file on Anna and subscribes to changes of
/// addresses (pull), for the purpose it reads them for.
async fn follow(hub: &HubClient, benefits: &str, anna: &str) -> anyhow::Result<()> {
    hub.post(
        "/v1/references",
        Some(benefits),
        &json!({"person": anna, "kind": "file", "capacity": "beneficiary", "valid_from": "2020-01-01"}),
        201,
    )
    .await?;
    let subscription = hub
        .post(
            "/v1/subscriptions",
            Some(benefits),
            &json!({"record_type": "person.address@1", "purpose": "benefit-eligibility", "delivery": "pull"}),
            201,
        )
        .await?;
    say(&format!(
        "  it holds a file on Anna and subscribes to changes of person.address@1 (pull): {}",
        subscription["id"].as_str().unwrap_or_default()
    ));
    Ok(())
}

/// The register publishes Anna's new address while the benefits agency
/// waits on its pull feed (long poll); tells what the agency was told and
/// how long it took.
async fn anna_moves(
    hub: &HubClient,
    register: &str,
    benefits: &str,
    anna: &str,
    providers: &Providers,
) -> anyhow::Result<()> {
    let today = chrono::Utc::now().date_naive().to_string();
    let record = json!({
        "commonId": anna, "addressType": "legal-residence", "since": today,
        "address": {"street": "Place Sainte-Croix", "houseNumber": "7", "box": "4", "postcode": "1050", "municipality": "Ixelles", "country": "BE"},
    });
    let change = json!({
        "person": anna, "record_type": "person.address@1.1", "kind": "updated", "effective_date": today,
        "changed_fields": ["/since", "/address/street", "/address/houseNumber", "/address/box", "/address/postcode", "/address/municipality"],
        "record": record, "reference": "demo-move-anna",
    });
    let (told, published) = tokio::join!(
        async {
            let told = hub.get("/v1/notifications?wait=5", Some(benefits)).await;
            (told, std::time::Instant::now())
        },
        async {
            // The agency is waiting before the change is published.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let at = std::time::Instant::now();
            hub.post("/v1/changes", Some(register), &change, 202)
                .await
                .map(|accepted| (accepted, at))
        }
    );
    let (accepted, published_at) = published?;
    let (told, told_at) = (told.0?, told.1);
    let took = told_at.saturating_duration_since(published_at);
    say(&format!(
        "  POST /v1/changes: 202 — change {}",
        accepted["change_id"].as_str().unwrap_or_default()
    ));
    let Some(n) = told["notifications"].as_array().and_then(|n| n.first()) else {
        anyhow::bail!("the benefits agency was not told of Anna's move: {told}");
    };
    say(&format!(
        "  the benefits agency was told in {} ms (GET /v1/notifications?wait=5): notification {} — exchange {}",
        took.as_millis(),
        n["id"].as_str().unwrap_or_default(),
        n["exchange_id"].as_str().unwrap_or_default(),
    ));
    say(&format!(
        "  {} {} from {}, effective {}; changed {}: {}",
        n["record_type"].as_str().unwrap_or_default(),
        n["kind"].as_str().unwrap_or_default(),
        n["source"].as_str().unwrap_or_default(),
        n["effective_date"].as_str().unwrap_or_default(),
        n["changed_fields"],
        n["data"]
    ));
    // The register's own records follow, so later lookups see the move.
    providers
        .register_records
        .write()
        .map_err(|_| anyhow::anyhow!("records lock poisoned"))?
        .entry("person.address".to_owned())
        .or_default()
        .insert(anna.to_owned(), record);
    Ok(())
}

/// Four addresses in one call.
async fn batch_lookup(hub: &HubClient, benefits: &str, ids: &[String]) -> anyhow::Result<()> {
    let batch = hub
        .post(
            "/v1/lookups/batch",
            Some(benefits),
            &json!({"persons": ids, "record_type": "person.address@1", "purpose": "benefit-eligibility"}),
            200,
        )
        .await?;
    for item in batch["results"].as_array().into_iter().flatten() {
        let town = item["data"]["address"]["municipality"]
            .as_str()
            .unwrap_or("-");
        say(&format!(
            "  {} {} — exchange {} — {town}",
            item["person"].as_str().unwrap_or_default(),
            item["status"],
            item["exchange_id"].as_str().unwrap_or_default()
        ));
    }
    Ok(())
}

/// The lookups in Anna's access log.
async fn access_log(hub: &HubClient, citizen: &str) -> anyhow::Result<()> {
    let log = hub
        .get("/v1/citizen/access-log?limit=20", Some(citizen))
        .await?;
    for item in log["items"].as_array().into_iter().flatten() {
        let entry = &item["entry"];
        if entry["kind"]
            .as_str()
            .is_some_and(|k| k.starts_with("lookup."))
        {
            say(&format!(
                "  {} {} {} {} {}",
                entry["time"].as_str().unwrap_or_default(),
                entry["actor"]["id"].as_str().unwrap_or_default(),
                entry["record_type"].as_str().unwrap_or_default(),
                entry["outcome"].as_str().unwrap_or_default(),
                entry["deny_code"].as_str().unwrap_or_default(),
            ));
        }
    }
    Ok(())
}

/// Recomputes the audit log from the database and prints the latest signed
/// checkpoint; returns the log's verifier key.
async fn verify_log(state: &Data<AppState>, hub_url: &str) -> anyhow::Result<String> {
    let key = state.audit.verifier_key()?;
    let origin = state.audit.origin()?;
    let pool = state.pool.clone();
    let verifier = audit::VerifierKey::parse(&key)?;
    let verdict = actix_web::web::block(move || {
        crate::audit_log::verify::verify_stored(&pool, &verifier, &origin)
    })
    .await??;
    say(&format!("  {verdict:?}"));
    if !matches!(verdict, crate::audit_log::verify::Verdict::Verified { .. }) {
        anyhow::bail!("the audit log does not verify");
    }
    let checkpoint = reqwest::get(format!("{hub_url}/log/checkpoint"))
        .await?
        .text()
        .await?;
    say("  latest signed checkpoint:");
    for line in checkpoint.lines() {
        say(&format!("    {line}"));
    }
    say(&format!("  verifier key: {key}"));
    Ok(key)
}

/// What to try by hand while the hub keeps running.
fn try_it_yourself(hub_url: &str, anna: &str, key: &str) {
    say(&format!(
        "  hub:        {hub_url}   (API: {hub_url}/docs, OpenAPI: {hub_url}/openapi.json)"
    ));
    say(&format!(
        "  portal:     {hub_url}/portal   (sign in as the citizen below)"
    ));
    say(&format!(
        "  citizen:    common ID {} with password {PASSWORD}",
        display_id(anna)
    ));
    say(&format!(
        "  sign in:    curl -s -X POST {hub_url}/v1/citizen/sign-in -H 'content-type: application/json' -d '{{\"common_id\":\"{anna}\",\"password\":\"{PASSWORD}\"}}'"
    ));
    say(&format!(
        "  audit:      crossroads audit verify --url {hub_url} --key '{key}'"
    ));
}

/// Gives the simulated providers the records of the registered persons.
fn fill_records(providers: &Providers, ids: &[String]) -> anyhow::Result<()> {
    let towns = [
        ("1000", "Bruxelles"),
        ("3000", "Leuven"),
        ("9000", "Gent"),
        ("4000", "Liège"),
    ];
    let mut identity_records = HashMap::new();
    let mut addresses = HashMap::new();
    let mut incomes = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        let (given, family, born) = PEOPLE[i];
        let (postcode, town) = towns[i % towns.len()];
        identity_records.insert(id.clone(), json!({
            "commonId": id, "givenNames": given.split(' ').collect::<Vec<_>>(), "familyName": family,
            "birthDate": born, "nationalities": ["BE"],
        }));
        addresses.insert(id.clone(), json!({
            "commonId": id, "addressType": "legal-residence", "since": "2019-09-01",
            "address": {"street": "Rue de la Loi", "houseNumber": format!("{}", 10 + i), "box": "2", "postcode": postcode, "municipality": town, "country": "BE"},
        }));
        incomes.insert(id.clone(), json!({
            "commonId": id, "taxYear": 2026, "incomeYear": 2025, "status": "assessed", "currency": "EUR",
            "taxableIncome": 31_250.0 + 1_000.0 * i as f64, "incomeByCategory": {"employment": 31_250.0 + 1_000.0 * i as f64},
        }));
    }
    let mut records = providers
        .register_records
        .write()
        .map_err(|_| anyhow::anyhow!("records lock poisoned"))?;
    records.insert("person.identity".to_owned(), identity_records);
    records.insert("person.address".to_owned(), addresses);
    let mut records = providers
        .tax_records
        .write()
        .map_err(|_| anyhow::anyhow!("records lock poisoned"))?;
    records.insert("tax.income-statement".to_owned(), incomes);
    Ok(())
}
