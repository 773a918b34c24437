//! The operator's console writes to the database a running hub serves
//! from: `crossroads person register` runs 50 times while lookups go on,
//! on SQLite and on PostgreSQL. Every run succeeds, every registration and
//! every lookup has exactly one audit entry, nothing is left in the
//! hand-over table, the log's sequence numbers have no gap, and the log
//! verifies.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::{AgencySim, Hub, cli, crossroads};
use hub::dev::demo::certs::DemoCa;
use hub::dev::demo::client::HubClient;
use hub::dev::testing::{Backend, TestDb, skip};
use serde_json::{Value, json};

const TAX: &str = "BE-0300000001";
const BENEFITS: &str = "BE-0400000001";
const PURPOSE: &str = "benefit-eligibility";
const RECORD: &str = "tax.income-statement@1";
/// Registrations while the hub serves.
const REGISTRATIONS: usize = 50;
/// Console processes at a time.
const CONSOLES: usize = 3;
/// Lookups in flight at a time.
const READERS: usize = 4;
/// Persons the lookups are about.
const LOOKED_UP: usize = 4;

fn run(url: &str, data: &Path, args: &[&str]) -> Output {
    crossroads()
        .env("CROSSROADS_DATA_DIR", data)
        .env("CROSSROADS_DATABASE_URL", url)
        .args(args)
        .output()
        .unwrap()
}

fn register_args(i: usize) -> Vec<String> {
    [
        "person",
        "register",
        "--given-names",
        &format!("Clerk {i}"),
        "--family-name",
        "Console",
        "--birth-date",
        &format!("19{:02}-{:02}-{:02}", 40 + i % 60, 1 + i % 12, 1 + i % 28),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The common ID's digits in the output of `person register`.
fn common_id(out: &str) -> Option<String> {
    out.lines()
        .find_map(|l| l.strip_prefix("common ID:"))
        .map(|id| id.trim().replace(['.', '-'], ""))
}

async fn lookup(hub: &HubClient, token: &str, person: &str) -> (u16, Value) {
    hub.send(
        reqwest::Method::POST,
        "/v1/lookups",
        Some(token),
        Some(&json!({"person": person, "record_type": RECORD, "purpose": PURPOSE})),
    )
    .await
    .unwrap()
}

/// One console run: its index, whether it succeeded, its output, how long
/// it took.
struct ConsoleRun {
    index: usize,
    output: Output,
    took: Duration,
}

async fn cli_while_serving(backend: Backend, test: &str) {
    let Some(db) = TestDb::create(backend) else {
        skip(test);
        return;
    };
    e2e::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ca = DemoCa::new().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();

    cli(&db, &data, &["migrate"]);
    let operator = cli(&db, &data, &["operator", "token", "--name", "Olga"])
        .trim()
        .to_owned();
    let looked_up: Vec<String> = (0..LOOKED_UP)
        .map(|i| {
            let args = register_args(1_000 + i);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            common_id(&cli(&db, &data, &args)).unwrap()
        })
        .collect();

    let mut serve = crossroads();
    serve
        .env("CROSSROADS_DATA_DIR", &data)
        .env("CROSSROADS_DATABASE_URL", db.url.expose_url())
        .env("CROSSROADS_TRUST_ANCHORS_FILE", &ca_file);
    let hub_process = Hub::start(serve);
    let hub = HubClient::new(&hub_process.base_url);

    let records: serde_json::Map<String, Value> = looked_up
        .iter()
        .map(|id| {
            (
                id.clone(),
                json!({"commonId": id, "taxYear": 2026, "incomeYear": 2025, "status": "assessed",
                       "currency": "EUR", "taxableIncome": 31250.0,
                       "incomeByCategory": {"employment": 31250.0}}),
            )
        })
        .collect();
    let records_file = dir.path().join("tax.json");
    std::fs::write(
        &records_file,
        serde_json::to_vec(&json!({"tax.income-statement": records})).unwrap(),
    )
    .unwrap();
    let tax_sim = AgencySim::start(TAX, &hub_process.base_url, &records_file, 0);

    let tax_creds = ca.issue(TAX, "Tax Authority").unwrap();
    let benefits_creds = ca.issue(BENEFITS, "Benefits Agency").unwrap();
    for (id, name, sector, role, endpoint, creds) in [
        (
            TAX,
            "Tax Authority",
            "tax",
            "provider",
            Some(&tax_sim.url),
            &tax_creds,
        ),
        (
            BENEFITS,
            "Benefits Agency",
            "social",
            "consumer",
            None,
            &benefits_creds,
        ),
    ] {
        hub.post(
            "/v1/admin/agencies",
            Some(&operator),
            &json!({
                "id": id, "name": name, "sector": sector, "roles": [role],
                "endpoint_url": endpoint, "identifier_policy": "common_id",
                "certificates": [creds.certificate_pem],
            }),
            201,
        )
        .await
        .unwrap();
    }
    hub.post(
        "/v1/admin/sources",
        Some(&operator),
        &json!({"record_type": "tax.income-statement", "major": 1, "provider": TAX, "timeout_ms": 5_000}),
        201,
    )
    .await
    .unwrap();
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
    hub.post(
        "/v1/admin/authorizations",
        Some(&operator),
        &json!({
            "consumer": {"agency": BENEFITS}, "record_type": "tax.income-statement", "major": 1,
            "fields": ["/commonId", "/taxYear", "/incomeYear", "/status", "/currency", "/taxableIncome"],
            "purposes": [PURPOSE],
            "legal_reference": {"title": "Deliberation 26/042", "url": "https://law.example/isc/26-042"},
            "consent_required": false,
        }),
        201,
    )
    .await
    .unwrap();
    let benefits = hub.agency_token(BENEFITS, &benefits_creds).await.unwrap();

    // The console registers persons, a few processes at a time…
    let runs: Arc<Mutex<Vec<ConsoleRun>>> = Arc::default();
    let url = db.url.expose_url();
    let consoles: Vec<std::thread::JoinHandle<()>> = (0..CONSOLES)
        .map(|c| {
            let (runs, url, data): (_, String, PathBuf) = (runs.clone(), url.clone(), data.clone());
            std::thread::spawn(move || {
                for index in (c..REGISTRATIONS).step_by(CONSOLES) {
                    let args = register_args(index);
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let started = Instant::now();
                    let output = run(&url, &data, &args);
                    runs.lock().unwrap().push(ConsoleRun {
                        index,
                        output,
                        took: started.elapsed(),
                    });
                }
            })
        })
        .collect();

    // …while lookups go on.
    let started = Instant::now();
    let mut lookups: Vec<String> = Vec::new();
    let mut round = 0;
    while !consoles.iter().all(std::thread::JoinHandle::is_finished) {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the console runs did not finish"
        );
        assert!(round < 100_000);
        let answers = futures_util::future::join_all((0..READERS).map(|i| {
            let (hub, token) = (hub.clone(), benefits.clone());
            let person = looked_up[(round + i) % LOOKED_UP].clone();
            async move { lookup(&hub, &token, &person).await }
        }))
        .await;
        for (status, body) in answers {
            if status != 200 {
                let (_, log) = hub_process.stop("TERM");
                panic!(
                    "lookup while the console writes: {status} {body}\nhub log:\n{}\nprovider:\n{}",
                    log.join("\n"),
                    tax_sim.log().join("\n")
                );
            }
            lookups.push(body["exchange_id"].as_str().unwrap().to_owned());
        }
        round += 1;
    }
    let elapsed = started.elapsed();
    for console in consoles {
        console.join().unwrap();
    }

    let mut runs = std::mem::take(&mut *runs.lock().unwrap());
    runs.sort_by_key(|r| r.index);
    assert_eq!(runs.len(), REGISTRATIONS);
    let slowest = runs.iter().map(|r| r.took).max().unwrap_or_default();
    eprintln!(
        "{REGISTRATIONS} console registrations and {} lookups in {elapsed:?}; slowest console run {slowest:?}",
        lookups.len()
    );
    let mut registered = Vec::new();
    for r in &runs {
        let stdout = String::from_utf8_lossy(&r.output.stdout);
        assert!(
            r.output.status.success(),
            "registration {} failed ({:?}, {:?}):\nstdout: {stdout}\nstderr: {}",
            r.index,
            r.output.status,
            r.took,
            String::from_utf8_lossy(&r.output.stderr)
        );
        registered.push(common_id(&stdout).unwrap());
    }
    assert!(!lookups.is_empty());

    // Nothing left in the hand-over table.
    let pool = db.pool();
    let mut conn = pool.get().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !hub::store::audit::queue_is_empty(&mut conn).unwrap() {
        assert!(
            Instant::now() < deadline,
            "the hand-over table is not drained"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // A gapless log: exactly one entry per registration and per lookup.
    let rows = e2e::entries_with_salts(&db);
    let mut by_exchange: HashMap<String, Vec<Value>> = HashMap::new();
    let mut by_person: HashMap<String, Vec<Value>> = HashMap::new();
    for (i, (seq, entry, salt)) in rows.into_iter().enumerate() {
        assert_eq!(seq, i64::try_from(i).unwrap(), "a gap before {seq}");
        assert_eq!(entry["seq"], seq, "{entry}");
        if let Some(id) = entry["exchange_id"].as_str() {
            by_exchange.entry(id.to_owned()).or_default().push(entry);
        } else if entry["kind"] == "person.registered" {
            // Named by commitment: the person it opens to, of those
            // registered.
            let person = registered
                .iter()
                .find(|id| e2e::concerns(&entry, salt.as_deref(), id))
                .cloned()
                .unwrap_or_default();
            by_person.entry(person).or_default().push(entry);
        }
    }
    for id in &registered {
        let entries = by_person.get(id).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(entries.len(), 1, "{id}: {entries:#?}");
        assert_eq!(entries[0]["actor"]["id"], "console", "{}", entries[0]);
        assert_eq!(entries[0]["actor"]["type"], "operator", "{}", entries[0]);
        assert_eq!(entries[0]["outcome"], "recorded", "{}", entries[0]);
    }
    assert_eq!(by_exchange.len(), lookups.len());
    for id in &lookups {
        let entries = by_exchange.get(id).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(entries.len(), 1, "{id}: {entries:#?}");
        assert_eq!(entries[0]["kind"], "lookup.permitted", "{}", entries[0]);
    }
    drop(conn);
    drop(tax_sim);
    drop(hub_process);
    let verified = cli(&db, &data, &["audit", "verify"]);
    assert!(verified.contains("verified: "), "{verified}");
}

#[tokio::test]
async fn console_registrations_while_serving_on_sqlite() {
    cli_while_serving(
        Backend::Sqlite,
        "cli_while_serving::console_registrations_while_serving_on_sqlite",
    )
    .await;
}

#[tokio::test]
async fn console_registrations_while_serving_on_postgres() {
    cli_while_serving(
        Backend::Postgres,
        "cli_while_serving::console_registrations_while_serving_on_postgres",
    )
    .await;
}
