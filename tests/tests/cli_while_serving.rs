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

use e2e::{BENEFITS, PURPOSE, World, crossroads, income_statement};
use hub::dev::demo::client::HubClient;
use hub::dev::testing::{Backend, skip};
use serde_json::{Value, json};

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
    let Some(mut world) = World::create(backend) else {
        skip(test);
        return;
    };
    let looked_up: Vec<String> = (0..LOOKED_UP)
        .map(|i| {
            let args = register_args(1_000 + i);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            common_id(&world.cli(&args)).unwrap()
        })
        .collect();

    world.serve();

    let records: serde_json::Map<String, Value> = looked_up
        .iter()
        .map(|id| (id.clone(), income_statement(id)))
        .collect();
    let tax_sim = world.income_statements(&json!(records), 0, false).await;
    let hub = world.client().clone();
    let benefits = world.token(BENEFITS).to_owned();
    let data = world.data.clone();

    // The console registers persons, a few processes at a time…
    let runs: Arc<Mutex<Vec<ConsoleRun>>> = Arc::default();
    let url = world.db.url.expose_url();
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
                let (_, log) = world.stop("TERM");
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
    let pool = world.db.pool();
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
    let rows = e2e::entries_with_salts(&world.db);
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
    world.kill_hub();
    let verified = world.cli(&["audit", "verify"]);
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
