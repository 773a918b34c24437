//! A hub killed (SIGKILL) while 16 operators change state at once, on
//! SQLite and on PostgreSQL: after a restart with no new traffic, every
//! committed change has exactly one audit entry, no entry names a change
//! that was not committed, every acknowledged change is there, the
//! hand-over table is drained, the latest checkpoint covers the whole tree
//! within two seconds, and the log verifies.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use e2e::{Hub, World};
use hub::dev::demo::client::HubClient;
use hub::dev::testing::{Backend, TestDb, skip};
use serde_json::{Value, json};

const WRITERS: usize = 16;

/// The size line of the hub's latest checkpoint (a C2SP signed note).
async fn checkpoint_size(http: &reqwest::Client, hub: &Hub) -> u64 {
    let res = http.get(hub.url("/log/checkpoint")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    text.lines().nth(1).unwrap().trim().parse().unwrap()
}

async fn killed_under_load(backend: Backend, test: &str) {
    let Some(mut world) = World::create(backend) else {
        skip(test);
        return;
    };
    let operator = world.operator.clone();
    world.serve();
    let hub = world.client().clone();

    // 16 writers create purposes until the hub dies.
    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let stop_at = Instant::now() + Duration::from_secs(30);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let hub = hub.clone();
            let operator = operator.clone();
            let acknowledged = Arc::clone(&acknowledged);
            tokio::spawn(async move {
                for n in 0.. {
                    if Instant::now() > stop_at {
                        break;
                    }
                    let code = format!("load-{w}-{n}");
                    let body = json!({
                        "code": code, "title": "Load",
                        "legal_reference": {"title": "Act", "url": "https://law.example/act"},
                    });
                    match hub
                        .send(
                            reqwest::Method::POST,
                            "/v1/admin/purposes",
                            Some(&operator),
                            Some(&body),
                        )
                        .await
                    {
                        Ok((201, _)) => {
                            acknowledged.lock().unwrap().insert(code);
                        }
                        Ok((status, body)) => panic!("{status} {body}"),
                        // The hub is gone.
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    // Kill it once a good number of changes went through.
    let deadline = Instant::now() + Duration::from_secs(25);
    while acknowledged.lock().unwrap().len() < 300 {
        assert!(
            Instant::now() < deadline,
            "the hub made too little progress"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, _) = world.stop("KILL");
    assert!(!status.success());
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    // Restart; no new traffic.
    world.serve();
    let restarted = world.hub();
    let http = e2e::http_client();
    let pool = world.db.pool();
    let mut conn = pool.get().unwrap();
    let started = Instant::now();
    let signed = loop {
        let size = hub::store::audit::tree_size(&mut conn).unwrap();
        let signed = checkpoint_size(&http, restarted).await;
        if signed == size && hub::store::audit::queue_is_empty(&mut conn).unwrap() {
            break size;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "after 2 s the latest checkpoint covers {signed} of {size} entries"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // Every committed purpose has exactly one entry, and no entry names a
    // purpose that was not committed.
    use hub::store::tables::purposes;
    let stored: HashSet<String> = purposes::table
        .select(purposes::code)
        .load::<String>(&mut *conn)
        .unwrap()
        .into_iter()
        .filter(|c| c.starts_with("load-"))
        .collect();
    let rows = hub::store::audit::entries_from(&mut conn, 0, 1_000_000).unwrap();
    assert_eq!(rows.len() as u64, signed);
    let mut entries: HashMap<String, usize> = HashMap::new();
    for (_, entry) in rows {
        let entry: Value = serde_json::from_str(&entry).unwrap();
        if entry["kind"] == "purpose.created" {
            *entries
                .entry(entry["purpose"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    assert!(
        acknowledged.is_subset(&stored),
        "an acknowledged change was lost"
    );
    assert_eq!(
        entries.keys().cloned().collect::<HashSet<_>>(),
        stored,
        "committed changes and their audit entries differ"
    );
    assert!(entries.values().all(|n| *n == 1), "an entry appears twice");
    eprintln!(
        "{} acknowledged, {} committed, {} entries in the log",
        acknowledged.len(),
        stored.len(),
        signed
    );
    drop(conn);
    world.kill_hub();
    let verified = world.cli(&["audit", "verify"]);
    assert!(verified.contains("verified: "), "{verified}");
}

#[tokio::test]
async fn changes_and_entries_survive_sigkill_on_sqlite() {
    killed_under_load(
        Backend::Sqlite,
        "crash::changes_and_entries_survive_sigkill_on_sqlite",
    )
    .await;
}

#[tokio::test]
async fn changes_and_entries_survive_sigkill_on_postgres() {
    killed_under_load(
        Backend::Postgres,
        "crash::changes_and_entries_survive_sigkill_on_postgres",
    )
    .await;
}

/// Creates `n` purposes through the API.
async fn purposes(hub: &HubClient, operator: &str, from: usize, n: usize) {
    for i in from..from + n {
        hub.post(
            "/v1/admin/purposes",
            Some(operator),
            &json!({"code": format!("restore-{i}"), "title": "Restore",
                    "legal_reference": {"title": "Act", "url": "https://law.example/act"}}),
            201,
        )
        .await
        .unwrap();
    }
}

/// Waits until the hub has signed a checkpoint of the whole tree.
async fn signed(http: &reqwest::Client, hub: &Hub, db: &TestDb) -> u64 {
    let pool = db.pool();
    let mut conn = pool.get().unwrap();
    let started = Instant::now();
    loop {
        let size = hub::store::audit::tree_size(&mut conn).unwrap();
        if checkpoint_size(http, hub).await == size {
            return size;
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The database file and its write-ahead log.
fn sqlite_files(db: &TestDb) -> Vec<std::path::PathBuf> {
    let hub::app::config::DatabaseUrl::Sqlite { path } = &db.url else {
        unreachable!()
    };
    ["", "-wal"]
        .iter()
        .map(|suffix| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            std::path::PathBuf::from(name)
        })
        .collect()
}

#[tokio::test]
async fn a_restored_older_database_is_refused_until_accepted() {
    let mut world = World::create(Backend::Sqlite).unwrap();
    let http = e2e::http_client();

    world.serve();
    purposes(world.client(), &world.operator, 0, 5).await;
    let old = signed(&http, world.hub(), &world.db).await;
    world.stop("TERM");
    let db = &world.db;
    let backup = world.dir().join("backup");
    std::fs::create_dir_all(&backup).unwrap();
    for (i, file) in sqlite_files(db).iter().enumerate() {
        if file.exists() {
            std::fs::copy(file, backup.join(i.to_string())).unwrap();
        }
    }

    world.serve();
    purposes(world.client(), &world.operator, 5, 5).await;
    let new = signed(&http, world.hub(), &world.db).await;
    assert!(new > old);
    world.stop("TERM");
    let db = &world.db;

    // The operator restores the older copy.
    for (i, file) in sqlite_files(db).iter().enumerate() {
        let saved = backup.join(i.to_string());
        if saved.exists() {
            std::fs::copy(&saved, file).unwrap();
        } else {
            let _ = std::fs::remove_file(file);
        }
    }
    let _ = std::fs::remove_file(format!("{}-shm", sqlite_files(db)[0].display()));
    let out = world
        .serve_command()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("has {old} entries"))
            && stderr.contains(&format!("checkpoint of {new} entries")),
        "{stderr}"
    );

    // Accepted knowingly, and audited: the hub serves again.
    let accepted = world.cli(&["audit", "accept-database"]);
    assert!(
        accepted.contains(&format!("(the kept checkpoint had {new})")),
        "{accepted}"
    );
    world.serve();
    let size = signed(&http, world.hub(), &world.db).await;
    assert_eq!(size, old + 1);
    world.kill_hub();
    let verified = world.cli(&["audit", "verify"]);
    assert!(verified.contains("verified: "), "{verified}");
}
