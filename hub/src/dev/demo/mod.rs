//! `crossroads demo`: the hub on a fresh SQLite database, and on loopback a
//! population register and a tax authority (providers, run by the agency
//! simulator) and a benefits agency (consumer); onboarded with freshly made
//! certificates; then a short story told in the terminal, every step over
//! real HTTP as the agencies and the citizen would do it.

pub mod certs;
pub mod client;
pub mod scenario;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use serde_json::json;

use self::certs::{AgencyCredentials, DemoCa};
use self::client::HubClient;
use crate::app::config::Config;
use crate::dev::sim::{self, Records, SimOptions};

/// Options of `crossroads demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoOptions {
    /// Stop after the story (for scripts and CI) instead of serving on.
    #[arg(long)]
    pub exit: bool,
    /// Also leave a second person with a pending consent request, and write
    /// what a test needs to play them and the consumer agency to this file.
    #[arg(long)]
    pub scenario_file: Option<PathBuf>,
}

const REGISTER: &str = "BE-0200000001";
const TAX: &str = "BE-0300000001";
const BENEFITS: &str = "BE-0400000001";
const PASSWORD: &str = "demo-password-for-anna";

struct Agency {
    id: &'static str,
    name: &'static str,
    sector: &'static str,
    roles: &'static [&'static str],
    credentials: AgencyCredentials,
}

fn say(line: &str) {
    println!("{line}");
}

fn step(title: &str) {
    println!("\n\u{25b6} {title}");
}

/// Runs the demo.
pub async fn run(mut config: Config, options: DemoOptions) -> anyhow::Result<()> {
    let data = config.data_dir.join(format!(
        "demo-{}",
        chrono::Utc::now().format("%Y%m%d-%H%M%S")
    ));
    crate::secrets::create_private_dir(&data)
        .with_context(|| format!("cannot create {}", data.display()))?;
    let ca = DemoCa::new()?;
    let ca_file = data.join("demo-ca.pem");
    std::fs::write(&ca_file, &ca.pem)?;
    config.data_dir = data.clone();
    config.database_url = Some(crate::app::config::DatabaseUrl::Sqlite {
        path: data.join("crossroads.db"),
    });
    config.trust_anchors_file = Some(ca_file);
    if std::net::TcpListener::bind(config.listen).is_err() {
        config.listen.set_port(0);
    }
    config.public_url = None;
    // The demo's simulated providers answer on plain HTTP on this machine.
    config.allow_insecure_providers = true;

    println!("Crossroads demo — data in {}", data.display());
    let started = crate::app::server::start(config).await?;
    let hub_url = format!("http://{}", started.addr);
    let state = started.state.clone();
    let server_handle = started.server.handle();
    let server = actix_web::rt::spawn(started.server);

    let outcome = story(&state, &hub_url, &ca, options.scenario_file.as_deref()).await;
    let stop = |code| async move {
        server_handle.stop(true).await;
        let _ = server.await;
        code
    };
    if let Err(e) = outcome {
        eprintln!("\nthe demo failed: {e:#}");
        return stop(Err(e)).await;
    }
    if options.exit {
        return stop(Ok(())).await;
    }
    println!("\nThe hub keeps running; press Ctrl-C to stop.");
    until_stopped().await;
    stop(Ok(())).await
}

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM, as `serve` stops on.
async fn until_stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C stops the demo")
            }
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn story(
    state: &actix_web::web::Data<crate::app::state::AppState>,
    hub_url: &str,
    ca: &DemoCa,
    scenario_file: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let hub = HubClient::new(hub_url);
    say(&format!(
        "hub listening on {hub_url} (API description: {hub_url}/docs)"
    ));

    // Two providers, run by the agency simulator; their records come later.
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
    };
    let register_sim = sim::start(&sim_options(REGISTER), register_records.clone())?;
    let tax_sim = sim::start(&sim_options(TAX), tax_records.clone())?;
    let register_url = register_sim.url.clone();
    let tax_url = tax_sim.url.clone();
    actix_web::rt::spawn(register_sim.server);
    actix_web::rt::spawn(tax_sim.server);

    step("Onboarding three agencies with freshly made certificates");
    let operator = {
        let mut conn = state.pool.get()?;
        crate::services::operators::issue(&mut conn, "demo operator", state.clock.now())?.token
    };
    let agencies = [
        Agency {
            id: REGISTER,
            name: "Population Register",
            sector: "civil",
            roles: &["provider", "registrar"],
            credentials: ca.issue(REGISTER, "Population Register")?,
        },
        Agency {
            id: TAX,
            name: "Tax Authority",
            sector: "tax",
            roles: &["provider"],
            credentials: ca.issue(TAX, "Tax Authority")?,
        },
        Agency {
            id: BENEFITS,
            name: "Benefits Agency",
            sector: "social",
            roles: &["consumer"],
            credentials: ca.issue(BENEFITS, "Benefits Agency")?,
        },
    ];
    for agency in &agencies {
        let endpoint = match agency.id {
            REGISTER => Some(register_url.clone()),
            TAX => Some(tax_url.clone()),
            _ => None,
        };
        hub.post(
            "/v1/admin/agencies",
            Some(&operator),
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
            Some(&operator),
            &json!({"record_type": record_type, "major": 1, "provider": provider}),
            201,
        )
        .await?;
    }
    say(
        "  sources: person.identity@1 and person.address@1 from the register, tax.income-statement@1 from the tax authority",
    );

    step("Publishing the legal bases");
    hub.post(
        "/v1/admin/purposes",
        Some(&operator),
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
        Some(&operator),
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
        Some(&operator),
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

    step("The population register registers four persons");
    let register_token = hub.agency_token(REGISTER, &agencies[0].credentials).await?;
    let people = [
        ("Anna Maria", "Peeters", "1985-07-30"),
        ("Tom", "Janssens", "1983-02-15"),
        ("Sofia", "El Amrani", "1992-11-03"),
        ("Lucas", "Dubois", "1978-04-21"),
    ];
    let mut ids = Vec::new();
    let mut anna_code = String::new();
    let mut codes = Vec::new();
    for (given, family, born) in people {
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
        if ids.is_empty() {
            anna_code = registered["activation_code"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
        }
        let display: String = id
            .parse::<identity::CommonId>()
            .map(|c| c.to_string())
            .unwrap_or_else(|_| id.clone());
        say(&format!(
            "  {given} {family}, born {born}: common ID {display}"
        ));
        ids.push(id);
    }
    let anna = ids[0].clone();
    fill_records(&register_records, &tax_records, &ids, &people)?;

    step("The benefits agency gets an access token (private_key_jwt)");
    let benefits = hub.agency_token(BENEFITS, &agencies[2].credentials).await?;
    say("  token issued for BE-0400000001, scope consumer");

    step("1. A lookup the law allows without consent");
    let address = lookup(&hub, &benefits, &anna, "person.address@1").await?;
    say(&format!(
        "  permitted — exchange {} — {}",
        address.0, address.1
    ));

    step("2. The income statement needs Anna's consent");
    let refused = lookup(&hub, &benefits, &anna, "tax.income-statement@1").await?;
    say(&format!(
        "  refused — exchange {} — {}",
        refused.0, refused.1
    ));

    step("3. The agency asks Anna for consent; Anna signs in and approves");
    let until = (chrono::Utc::now() + chrono::Duration::days(90)).to_rfc3339();
    let request = hub
        .post(
            "/v1/consents/requests",
            Some(&benefits),
            &json!({"person": anna, "record_types": ["tax.income-statement@1"], "purpose": "benefit-eligibility",
                    "valid_until": until, "frequency": {"kind": "max_per", "count": 4, "period": "month"}}),
            201,
        )
        .await?;
    let consent_id = request["id"].as_str().unwrap_or_default().to_owned();
    say(&format!("  consent request {consent_id}: pending"));
    hub.post(
        "/v1/citizen/activate",
        None,
        &json!({"common_id": anna, "activation_code": anna_code, "password": PASSWORD}),
        204,
    )
    .await?;
    let signed_in = hub
        .post(
            "/v1/citizen/sign-in",
            None,
            &json!({"common_id": anna, "password": PASSWORD}),
            200,
        )
        .await?;
    let citizen = signed_in["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    hub.post(
        &format!("/v1/citizen/consents/{consent_id}/approve"),
        Some(&citizen),
        &json!({}),
        200,
    )
    .await?;
    say("  Anna activated her account with the code from her letter, signed in and approved");

    step("4. The same lookup, now with consent");
    let income = lookup(&hub, &benefits, &anna, "tax.income-statement@1").await?;
    say(&format!(
        "  permitted — exchange {} — {}",
        income.0, income.1
    ));

    step("5. Anna revokes her consent; the next lookup is refused");
    hub.post(
        &format!("/v1/citizen/consents/{consent_id}/revoke"),
        Some(&citizen),
        &json!({}),
        200,
    )
    .await?;
    let refused = lookup(&hub, &benefits, &anna, "tax.income-statement@1").await?;
    say(&format!(
        "  refused — exchange {} — {}",
        refused.0, refused.1
    ));

    step("6. A batch lookup: four addresses in one call");
    let batch = hub
        .post(
            "/v1/lookups/batch",
            Some(&benefits),
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

    step("Anna's access log: who looked at her data");
    let log = hub
        .get("/v1/citizen/access-log?limit=20", Some(&citizen))
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

    step("Verifying the audit log");
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

    if let Some(path) = scenario_file {
        let cast = scenario::Cast {
            hub_url,
            data_dir: &state.config.data_dir,
            consumer: (BENEFITS, &benefits, &agencies[2].credentials.key_pem),
            registrar: (REGISTER, &register_token, &agencies[0].credentials.key_pem),
            person: (&ids[1], &codes[1]),
        };
        scenario::write(&hub, cast, path).await?;
    }

    step("Try it yourself");
    say(&format!(
        "  hub:        {hub_url}   (API: {hub_url}/docs, OpenAPI: {hub_url}/openapi.json)"
    ));
    say(&format!(
        "  portal:     {hub_url}/portal   (sign in as the citizen below)"
    ));
    say(&format!(
        "  citizen:    common ID {} with password {PASSWORD}",
        anna.parse::<identity::CommonId>()
            .map(|c| c.to_string())
            .unwrap_or(anna.clone())
    ));
    say(&format!(
        "  sign in:    curl -s -X POST {hub_url}/v1/citizen/sign-in -H 'content-type: application/json' -d '{{\"common_id\":\"{anna}\",\"password\":\"{PASSWORD}\"}}'"
    ));
    say(&format!(
        "  audit:      crossroads audit verify --url {hub_url} --key '{key}'"
    ));
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

fn fill_records(
    register: &Arc<RwLock<Records>>,
    tax: &Arc<RwLock<Records>>,
    ids: &[String],
    people: &[(&str, &str, &str)],
) -> anyhow::Result<()> {
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
        let (given, family, born) = people[i];
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
    let mut records = register
        .write()
        .map_err(|_| anyhow::anyhow!("records lock poisoned"))?;
    records.insert("person.identity".to_owned(), identity_records);
    records.insert("person.address".to_owned(), addresses);
    let mut records = tax
        .write()
        .map_err(|_| anyhow::anyhow!("records lock poisoned"))?;
    records.insert("tax.income-statement".to_owned(), incomes);
    Ok(())
}
