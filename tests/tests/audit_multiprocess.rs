//! Three `crossroads serve` processes on one PostgreSQL database append to
//! the audit log concurrently; the sequencer (the holder of the advisory
//! lock) is killed with SIGKILL mid-load and the survivors carry on. The
//! log must come out as one gap-free, duplicate-free sequence holding every
//! acknowledged entry, with the hand-over queue drained and
//! `crossroads audit verify` passing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::collections::HashMap;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use e2e::{Hub, crossroads};
use hub::dev::testing::{Backend, TestDb, skip};
use hub::store::audit as store;
use hub::store::{DbConnection, Pool};
use serde_json::{Value, json};

const HUBS: usize = 3;
/// Concurrent HTTP clients.
const WORKERS: usize = 12;
/// Acknowledged appends before the kill, and again after it.
const PHASE: usize = 200;
const ORIGIN: &str = "hub.example.test/log";

fn run(url: &str, data: &std::path::Path, args: &[&str]) -> Output {
    crossroads()
        .env("CROSSROADS_DATA_DIR", data)
        .env("CROSSROADS_DATABASE_URL", url)
        .env("CROSSROADS_LOG_ORIGIN", ORIGIN)
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[derive(QueryableByName)]
struct Holder {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// The `application_name` of the session holding the sequencer lock.
fn sequencer(pool: &Pool) -> Option<String> {
    let mut conn = pool.get().unwrap();
    let DbConnection::Postgres(pg) = &mut *conn else {
        panic!("not PostgreSQL");
    };
    let rows: Vec<Holder> = diesel::sql_query(
        "SELECT a.application_name AS name FROM pg_locks l \
         JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted \
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND ((l.classid::bigint << 32) | l.objid::bigint) = $1",
    )
    .bind::<diesel::sql_types::BigInt, _>(store::SEQUENCER_LOCK)
    .load(pg)
    .unwrap();
    assert!(rows.len() <= 1, "two sequencers at once");
    rows.into_iter().next().map(|h| h.name)
}

/// Waits until some session holds the sequencer lock; returns its name.
async fn wait_for_sequencer(pool: &Pool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(name) = sequencer(pool) {
            return name;
        }
        assert!(
            Instant::now() < deadline,
            "no process took the sequencer lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until at least `n` appends are acknowledged.
async fn wait_for_acks(acked: &Mutex<Vec<String>>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.lock().unwrap().len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} appends acknowledged, wanted {n}",
            acked.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn killing_the_sequencer_loses_no_acknowledged_entry() {
    let Some(db) = TestDb::create(Backend::Postgres) else {
        skip("audit_multiprocess::killing_the_sequencer_loses_no_acknowledged_entry");
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let data = tempfile::tempdir().unwrap();
    let base = db.url.expose_url();
    // The operator token and the log key are made once, before the hubs
    // start: every process shares the data directory.
    let operator = ok(&run(
        &base,
        data.path(),
        &["operator", "token", "--name", "Olga"],
    ))
    .trim()
    .to_owned();
    ok(&run(&base, data.path(), &["audit", "verifier-key"]));

    // Each process names its sessions, so pg_locks tells which one is the
    // sequencer.
    let mut hubs: HashMap<String, Hub> = HashMap::new();
    for i in 0..HUBS {
        let name = format!("crossroads-hub-{i}");
        let mut cmd = crossroads();
        cmd.env("CROSSROADS_DATA_DIR", data.path())
            .env(
                "CROSSROADS_DATABASE_URL",
                format!("{base}?application_name={name}"),
            )
            .env("CROSSROADS_LOG_ORIGIN", ORIGIN);
        hubs.insert(name, Hub::start(cmd));
    }
    let alive: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(
        hubs.values().map(|h| h.base_url.clone()).collect(),
    ));
    let acked: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let failed = Arc::new(Mutex::new(0usize));
    let stop = Arc::new(AtomicBool::new(false));
    let http = e2e::http_client();

    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (alive, acked, failed, stop, http, operator) = (
                Arc::clone(&alive),
                Arc::clone(&acked),
                Arc::clone(&failed),
                Arc::clone(&stop),
                http.clone(),
                operator.clone(),
            );
            tokio::spawn(async move {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let url = {
                        let alive = alive.lock().unwrap();
                        alive[(w + n) % alive.len()].clone()
                    };
                    let code = format!("p{w}-{n}");
                    n += 1;
                    let res = http
                        .post(format!("{url}/v1/admin/purposes"))
                        .bearer_auth(&operator)
                        .json(&json!({
                            "code": code,
                            "title": "Load",
                            "legal_reference": {"title": "Law", "url": "https://example.gov/law"}
                        }))
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status().is_success() => acked.lock().unwrap().push(code),
                        _ => *failed.lock().unwrap() += 1,
                    }
                }
            })
        })
        .collect();

    let pool = hub::store::connect(&db.url, 2, Duration::from_secs(5)).unwrap();
    wait_for_acks(&acked, PHASE).await;
    let first = wait_for_sequencer(&pool).await;
    let victim = hubs
        .remove(&first)
        .unwrap_or_else(|| panic!("the sequencer {first:?} is none of the hubs"));
    let victim_url = victim.base_url.clone();
    let before_kill = acked.lock().unwrap().len();
    let (status, _) = victim.stop("KILL");
    assert!(!status.success());
    alive.lock().unwrap().retain(|u| *u != victim_url);

    // The survivors keep appending; one of them takes over.
    wait_for_acks(&acked, before_kill + PHASE).await;
    let second = wait_for_sequencer(&pool).await;
    assert_ne!(first, second);
    assert!(hubs.contains_key(&second), "{second}");
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }

    let acked = acked.lock().unwrap().clone();
    let mut conn = pool.get().unwrap();
    let rows = store::entries_from(&mut conn, 0, i64::MAX).unwrap();
    let seqs: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let expected: Vec<i64> = (0..rows.len() as i64).collect();
    assert_eq!(seqs, expected, "sequence numbers have gaps or duplicates");
    // Every purpose code is appended at most once, and every acknowledged
    // one is there.
    let mut logged: HashMap<String, usize> = HashMap::new();
    for (seq, json) in &rows {
        let entry: Value = serde_json::from_str(json).unwrap();
        assert_eq!(entry["seq"].as_i64(), Some(*seq), "{json}");
        if entry["kind"] == "purpose.created" {
            let code = entry["purpose"].as_str().unwrap().to_owned();
            *logged.entry(code).or_default() += 1;
        }
    }
    assert!(
        logged.values().all(|&n| n == 1),
        "an entry was appended twice"
    );
    let missing: Vec<&String> = acked.iter().filter(|c| !logged.contains_key(*c)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged entries missing, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        store::queued(&mut conn, 1).unwrap().is_empty(),
        "the hand-over queue is not drained"
    );
    drop(conn);
    eprintln!(
        "{} entries, {} acknowledged, {} failed requests; sequencer {first} killed after {before_kill}, {second} took over",
        rows.len(),
        acked.len(),
        *failed.lock().unwrap()
    );

    let verified = ok(&run(&base, data.path(), &["audit", "verify"]));
    assert!(
        verified.contains(&format!("verified: {} entries", rows.len())),
        "{verified}"
    );
    drop(hubs);
    drop(pool);
}
