//! Promises under pressure, between real processes over real HTTP, on
//! SQLite and on PostgreSQL: consent use limits hold with many callers at
//! once (and with two hub processes on one PostgreSQL), batches answer in
//! time, every exchange has exactly one audit entry, nothing is left in the
//! hand-over table, and the log verifies.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::collections::HashMap;
use std::time::{Duration, Instant};

use e2e::{AgencySim, BENEFITS, Hub, PURPOSE, World, income_statement};
use hub::dev::demo::client::HubClient;
use hub::dev::testing::{Backend, skip};
use serde_json::{Value, json};

const RECORD: &str = "tax.income-statement@1";
const PASSWORD: &str = "correct horse battery staple 42";
/// Persons of the batches, each under a one-use consent.
const BATCH: usize = 16;

/// Registers a person; returns the common ID's digits and activation code.
fn register(world: &World, i: usize) -> (String, String) {
    let given = format!("Person{i}");
    let born = format!("19{:02}-0{}-1{}", 50 + i % 40, 1 + i % 9, i % 10);
    let out = world.cli(&[
        "person",
        "register",
        "--given-names",
        &given,
        "--family-name",
        "Pressure",
        "--birth-date",
        &born,
    ]);
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .trim()
            .to_owned()
    };
    (
        field("common ID:").replace(['.', '-'], ""),
        field("activation code:"),
    )
}

/// The agency asks for a consent, the person activates their account,
/// signs in and approves it; returns the consent id.
async fn consent(
    hub: &HubClient,
    agency: &str,
    person: &(String, String),
    frequency: Value,
) -> String {
    let until = (chrono::Utc::now() + chrono::Duration::days(90)).to_rfc3339();
    let request = hub
        .post(
            "/v1/consents/requests",
            Some(agency),
            &json!({"person": person.0, "record_types": [RECORD], "purpose": PURPOSE,
                    "valid_until": until, "frequency": frequency}),
            201,
        )
        .await
        .unwrap();
    let id = request["id"].as_str().unwrap().to_owned();
    hub.post(
        "/v1/citizen/activate",
        None,
        &json!({"common_id": person.0, "activation_code": person.1, "password": PASSWORD}),
        204,
    )
    .await
    .unwrap();
    let signed_in = hub
        .post(
            "/v1/citizen/sign-in",
            None,
            &json!({"common_id": person.0, "password": PASSWORD}),
            200,
        )
        .await
        .unwrap();
    let citizen = signed_in["access_token"].as_str().unwrap().to_owned();
    hub.post(
        &format!("/v1/citizen/consents/{id}/approve"),
        Some(&citizen),
        &json!({}),
        200,
    )
    .await
    .unwrap();
    id
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

async fn batch(hub: &HubClient, token: &str, persons: &[String]) -> (u16, Value) {
    hub.send(
        reqwest::Method::POST,
        "/v1/lookups/batch",
        Some(token),
        Some(&json!({"persons": persons, "record_type": RECORD, "purpose": PURPOSE})),
    )
    .await
    .unwrap()
}

/// A `crossroads serve` of `world` with cheap password hashes (the test
/// signs many citizens in), at `public_url` when given.
fn serve_command(world: &World, public_url: Option<&str>) -> std::process::Command {
    let mut serve = world.serve_command();
    if let Some(url) = public_url {
        serve.env("CROSSROADS_PUBLIC_URL", url);
    }
    serve
        .env("CROSSROADS_ARGON2_MEMORY_KIB", "64")
        .env("CROSSROADS_ARGON2_ITERATIONS", "1");
    serve
}

/// The shared world with a provider (the tax authority, answering after
/// `delay_ms`) and a consumer (the benefits agency) whose authorization
/// needs consent; `persons` registered persons with their activation codes.
struct Pressure {
    world: World,
    hub: HubClient,
    tax_sim: AgencySim,
    benefits: String,
    persons: Vec<(String, String)>,
}

impl Pressure {
    async fn start(backend: Backend, persons: usize, delay_ms: u64) -> Option<Pressure> {
        let mut world = World::create(backend)?;
        let persons: Vec<(String, String)> = (0..persons).map(|i| register(&world, i)).collect();
        world.serve_with(serve_command(&world, None));

        let records: serde_json::Map<String, Value> = persons
            .iter()
            .map(|(id, _)| (id.clone(), income_statement(id)))
            .collect();
        // A provider that takes a while: lookups overlap.
        let tax_sim = world
            .income_statements(&json!(records), delay_ms, true)
            .await;
        Some(Pressure {
            hub: world.client().clone(),
            benefits: world.token(BENEFITS).to_owned(),
            world,
            tax_sim,
            persons,
        })
    }
}

async fn use_limits(backend: Backend, test: &str) {
    let Some(pressure) = Pressure::start(backend, BATCH + 1, 30).await else {
        skip(test);
        return;
    };
    let Pressure {
        mut world,
        hub,
        tax_sim,
        benefits,
        persons,
    } = pressure;

    // Person 0: three uses a month. The others: one use each.
    let monthly = &persons[0];
    consent(
        &hub,
        &benefits,
        monthly,
        json!({"kind": "max_per", "count": 3, "period": "month"}),
    )
    .await;
    let once: Vec<String> = persons[1..].iter().map(|p| p.0.clone()).collect();
    for person in &persons[1..] {
        consent(&hub, &benefits, person, json!({"kind": "once"})).await;
    }

    // On PostgreSQL, a second hub process shares the database.
    // Every process shares the data directory (its keys) and the public
    // URL (the issuer of tokens, as behind one load balancer).
    let second = (backend == Backend::Postgres)
        .then(|| Hub::start(serve_command(&world, Some(&world.hub().base_url))));
    let hubs: Vec<HubClient> = std::iter::once(hub.clone())
        .chain(second.iter().map(|h| HubClient::new(&h.base_url)))
        .collect();
    let tokens = vec![benefits.clone(); hubs.len()];
    let mut exchanges: Vec<(String, &'static str)> = Vec::new();

    // 32 parallel lookups under three uses a month: exactly three permitted.
    let answers = futures_util::future::join_all((0..32).map(|i| {
        let hub = hubs[i % hubs.len()].clone();
        let token = tokens[i % hubs.len()].clone();
        let person = monthly.0.clone();
        async move { lookup(&hub, &token, &person).await }
    }))
    .await;
    let mut permitted = 0;
    for (status, body) in &answers {
        let id = body["exchange_id"].as_str().unwrap().to_owned();
        match status {
            200 => {
                permitted += 1;
                exchanges.push((id, "permitted"));
            }
            403 => {
                assert_eq!(body["code"], "consent_use_exhausted", "{body}");
                exchanges.push((id, "denied"));
            }
            _ => {
                drop(second);
                let (_, log) = world.stop("TERM");
                panic!(
                    "{status} {body}\n{}\nprovider:\n{}",
                    log.join("\n"),
                    tax_sim.log().join("\n")
                );
            }
        }
    }
    assert_eq!(permitted, 3, "{answers:#?}");

    // The same person 16 times in one batch is refused, and nothing is
    // looked up.
    let started = Instant::now();
    let (status, body) = batch(&hub, &benefits, &vec![once[0].clone(); 16]).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("batch_duplicate_person")),
        "{body}"
    );

    // Two concurrent batches of the same 16 persons, each under a one-use
    // consent: each person is permitted exactly once over both.
    let started = Instant::now();
    let (first, second_batch) = tokio::join!(
        batch(&hubs[0], &tokens[0], &once),
        batch(&hubs[hubs.len() - 1], &tokens[hubs.len() - 1], &once)
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let mut per_person: HashMap<String, usize> = HashMap::new();
    for (status, body) in [first, second_batch] {
        assert_eq!(status, 200, "{body}");
        let results = body["results"].as_array().unwrap();
        assert_eq!(results.len(), BATCH);
        for item in results {
            let id = item["exchange_id"].as_str().unwrap().to_owned();
            match item["status"].as_u64() {
                Some(200) => {
                    *per_person
                        .entry(item["person"].as_str().unwrap().to_owned())
                        .or_default() += 1;
                    exchanges.push((id, "permitted"));
                }
                Some(403) => {
                    assert_eq!(item["problem"]["code"], "consent_use_exhausted", "{item}");
                    exchanges.push((id, "denied"));
                }
                _ => panic!("{item}"),
            }
        }
    }
    assert_eq!(per_person.len(), BATCH, "{per_person:?}");
    assert!(per_person.values().all(|n| *n == 1), "{per_person:?}");

    drop(second);
    drop(tax_sim);

    // Exactly one audit entry per exchange, of the right outcome; nothing
    // left in the hand-over table; the log verifies.
    let by_exchange = e2e::entries_by_exchange(&world.db, Duration::from_secs(5));
    assert_eq!(by_exchange.len(), exchanges.len());
    for (id, outcome) in &exchanges {
        let entries = &by_exchange[id];
        assert_eq!(entries.len(), 1, "{entries:#?}");
        assert_eq!(entries[0]["outcome"], *outcome, "{}", entries[0]);
    }
    world.kill_hub();
    let verified = world.cli(&["audit", "verify"]);
    assert!(verified.contains("verified: "), "{verified}");
}

#[tokio::test]
async fn consent_use_limits_hold_under_concurrency_on_sqlite() {
    use_limits(
        Backend::Sqlite,
        "pressure::consent_use_limits_hold_under_concurrency_on_sqlite",
    )
    .await;
}

#[tokio::test]
async fn consent_use_limits_hold_under_concurrency_on_postgres() {
    use_limits(
        Backend::Postgres,
        "pressure::consent_use_limits_hold_under_concurrency_on_postgres",
    )
    .await;
}

/// A hub killed (SIGKILL) between a lookup's provider call and its audit
/// entry: after a restart, the reservation of the consent's use is audited
/// as `lookup.interrupted`, once, and the use stays spent.
async fn interrupted(backend: Backend, test: &str) {
    // The provider takes 4 s to answer: time to kill the hub mid-call.
    let Some(mut world) = Pressure::start(backend, 1, 4_000).await else {
        skip(test);
        return;
    };
    let person = world.persons[0].clone();
    let consent_id = consent(
        &world.hub,
        &world.benefits,
        &person,
        json!({"kind": "once"}),
    )
    .await;
    let in_flight = {
        let hub = world.hub.clone();
        let token = world.benefits.clone();
        let person = person.0.clone();
        tokio::spawn(async move {
            hub.send(
                reqwest::Method::POST,
                "/v1/lookups",
                Some(&token),
                Some(&json!({"person": person, "record_type": RECORD, "purpose": PURPOSE})),
            )
            .await
        })
    };
    // The reservation is made before the provider is called.
    let pool = world.world.db.pool();
    let pending = || {
        use diesel::prelude::*;
        use hub::store::tables::consent_uses;
        consent_uses::table
            .filter(consent_uses::consent_id.eq(&consent_id))
            .select((consent_uses::id, consent_uses::pending))
            .load::<(String, bool)>(&mut *pool.get().unwrap())
            .unwrap()
    };
    let started = Instant::now();
    while pending().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(3), "no reservation");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, _) = world.world.stop("KILL");
    assert!(!status.success());
    assert!(in_flight.await.unwrap().is_err(), "the lookup was answered");
    let reservations = pending();
    assert_eq!(reservations.len(), 1);
    let (exchange, still_pending) = reservations[0].clone();
    assert!(still_pending);

    let mut serve = world.world.serve_command();
    serve.env("CROSSROADS_LOOKUP_INTERRUPTED_AFTER_SECS", "1");
    let restarted = Hub::start(serve);
    let started = Instant::now();
    let (entry, salt) = loop {
        let found: Vec<(Value, Option<String>)> = e2e::entries_with_salts(&world.world.db)
            .into_iter()
            .filter(|(_, e, _)| e["exchange_id"] == exchange.as_str())
            .map(|(_, e, salt)| (e, salt))
            .collect();
        if !found.is_empty() {
            assert_eq!(found.len(), 1, "{found:?}");
            break found[0].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no entry for the interrupted lookup"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(entry["kind"], "lookup.interrupted", "{entry}");
    assert_eq!(entry["consent_id"], consent_id.as_str(), "{entry}");
    assert!(
        e2e::concerns(&entry, salt.as_deref(), person.0.as_str()),
        "{entry}"
    );
    assert_eq!(entry["actor"]["id"], BENEFITS, "{entry}");
    // Settled by that entry; the use stays spent.
    assert_eq!(pending(), vec![(exchange, false)]);
    drop(restarted);
    drop(world.tax_sim);
}

#[tokio::test]
async fn a_lookup_interrupted_by_a_crash_is_audited_on_sqlite() {
    interrupted(
        Backend::Sqlite,
        "pressure::a_lookup_interrupted_by_a_crash_is_audited_on_sqlite",
    )
    .await;
}

#[tokio::test]
async fn a_lookup_interrupted_by_a_crash_is_audited_on_postgres() {
    interrupted(
        Backend::Postgres,
        "pressure::a_lookup_interrupted_by_a_crash_is_audited_on_postgres",
    )
    .await;
}
