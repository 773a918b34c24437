//! A generated population (`crossroads populate`) on both backends: the
//! counts asked for, a log that verifies, the same population from the same
//! seed, and the hub working on top of it as on any database.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use actix_web::test as web;
use audit::{Actor, ActorType, Outcome};
use common::*;
use hub::audit_log::verify::{Verdict, verify_stored};
use hub::audit_log::{EntryFilter, NewEntry, Page};
use hub::dev::testing::{Backend, TestApp};
use hub::services::population::{Options, Summary, populate};
use hub::storage_test;
use hub::store::DbConnection;
use hub::store::audit as audit_store;
use hub::store::population::counts;

const PERSONS: u64 = 1_000;
const ENTRIES: u64 = 5_000;
const BUSY: u64 = 400;

fn options(seed: u64) -> Options {
    Options {
        persons: PERSONS,
        agencies: 20,
        authorizations: 200,
        audit_entries: ENTRIES,
        busy_person_entries: BUSY,
        seed,
        // Several transactions of each kind.
        person_batch: 300,
        entry_batch: 1_500,
        cache_mib: 16,
        ..Options::default()
    }
}

fn verdict(app: &TestApp) -> Verdict {
    let key = app.state.audit.signer().unwrap().verifier_key();
    verify_stored(&app.state.pool, &key, key.name()).unwrap()
}

#[derive(diesel::QueryableByName)]
struct IndexName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// The names of every index of the database, sorted.
fn index_names(app: &TestApp) -> Vec<String> {
    use diesel::RunQueryDsl;
    let mut conn = app.conn();
    let rows: Vec<IndexName> = match &mut *conn {
        DbConnection::Sqlite(c) => {
            diesel::sql_query("SELECT name FROM sqlite_schema WHERE type = 'index' ORDER BY name")
                .load(c)
                .unwrap()
        }
        DbConnection::Postgres(c) => diesel::sql_query(
            "SELECT indexname::text AS name FROM pg_indexes \
             WHERE schemaname = current_schema() ORDER BY indexname",
        )
        .load(c)
        .unwrap(),
    };
    rows.into_iter().map(|r| r.name).collect()
}

fn generated(app: &TestApp, seed: u64) -> Summary {
    populate(&app.state, &options(seed)).unwrap()
}

storage_test!(
    a_population_has_the_size_asked_and_a_log_that_verifies,
    |app: TestApp| async move {
        let indexes = index_names(&app);
        let summary = generated(&app, 7);
        // The indexes dropped for the load are all back.
        assert_eq!(index_names(&app), indexes);
        let c = counts(&mut app.conn()).unwrap();
        assert_eq!(c.persons, PERSONS as i64);
        assert_eq!(
            c.pseudonyms,
            PERSONS as i64 * identity::Sector::ALL.len() as i64
        );
        assert_eq!(c.accounts, PERSONS as i64);
        // From 1 to 5 references each, 3 on average.
        let per_person = c.references as f64 / PERSONS as f64;
        assert!((2.7..=3.3).contains(&per_person), "{per_person}");
        // About 5 % of persons gave a consent.
        assert!((20..=90).contains(&c.consents), "{}", c.consents);
        assert_eq!(c.audit_entries, ENTRIES as i64);
        assert_eq!(summary.tree_size, ENTRIES);
        assert_eq!(summary.counts, c);

        match verdict(&app) {
            Verdict::Verified {
                size, checkpoints, ..
            } => {
                assert_eq!(size, ENTRIES);
                assert_eq!(checkpoints, 1);
            }
            other => panic!("{other:?}"),
        }

        // The busy person has their entries, and each page comes with
        // proofs against the signed checkpoint.
        let person = summary.busy_person.as_digits().to_owned();
        let mut conn = app.conn();
        let mut seen = 0;
        let mut before = None;
        loop {
            let page = audit_store::person_entries(
                &mut conn,
                &person,
                &EntryFilter::default(),
                Page { before, limit: 150 },
            )
            .unwrap();
            let Some(last) = page.last() else { break };
            before = Some(last.seq as u64);
            seen += page.len() as u64;
        }
        assert_eq!(seen, BUSY);
        let checkpoint = app.state.audit.latest_checkpoint(&mut conn).unwrap();
        let last_page = app
            .state
            .audit
            .entries_for_person(
                &mut conn,
                &person,
                &EntryFilter::default(),
                Page {
                    before: Some(100),
                    limit: 50,
                },
            )
            .unwrap();
        assert!(!last_page.is_empty());
        for item in &last_page {
            let proof: Vec<audit::Hash> = item
                .inclusion_proof
                .iter()
                .map(|h| audit::Hash::from_base64(h).unwrap())
                .collect();
            let leaf = audit::leaf_hash(item.entry_json.as_bytes());
            audit::verify_inclusion(&leaf, item.seq, checkpoint.size, &proof, &checkpoint.root)
                .unwrap();
            // The entry names the person by commitment, never in plain.
            assert!(!item.entry_json.contains(&person));
        }

        // A second population on the same database is refused, and so is
        // an empty one; neither changes anything.
        let again = populate(&app.state, &options(8)).unwrap_err();
        let problem = serde_json::to_value(again.problem()).unwrap();
        assert_eq!(problem["status"], 409, "{problem}");
        problem_snapshot(&problem);
        let empty = Options {
            persons: 0,
            ..options(8)
        };
        let refused = populate(&app.state, &empty).unwrap_err();
        let problem = serde_json::to_value(refused.problem()).unwrap();
        assert_eq!(problem["status"], 422, "{problem}");
        problem_snapshot(&problem);
        assert_eq!(counts(&mut app.conn()).unwrap(), c);
    }
);

storage_test!(
    the_hub_works_on_top_of_a_population,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let summary = generated(&app, 3);

        // Onboarding, registration, activation and sign-in through the API.
        let registrar = agency_token(&app, &["registrar"], "common_id").await;
        let (id, token) = citizen(&app, &registrar, "Zebulon").await;
        assert!(id.parse::<identity::CommonId>().is_ok());
        let req = with_bearer(
            web::TestRequest::get().uri("/v1/citizen/access-log"),
            &token,
        );
        let (status, _, body) = call(&app, req).await;
        assert_eq!(status, 200, "{body}");

        // The hub's own entries go after the generated ones, and the log
        // still verifies.
        let seq = app
            .state
            .audit
            .append(
                NewEntry::new(
                    "lookup.permitted",
                    Actor::new(ActorType::Agency, "XP-POP000001"),
                    Outcome::Permitted,
                )
                .unwrap()
                .with_person(summary.busy_person.as_digits()),
            )
            .await
            .unwrap();
        assert!(seq >= ENTRIES, "{seq}");
        app.state
            .audit
            .checkpoint_covering(&mut app.conn(), seq + 1)
            .unwrap();
        match verdict(&app) {
            Verdict::Verified { size, .. } => assert_eq!(size, seq + 1),
            other => panic!("{other:?}"),
        }
    }
);

#[actix_web::test]
async fn the_same_seed_gives_the_same_population() {
    let first = TestApp::new(Backend::Sqlite).unwrap();
    let second = TestApp::new(Backend::Sqlite).unwrap();
    let a = generated(&first, 11);
    let b = generated(&second, 11);
    assert_eq!(a.busy_person, b.busy_person);
    assert_eq!(a.counts, b.counts);
    let entry = |app: &TestApp, seq| {
        audit_store::entry(&mut app.conn(), seq)
            .unwrap()
            .map(|row| row.entry)
    };
    for seq in [0, 1_234, ENTRIES - 1] {
        assert_eq!(entry(&first, seq), entry(&second, seq));
    }
    // Another seed, another population.
    let third = TestApp::new(Backend::Sqlite).unwrap();
    let c = generated(&third, 12);
    assert_ne!(a.busy_person, c.busy_person);
}
