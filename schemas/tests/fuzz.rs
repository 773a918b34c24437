//! Fuzz targets for the schema registry's parsers of outside input: schema
//! documents offered for publication, and record bodies validated against
//! a shipped schema and minimised to a grant.
//!
//! Each target is a bolero `check!` that runs as an ordinary test on the
//! stable toolchain, over arbitrary bytes and over the shipped catalog (its
//! schemas and their examples) with a few byte edits. Inputs that once
//! broke a property live in `tests/fuzz-regressions/<target>/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../identity/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::sync::{Arc, OnceLock};

use bolero::check;
use fuzz_support::{SeedEdits, mutate_seed, replay};
use schemas::catalog::lint;
use schemas::embedded::FILES;
use schemas::{
    Catalog, DEFAULT_BASE_URL, RecordType, RecordTypeName, SchemaEntry, Version, check_compatible,
    check_grant, check_publish, minimize,
};
use serde_json::Value;

const DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Runs `property` over arbitrary bytes and over mutated seeds.
macro_rules! fuzz_bytes_and_seeds {
    ($seeds:expr, $property:expr) => {{
        check!().for_each(|bytes: &[u8]| $property(bytes));
        let seeds: Vec<Vec<u8>> = $seeds;
        check!()
            .with_type::<SeedEdits>()
            .for_each(|input| $property(&mutate_seed(&seeds, input)));
    }};
}

fn builtin() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::builtin(DEFAULT_BASE_URL).unwrap())
}

fn entries() -> Vec<Arc<SchemaEntry>> {
    builtin().entries().cloned().collect()
}

// ---- schema documents ----

/// Publication of any document never panics; a document it accepts has the
/// catalog's `$id`, validates its own examples, is compatible with itself,
/// and its compatibility with the latest shipped version is decided
/// without a panic.
fn schema_document_property(bytes: &[u8]) {
    let Ok(document) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    let _ = lint(&document);
    let record_type = RecordType::new(
        RecordTypeName::parse("fuzz.document").unwrap(),
        Version::new(1, 0),
    );
    let mut catalog = Catalog::new(DEFAULT_BASE_URL).unwrap();
    if let Ok(entry) = catalog.publish(record_type.clone(), document.clone()) {
        assert_eq!(entry.id(), catalog.schema_id(&record_type));
        for example in entry.examples() {
            assert!(entry.validate(example).is_ok());
        }
        assert!(
            check_compatible(entry.document(), entry.document()).is_ok(),
            "a schema is not compatible with itself: {document}"
        );
    }
    for shipped in entries() {
        let version = shipped.record_type().version;
        let next = Version::new(version.major, version.minor + 1);
        let _ = check_publish(&[(version, shipped.document())], (next, &document));
    }
}

fn shipped_schemas() -> Vec<Vec<u8>> {
    FILES
        .iter()
        .map(|f| f.contents.as_bytes().to_vec())
        .collect()
}

#[test]
fn fuzz_schema_document() {
    for seed in shipped_schemas() {
        schema_document_property(&seed);
    }
    fuzz_bytes_and_seeds!(shipped_schemas(), schema_document_property);
}

#[test]
fn replay_schema_document() {
    replay(DIR, "schema_document", schema_document_property);
}

// ---- record bodies ----

/// Whether `small` holds nothing that `big` does not: the same scalars,
/// object keys of `big` only, arrays no longer than in `big`; `null` (a
/// record withheld whole) holds nothing.
fn within(small: &Value, big: &Value) -> bool {
    match (small, big) {
        (Value::Null, _) => true,
        (Value::Object(s), Value::Object(b)) => s
            .iter()
            .all(|(k, v)| b.get(k).is_some_and(|bv| within(v, bv))),
        (Value::Array(s), Value::Array(b)) => s.len() <= b.len(),
        (s, b) => s == b,
    }
}

/// Validating any record never panics; a minimised record holds only what
/// the record held, minimising twice changes nothing, and a valid record
/// minimised to a grant that fits the schema is valid for that grant.
fn record_property(record: &Value, entry: &SchemaEntry, mask: u64) {
    let valid = entry.validate(record).is_ok();
    let fields = entry.fields();
    let grant: Vec<&String> = fields
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << (i % 64)) != 0)
        .map(|(_, f)| f)
        .collect();
    let kept = minimize(record, &grant);
    assert!(within(&kept, record), "minimising added data: {kept}");
    assert_eq!(minimize(&kept, &grant), kept);
    if valid && check_grant(entry.document(), &grant).is_ok() {
        assert!(
            entry.validate_minimized(&kept).is_ok(),
            "{} granted {grant:?}: {kept}",
            entry.record_type()
        );
    }
    let everything = minimize(record, &["".to_owned()]);
    assert_eq!(&everything, record);
}

fn record_body_property(bytes: &[u8]) {
    let Ok(record) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    for (i, entry) in entries().iter().enumerate() {
        record_property(&record, entry, u64::MAX >> i);
    }
}

fn shipped_examples() -> Vec<Vec<u8>> {
    entries()
        .iter()
        .flat_map(|e| e.examples().to_vec())
        .map(|example| serde_json::to_vec(&example).unwrap())
        .collect()
}

#[test]
fn fuzz_record_body() {
    let examples = shipped_examples();
    assert!(!examples.is_empty());
    fuzz_bytes_and_seeds!(examples.clone(), record_body_property);
    // Shipped examples with edits, against each schema with a random grant.
    check!()
        .with_type::<(SeedEdits, u8, u64)>()
        .for_each(|(input, pick, mask)| {
            let Ok(record) = serde_json::from_slice::<Value>(&mutate_seed(&examples, input)) else {
                return;
            };
            let entries = entries();
            record_property(&record, &entries[usize::from(*pick) % entries.len()], *mask);
        });
}

#[test]
fn replay_record_body() {
    replay(DIR, "record_body", record_body_property);
    for example in shipped_examples() {
        record_body_property(&example);
    }
}
