//! The two kinds of reference, between real processes on SQLite and on
//! PostgreSQL: a `source` reference only from an agency registered as a
//! source of the record type, a `file` reference only from an agency holding
//! an authorization in force; routing by reference follows source
//! references alone, so no other agency can steer a lookup or plant a row
//! on the person's "who holds data about me" page.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use e2e::{AgencySim, AgencySpec, World};
use hub::dev::demo::client::HubClient;
use hub::dev::testing::{Backend, skip};
use serde_json::{Value, json};

const TAX_A: &str = "BE-0300000001";
const TAX_B: &str = "BE-0300000002";
const BENEFITS: &str = "BE-0400000001";
const STRANGER: &str = "BE-0500000001";
const PURPOSE: &str = "benefit-eligibility";
const RECORD: &str = "tax.income-statement@1";

/// A provider simulator answering `income` as the person's taxable income.
fn provider(world: &World, id: &str, person: &str, income: f64) -> AgencySim {
    let record = json!({"commonId": person, "taxYear": 2026, "incomeYear": 2025, "status": "assessed",
                        "currency": "EUR", "taxableIncome": income, "incomeByCategory": {"employment": income}});
    world.provider(id, &json!({"tax.income-statement": {person: record}}), 0)
}

async fn declare(hub: &HubClient, token: &str, body: Value) -> (u16, Value) {
    hub.send(
        reqwest::Method::POST,
        "/v1/references",
        Some(token),
        Some(&body),
    )
    .await
    .unwrap()
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

/// The taxable income a lookup answered, which tells which source answered.
fn income(answer: &(u16, Value)) -> f64 {
    assert_eq!(answer.0, 200, "{}", answer.1);
    answer.1["data"]["taxableIncome"].as_f64().unwrap()
}

async fn two_kinds(backend: Backend, test: &str) {
    let Some(mut world) = World::create(backend) else {
        return skip(test);
    };
    let person = world.register("Rita", "Reference", "1980-02-03").id;
    world.serve();
    let sim_a = provider(&world, TAX_A, &person, 1000.0);
    let sim_b = provider(&world, TAX_B, &person, 2000.0);
    let (url_a, url_b) = (sim_a.url.clone(), sim_b.url.clone());
    let agencies: [(&str, &str, &[&str], Option<&str>); 4] = [
        (TAX_A, "Tax Office A", &["provider"], Some(&url_a)),
        (TAX_B, "Tax Office B", &["provider"], Some(&url_b)),
        (BENEFITS, "Benefits Agency", &["consumer"], None),
        (STRANGER, "Curious Agency", &["consumer"], None),
    ];
    for (id, name, roles, endpoint) in agencies {
        world
            .onboard(AgencySpec {
                id,
                name,
                sector: "tax",
                roles,
                endpoint,
                policy: "common_id",
            })
            .await;
    }
    for source in [TAX_A, TAX_B] {
        world
            .admin(
                "/v1/admin/sources",
                &json!({"record_type": "tax.income-statement", "major": 1, "provider": source, "routing": "by_reference"}),
            )
            .await;
    }
    world.purpose(PURPOSE, "Checking eligibility").await;
    world
        .authorize(
            BENEFITS,
            "tax.income-statement",
            e2e::INCOME_FIELDS,
            PURPOSE,
            false,
        )
        .await;
    let hub = world.client().clone();
    let db = &world.db;
    let token = |id: &str| world.token(id).to_owned();
    let file = json!({"person": person, "kind": "file", "capacity": "beneficiary"});
    let source =
        json!({"person": person, "kind": "source", "record_type": RECORD, "capacity": "taxpayer"});

    // An agency with no authorization can declare neither kind; a consumer
    // cannot claim to be a source; a source with no authorization cannot
    // plant a file reference.
    for (who, body, code) in [
        (STRANGER, &file, "no_authorization"),
        (STRANGER, &source, "not_a_source"),
        (BENEFITS, &source, "not_a_source"),
        (TAX_B, &file, "no_authorization"),
    ] {
        let (status, problem) = declare(&hub, &token(who), body.clone()).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (403, Some(code)),
            "{who}: {problem}"
        );
    }
    // A source reference names its record type; a file reference says in
    // which capacity.
    let (status, problem) = declare(
        &hub,
        &token(TAX_A),
        json!({"person": person, "kind": "source"}),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("record_type_required"))
    );
    let (status, problem) = declare(
        &hub,
        &token(BENEFITS),
        json!({"person": person, "kind": "file"}),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid_capacity"))
    );

    // The benefits agency's file reference never routes a lookup.
    let (status, declared) = declare(&hub, &token(BENEFITS), file.clone()).await;
    assert_eq!(status, 201, "{declared}");
    assert_eq!(declared["kind"], "file");
    let answer = lookup(&hub, &token(BENEFITS), &person).await;
    assert_eq!(
        (answer.0, answer.1["code"].as_str()),
        (404, Some("no_provider")),
        "{}",
        answer.1
    );

    // Source A declares: lookups go to A. Source B declares a file held
    // since earlier: A's, the latest, still answers.
    let (status, a_ref) = declare(&hub, &token(TAX_A), source.clone()).await;
    assert_eq!(status, 201, "{a_ref}");
    assert_eq!(
        (a_ref["kind"].as_str(), a_ref["record_type"].as_str()),
        (Some("source"), Some(RECORD))
    );
    assert_eq!(
        income(&lookup(&hub, &token(BENEFITS), &person).await),
        1000.0
    );
    let mut older = source.clone();
    older["valid_from"] = json!("2020-01-01");
    let (status, b_ref) = declare(&hub, &token(TAX_B), older).await;
    assert_eq!(status, 201, "{b_ref}");
    assert_eq!(
        income(&lookup(&hub, &token(BENEFITS), &person).await),
        1000.0
    );

    // A ends its reference: B holds the person's file now.
    let path = format!("/v1/references/{}", a_ref["id"].as_str().unwrap());
    let (status, ended) = hub
        .send(reqwest::Method::DELETE, &path, Some(&token(TAX_A)), None)
        .await
        .unwrap();
    assert_eq!(status, 200, "{ended}");
    assert_eq!(
        income(&lookup(&hub, &token(BENEFITS), &person).await),
        2000.0
    );

    // Every declaration, refused ones aside, is in the log with its kind.
    e2e::entries_by_exchange(db, std::time::Duration::from_secs(10));
    let rows = hub::store::audit::entries_from(&mut db.pool().get().unwrap(), 0, 100_000).unwrap();
    let log: Vec<Value> = rows
        .into_iter()
        .map(|(_, e)| serde_json::from_str(&e).unwrap())
        .collect();
    let declared: Vec<&Value> = log
        .iter()
        .filter(|e| e["kind"] == "reference.declared")
        .collect();
    let mut kinds: Vec<(String, String)> = declared
        .iter()
        .map(|e| {
            (
                e["actor"]["id"].as_str().unwrap().to_owned(),
                e["details"]["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            (TAX_A.to_owned(), "source".to_owned()),
            (TAX_B.to_owned(), "source".to_owned()),
            (BENEFITS.to_owned(), "file".to_owned()),
        ]
    );
    drop((sim_a, sim_b));
}

#[tokio::test]
async fn only_sources_route_and_only_authorized_agencies_declare_files_on_sqlite() {
    two_kinds(
        Backend::Sqlite,
        "only_sources_route_and_only_authorized_agencies_declare_files_on_sqlite",
    )
    .await;
}

#[tokio::test]
async fn only_sources_route_and_only_authorized_agencies_declare_files_on_postgres() {
    two_kinds(
        Backend::Postgres,
        "only_sources_route_and_only_authorized_agencies_declare_files_on_postgres",
    )
    .await;
}
