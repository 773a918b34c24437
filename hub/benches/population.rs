//! Measurements on a database filled by `crossroads populate`, named as
//! every command names its database (`CROSSROADS_DATA_DIR`,
//! `CROSSROADS_DATABASE_URL` or `CROSSROADS_CONFIG`):
//!
//! - the citizen access log (the service behind `GET /v1/citizen/access-log`,
//!   entries with their inclusion proofs): p50 and p99 of the first, a
//!   middle and the last page of 50 for the person `POPULATION_BENCH_PERSON`
//!   (the busy person `crossroads populate` printed);
//! - the inclusion proof of random entries of the stored log: p50 and p99;
//! - bytes on disk per person and per audit entry, table by table;
//! - with `POPULATION_BENCH_VERIFY=1`, the verification of the whole
//!   stored log (`crossroads audit verify`'s function) in entries per
//!   second.
//!
//! `POPULATION_BENCH_SAMPLES` (default 200) samples per figure. The
//! inclusion proof at 100 million leaves, which no disk here holds as real
//! entries, is measured over stored hashes alone by the `audit` bench
//! (`AUDIT_BENCH_PROOF_N=100000000`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a benchmark

use std::time::{Duration, Instant};

use hub::app::clock::Clock;
use hub::app::config::Config;
use hub::app::state::AppState;
use hub::audit_log::{EntryFilter, Page};
use hub::store::audit::{self as store, DbHashReader};
use hub::store::population;

const PAGE: u32 = 50;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn quantiles(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let at = |q: usize| times[(times.len() * q / 100).min(times.len() - 1)].as_secs_f64() * 1e3;
    (at(50), at(99))
}

fn main() {
    let config = Config::load(None, &[]).expect("configuration");
    let database = config.database();
    let state = AppState::new(config, Clock::System).expect("the database opens");
    let mut conn = state.pool.get().unwrap();
    let samples = env_number("POPULATION_BENCH_SAMPLES", 200) as usize;
    println!("database: {database}");

    let counts = population::counts(&mut conn).unwrap();
    println!(
        "persons {}, pseudonyms {}, accounts {}, references {}, consents {}, audit entries {}",
        counts.persons,
        counts.pseudonyms,
        counts.accounts,
        counts.references,
        counts.consents,
        counts.audit_entries
    );

    // The busy person's access log: every sequence number first (no proofs).
    if let Ok(person) = std::env::var("POPULATION_BENCH_PERSON") {
        let mut seqs: Vec<u64> = Vec::new();
        let mut before = None;
        loop {
            let rows = store::person_entries(
                &mut conn,
                &person,
                &EntryFilter::default(),
                Page {
                    before,
                    limit: 1_000,
                },
            )
            .unwrap();
            let Some(last) = rows.last() else { break };
            before = Some(last.seq as u64);
            seqs.extend(rows.iter().map(|r| r.seq as u64));
        }
        let pages = seqs.len().div_ceil(PAGE as usize);
        println!(
            "access log of {person}: {} entries, {pages} pages of {PAGE}",
            seqs.len()
        );
        assert!(pages > 0, "the person has no entries");
        for (name, page) in [("first", 0), ("middle", pages / 2), ("last", pages - 1)] {
            let before = (page > 0).then(|| seqs[page * PAGE as usize - 1]);
            let expected = (seqs.len() - page * PAGE as usize).min(PAGE as usize);
            let mut times = Vec::with_capacity(samples);
            for _ in 0..samples {
                let start = Instant::now();
                let items = state
                    .audit
                    .entries_for_person(
                        &mut conn,
                        &person,
                        &EntryFilter::default(),
                        Page {
                            before,
                            limit: PAGE,
                        },
                    )
                    .unwrap();
                times.push(start.elapsed());
                assert_eq!(items.len(), expected);
            }
            let (p50, p99) = quantiles(times);
            println!(
                "access log page {name} ({} of {pages}): p50 {p50:.2} ms, p99 {p99:.2} ms",
                page + 1
            );
        }
    }

    // Inclusion proofs of random entries against the whole log.
    let size = store::tree_size(&mut conn).unwrap();
    if size > 0 {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut times = Vec::with_capacity(samples * 10);
        for _ in 0..samples * 10 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let start = Instant::now();
            let proof =
                audit::prove_inclusion(x % size, size, &DbHashReader::new(&mut conn)).unwrap();
            times.push(start.elapsed());
            assert!(!proof.is_empty() || size == 1);
        }
        let (p50, p99) = quantiles(times);
        println!(
            "inclusion proof, {size} leaves: p50 {:.1} µs, p99 {:.1} µs",
            p50 * 1e3,
            p99 * 1e3
        );
    }

    // Bytes on disk.
    let tables = population::table_bytes(&mut conn).unwrap();
    let bytes_of = |names: &[&str]| -> i64 {
        tables
            .iter()
            .filter(|(t, _)| names.contains(&t.as_str()))
            .map(|(_, b)| b)
            .sum()
    };
    let total: i64 = tables.iter().map(|(_, b)| b).sum();
    for (table, bytes) in tables.iter().take(12) {
        println!("  {table}: {:.1} MiB", *bytes as f64 / 1048576.0);
    }
    let person_bytes = bytes_of(&[
        "persons",
        "sector_pseudonyms",
        "citizen_accounts",
        "person_references",
        "consents",
        "consent_events",
    ]);
    let audit_bytes = bytes_of(&["audit_entries", "audit_hashes"]);
    println!(
        "disk: {:.2} GiB in all; {:.0} bytes per person (persons, pseudonyms, accounts, references, consents); {:.0} bytes per audit entry (entries, hashes)",
        total as f64 / 1073741824.0,
        person_bytes as f64 / counts.persons.max(1) as f64,
        audit_bytes as f64 / counts.audit_entries.max(1) as f64
    );
    drop(conn);

    if env_number("POPULATION_BENCH_VERIFY", 0) == 1 {
        let key = state.audit.signer().unwrap().verifier_key();
        let origin = state.audit.origin().unwrap();
        let start = Instant::now();
        let verdict = hub::audit_log::verify::verify_stored(&state.pool, &key, &origin).unwrap();
        let took = start.elapsed();
        assert!(
            matches!(verdict, hub::audit_log::verify::Verdict::Verified { .. }),
            "{verdict:?}"
        );
        println!(
            "verification of {size} entries: {:.1} s, {:.0} entries/s",
            took.as_secs_f64(),
            size as f64 / took.as_secs_f64()
        );
    }
}
