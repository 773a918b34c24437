//! The audit log from outside: `crossroads audit verify --url` against a
//! running hub, as an outside auditor and witness would run it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::process::Output;

use e2e::{Hub, crossroads};
use hub::dev::testing::{Backend, TestDb, skip};

fn run(db: &TestDb, data: &std::path::Path, args: &[&str]) -> Output {
    crossroads()
        .env("CROSSROADS_DATA_DIR", data)
        .env("CROSSROADS_DATABASE_URL", db.url.expose_url())
        .env("CROSSROADS_LOG_ORIGIN", "hub.example.test/log")
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

async fn outside_auditor(backend: Backend) {
    let Some(db) = TestDb::create(backend) else {
        skip("audit::outside_auditor_on_postgres");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let witness = data.path().join("witness.note");
    // Each operator token is an audited event.
    for name in ["Alice", "Bob", "Carol"] {
        ok(&run(
            &db,
            data.path(),
            &["operator", "token", "--name", name],
        ));
    }
    let key = ok(&run(&db, data.path(), &["audit", "verifier-key"]))
        .trim()
        .to_owned();
    assert!(key.starts_with("hub.example.test/log+"), "{key}");

    let mut cmd = crossroads();
    cmd.env("CROSSROADS_DATA_DIR", data.path())
        .env("CROSSROADS_DATABASE_URL", db.url.expose_url())
        .env("CROSSROADS_LOG_ORIGIN", "hub.example.test/log");
    let hub = Hub::start(cmd);
    let url = hub.base_url.clone();
    let witness_arg = witness.display().to_string();

    let first = ok(&run(
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
    ));
    assert!(first.contains("size 3"), "{first}");
    assert!(witness.exists());

    ok(&run(
        &db,
        data.path(),
        &["operator", "token", "--name", "Dave"],
    ));
    let second = ok(&run(
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
    ));
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
    let local = ok(&run(&db, data.path(), &["audit", "verify"]));
    assert!(local.contains("verified: 4 entries"), "{local}");
    let checkpoint = ok(&run(&db, data.path(), &["audit", "checkpoint"]));
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
