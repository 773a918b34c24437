//! Durable audit appends per second, beside the raw batched insert rate of
//! the same database in the same run; inclusion-proof latency from the
//! stored tiles of a large log; full verification of a stored log.
//!
//! `cargo bench -p hub --bench audit` (set CROSSROADS_TEST_POSTGRES_URL for
//! the PostgreSQL half). Environment:
//! - AUDIT_BENCH_N: entries per append run (default 100,000);
//! - AUDIT_BENCH_APPENDERS: concurrent appenders, comma-separated
//!   (default `64,256,1000`);
//! - AUDIT_BENCH_PROOF_N: log size for the proof latency (default
//!   10,000,000; 0 skips it). Only the stored hashes are built, from
//!   synthetic leaf hashes: a proof reads nothing else;
//! - AUDIT_BENCH_VERIFY_N: stored entries (canonical JSON) to verify
//!   (default 1,000,000; 0 skips it).
//!
//! The proof and verification logs are built on SQLite by direct batched
//! inserts (with `synchronous = OFF` while building: they measure reads).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark may panic

use std::time::{Duration, Instant};

use audit::{Actor, ActorType, Hash, Outcome};
use diesel::Connection as _;
use diesel::RunQueryDsl as _;
use hub::audit_log::NewEntry;
use hub::dev::testing::{Backend, TestApp};
use hub::store::DbConnection;
use hub::store::audit::{self as store, DbHashReader};

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

async fn durable_appends(backend: Backend, n: usize, appenders: usize) -> Option<f64> {
    let app = TestApp::new(backend)?;
    app.state.audit.append(entry(0)).await.unwrap();
    let start = Instant::now();
    let per = n / appenders;
    let tasks: Vec<_> = (0..appenders)
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
    Some((per * appenders) as f64 / start.elapsed().as_secs_f64())
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
    let salt = audit::Salt::generate().unwrap();
    let entry = e.to_entry(seq, now, &salt).unwrap();
    let bytes = entry.canonical_bytes().unwrap();
    store::EntryRow {
        seq: seq as i64,
        entry: String::from_utf8(bytes).unwrap(),
        time: now.naive_utc(),
        kind: "lookup.permitted".to_owned(),
        actor_type: "agency".to_owned(),
        actor_id: "agency-a".to_owned(),
        person: e.person.clone(),
        record_type: e.record_type.clone(),
        outcome: "permitted".to_owned(),
        provider: Some("agency-b".to_owned()),
        queue_id: None,
        subject_salt: Some(salt.to_hex()),
    }
}

/// Builds a log of `n` synthetic leaves (stored hashes only) and returns
/// the proof latencies: (mean, p99) of `prove_inclusion` from the stored
/// tiles, and the mean of proof plus verification against the root.
fn proof_latency(n: u64) -> (Duration, Duration, Duration, Duration) {
    let app = TestApp::new(Backend::Sqlite).unwrap();
    let mut conn = app.conn();
    unsafe_fast_build(&mut conn);
    let build = Instant::now();
    let chunk = 1_000_000u64;
    let mut size = 0u64;
    while size < n {
        let m = chunk.min(n - size);
        let leaves: Vec<Hash> = (size..size + m)
            .map(|i| audit::leaf_hash(&i.to_be_bytes()))
            .collect();
        conn.transaction(|c| {
            let hashes = audit::append_batch(size, &leaves, &DbHashReader::new(c)).unwrap();
            store::insert_batch(c, &[], &hashes)
        })
        .unwrap();
        size += m;
    }
    let built = build.elapsed();
    let root = audit::tree_hash(n, &DbHashReader::new(&mut conn)).unwrap();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut times = Vec::new();
    let mut with_verify = Duration::ZERO;
    for _ in 0..2_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let index = x % n;
        let start = Instant::now();
        let proof = audit::prove_inclusion(index, n, &DbHashReader::new(&mut conn)).unwrap();
        times.push(start.elapsed());
        let leaf = audit::leaf_hash(&index.to_be_bytes());
        audit::verify_inclusion(&leaf, index, n, &proof, &root).unwrap();
        with_verify += start.elapsed();
    }
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    times.sort();
    let p99 = times[times.len() * 99 / 100];
    (built, mean, p99, with_verify / times.len() as u32)
}

/// CPU time (user and system, all threads) of this process so far, from
/// `/proc/self/stat` in clock ticks of 10 ms; `None` where there is none.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name: state is the 3rd field, utime
    // the 14th and stime the 15th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Builds a log of `n` canonical entries with their hashes and one signed
/// checkpoint; returns (build time, wall time and CPU time of
/// `crossroads audit verify`'s function over it).
fn full_verification(n: usize) -> (Duration, Duration, Option<Duration>) {
    let app = TestApp::new(Backend::Sqlite).unwrap();
    let mut conn = app.conn();
    unsafe_fast_build(&mut conn);
    let build = Instant::now();
    let now = app.clock.now();
    let chunk = 50_000;
    let mut size = 0usize;
    while size < n {
        let m = chunk.min(n - size);
        let rows: Vec<_> = (size..size + m)
            .map(|i| hub_row(&entry(i), i as u64, now))
            .collect();
        let leaves: Vec<Hash> = rows
            .iter()
            .map(|r| audit::leaf_hash(r.entry.as_bytes()))
            .collect();
        conn.transaction(|c| {
            let hashes = audit::append_batch(size as u64, &leaves, &DbHashReader::new(c)).unwrap();
            store::insert_batch(c, &rows, &hashes)
        })
        .unwrap();
        size += m;
    }
    app.state.audit.latest_checkpoint(&mut conn).unwrap();
    let built = build.elapsed();
    drop(conn);
    let key = app.state.audit.signer().unwrap().verifier_key();
    let origin = app.state.audit.origin().unwrap();
    let cpu_before = cpu_time();
    let start = Instant::now();
    let verdict = hub::audit_log::verify::verify_stored(&app.state.pool, &key, &origin).unwrap();
    let took = start.elapsed();
    let cpu = cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    assert!(
        matches!(verdict, hub::audit_log::verify::Verdict::Verified { size, .. } if size == n as u64),
        "{verdict:?}"
    );
    (built, took, cpu)
}

/// Building a benchmark fixture need not survive a power cut.
fn unsafe_fast_build(conn: &mut DbConnection) {
    if let DbConnection::Sqlite(c) = conn {
        diesel::sql_query("PRAGMA synchronous = OFF")
            .execute(c)
            .unwrap();
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace(['_', ','], "").parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n = env_number("AUDIT_BENCH_N", 100_000) as usize;
    let appenders: Vec<usize> = std::env::var("AUDIT_BENCH_APPENDERS")
        .unwrap_or_else(|_| "64,256,1000".to_owned())
        .split(',')
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    println!(
        "| backend | appenders | durable appends/s | raw batched inserts/s (1000 a transaction) |"
    );
    println!("| --- | --- | --- | --- |");
    for (name, backend) in [
        ("SQLite", Backend::Sqlite),
        ("PostgreSQL", Backend::Postgres),
    ] {
        let raw = raw_batched_inserts(backend, n);
        for &a in &appenders {
            let appends = actix_web::rt::System::new().block_on(durable_appends(backend, n, a));
            match (appends, raw) {
                (Some(a_s), Some(r)) => println!("| {name} | {a} | {a_s:.0} | {r:.0} |"),
                _ => println!("| {name} | {a} | skipped (set CROSSROADS_TEST_POSTGRES_URL) | |"),
            }
        }
    }
    let proof_n = env_number("AUDIT_BENCH_PROOF_N", 10_000_000);
    if proof_n > 0 {
        let (built, mean, p99, verified) = proof_latency(proof_n);
        println!(
            "inclusion proof from stored tiles, {proof_n} leaves (SQLite; built in {:.1} s): mean {:.1} µs, p99 {:.1} µs; with verification mean {:.1} µs",
            built.as_secs_f64(),
            mean.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            verified.as_secs_f64() * 1e6
        );
    }
    let verify_n = env_number("AUDIT_BENCH_VERIFY_N", 1_000_000) as usize;
    if verify_n > 0 {
        let (built, took, cpu) = full_verification(verify_n);
        let cpu = cpu.map_or_else(String::new, |c| {
            format!(", {:.2} s of CPU", c.as_secs_f64())
        });
        println!(
            "full verification of {verify_n} stored entries (SQLite; built in {:.1} s): {:.2} s{cpu}",
            built.as_secs_f64(),
            took.as_secs_f64()
        );
    }
}
