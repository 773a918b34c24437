//! The README's configuration table names exactly the keys the hub reads,
//! with the defaults the hub uses.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::collections::{BTreeMap, BTreeSet};

use hub::app::config::Config;
use serde_json::Value;

const README: &str = include_str!("../../README.md");

/// The text between a `## HEADING` line and the next `## ` line.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("the README has no `## {heading}` section"));
    let body = &text[start + heading.len() + 5..];
    match body.find("\n## ") {
        Some(end) => &body[..end],
        None => body,
    }
}

/// The code spans of a table cell, in order.
fn code_spans(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

/// The configuration table's rows: each key with its default cell's code
/// spans at the same position (when the cell has one for it).
fn documented() -> BTreeMap<String, Option<String>> {
    let mut keys = BTreeMap::new();
    for line in section(README, "Configuration").lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // `| key | default | meaning |`: the cells are 1, 2 and 3.
        if cells.len() < 4 || !cells[1].starts_with('`') {
            continue;
        }
        let names = code_spans(cells[1]);
        let defaults = code_spans(cells[2]);
        for (i, name) in names.iter().enumerate() {
            let default = (defaults.len() == names.len()).then(|| defaults[i].to_owned());
            let previous = keys.insert((*name).to_owned(), default);
            assert!(previous.is_none(), "the README lists `{name}` twice");
        }
    }
    keys
}

/// Every key the hub reads, with its default: the fields of `Config` as
/// serialized (every field serializes, `None` as null), which are also the
/// keys it deserializes (no renames; unknown keys are refused).
fn read_by_the_hub() -> BTreeMap<String, Value> {
    match serde_json::to_value(Config::default()).unwrap() {
        Value::Object(fields) => fields.into_iter().collect(),
        other => panic!("Config serializes as {other}, not an object"),
    }
}

#[test]
fn the_configuration_table_names_every_key_the_hub_reads() {
    let documented = documented();
    let read = read_by_the_hub();
    let documented_keys: BTreeSet<&String> = documented.keys().collect();
    let read_keys: BTreeSet<&String> = read.keys().collect();
    let missing: Vec<_> = read_keys.difference(&documented_keys).collect();
    let unknown: Vec<_> = documented_keys.difference(&read_keys).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "README.md's configuration table and hub::app::config::Config differ:\n  \
         read by the hub but not in the table: {missing:?}\n  \
         in the table but not read by the hub: {unknown:?}"
    );
}

#[test]
fn the_configuration_table_shows_the_defaults() {
    let documented = documented();
    let read = read_by_the_hub();
    let mut wrong = Vec::new();
    let mut compared = 0;
    for (key, default) in &read {
        let shown = documented.get(key).cloned().flatten();
        let actual = match default {
            // Absent or empty: the README says in words what happens.
            Value::Null => continue,
            Value::Array(items) if items.is_empty() => continue,
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        compared += 1;
        if shown.as_deref() != Some(actual.as_str()) {
            wrong.push(format!("{key}: README {shown:?}, hub `{actual}`"));
        }
    }
    assert!(wrong.is_empty(), "defaults differ: {wrong:#?}");
    assert!(compared > 20, "only {compared} defaults compared");
}

/// A key the README lists is one the hub accepts from a file: a TOML file
/// of every documented key, each with its default, loads.
#[test]
fn every_documented_key_is_accepted_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crossroads.toml");
    let mut defaults = toml::Table::try_from(Config::default()).unwrap();
    defaults.retain(|key, _| documented().contains_key(key));
    std::fs::write(&file, toml::to_string(&defaults).unwrap()).unwrap();
    Config::load(Some(&file), &[]).unwrap_or_else(|e| panic!("{e}"));
}
