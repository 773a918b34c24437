//! Durable audit appends per second, beside the raw batched insert rate of
//! the same database in the same run.
//!
//! `cargo bench -p hub --bench audit` (set CROSSROADS_TEST_POSTGRES_URL for
//! the PostgreSQL half; AUDIT_BENCH_N sets the number of entries).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark may panic

use std::time::Instant;

use audit::{Actor, ActorType, Outcome};
use diesel::Connection as _;
use hub::audit_log::NewEntry;
use hub::store::audit as store;
use hub::testing::{Backend, TestApp};

const APPENDERS: usize = 64;

fn entry(i: usize) -> NewEntry {
    NewEntry::new(
        "lookup.permitted",
        Actor::new(ActorType::Agency, "agency-a"),
        Outcome::Permitted,
    )
    .unwrap()
    .with_person(format!("person-{}", i % 1000))
    .with_record_type("income@1.0")
    .with_purpose("benefit-eligibility")
    .with_legal_basis("auth-7", 2)
    .with_exchange(format!("ex-{i}"))
    .with_digests(
        Some(audit::sha256(b"request")),
        Some(audit::sha256(b"response")),
    )
    .with_provider("agency-b")
}

async fn durable_appends(backend: Backend, n: usize) -> Option<f64> {
    let app = TestApp::new(backend)?;
    app.state.audit.append(entry(0)).await.unwrap();
    let start = Instant::now();
    let per = n / APPENDERS;
    let tasks: Vec<_> = (0..APPENDERS)
        .map(|t| {
            let state = app.state.clone();
            actix_web::rt::spawn(async move {
                for i in 0..per {
                    state.audit.append(entry(t * per + i)).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    Some((per * APPENDERS) as f64 / start.elapsed().as_secs_f64())
}

fn raw_batched_inserts(backend: Backend, n: usize) -> Option<f64> {
    let app = TestApp::new(backend)?;
    let now = app.clock.now();
    let rows: Vec<_> = (0..n).map(|i| hub_row(&entry(i), i as u64, now)).collect();
    let mut conn = app.conn();
    let start = Instant::now();
    for chunk in rows.chunks(1000) {
        conn.transaction(|c| store::insert_batch(c, chunk, &[]))
            .unwrap();
    }
    Some(n as f64 / start.elapsed().as_secs_f64())
}

fn hub_row(e: &NewEntry, seq: u64, now: chrono::DateTime<chrono::Utc>) -> store::EntryRow {
    let entry = e.to_entry(seq, now).unwrap();
    let bytes = entry.canonical_bytes().unwrap();
    store::EntryRow {
        seq: seq as i64,
        leaf_hash: audit::leaf_hash(&bytes).0.to_vec(),
        entry: String::from_utf8(bytes).unwrap(),
        time: now.naive_utc(),
        kind: "lookup.permitted".to_owned(),
        actor_type: "agency".to_owned(),
        actor_id: "agency-a".to_owned(),
        person: e.person.clone(),
        record_type: e.record_type.clone(),
        outcome: "permitted".to_owned(),
        exchange_id: e.exchange_id.clone(),
        provider: Some("agency-b".to_owned()),
        queue_id: None,
    }
}

fn main() {
    let n: usize = std::env::var("AUDIT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    println!(
        "| backend | durable appends/s ({APPENDERS} appenders) | raw batched inserts/s (1000 a transaction) |"
    );
    println!("| --- | --- | --- |");
    for (name, backend) in [
        ("SQLite", Backend::Sqlite),
        ("PostgreSQL", Backend::Postgres),
    ] {
        let appends = actix_web::rt::System::new().block_on(durable_appends(backend, n));
        let raw = raw_batched_inserts(backend, n);
        match (appends, raw) {
            (Some(a), Some(r)) => println!("| {name} | {a:.0} | {r:.0} |"),
            _ => println!("| {name} | skipped (set CROSSROADS_TEST_POSTGRES_URL) | |"),
        }
    }
}
