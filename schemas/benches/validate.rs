//! Validation and minimisation of a typical record (~2 KiB of JSON).

// A bench that cannot set itself up has nothing to measure: fail loudly.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use schemas::{Catalog, DEFAULT_BASE_URL, FieldSelection, RecordTypeRef, minimize};
use serde_json::{Value, json};

/// A household of thirteen: about 2 KiB once serialised.
fn record() -> Value {
    let relationships = [
        "reference-person",
        "spouse",
        "child",
        "child",
        "child",
        "parent",
        "parent",
        "sibling",
        "grandchild",
        "grandchild",
        "other-relative",
        "unrelated",
        "unrelated",
    ];
    let members: Vec<Value> = relationships
        .iter()
        .enumerate()
        .map(|(i, relationship)| {
            json!({
                "commonId": format!("850730033{i:02}"),
                "relationship": relationship,
                "givenName": format!("Given{i}"),
                "familyName": "Van den Bossche",
                "birthDate": format!("19{:02}-0{}-1{}", 50 + i, 1 + i % 9, i % 10),
                "memberSince": "2012-05-01"
            })
        })
        .collect();
    json!({
        "commonId": "85073003300",
        "asOf": "2026-11-01",
        "householdSize": members.len(),
        "members": members
    })
}

const GRANT: &[&str] = &[
    "/commonId",
    "/asOf",
    "/householdSize",
    "/members/*/commonId",
    "/members/*/relationship",
];

fn benches(c: &mut Criterion) {
    let catalog = Catalog::builtin(DEFAULT_BASE_URL).expect("builtin catalog");
    let reference: RecordTypeRef = "person.family-composition@1".parse().expect("reference");
    let entry = catalog.resolve(&reference).expect("record type");
    let record = record();
    let size = serde_json::to_vec(&record).expect("serialise").len();
    assert!(entry.validate(&record).is_ok(), "the bench record is valid");
    println!("record size: {size} bytes");

    c.bench_function("validate_2k_record_cached_validator", |b| {
        b.iter(|| entry.validate(black_box(&record)))
    });
    c.bench_function("catalog_resolve_and_validate_2k_record", |b| {
        b.iter(|| catalog.validate(black_box(&reference), black_box(&record)))
    });
    let selection = FieldSelection::parse(GRANT).expect("grant");
    c.bench_function("minimize_2k_record_parsed_grant", |b| {
        b.iter(|| selection.apply(black_box(&record)))
    });
    c.bench_function("minimize_2k_record", |b| {
        b.iter(|| minimize(black_box(&record), black_box(GRANT)))
    });
}

criterion_group!(validate, benches);
criterion_main!(validate);
