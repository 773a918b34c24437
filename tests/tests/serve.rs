//! `crossroads serve` and `migrate` as real processes, on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use e2e::{Hub, crossroads};
use hub::dev::testing::{Backend, TestDb, skip};
use serde_json::Value;

fn client() -> reqwest::Client {
    e2e::http_client()
}

/// Serves on `backend`, checks health, readiness, a 404 and a 413 over real
/// HTTP, then stops with SIGTERM and expects a clean exit.
async fn serve_and_stop(backend: Backend) {
    let Some(db) = TestDb::create(backend) else {
        skip("serve::serve_and_stop_on_postgres");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let mut cmd = crossroads();
    cmd.env("CROSSROADS_DATA_DIR", data.path())
        .env("CROSSROADS_DATABASE_URL", db.url.expose_url());
    let hub = Hub::start(cmd);
    let http = client();

    let health: Value = http
        .get(hub.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");

    let res = http.get(hub.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-request-id"));
    let ready: Value = res.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready.get("database"), None, "{ready}");

    let res = http.get(hub.url("/no/such/route")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "not_found");

    let res = http
        .post(hub.url("/healthz"))
        .header("content-type", "application/json")
        .body(vec![b' '; 10 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "payload_too_large");

    let (status, log) = hub.stop("TERM");
    assert!(status.success(), "exit {status:?}\n{}", log.join("\n"));
    assert!(
        log.iter().any(|l| l.contains("crossroads stopped")),
        "{}",
        log.join("\n")
    );
    // Every request's log line carries its request id.
    let completed: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("request completed"))
        .collect();
    assert!(completed.len() >= 4, "{}", log.join("\n"));
    assert!(
        completed.iter().all(|l| l.contains("\"request_id\"")),
        "{completed:?}"
    );
}

#[tokio::test]
async fn serve_and_stop_on_sqlite() {
    serve_and_stop(Backend::Sqlite).await;
}

#[tokio::test]
async fn serve_and_stop_on_postgres() {
    serve_and_stop(Backend::Postgres).await;
}

#[test]
fn defaults_put_sqlite_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = crossroads()
        .current_dir(dir.path())
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("crossroads-data/crossroads.db").exists());
    let again = crossroads()
        .current_dir(dir.path())
        .arg("migrate")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("up to date"));
}

#[test]
fn a_bogus_database_url_names_the_setting() {
    let out = crossroads()
        .args(["serve", "--database-url", "bogus://x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("database_url"), "{err}");
    assert!(err.contains("bogus"), "{err}");
}

#[test]
fn an_unreachable_database_is_reported_with_its_cause() {
    let out = crossroads()
        .args([
            "migrate",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot connect to the postgres database"),
        "{err}"
    );
}

#[test]
fn config_prints_the_effective_settings_without_secrets() {
    let out = crossroads()
        .env(
            "CROSSROADS_DATABASE_URL",
            "postgres://u:s3cret@db.example/crossroads",
        )
        .env("CROSSROADS_LISTEN", "0.0.0.0:9000")
        .arg("config")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("listen = \"0.0.0.0:9000\""), "{text}");
    assert!(!text.contains("s3cret"), "{text}");

    let out = crossroads()
        .env("CROSSROADS_LISTEN", "nowhere")
        .arg("config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen"));
}

/// With `metrics_listen`, metrics are served there without a token and the
/// main address answers 404 for them; without it, they need an operator
/// token.
#[tokio::test]
async fn metrics_are_for_operators_or_a_separate_address() {
    let db = TestDb::create(Backend::Sqlite).unwrap();
    let data = tempfile::tempdir().unwrap();
    let http = client();

    let hub = Hub::start({
        let mut cmd = crossroads();
        cmd.env("CROSSROADS_DATA_DIR", data.path())
            .env("CROSSROADS_DATABASE_URL", db.url.expose_url());
        cmd
    });
    let res = http.get(hub.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    hub.stop("TERM");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hub = Hub::start({
        let mut cmd = crossroads();
        cmd.env("CROSSROADS_DATA_DIR", data.path())
            .env("CROSSROADS_DATABASE_URL", db.url.expose_url())
            .env("CROSSROADS_METRICS_LISTEN", format!("127.0.0.1:{port}"));
        cmd
    });
    let res = http.get(hub.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let res = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(text.contains("crossroads_http_requests_total"), "{text}");
    // Nothing else is served there.
    let res = http
        .get(format!("http://127.0.0.1:{port}/v1/schemas"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

/// Request logs name the route, never the path: a common ID in a path (or
/// a body) appears nowhere in the hub's log.
#[tokio::test]
async fn logs_name_routes_not_persons() {
    let db = TestDb::create(Backend::Sqlite).unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = e2e::cli(
        &db,
        data.path(),
        &[
            "person",
            "register",
            "--given-names",
            "Lola",
            "--family-name",
            "Logs",
            "--birth-date",
            "1977-07-07",
        ],
    );
    let person = out
        .lines()
        .find_map(|l| l.strip_prefix("common ID:"))
        .unwrap()
        .trim()
        .replace(['.', '-'], "");
    let hub = Hub::start({
        let mut cmd = crossroads();
        cmd.env("CROSSROADS_DATA_DIR", data.path())
            .env("CROSSROADS_DATABASE_URL", db.url.expose_url())
            .env("CROSSROADS_LOG_LEVEL", "debug");
        cmd
    });
    let http = client();
    for path in [
        format!("/v1/persons/{person}"),
        format!("/v1/persons/{person}/status"),
        format!("/nowhere/{person}"),
    ] {
        let res = http
            .get(hub.url(&path))
            .bearer_auth("not-a-token")
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{path}");
    }
    let res = http
        .post(hub.url("/v1/lookups"))
        .json(&serde_json::json!({"person": person, "record_type": "person.address@1", "purpose": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let (_, log) = hub.stop("TERM");
    let text = log.join("\n");
    assert!(text.contains("/v1/persons/{id}"), "{text}");
    assert!(!text.contains(&person), "a common ID in the log:\n{text}");
}

/// The data directory is made 0700, the database and key files 0600; a hub
/// started on wider rights says so.
#[cfg(unix)]
#[tokio::test]
async fn data_and_secrets_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let start = || {
        let mut cmd = crossroads();
        cmd.env("CROSSROADS_DATA_DIR", &data);
        Hub::start(cmd)
    };
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let (_, log) = start().stop("TERM");
    assert!(!log.join("\n").contains("should be 0700"), "{log:?}");
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("crossroads.db")), 0o600);
    let keys: Vec<_> = std::fs::read_dir(data.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(keys.iter().any(|k| k.ends_with("totp.key")), "{keys:?}");
    for key in &keys {
        assert_eq!(mode(key), 0o600, "{}", key.display());
    }
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        data.join("crossroads.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let (_, log) = start().stop("TERM");
    let warned: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("should be 0700"))
        .collect();
    assert_eq!(warned.len(), 2, "{log:?}");
    assert!(
        warned.iter().any(|l| l.contains("crossroads.db")),
        "{warned:?}"
    );
}

/// `crossroads serve --no-migrate`, as the README documents it: the hub
/// starts without applying migrations, and says it is not ready until
/// `crossroads migrate` ran.
#[tokio::test]
async fn serve_no_migrate_starts_without_migrating() {
    let db = TestDb::create(Backend::Sqlite).unwrap();
    let data = tempfile::tempdir().unwrap();
    let hub = Hub::start_with(
        {
            let mut cmd = crossroads();
            cmd.env("CROSSROADS_DATA_DIR", data.path())
                .env("CROSSROADS_DATABASE_URL", db.url.expose_url());
            cmd
        },
        &["--no-migrate"],
    );
    let http = client();
    let res = http.get(hub.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "not_ready", "{problem}");
    let out = e2e::crossroads_on(&db, data.path(), &["migrate"]);
    assert!(out.status.success(), "{out:?}");
    let res = http.get(hub.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}
