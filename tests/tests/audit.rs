//! The audit log from outside: `crossroads audit verify --url` against a
//! running hub, as an outside auditor and witness would run it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use e2e::{Hub, crossroads_for, http_client, succeeded};
use hub::dev::testing::{Backend, TestDb, skip};

/// The origin of the hub's log in these tests.
const ORIGIN: &str = "hub.example.test/log";

/// A `crossroads` command on `db` and `data` with the log's origin.
fn command(db: &TestDb, data: &std::path::Path) -> Command {
    let mut cmd = crossroads_for(db, data);
    cmd.env("CROSSROADS_LOG_ORIGIN", ORIGIN);
    cmd
}

fn run(db: &TestDb, data: &std::path::Path, args: &[&str]) -> Output {
    command(db, data).args(args).output().unwrap()
}

/// [`run`], which must succeed; its standard output.
fn cli(db: &TestDb, data: &std::path::Path, args: &[&str]) -> String {
    succeeded(args, &run(db, data, args))
}

/// Waits until the checkpoint served at `url` starts with `prefix`; fails
/// after `bound`.
async fn signed_within(url: &str, prefix: &str, bound: Duration) {
    let http = http_client();
    let deadline = Instant::now() + bound;
    loop {
        let note = http
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if note.starts_with(prefix) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint {prefix:?} within {bound:?}; the hub serves {note:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn outside_auditor(backend: Backend) {
    let Some(db) = TestDb::create(backend) else {
        skip("audit::outside_auditor_on_postgres");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let witness = data.path().join("witness.note");
    // Each operator token is an audited event.
    for name in ["Alice", "Bob", "Carol"] {
        cli(&db, data.path(), &["operator", "token", "--name", name]);
    }
    let key = cli(&db, data.path(), &["audit", "verifier-key"])
        .trim()
        .to_owned();
    assert!(key.starts_with("hub.example.test/log+"), "{key}");

    let hub = Hub::start(command(&db, data.path()));
    let url = hub.base_url.clone();
    let witness_arg = witness.display().to_string();

    let first = cli(
        &db,
        data.path(),
        &[
            "audit",
            "verify",
            "--url",
            &url,
            "--key",
            &key,
            "--state",
            &witness_arg,
        ],
    );
    assert!(first.contains("size 3"), "{first}");
    assert!(witness.exists());

    cli(&db, data.path(), &["operator", "token", "--name", "Dave"]);
    // The entry is committed when the command returns; the hub signs a
    // checkpoint covering it within a second (`CHECKPOINT_EVERY`).
    let size_4 = hub.url("/log/checkpoint");
    signed_within(&size_4, "hub.example.test/log\n4\n", Duration::from_secs(5)).await;
    let second = cli(
        &db,
        data.path(),
        &[
            "audit",
            "verify",
            "--url",
            &url,
            "--key",
            &key,
            "--state",
            &witness_arg,
        ],
    );
    assert!(second.contains("size 4"), "{second}");
    assert!(second.contains("consistent with size 3"), "{second}");

    // Another key does not verify the hub's checkpoints.
    let other = audit::LogSigner::generate("hub.example.test/log").unwrap();
    let out = run(
        &db,
        data.path(),
        &[
            "audit",
            "verify",
            "--url",
            &url,
            "--key",
            &other.verifier_key().to_string(),
        ],
    );
    assert!(!out.status.success());

    // The database-side verification agrees.
    let local = cli(&db, data.path(), &["audit", "verify"]);
    assert!(local.contains("verified: 4 entries"), "{local}");
    let checkpoint = cli(&db, data.path(), &["audit", "checkpoint"]);
    assert!(
        checkpoint.starts_with("hub.example.test/log\n4\n"),
        "{checkpoint}"
    );
    drop(hub);
}

#[tokio::test]
async fn outside_auditor_on_sqlite() {
    outside_auditor(Backend::Sqlite).await;
}

#[tokio::test]
async fn outside_auditor_on_postgres() {
    outside_auditor(Backend::Postgres).await;
}
