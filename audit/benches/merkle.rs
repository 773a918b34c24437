//! Merkle log benchmarks: leaf hashing, appends, proofs and full
//! recomputation over 1,000,000 leaves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use audit::{
    Actor, ActorType, Checkpoint, Entry, EntryKind, LegalBasis, MemoryLog, Outcome, leaf_hash,
    sha256, verify_inclusion, verify_log,
};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const N: u64 = 1_000_000;

fn entry_bytes(i: u64) -> Vec<u8> {
    // About the size of a real entry's canonical JSON.
    format!(
        r#"{{"actor":{{"id":"agency-{a}","type":"agency"}},"exchange_id":"ex-{i:012}","kind":"lookup.permitted","outcome":"permitted","purpose":"benefit-eligibility","record_type":"income@1.2","request_digest":"{i:064x}","seq":{i},"subject":"{s:011}","time":"2026-11-03T12:34:56.123456Z","v":1}}"#,
        a = i % 97,
        s = i * 7919 % 100_000_000_000,
    )
    .into_bytes()
}

fn big_log() -> MemoryLog {
    let leaves: Vec<_> = (0..N).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let mut log = MemoryLog::new();
    log.append_leaves(&leaves).unwrap();
    log
}

fn hashing(c: &mut Criterion) {
    let data = vec![0x5au8; 1024];
    let mut g = c.benchmark_group("leaf_hash_1KiB");
    g.throughput(Throughput::Bytes(1024));
    g.bench_function("sha2", |b| b.iter(|| leaf_hash(black_box(&data))));
    g.bench_function("ring", |b| {
        b.iter(|| {
            let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
            ctx.update(&[0]);
            ctx.update(black_box(&data));
            ctx.finish()
        })
    });
    g.finish();
}

fn appends(c: &mut Criterion) {
    let mut log = big_log();
    let mut i = 0u64;
    c.bench_function("append_one_leaf_to_1M_log", |b| {
        b.iter(|| {
            i += 1;
            log.append_leaf(leaf_hash(&i.to_le_bytes())).unwrap()
        })
    });
    let batch: Vec<_> = (0..100u64).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    let base = big_log();
    let mut g = c.benchmark_group("append_batch_100_to_1M_log");
    g.throughput(Throughput::Elements(100));
    g.bench_function("batch", |b| {
        b.iter(|| audit::append_batch(base.size(), black_box(&batch), &base).unwrap())
    });
    g.finish();
}

fn proofs(c: &mut Criterion) {
    let log = big_log();
    let root = log.root().unwrap();
    let mut i = 0u64;
    c.bench_function("inclusion_proof_generate_1M", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            log.inclusion_proof(i, N).unwrap()
        })
    });
    c.bench_function("inclusion_proof_generate_and_verify_1M", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            let p = log.inclusion_proof(i, N).unwrap();
            verify_inclusion(&leaf_hash(&i.to_be_bytes()), i, N, &p, &root).unwrap();
        })
    });
    c.bench_function("consistency_proof_generate_and_verify_1M", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            let old = i.max(1);
            let p = log.consistency_proof(old, N).unwrap();
            audit::verify_consistency(old, N, &log.root_at(old).unwrap(), &root, &p).unwrap();
        })
    });
}

fn recompute(c: &mut Criterion) {
    let entries: Vec<Vec<u8>> = (0..N).map(entry_bytes).collect();
    let mut log = MemoryLog::new();
    let leaves: Vec<_> = entries.iter().map(|e| leaf_hash(e)).collect();
    log.append_leaves(&leaves).unwrap();
    let cps: Vec<Checkpoint> = (1..=10)
        .map(|k| Checkpoint::new("o", k * N / 10, log.root_at(k * N / 10).unwrap()).unwrap())
        .collect();
    let mut g = c.benchmark_group("recompute_1M_entries");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N));
    g.bench_function("checkpoints_only", |b| {
        b.iter(|| {
            verify_log(
                entries.iter().enumerate().map(|(i, e)| (i as u64, e)),
                &cps,
                None,
            )
            .unwrap()
        })
    });
    g.bench_function("with_stored_hashes", |b| {
        b.iter(|| {
            verify_log(
                entries.iter().enumerate().map(|(i, e)| (i as u64, e)),
                &cps,
                Some(&log),
            )
            .unwrap()
        })
    });
    g.bench_function("build_memory_log", |b| {
        b.iter_batched(
            || leaves.clone(),
            |l| {
                let mut m = MemoryLog::new();
                m.append_leaves(&l).unwrap();
                m
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// A lookup entry as the hub writes it.
fn lookup_entry(i: u64) -> Entry {
    let time = chrono::DateTime::parse_from_rfc3339("2026-11-03T12:34:56.123456Z")
        .unwrap()
        .to_utc();
    let mut e = Entry::new(
        i,
        time,
        EntryKind::new("lookup.permitted").unwrap(),
        Actor::new(ActorType::Agency, "agency-a"),
        Outcome::Permitted,
    );
    e.subject = Some(format!("{:011}", i * 7919 % 100_000_000_000));
    e.record_type = Some("income@1.0".to_owned());
    e.purpose = Some("benefit-eligibility".to_owned());
    e.legal_basis = Some(LegalBasis {
        authorization_id: "auth-7".to_owned(),
        version: 2,
    });
    e.exchange_id = Some(format!("ex-{i:012}"));
    e.request_digest = Some(sha256(b"request"));
    e.response_digest = Some(sha256(b"response"));
    let mut details = serde_json::Map::new();
    details.insert("provider".to_owned(), "agency-b".into());
    e.details = Some(details);
    e
}

fn entries(c: &mut Criterion) {
    let entry = lookup_entry(123_456);
    let bytes = entry.canonical_bytes().unwrap();
    let mut g = c.benchmark_group("entry");
    g.bench_function("canonical_bytes", |b| {
        b.iter(|| black_box(&entry).canonical_bytes().unwrap())
    });
    g.bench_function("from_canonical_bytes", |b| {
        b.iter(|| Entry::from_canonical_bytes(black_box(&bytes)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, entries, hashing, appends, proofs, recompute);
criterion_main!(benches);
