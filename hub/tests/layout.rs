//! The hub's layout holds: services are the only way to the store, and only
//! `lib.rs` and `main.rs` sit at the root of `hub/src`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::path::{Path, PathBuf};

/// The folders (under `hub/src`) whose code may name the store.
const STORE_USERS: &[&str] = &["services/", "audit_log/", "store/"];

/// Files outside those folders that may name the store, each with its reason.
const ALLOWED: &[(&str, &str)] = &[
    (
        "app/state.rs",
        "wires the pool: its type, its construction and the connection each blocking call borrows",
    ),
    (
        "http/error.rs",
        "the one error mapping: a store error becomes a problem, and is retried when transient",
    ),
    (
        "dev/testing.rs",
        "the test harness: it makes, migrates and seeds test databases",
    ),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The line without its comment (`//` not part of a URL such as `https://`).
fn code_of(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut i = 0;
    while let Some(at) = line[i..].find("//") {
        let at = i + at;
        if at == 0 || bytes[at - 1] != b':' {
            return &line[..at];
        }
        i = at + 2;
    }
    line
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether `code` (one line, comments removed) names the store module as a
/// path: `crate::store`, `hub::store`, `super::store`, a path starting at
/// `store::` (after `use crate::store;`), or `store` in a grouped
/// `use crate::{…}` / `use hub::{…}` (`in_group`).
fn names_store(code: &str, in_group: bool) -> bool {
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(at) = code[from..].find("store") {
        let start = from + at;
        let end = start + "store".len();
        from = end;
        if start > 0 && is_word(bytes[start - 1]) || end < bytes.len() && is_word(bytes[end]) {
            continue; // `restore`, `key_store`, `stored`, …
        }
        let before = &code[..start];
        if ["crate::", "hub::", "super::"].iter().any(|prefix| {
            before.ends_with(prefix)
                && !before[..before.len() - prefix.len()]
                    .ends_with(|c: char| c.is_alphanumeric() || c == '_')
        }) {
            return true;
        }
        let after_path = code[end..].starts_with("::");
        if !before.ends_with("::") && (after_path || in_group) {
            return true;
        }
    }
    false
}

/// Every line of `text` that names the store, with its number.
fn store_lines(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut in_group = false;
    for (n, line) in text.lines().enumerate() {
        let code = code_of(line);
        let trimmed = code.trim_start();
        let opens = [
            "use crate::{",
            "pub use crate::{",
            "use hub::{",
            "pub use hub::{",
        ]
        .iter()
        .any(|p| trimmed.starts_with(p));
        let group = in_group || opens;
        if names_store(code, group) {
            found.push((n + 1, line.trim().to_owned()));
        }
        in_group = group && !code.contains(';');
    }
    found
}

#[test]
fn the_matcher_finds_store_paths_and_nothing_else() {
    for offence in [
        "use crate::store::persons;",
        "use crate::store::{self, DbConnection};",
        "    let row = crate::store::agencies::get(conn, id)?;",
        "for row in hub::store::operators::list(&mut conn)? {",
        "use super::store;",
        "use super::super::store::audit;",
        "    store::hub_keys(conn)?",
        "use crate::{app, store};",
        "use crate::{app::clock::Clock, store::DbConnection};",
    ] {
        assert!(!store_lines(offence).is_empty(), "missed: {offence}");
    }
    assert!(!store_lines("use crate::{\n    app::Clock,\n    store::Pool,\n};").is_empty());
    for innocent in [
        "// restore the crate::store state",
        "    .insert_header((header::CACHE_CONTROL, \"no-store\"));",
        "let restored = key_store::load(); // crate::store in a comment",
        "/// Runs `store::write` for the caller.",
        "use crate::services::schemas::stored;",
        "let store = Vec::new(); store.push(1);",
        "let url = \"https://example.org\"; crate::services::persons::get()",
        "use crate::{app::state::AppState, services::persons};",
    ] {
        assert!(store_lines(innocent).is_empty(), "false alarm: {innocent}");
    }
}

#[test]
fn only_services_audit_log_and_store_reach_the_store() {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut offenders = Vec::new();
    for path in &files {
        let relative = path
            .strip_prefix(&root)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        if STORE_USERS.iter().any(|dir| relative.starts_with(dir))
            || ALLOWED.iter().any(|(file, _)| *file == relative)
        {
            continue;
        }
        let text = std::fs::read_to_string(path).expect("a readable source file");
        for (line, code) in store_lines(&text) {
            offenders.push(format!("hub/src/{relative}:{line}: {code}"));
        }
    }
    assert!(
        offenders.is_empty(),
        "the store is reached outside services/, audit_log/ and store/ \
         (go through a service, or allow-list the file with its reason):\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_allow_list_names_existing_files_that_need_it() {
    let root = src();
    for (file, reason) in ALLOWED {
        let text = std::fs::read_to_string(root.join(file))
            .unwrap_or_else(|e| panic!("allow-listed {file} ({reason}): {e}"));
        assert!(
            !store_lines(&text).is_empty(),
            "{file} is allow-listed ({reason}) but no longer names the store: remove it from the list"
        );
    }
}

#[test]
fn only_lib_and_main_sit_at_the_root() {
    let mut at_root: Vec<String> = std::fs::read_dir(src())
        .expect("hub/src")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "rs"))
        .map(|p| {
            p.file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    at_root.sort();
    assert_eq!(
        at_root,
        ["lib.rs", "main.rs"],
        "modules at the root of hub/src"
    );
}
