//! The README's command-line table, run against the real binary.
//!
//! The table is read from `README.md`: every command, subcommand (the ones
//! in parentheses too) and flag it names is one item. [`CHECKS`] says which
//! check below runs each item; a test fails when the README and `CHECKS`
//! name different items, and another when the README and the binary's
//! `--help` offer different commands or flags. Each check records the
//! commands and flags it actually runs, and fails if it did not run every
//! item `CHECKS` gives it. The checks that touch storage run on SQLite and
//! on PostgreSQL (`CROSSROADS_TEST_POSTGRES_URL`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use e2e::{AgencySim, Hub, crossroads, succeeded};
use hub::dev::demo::certs::{AgencyCredentials, DemoCa};
use hub::dev::demo::client::HubClient;
use hub::dev::testing::{Backend, TestDb, skip};
use serde_json::{Value, json};

const README: &str = include_str!("../../README.md");
const ADDRESS_1_1: &str = include_str!("../../schemas/catalog/person.address/1.1.json");

/// The check of `config` and of the flags every command takes.
const CONFIG: &str = "config_prints_the_effective_configuration";
/// The check of `demo`.
const DEMO: &str = "demo_tells_its_story_and_exits";
/// The check of every command that works on a database, on each backend.
const EVERY: &str = "every_command_on_sqlite/postgres";

/// Each item of the README's command-line table, and the check that runs it.
const CHECKS: &[(&str, &str)] = &[
    ("--config", CONFIG),
    ("--database-url", CONFIG),
    ("--data-dir", CONFIG),
    ("config", CONFIG),
    ("demo", DEMO),
    ("demo --exit", DEMO),
    ("demo --scenario-file", DEMO),
    ("serve", EVERY),
    ("serve --listen", EVERY),
    ("serve --no-migrate", EVERY),
    ("migrate", EVERY),
    ("operator token", EVERY),
    ("operator token --name", EVERY),
    ("operator list", EVERY),
    ("operator revoke", EVERY),
    ("agency add", EVERY),
    ("agency add --id", EVERY),
    ("agency add --name", EVERY),
    ("agency add --sector", EVERY),
    ("agency add --roles", EVERY),
    ("agency add --endpoint-url", EVERY),
    ("agency add --identifier-policy", EVERY),
    ("agency add --cert", EVERY),
    ("agency list", EVERY),
    ("agency suspend", EVERY),
    ("agency reactivate", EVERY),
    ("agency cert-add", EVERY),
    ("agency cert-revoke", EVERY),
    ("agency-sim", EVERY),
    ("agency-sim --id", EVERY),
    ("agency-sim --hub", EVERY),
    ("agency-sim --records", EVERY),
    ("agency-sim --listen", EVERY),
    ("agency-sim --delay-ms", EVERY),
    ("agency-sim --tls-cert", EVERY),
    ("agency-sim --tls-key", EVERY),
    ("agency-sim --webhook-status", EVERY),
    ("agency-sim --publish", EVERY),
    ("agency-sim --key", EVERY),
    ("keys rotate", EVERY),
    ("keys list", EVERY),
    ("person register", EVERY),
    ("person register --given-names", EVERY),
    ("person register --family-name", EVERY),
    ("person register --birth-date", EVERY),
    ("person register --birth-place", EVERY),
    ("person register --sex", EVERY),
    ("person register --distinct-from", EVERY),
    ("person show", EVERY),
    ("person merge", EVERY),
    ("schema list", EVERY),
    ("schema show", EVERY),
    ("schema check", EVERY),
    ("schema check --against", EVERY),
    ("schema publish", EVERY),
    ("schema publish --record-type", EVERY),
    ("audit verify", EVERY),
    ("audit verify --url", EVERY),
    ("audit verify --key", EVERY),
    ("audit verify --state", EVERY),
    ("audit verify --since", EVERY),
    ("audit checkpoint", EVERY),
    ("audit verifier-key", EVERY),
    ("audit accept-database", EVERY),
];

/// The flags every command takes.
const GLOBAL_FLAGS: &[&str] = &["--config", "--database-url", "--data-dir"];

// ---------------------------------------------------------------------------
// The README's table, and the binary's own help.

/// The text between `## HEADING` and the next `## `.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("the README has no `## {heading}` section"));
    let body = &text[start + heading.len() + 5..];
    body.find("\n## ").map_or(body, |end| &body[..end])
}

fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

fn flags_in(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || "[]()`,;".contains(c))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(str::to_owned)
        .collect()
}

/// A subcommand named at the start of a piece of a parenthesised list:
/// `revoke ID` names `revoke`; `person.address@1` names nothing.
fn subcommand_named(piece: &str) -> Option<&str> {
    let rest = piece.trim().strip_prefix('`')?;
    let span = &rest[..rest.find('`')?];
    let mut words = span.split(' ');
    let name = words.next()?;
    let is_name = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c == '-');
    let args_are_placeholders =
        words.all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
    (is_name && args_are_placeholders).then_some(name)
}

/// Everything the README's command-line table names: command paths
/// (`operator token`), their flags (`operator token --name`), and the flags
/// every command takes (`--config`).
fn readme_items() -> BTreeSet<String> {
    let text = section(README, "The command line");
    let mut items = BTreeSet::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || !cells[1].starts_with("`crossroads ") {
            continue;
        }
        let usage = code_spans(cells[1]).concat();
        let words: Vec<&str> = usage.split_whitespace().skip(1).collect();
        let path: Vec<&str> = words
            .iter()
            .take_while(|w| {
                w.starts_with(|c: char| c.is_ascii_lowercase())
                    && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            })
            .copied()
            .collect();
        assert!(!path.is_empty(), "no command in {line}");
        let command = path.join(" ");
        items.insert(command.clone());
        for flag in flags_in(&usage) {
            items.insert(format!("{command} {flag}"));
        }
        let description = cells[2];
        for span in code_spans(description) {
            if span.starts_with("--") {
                for flag in flags_in(span) {
                    items.insert(format!("{command} {flag}"));
                }
            }
        }
        // `(list, revoke ID)`: siblings of the row's subcommand.
        let parent = &path[..path.len() - 1];
        for group in description.split('(').skip(1) {
            let group = group.split(')').next().unwrap_or_default();
            for piece in group.split([',', ';']) {
                if let Some(name) = subcommand_named(piece) {
                    let mut sibling = parent.to_vec();
                    sibling.push(name);
                    items.insert(sibling.join(" "));
                }
            }
        }
    }
    let every = text
        .lines()
        .find(|l| l.starts_with("Every command takes"))
        .expect("the README says which flags every command takes");
    for flag in flags_in(every) {
        items.insert(flag);
    }
    items
}

/// `crossroads ARGS --help`: its subcommands and its flags (without
/// `--help` and `--version`).
fn help(path: &[&str]) -> (BTreeSet<String>, BTreeSet<String>) {
    let out = crossroads().args(path).arg("--help").output().unwrap();
    assert!(out.status.success(), "{path:?} --help");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (mut commands, mut flags) = (BTreeSet::new(), BTreeSet::new());
    let mut in_commands = false;
    for line in text.lines() {
        if !line.starts_with(' ') {
            in_commands = line.starts_with("Commands:");
            continue;
        }
        let first = line.split_whitespace().next().unwrap_or_default();
        if in_commands && line.starts_with("  ") && !line.starts_with("   ") && first != "help" {
            commands.insert(first.to_owned());
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with('-') {
            let long = trimmed
                .split(|c: char| c.is_whitespace() || c == ',')
                .find(|w| w.starts_with("--"))
                .unwrap_or_default();
            if !["--help", "--version", ""].contains(&long) {
                flags.insert(long.to_owned());
            }
        }
    }
    (commands, flags)
}

fn difference(a: &BTreeSet<String>, b: &BTreeSet<String>) -> Vec<String> {
    a.difference(b).cloned().collect()
}

#[test]
fn the_readme_table_and_the_checks_name_the_same_items() {
    let readme = readme_items();
    let checked: BTreeSet<String> = CHECKS.iter().map(|(item, _)| (*item).to_owned()).collect();
    assert_eq!(checked.len(), CHECKS.len(), "CHECKS names an item twice");
    let unchecked = difference(&readme, &checked);
    let undocumented = difference(&checked, &readme);
    assert!(
        unchecked.is_empty() && undocumented.is_empty(),
        "README.md's command-line table and this file's CHECKS differ:\n  \
         in the README, run by no check: {unchecked:?}\n  \
         checked, but not in the README: {undocumented:?}"
    );
}

/// Every command and flag the binary offers is in the README's table, and
/// the table offers nothing the binary lacks.
#[test]
fn the_readme_table_matches_the_binary() {
    let readme = readme_items();
    let mut from_binary = BTreeSet::new();
    let (top, global) = help(&[]);
    from_binary.extend(global.iter().cloned());
    for command in &top {
        let (subcommands, _) = help(&[command]);
        let paths: Vec<Vec<&str>> = if subcommands.is_empty() {
            vec![vec![command.as_str()]]
        } else {
            subcommands
                .iter()
                .map(|s| vec![command.as_str(), s.as_str()])
                .collect()
        };
        for path in paths {
            let name = path.join(" ");
            let (_, flags) = help(&path);
            for flag in flags.difference(&global) {
                from_binary.insert(format!("{name} {flag}"));
            }
            from_binary.insert(name);
        }
    }
    let missing = difference(&from_binary, &readme);
    let unknown = difference(&readme, &from_binary);
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "README.md's command-line table and `crossroads --help` differ:\n  \
         offered by the binary, not in the README: {missing:?}\n  \
         in the README, not offered by the binary: {unknown:?}"
    );
    assert_eq!(
        global,
        GLOBAL_FLAGS.iter().map(|f| (*f).to_owned()).collect(),
        "the flags every command takes"
    );
}

// ---------------------------------------------------------------------------
// Running the binary, and recording what ran.

/// The items a check has run, from the arguments it passed.
#[derive(Default)]
struct Ran(Mutex<BTreeSet<String>>);

/// Commands with subcommands.
const GROUPS: &[&str] = &["operator", "agency", "keys", "person", "schema", "audit"];

impl Ran {
    /// Records the items `args` run: the command path first, then flags.
    fn note<S: AsRef<str>>(&self, args: &[S]) {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        let mut path = vec![args[0]];
        if GROUPS.contains(&args[0]) {
            path.push(args[1]);
        }
        let path = path.join(" ");
        let mut ran = self.0.lock().unwrap();
        for arg in &args {
            let flag = arg.split('=').next().unwrap_or_default();
            if !flag.starts_with("--") {
                continue;
            }
            if GLOBAL_FLAGS.contains(&flag) {
                ran.insert(flag.to_owned());
            } else {
                ran.insert(format!("{path} {flag}"));
            }
        }
        ran.insert(path);
    }

    /// Fails unless every item `CHECKS` gives `check` was run.
    fn assert_covers(&self, check: &str) {
        let ran = self.0.lock().unwrap();
        let not_run: Vec<&str> = CHECKS
            .iter()
            .filter(|(item, by)| *by == check && !ran.contains(*item))
            .map(|(item, _)| *item)
            .collect();
        assert!(not_run.is_empty(), "{check} did not run {not_run:?}");
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One database and data directory, and the files the commands share.
struct Site {
    database_url: String,
    data: PathBuf,
    ca_file: PathBuf,
}

impl Site {
    /// `crossroads` with this site's environment: the agencies' CA as
    /// trust anchor and as the providers' HTTPS CA.
    fn command(&self) -> std::process::Command {
        let mut cmd = crossroads();
        cmd.env("CROSSROADS_TRUST_ANCHORS_FILE", &self.ca_file)
            .env("CROSSROADS_PROVIDER_CA_FILE", &self.ca_file)
            .env("CROSSROADS_LOG_ORIGIN", "hub.example.test/log");
        cmd
    }

    /// Runs `crossroads ARGS --database-url URL --data-dir DIR`.
    fn run(&self, ran: &Ran, args: &[&str]) -> Output {
        let data = self.data.to_str().unwrap();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--database-url", &self.database_url, "--data-dir", data]);
        ran.note(&all);
        self.command().args(&all).output().unwrap()
    }

    /// [`Site::run`] for a command that must stop by itself, failing: one
    /// that keeps running (a server that starts) is killed after 60 s.
    fn run_to_refusal(&self, ran: &Ran, args: &[&str]) -> Output {
        let data = self.data.to_str().unwrap();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--database-url", &self.database_url, "--data-dir", data]);
        ran.note(&all);
        let mut child = self
            .command()
            .args(&all)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{args:?} kept running");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        out
    }

    /// [`Site::run`], which must succeed; its standard output.
    fn ok(&self, ran: &Ran, args: &[&str]) -> String {
        succeeded(args, &self.run(ran, args))
    }

    /// `crossroads serve --listen 127.0.0.1:0 EXTRA` on this site.
    fn serve(&self, ran: &Ran, extra: &[&str]) -> Hub {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend(extra);
        ran.note(&args);
        let mut cmd = self.command();
        cmd.env("CROSSROADS_DATA_DIR", &self.data)
            .env("CROSSROADS_DATABASE_URL", &self.database_url);
        Hub::start_with(cmd, extra)
    }
}

/// Starts `crossroads agency-sim ARGS` (which include `--id ID`) and waits
/// for its "agency-sim ID listening on URL" line.
fn agency_sim(ran: &Ran, id: &str, args: &[&str]) -> AgencySim {
    let mut all = vec!["agency-sim", "--id", id];
    all.extend(args);
    ran.note(&all);
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    AgencySim::run(id, &args)
}

fn write(path: &Path, text: &str) -> String {
    std::fs::write(path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Writes an agency's certificate to `DIR/NAME.pem`; its path.
fn cert_file(dir: &Path, name: &str, creds: &AgencyCredentials) -> String {
    write(&dir.join(format!("{name}.pem")), &creds.certificate_pem)
}

/// The common ID's digits in `person register`'s output.
fn common_id(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("common ID:"))
        .unwrap_or_else(|| panic!("no common ID in {out}"))
        .trim()
        .replace(['.', '-'], "")
}

/// The `kid`s of the hub's JWKS.
async fn kids(http: &reqwest::Client, hub: &Hub) -> Vec<String> {
    let jwks: Value = serde_json::from_str(&hub.jwks(http).await).unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// The status of `GET /v1/admin/agencies` with an operator token.
async fn admin_status(http: &reqwest::Client, hub: &Hub, token: &str) -> u16 {
    http.get(hub.url("/v1/admin/agencies"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The size of the hub's latest checkpoint, once it covers every entry
/// `audit verify` finds in the database.
async fn settled_checkpoint(site: &Site, ran: &Ran, http: &reqwest::Client, hub: &Hub) -> u64 {
    let started = Instant::now();
    loop {
        let verified = site.ok(ran, &["audit", "verify"]);
        let entries: u64 = verified
            .split("verified: ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{verified}"));
        let note = http
            .get(hub.url("/log/checkpoint"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let size: u64 = note.lines().nth(1).unwrap().trim().parse().unwrap();
        if size == entries {
            return size;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "checkpoint {size}, log {entries}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A copy of a database as it is now, as a backup restores it.
struct Backup {
    url: String,
    drop_from: Option<(String, String)>,
}

impl Backup {
    fn take(db: &TestDb, dir: &Path) -> Backup {
        match &db.url {
            hub::app::config::DatabaseUrl::Sqlite { path } => {
                let copy = dir.join("backup.db");
                for suffix in ["", "-wal"] {
                    let mut from = path.as_os_str().to_owned();
                    from.push(suffix);
                    let mut to = copy.as_os_str().to_owned();
                    to.push(suffix);
                    if Path::new(&from).exists() {
                        std::fs::copy(&from, &to).unwrap();
                    }
                }
                Backup {
                    url: format!("sqlite://{}", copy.display()),
                    drop_from: None,
                }
            }
            hub::app::config::DatabaseUrl::Postgres { url } => {
                use diesel::connection::SimpleConnection;
                use diesel::prelude::*;
                let admin = hub::dev::testing::postgres_url().unwrap();
                let original = url.path().trim_start_matches('/').to_owned();
                let name = format!("{original}_backup");
                let mut conn = PgConnection::establish(&admin).unwrap();
                conn.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {original}"))
                    .unwrap();
                let mut copy = url.clone();
                copy.set_path(&name);
                Backup {
                    url: copy.to_string(),
                    drop_from: Some((admin, name)),
                }
            }
        }
    }
}

impl Drop for Backup {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        use diesel::prelude::*;
        if let Some((admin, name)) = self.drop_from.take()
            && let Ok(mut conn) = PgConnection::establish(&admin)
        {
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

// ---------------------------------------------------------------------------
// The checks.

/// `config` prints the effective configuration, secrets redacted: the file
/// (`--config`) sets keys, the environment overrides the file, and
/// `--database-url` and `--data-dir` override both.
#[test]
fn config_prints_the_effective_configuration() {
    let ran = Ran::default();
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir.path().join("crossroads.toml"),
        "listen = \"127.0.0.1:9999\"\nmax_body_bytes = 4096\nworkers = 3\n\
         data_dir = \"from-the-file\"\ndatabase_url = \"sqlite://from-the-file.db\"\n",
    );
    let data = dir.path().join("from-the-flag");
    let args = [
        "config",
        "--config",
        &file,
        "--database-url",
        "postgres://crossroads:s3cret@db.example/crossroads",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    ran.note(&args);
    let out = crossroads()
        .env("CROSSROADS_WORKERS", "5")
        .env("CROSSROADS_DATA_DIR", "from-the-environment")
        .args(args)
        .output()
        .unwrap();
    let shown = succeeded(&args, &out);
    assert!(shown.contains("listen = \"127.0.0.1:9999\""), "{shown}");
    assert!(shown.contains("max_body_bytes = 4096"), "{shown}");
    assert!(shown.contains("workers = 5"), "{shown}");
    assert!(
        shown.contains(&format!("data_dir = \"{}\"", data.display())),
        "{shown}"
    );
    assert!(
        shown.contains("database_url = \"postgres://crossroads:***@db.example/crossroads\""),
        "{shown}"
    );
    assert!(!shown.contains("s3cret"), "{shown}");
    // Every key is shown: the defaults too.
    assert!(shown.contains("access_token_ttl_secs = 600"), "{shown}");

    // A file that does not exist is refused, naming it.
    let out = crossroads()
        .args(["config", "--config", "/no/such/crossroads.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/no/such/crossroads.toml"));
    ran.assert_covers(CONFIG);
}

/// `demo --exit` tells the story and exits 0; `--scenario-file` also
/// writes what a browser test needs.
#[test]
fn demo_tells_its_story_and_exits() {
    let ran = Ran::default();
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("scenario.json");
    let args = [
        "demo",
        "--exit",
        "--scenario-file",
        scenario.to_str().unwrap(),
    ];
    ran.note(&args);
    let out = crossroads()
        .current_dir(dir.path())
        .env("CROSSROADS_LISTEN", "127.0.0.1:0")
        .args(args)
        .output()
        .unwrap();
    let story = succeeded(&args, &out);
    assert!(story.contains("  permitted — exchange exc-"), "{story}");
    assert!(story.contains("403 consent_revoked"), "{story}");
    assert!(story.contains("7. Anna moves"), "{story}");
    assert!(
        story.contains("the benefits agency was told in "),
        "{story}"
    );
    let written: Value = serde_json::from_slice(&std::fs::read(&scenario).unwrap()).unwrap();
    assert!(
        written["hub_url"].as_str().unwrap().starts_with("http://"),
        "{written}"
    );
    assert!(
        written["citizen"]["activation_code"].is_string(),
        "{written}"
    );
    assert!(written["consent_id"].is_string(), "{written}");
    ran.assert_covers(DEMO);
}

const PROVIDER: &str = "BE-0200000001";
const CONSUMER: &str = "BE-0400000001";
const INSURER: &str = "BE-0800000001";
const PURPOSE: &str = "benefit-eligibility";

/// An agency token, or the refusal.
async fn agency_token(
    hub: &HubClient,
    id: &str,
    creds: &AgencyCredentials,
) -> Result<String, String> {
    hub.agency_token(id, creds).await.map_err(|e| e.to_string())
}

async fn lookup(hub: &HubClient, token: &str, person: &str) -> (u16, Value) {
    hub.send(
        reqwest::Method::POST,
        "/v1/lookups",
        Some(token),
        Some(&json!({"person": person, "record_type": "person.address@1", "purpose": PURPOSE})),
    )
    .await
    .unwrap()
}

/// person.address 1.1 as a proposed 1.2, changed by `edit`; its path.
fn proposal(dir: &Path, file: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut document: Value = serde_json::from_str(ADDRESS_1_1).unwrap();
    document["$id"] = json!("https://crossroads.example/schemas/person.address/1.2");
    edit(&mut document);
    write(
        &dir.join(file),
        &serde_json::to_string_pretty(&document).unwrap(),
    )
}

#[allow(clippy::too_many_lines)] // one walk through the whole table
async fn every_command(backend: Backend, test: &str) {
    let Some(db) = TestDb::create(backend) else {
        skip(test);
        return;
    };
    let Some(fresh) = TestDb::create(backend) else {
        unreachable!("the backend was available a moment ago")
    };
    let ran = Ran::default();
    let http = e2e::http_client();
    let dir = tempfile::tempdir().unwrap();
    let ca = DemoCa::new().unwrap();
    let ca_file = dir.path().join("ca.pem");
    write(&ca_file, &ca.pem);
    let site = Site {
        database_url: db.url.expose_url(),
        data: dir.path().join("data"),
        ca_file: ca_file.clone(),
    };

    // serve --no-migrate: on a fresh database it starts, not ready, and
    // applies nothing; `migrate` applies the migrations (and stores the
    // shipped schemas), once.
    let unmigrated = Site {
        database_url: fresh.url.expose_url(),
        data: dir.path().join("fresh-data"),
        ca_file: ca_file.clone(),
    };
    let hub = unmigrated.serve(&ran, &["--no-migrate"]);
    let res = http.get(hub.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "not_ready", "{problem}");
    let applied = unmigrated.ok(&ran, &["migrate"]);
    assert!(applied.contains(": applied "), "{applied}");
    let res = http.get(hub.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let again = unmigrated.ok(&ran, &["migrate"]);
    assert!(again.contains(": up to date"), "{again}");
    let listed = unmigrated.ok(&ran, &["schema", "list"]);
    assert!(listed.contains("person.address@1.1\tactive\t"), "{listed}");
    drop(hub);
    drop(fresh);

    // serve: on a fresh database it applies the migrations and is ready.
    // operator token: a credential for /v1/admin/….
    let hub = site.serve(&ran, &[]);
    // --listen 127.0.0.1:0: on loopback, on a free port.
    assert!(
        hub.base_url.starts_with("http://127.0.0.1:"),
        "{}",
        hub.base_url
    );
    assert!(!hub.base_url.ends_with(":0"), "{}", hub.base_url);
    let res = http.get(hub.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let olga = site
        .ok(&ran, &["operator", "token", "--name", "Olga"])
        .trim()
        .to_owned();
    assert_eq!(admin_status(&http, &hub, &olga).await, 200);
    assert_eq!(admin_status(&http, &hub, "not-a-token").await, 401);
    let (status, _) = hub.stop("TERM");
    assert!(status.success());
    // What a backup taken now restores (used for accept-database below).
    let backup = Backup::take(&db, dir.path());

    let hub_process = site.serve(&ran, &[]);
    let hub = HubClient::new(&hub_process.base_url);

    // operator list shows both credentials, never a token; revoke stops one.
    let otto = site
        .ok(&ran, &["operator", "token", "--name", "Otto"])
        .trim()
        .to_owned();
    assert_eq!(admin_status(&http, &hub_process, &otto).await, 200);
    let listed = site.ok(&ran, &["operator", "list"]);
    assert!(
        !listed.contains(&otto) && !listed.contains(&olga),
        "{listed}"
    );
    let otto_id = listed
        .lines()
        .find(|l| l.split('\t').nth(1) == Some("Otto"))
        .and_then(|l| l.split('\t').next())
        .unwrap_or_else(|| panic!("{listed}"))
        .to_owned();
    assert!(listed.contains("\tOlga\t"), "{listed}");
    let revoked = site.ok(&ran, &["operator", "revoke", &otto_id]);
    assert!(revoked.contains(&format!("revoked {otto_id}")), "{revoked}");
    assert_eq!(admin_status(&http, &hub_process, &otto).await, 401);
    assert_eq!(admin_status(&http, &hub_process, &olga).await, 200);
    let listed = site.ok(&ran, &["operator", "list"]);
    let otto_line = listed.lines().find(|l| l.starts_with(&otto_id)).unwrap();
    assert!(otto_line.ends_with("\trevoked"), "{listed}");

    // person register (with every flag), refusing a likely duplicate
    // unless --distinct-from names it; merge; show a merged ID.
    let jan = [
        "person",
        "register",
        "--given-names",
        "Jan Pieter",
        "--family-name",
        "Janssens",
        "--birth-date",
        "1970-02-03",
        "--birth-place",
        "Leuven",
        "--sex",
        "male",
    ];
    let registered = site.ok(&ran, &jan);
    assert!(registered.contains("activation code:"), "{registered}");
    let first = common_id(&registered);
    let out = site.run(&ran, &jan);
    assert!(!out.status.success());
    assert!(stderr(&out).contains(&first), "{}", stderr(&out));
    let mut distinct = jan.to_vec();
    distinct.extend(["--distinct-from", &first]);
    let second = common_id(&site.ok(&ran, &distinct));
    assert_ne!(first, second);
    let shown: Value = serde_json::from_str(&site.ok(&ran, &["person", "show", &first])).unwrap();
    assert_eq!(shown["id"], first.as_str(), "{shown}");
    assert_eq!(shown["birth_place"], "Leuven", "{shown}");
    assert_eq!(shown["sex"], "male", "{shown}");
    let merged = site.ok(&ran, &["person", "merge", &first, &second]);
    assert!(merged.contains("now resolves to"), "{merged}");
    let shown: Value = serde_json::from_str(&site.ok(&ran, &["person", "show", &second])).unwrap();
    assert_eq!(shown["id"], first.as_str(), "{shown}");
    assert_eq!(shown["resolved_from"], second.as_str(), "{shown}");
    let anna = common_id(&site.ok(
        &ran,
        &[
            "person",
            "register",
            "--given-names",
            "Anna",
            "--family-name",
            "Peeters",
            "--birth-date",
            "1985-07-30",
        ],
    ));

    // agency-sim: a provider answering the hub from a records file, over
    // HTTPS, after a delay.
    let records = write(
        &dir.path().join("records.json"),
        &json!({"person.address": {anna.clone(): {
            "commonId": anna, "addressType": "legal-residence", "since": "2019-09-01",
            "address": {"street": "Rue de la Loi", "houseNumber": "16", "postcode": "1000",
                        "municipality": "Bruxelles", "country": "BE"},
        }}})
        .to_string(),
    );
    let tls = ca.issue_server(&["127.0.0.1"]).unwrap();
    let tls_cert = write(&dir.path().join("sim-tls.pem"), &tls.certificate_pem);
    let tls_key = write(&dir.path().join("sim-tls.key"), &tls.key_pem);
    let sim = agency_sim(
        &ran,
        PROVIDER,
        &[
            "--hub",
            &hub_process.base_url,
            "--records",
            &records,
            "--listen",
            "127.0.0.1:0",
            "--delay-ms",
            "300",
            "--tls-cert",
            &tls_cert,
            "--tls-key",
            &tls_key,
            "--webhook-status",
            "204",
        ],
    );
    assert!(sim.url.starts_with("https://127.0.0.1:"), "{}", sim.url);

    // agency add, with every flag; list.
    let provider = ca.issue(PROVIDER, "Population Register").unwrap();
    let consumer = ca.issue(CONSUMER, "Benefits Agency").unwrap();
    let insurer = ca.issue(INSURER, "Health Insurer").unwrap();
    let added: Value = serde_json::from_str(&site.ok(
        &ran,
        &[
            "agency",
            "add",
            "--id",
            PROVIDER,
            "--name",
            "Population Register",
            "--sector",
            "civil",
            "--roles",
            "provider",
            "--endpoint-url",
            &sim.url,
            "--cert",
            &cert_file(dir.path(), "provider", &provider),
        ],
    ))
    .unwrap();
    assert_eq!(added["endpoint_url"], sim.url.as_str(), "{added}");
    assert_eq!(added["status"], "active", "{added}");
    site.ok(
        &ran,
        &[
            "agency",
            "add",
            "--id",
            CONSUMER,
            "--name",
            "Benefits Agency",
            "--sector",
            "social",
            "--roles",
            "consumer",
            "--cert",
            &cert_file(dir.path(), "consumer", &consumer),
        ],
    );
    let added: Value = serde_json::from_str(&site.ok(
        &ran,
        &[
            "agency",
            "add",
            "--id",
            INSURER,
            "--name",
            "Health Insurer",
            "--sector",
            "health",
            "--roles",
            "consumer",
            "--identifier-policy",
            "sector_pseudonym",
            "--cert",
            &cert_file(dir.path(), "insurer", &insurer),
        ],
    ))
    .unwrap();
    assert_eq!(added["identifier_policy"], "sector_pseudonym", "{added}");
    let listed = site.ok(&ran, &["agency", "list"]);
    assert!(
        listed.contains(&format!(
            "{PROVIDER}\tactive\tcivil\tprovider\tPopulation Register"
        )),
        "{listed}"
    );
    assert!(
        listed.contains(&format!(
            "{CONSUMER}\tactive\tsocial\tconsumer\tBenefits Agency"
        )),
        "{listed}"
    );

    // The rules that let the consumer look the address up, over HTTP.
    hub.post(
        "/v1/admin/sources",
        Some(&olga),
        &json!({"record_type": "person.address", "major": 1, "provider": PROVIDER, "timeout_ms": 5_000}),
        201,
    )
    .await
    .unwrap();
    hub.post(
        "/v1/admin/purposes",
        Some(&olga),
        &json!({
            "code": PURPOSE, "title": "Checking eligibility for a social benefit",
            "legal_reference": {"title": "Social Assistance Act, art. 12", "url": "https://law.example/sa#12"},
        }),
        201,
    )
    .await
    .unwrap();
    hub.post(
        "/v1/admin/authorizations",
        Some(&olga),
        &json!({
            "consumer": {"agency": CONSUMER}, "record_type": "person.address", "major": 1,
            "fields": ["/commonId", "/addressType", "/since", "/address/street",
                       "/address/houseNumber", "/address/postcode",
                       "/address/municipality", "/address/country"],
            "purposes": [PURPOSE],
            "legal_reference": {"title": "Deliberation 26/042", "url": "https://law.example/isc/26-042"},
            "consent_required": false,
        }),
        201,
    )
    .await
    .unwrap();

    // The simulated provider answers the hub's request, after its delay.
    let token = agency_token(&hub, CONSUMER, &consumer).await.unwrap();
    let started = Instant::now();
    let (status, body) = lookup(&hub, &token, &anna).await;
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(body["provider"], PROVIDER, "{body}");
    assert_eq!(
        body["data"]["address"]["municipality"], "Bruxelles",
        "{body}"
    );

    // agency-sim as a publisher: the provider publishes Anna's new
    // address with its own key, through the provider library.
    let changes = write(
        &dir.path().join("changes.json"),
        &json!([{"person": anna, "record_type": "person.address@1.0", "kind": "updated",
                 "effective_date": "2026-12-01", "changed_fields": ["/address/street"],
                 "record": {"commonId": anna, "addressType": "legal-residence", "since": "2026-12-01",
                            "address": {"street": "Rue Neuve", "houseNumber": "1", "postcode": "1000",
                                        "municipality": "Bruxelles", "country": "BE"}},
                 "reference": "anna-moves"}])
        .to_string(),
    );
    let key = write(&dir.path().join("provider.key"), &provider.key_pem);
    let publisher = agency_sim(
        &ran,
        PROVIDER,
        &[
            "--hub",
            &hub_process.base_url,
            "--records",
            &records,
            "--publish",
            &changes,
            "--key",
            &key,
        ],
    );
    let receipt = publisher
        .printed(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no receipt: {:?}", publisher.log()));
    assert!(
        receipt.starts_with("published chg-") && receipt.ends_with(" anna-moves"),
        "{receipt}"
    );
    drop(publisher);

    // agency suspend: its tokens stop working; reactivate: they work again.
    let suspended = site.ok(&ran, &["agency", "suspend", CONSUMER]);
    assert_eq!(suspended.trim(), format!("{CONSUMER} suspended"));
    let (status, body) = lookup(&hub, &token, &anna).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("agency_suspended")),
        "{body}"
    );
    assert!(agency_token(&hub, CONSUMER, &consumer).await.is_err());
    let listed = site.ok(&ran, &["agency", "list"]);
    assert!(
        listed.contains(&format!("{CONSUMER}\tsuspended\t")),
        "{listed}"
    );
    let reactivated = site.ok(&ran, &["agency", "reactivate", CONSUMER]);
    assert_eq!(reactivated.trim(), format!("{CONSUMER} active"));
    let token = agency_token(&hub, CONSUMER, &consumer).await.unwrap();
    assert_eq!(lookup(&hub, &token, &anna).await.0, 200);

    // agency cert-add: a second certificate signs in too; cert-revoke: no
    // longer, while the first still does.
    let rotated = ca.issue(CONSUMER, "Benefits Agency").unwrap();
    let added = site.ok(
        &ran,
        &[
            "agency",
            "cert-add",
            CONSUMER,
            &cert_file(dir.path(), "consumer-2", &rotated),
        ],
    );
    let thumbprint = added.split('\t').next().unwrap().to_owned();
    agency_token(&hub, CONSUMER, &rotated).await.unwrap();
    let revoked = site.ok(&ran, &["agency", "cert-revoke", CONSUMER, &thumbprint]);
    assert_eq!(revoked.trim(), format!("revoked {thumbprint}"));
    assert!(agency_token(&hub, CONSUMER, &rotated).await.is_err());
    agency_token(&hub, CONSUMER, &consumer).await.unwrap();

    // keys rotate: a new current key, the old one retired but published;
    // the JWKS is checked below, once the hub has reloaded its keys.
    let before = kids(&http, &hub_process).await;
    assert_eq!(before.len(), 1, "{before:?}");
    let listed = site.ok(&ran, &["keys", "list"]);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.starts_with(&format!("{}\t", before[0])), "{listed}");
    assert!(listed.trim_end().ends_with("\tcurrent"), "{listed}");
    let kid = site.ok(&ran, &["keys", "rotate"]).trim().to_owned();
    let listed = site.ok(&ran, &["keys", "list"]);
    let status_of = |kid: &str| {
        listed
            .lines()
            .find(|l| l.starts_with(&format!("{kid}\t")))
            .and_then(|l| l.rsplit('\t').next())
            .unwrap_or_else(|| panic!("{kid} not in {listed}"))
            .to_owned()
    };
    assert_eq!(status_of(&kid), "current");
    assert!(
        status_of(&before[0]).starts_with("retired, published until "),
        "{listed}"
    );

    // schema list, show (three forms), check (with and without --against),
    // publish.
    let listed = site.ok(&ran, &["schema", "list"]);
    assert!(listed.contains("person.address@1.1\tactive\t"), "{listed}");
    for reference in ["person.address", "person.address@1", "person.address@1.1"] {
        let shown: Value =
            serde_json::from_str(&site.ok(&ran, &["schema", "show", reference])).unwrap();
        let id = shown["$id"].as_str().unwrap();
        assert!(
            id.ends_with("/v1/schemas/person.address/1.1"),
            "{reference}: {id}"
        );
    }
    let breaking = proposal(dir.path(), "breaking.json", |d| {
        d["properties"]["address"]["properties"]
            .as_object_mut()
            .unwrap()
            .remove("box");
    });
    let out = site.run(&ran, &["schema", "check", &breaking]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("/properties/address/properties/box\tproperty_removed"),
        "{}",
        stdout(&out)
    );
    let out = site.run(
        &ran,
        &[
            "schema",
            "check",
            &breaking,
            "--against",
            "person.address@1.0",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("/properties/address/properties/box"));
    let compatible = proposal(dir.path(), "compatible.json", |d| {
        d["properties"]["address"]["properties"]["region"] = json!({
            "description": "Region, province or state, where the country has them.",
            "type": "string"
        });
    });
    let checked = site.ok(
        &ran,
        &[
            "schema",
            "check",
            &compatible,
            "--against",
            "person.address@1.1",
        ],
    );
    assert!(
        checked.contains("compatible with person.address@1.1"),
        "{checked}"
    );
    let out = site.run(
        &ran,
        &[
            "schema",
            "publish",
            &breaking,
            "--record-type",
            "person.address@1.2",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let published = site.ok(
        &ran,
        &[
            "schema",
            "publish",
            &compatible,
            "--record-type",
            "person.address@1.2",
        ],
    );
    assert!(
        published.contains("/v1/schemas/person.address/1.2"),
        "{published}"
    );
    let listed = site.ok(&ran, &["schema", "list"]);
    assert!(listed.contains("person.address@1.2\tactive\t"), "{listed}");
    let shown: Value =
        serde_json::from_str(&site.ok(&ran, &["schema", "show", "person.address@1"])).unwrap();
    let id = shown["$id"].as_str().unwrap();
    assert!(id.ends_with("/v1/schemas/person.address/1.2"), "{id}");
    let served = http
        .get(hub_process.url("/v1/schemas/person.address/1.2"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);

    // audit: the verifier key, the checkpoint, verify from the database and
    // from the running hub's public endpoints (with a witness state).
    let size = settled_checkpoint(&site, &ran, &http, &hub_process).await;
    let key = site.ok(&ran, &["audit", "verifier-key"]).trim().to_owned();
    assert!(key.starts_with("hub.example.test/log+"), "{key}");
    let checkpoint = site.ok(&ran, &["audit", "checkpoint"]);
    assert!(
        checkpoint.starts_with(&format!("hub.example.test/log\n{size}\n")),
        "{checkpoint}"
    );
    let local = site.ok(&ran, &["audit", "verify"]);
    assert!(
        local.contains(&format!("verified: {size} entries")),
        "{local}"
    );
    // From the checkpoint verified last time: the whole log the first time
    // (no file yet), which leaves the latest signed checkpoint in the file.
    let since = dir.path().join("verified.note");
    let since_arg = since.to_str().unwrap().to_owned();
    let incremental = ["audit", "verify", "--since", &since_arg];
    let whole = site.ok(&ran, &incremental);
    assert!(
        whole.contains("verified: ") && whole.contains(" entries 0 to "),
        "{whole}"
    );
    let kept = std::fs::read_to_string(&since).unwrap();
    assert!(kept.starts_with("hub.example.test/log\n"), "{kept}");
    let kept_size: u64 = kept.lines().nth(1).unwrap().parse().unwrap();
    // A note the log's key did not sign is refused, and left as it was.
    let forged = dir.path().join("forged.note");
    let forger = audit::LogSigner::generate("hub.example.test/log").unwrap();
    let forged_note =
        audit::Checkpoint::new("hub.example.test/log", kept_size, audit::sha256(b"x"))
            .unwrap()
            .sign(&forger);
    std::fs::write(&forged, &forged_note).unwrap();
    let out = site.run(
        &ran,
        &["audit", "verify", "--since", forged.to_str().unwrap()],
    );
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(stderr(&out).contains("does not verify"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&forged).unwrap(), forged_note);
    let state = dir.path().join("witness.note");
    let state_arg = state.to_str().unwrap().to_owned();
    let remote = [
        "audit",
        "verify",
        "--url",
        &hub_process.base_url,
        "--key",
        &key,
        "--state",
        &state_arg,
    ];
    let first = site.ok(&ran, &remote);
    assert!(first.contains(&format!("size {size}")), "{first}");
    assert!(state.exists());
    site.ok(&ran, &["operator", "token", "--name", "Dave"]);
    let grown = settled_checkpoint(&site, &ran, &http, &hub_process).await;
    assert!(grown > size);
    let second = site.ok(&ran, &remote);
    assert!(second.contains(&format!("size {grown}")), "{second}");
    // Only the entries appended since the checkpoint kept last time.
    let newer = site.ok(&ran, &incremental);
    assert!(
        newer.contains(&format!(" entries {kept_size} to ")),
        "{newer}"
    );
    let kept_now = std::fs::read_to_string(&since).unwrap();
    let kept_now_size: u64 = kept_now.lines().nth(1).unwrap().parse().unwrap();
    assert!(kept_now_size >= grown, "{kept_now}");
    assert!(
        second.contains(&format!("consistent with size {size}")),
        "{second}"
    );
    let other = audit::LogSigner::generate("hub.example.test/log").unwrap();
    let out = site.run(
        &ran,
        &[
            "audit",
            "verify",
            "--url",
            &hub_process.base_url,
            "--key",
            &other.verifier_key().to_string(),
        ],
    );
    assert!(!out.status.success(), "{}", stdout(&out));
    // The running hub publishes the new key beside the old one once it
    // reloads its key ring (every 30 s).
    let started = Instant::now();
    loop {
        let after = kids(&http, &hub_process).await;
        if after.contains(&kid) {
            assert!(after.contains(&before[0]) && after.len() == 2, "{after:?}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(45),
            "{kid} not published: {after:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    drop(sim);
    let (status, _) = hub_process.stop("TERM");
    assert!(status.success());

    // audit accept-database: the backup taken above is refused by serve
    // (the hub signed a larger log since), accepted knowingly, then served.
    let restored = Site {
        database_url: backup.url.clone(),
        data: site.data.clone(),
        ca_file,
    };
    let out = restored.run_to_refusal(&ran, &["serve", "--listen", "127.0.0.1:0"]);
    assert!(
        stderr(&out).contains(&format!("checkpoint of {grown} entries"))
            && stderr(&out).contains("crossroads audit accept-database"),
        "{}",
        stderr(&out)
    );
    let accepted = restored.ok(&ran, &["audit", "accept-database"]);
    assert!(
        accepted.contains(&format!("(the kept checkpoint had {grown})")),
        "{accepted}"
    );
    let hub = restored.serve(&ran, &[]);
    let res = http.get(hub.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    drop(hub);
    let verified = restored.ok(&ran, &["audit", "verify"]);
    assert!(verified.contains("verified: "), "{verified}");
    drop(backup);

    ran.assert_covers(EVERY);
}

#[tokio::test]
async fn every_command_on_sqlite() {
    every_command(Backend::Sqlite, "command_line::every_command_on_sqlite").await;
}

#[tokio::test]
async fn every_command_on_postgres() {
    every_command(Backend::Postgres, "command_line::every_command_on_postgres").await;
}

/// `CHECKS` names only the checks of this file.
#[test]
fn the_checks_are_the_ones_of_this_file() {
    let mut by_check: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, check) in CHECKS {
        *by_check.entry(check).or_default() += 1;
    }
    assert_eq!(
        by_check.keys().copied().collect::<Vec<_>>(),
        vec![CONFIG, DEMO, EVERY]
    );
}
