//! The hub's own metrics on `/metrics`, on both backends: the audit log's
//! append path (entries, tree size, sequencer, checkpoint age, hand-over
//! table), lookups by outcome and code, and the providers' circuits.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use std::time::{Duration, Instant};

use actix_web::test as web;
use audit::{Actor, ActorType, Outcome};
use common::*;
use hub::audit_log::NewEntry;
use hub::dev::testing::TestApp;
use hub::storage_test;
use serde_json::json;

fn entry(i: usize) -> NewEntry {
    NewEntry::new(
        "lookup.permitted",
        Actor::new(ActorType::Agency, "agency-a"),
        Outcome::Permitted,
    )
    .unwrap()
    .with_person(format!("person-{i}"))
    .with_record_type("income@1.0")
    .with_purpose("benefit-eligibility")
    .with_exchange(format!("ex-{i}"))
    .with_provider("agency-b")
}

/// An operator token for scraping, made once per app (making one is a
/// write, which a stalled database would hold up).
fn operator(app: &TestApp) -> String {
    static TOKENS: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, String>>,
    > = std::sync::OnceLock::new();
    let mut tokens = TOKENS.get_or_init(Default::default).lock().unwrap();
    tokens
        .entry(app.db.data_dir())
        .or_insert_with(|| operator_token(app))
        .clone()
}

/// The text served at `/metrics`.
async fn scrape(app: &TestApp) -> String {
    let op = operator(app);
    let req = with_bearer(web::TestRequest::get().uri("/metrics"), &op);
    let (status, _, body) = app.send(req).await;
    assert_eq!(status.as_u16(), 200);
    String::from_utf8(body.to_vec()).unwrap()
}

/// The value of the sample `series` (name and labels, as printed).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Scrapes until `done` holds, for at most two seconds.
async fn scrape_until(app: &TestApp, done: impl Fn(&str) -> bool) -> String {
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        let text = scrape(app).await;
        if done(&text) || Instant::now() >= until {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

storage_test!(the_audit_log_is_measured, |app: TestApp| async move {
    let appends = (0..10).map(|i| app.state.audit.append(entry(i)));
    for seq in futures_util::future::join_all(appends).await {
        seq.unwrap();
    }
    // One more through the hand-over table, as a change of state.
    let staged = entry(10);
    app.state
        .change(move |_| Ok(((), vec![staged.clone()])))
        .await
        .unwrap();

    // Committed, then signed within a second.
    let signed = |text: &str| {
        value(text, "crossroads_audit_tree_size") == Some(11.0)
            && value(text, "crossroads_audit_checkpoint_age_seconds") == Some(0.0)
            && value(text, "crossroads_audit_queue_depth") == Some(0.0)
            && hub::store::audit::latest_checkpoint(&mut app.conn())
                .unwrap()
                .is_some_and(|cp| cp.size == 11)
    };
    let text = scrape_until(&app, signed).await;
    assert!(signed(&text), "{text}");

    assert_eq!(
        value(&text, "crossroads_audit_entries_appended_total"),
        Some(11.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "crossroads_audit_sequencer"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "crossroads_audit_commit_batch_size_sum"),
        Some(11.0),
        "{text}"
    );
    let commits = value(&text, "crossroads_audit_commit_batch_size_count").unwrap();
    assert!((1.0..=11.0).contains(&commits), "{text}");
    assert_eq!(
        value(&text, "crossroads_audit_commit_seconds_count"),
        Some(commits),
        "{text}"
    );
    assert_eq!(
        value(&text, "crossroads_audit_commit_failures_total"),
        Some(0.0),
        "{text}"
    );
    // The hand-over table is drained (measured once a second).
    assert_eq!(
        value(&text, "crossroads_audit_queue_oldest_age_seconds"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "crossroads_unverifiable_tokens_total"),
        Some(0.0),
        "{text}"
    );
    // The HTTP metrics share the registry.
    assert!(text.contains("crossroads_http_requests_total"), "{text}");
});

storage_test!(
    lookups_are_counted_by_outcome_and_code,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let token = agency_token(&app, &["consumer"], "common_id").await;
        let req =
            with_bearer(web::TestRequest::post().uri("/v1/lookups"), &token).set_json(json!({
                "person": "85073003328",
                "record_type": "person.address@1",
                "purpose": "benefit-eligibility",
            }));
        let (status, _, body) = call(&app, req).await;
        assert!(status >= 400, "{body}");
        let code = body["code"].as_str().unwrap();
        // The outcome is the audited kind without `lookup.`.
        let id = body["exchange_id"].as_str().unwrap();
        let kind = hub::store::audit::entries_from(&mut app.conn(), 0, 10_000)
            .unwrap()
            .into_iter()
            .map(|(_, e)| serde_json::from_str::<serde_json::Value>(&e).unwrap())
            .find(|e| e["exchange_id"] == id)
            .unwrap()["kind"]
            .as_str()
            .unwrap()
            .to_owned();
        let outcome = kind.strip_prefix("lookup.").unwrap();
        let text = scrape(&app).await;
        let series = format!(r#"crossroads_lookups_total{{code="{code}",outcome="{outcome}"}}"#);
        assert_eq!(value(&text, &series), Some(1.0), "{series}\n{text}");
    }
);

storage_test!(
    an_open_circuit_shows_until_a_call_works,
    |app: TestApp| async move {
        let open = r#"crossroads_provider_circuit_open{provider="agency-b"}"#;
        for _ in 0..5 {
            app.state.breakers.failure("agency-b");
        }
        assert!(app.state.breakers.is_open("agency-b"));
        assert_eq!(value(&scrape(&app).await, open), Some(1.0));
        assert!(!app.state.breakers.allow("agency-b"));
        app.state.breakers.success("agency-b");
        assert!(!app.state.breakers.is_open("agency-b"));
        assert_eq!(value(&scrape(&app).await, open), Some(0.0));

        app.state.hub_metrics.unverifiable_token();
        let text = scrape(&app).await;
        assert_eq!(
            value(&text, "crossroads_unverifiable_tokens_total"),
            Some(1.0),
            "{text}"
        );
    }
);

storage_test!(
    a_stalled_database_shows_and_recovers,
    setup = |backend| hub::dev::testing::TestApp::with_config(backend, |config| {
        // SQLite gives up on a held lock quickly: commits fail and are
        // retried, which the failure counter shows.
        config.sqlite_busy_timeout_ms = 50;
    }),
    |app: TestApp| async move {
        // The sequencer is running and has appended once.
        app.state.audit.append(entry(0)).await.unwrap();
        operator(&app);
        // Another connection holds the audit tables.
        let pool = app.state.pool.clone();
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            use diesel::connection::SimpleConnection;
            let mut conn = pool.get().unwrap();
            let (begin, end) = match conn.backend() {
                "sqlite" => ("BEGIN IMMEDIATE;", "COMMIT;"),
                _ => (
                    "BEGIN; LOCK TABLE audit_entries IN ACCESS EXCLUSIVE MODE;",
                    "COMMIT;",
                ),
            };
            conn.batch_execute(begin).unwrap();
            locked_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(1_500));
            conn.batch_execute(end).unwrap();
        });
        locked_rx.recv().unwrap();
        // Entries keep coming while the database is stalled: appended ones
        // wait in memory, a change's entry in the hand-over table.
        let state = app.state.clone();
        let appends = tokio::spawn(async move {
            let appends = (1..6).map(|i| state.audit.append(entry(i)));
            futures_util::future::join_all(appends).await
        });
        let sqlite = app.state.pool.get().unwrap().backend() == "sqlite";
        let stalled = if sqlite {
            // Commits fail on the held lock and are retried.
            scrape_until(&app, |text| {
                value(text, "crossroads_audit_commit_failures_total").unwrap_or(0.0) > 0.0
            })
            .await
        } else {
            // PostgreSQL waits for the lock: the commit is pending.
            tokio::time::sleep(Duration::from_millis(700)).await;
            scrape(&app).await
        };
        if sqlite {
            assert!(
                value(&stalled, "crossroads_audit_commit_failures_total").unwrap_or(0.0) > 0.0,
                "{stalled}"
            );
        }
        assert_eq!(
            value(&stalled, "crossroads_audit_tree_size"),
            Some(1.0),
            "{stalled}"
        );
        holder.join().unwrap();

        // Recovered: every entry appended, nothing dropped, and the same
        // process is still the sequencer.
        for seq in appends.await.unwrap() {
            seq.unwrap();
        }
        let recovered = scrape_until(&app, |text| {
            value(text, "crossroads_audit_tree_size") == Some(6.0)
                && value(text, "crossroads_audit_checkpoint_age_seconds") == Some(0.0)
        })
        .await;
        assert_eq!(
            value(&recovered, "crossroads_audit_tree_size"),
            Some(6.0),
            "{recovered}"
        );
        assert_eq!(
            value(&recovered, "crossroads_audit_entries_appended_total"),
            Some(6.0)
        );
        assert_eq!(value(&recovered, "crossroads_audit_sequencer"), Some(1.0));
        assert_eq!(value(&recovered, "crossroads_audit_queue_depth"), Some(0.0));
    }
);
