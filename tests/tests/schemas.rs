//! `crossroads schema …` as a real process, on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::path::Path;
use std::process::Output;

use e2e::crossroads;
use hub::dev::testing::{Backend, TestDb, skip};
use serde_json::{Value, json};

const ADDRESS_1_1: &str = include_str!("../../schemas/catalog/person.address/1.1.json");

fn schema(db: &TestDb, data: &Path, args: &[&str]) -> Output {
    crossroads()
        .env("CROSSROADS_DATA_DIR", data)
        .env("CROSSROADS_DATABASE_URL", db.url.expose_url())
        .env("CROSSROADS_PUBLIC_URL", "https://hub.example.gov")
        .arg("schema")
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// person.address 1.1 as a proposed 1.2, changed by `edit`.
fn proposal(dir: &Path, file: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut document: Value = serde_json::from_str(ADDRESS_1_1).unwrap();
    document["$id"] = json!("https://crossroads.example/schemas/person.address/1.2");
    edit(&mut document);
    let path = dir.join(file);
    std::fs::write(&path, serde_json::to_vec_pretty(&document).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn check_publish_show(backend: Backend) {
    let Some(db) = TestDb::create(backend) else {
        skip("schemas::schema_commands_on_postgres");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();

    // A breaking change: exit 1, every violation printed with its pointer.
    let breaking = proposal(files.path(), "breaking.json", |d| {
        d["properties"]["address"]["properties"]
            .as_object_mut()
            .unwrap()
            .remove("box");
        d["properties"]["since"]["format"] = json!("date-time");
    });
    let out = schema(&db, data.path(), &["check", &breaking]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("/properties/address/properties/box\tproperty_removed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("/properties/since/format\tformat_changed"),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("2 violation(s)"),
        "{}",
        text(&out.stderr)
    );

    // The same file checked against 1.0 explicitly.
    let out = schema(
        &db,
        data.path(),
        &["check", &breaking, "--against", "person.address@1.0"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("/properties/address/properties/box"));

    // A lint problem is reported with its pointer too.
    let undescribed = proposal(files.path(), "undescribed.json", |d| {
        d["properties"]["address"]["properties"]["region"] = json!({"type": "string"});
    });
    let out = schema(&db, data.path(), &["check", &undescribed]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("/properties/address/properties/region\tlint"),
        "{}",
        text(&out.stdout)
    );

    // The compatible twin passes, publishes and becomes the latest of @1.
    let compatible = proposal(files.path(), "compatible.json", |d| {
        d["properties"]["address"]["properties"]["region"] = json!({
            "description": "Region, province or state, where the country has them.",
            "type": "string"
        });
    });
    let out = schema(&db, data.path(), &["check", &compatible]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("compatible with person.address@1.1"));

    let out = schema(
        &db,
        data.path(),
        &[
            "publish",
            &compatible,
            "--record-type",
            "person.address@1.2",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("https://hub.example.gov/v1/schemas/person.address/1.2"),
        "{}",
        text(&out.stdout)
    );

    let out = schema(&db, data.path(), &["list"]);
    assert!(out.status.success());
    let listed = text(&out.stdout);
    assert!(listed.contains("person.address@1.2\tactive\t"), "{listed}");
    assert!(listed.contains("person.identity@1.0\tactive\t"), "{listed}");

    let out = schema(&db, data.path(), &["show", "person.address@1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        shown["$id"],
        "https://hub.example.gov/v1/schemas/person.address/1.2"
    );

    // Publishing a breaking change is refused the same way.
    let breaking = proposal(files.path(), "breaking-1.3.json", |d| {
        d["$id"] = json!("https://crossroads.example/schemas/person.address/1.3");
        d["properties"]["address"]["properties"]
            .as_object_mut()
            .unwrap()
            .remove("box");
    });
    let out = schema(
        &db,
        data.path(),
        &["publish", &breaking, "--record-type", "person.address@1.3"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("/properties/address/properties/box\tproperty_removed"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("not backward compatible"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn schema_commands_on_sqlite() {
    check_publish_show(Backend::Sqlite);
}

#[test]
fn schema_commands_on_postgres() {
    check_publish_show(Backend::Postgres);
}
