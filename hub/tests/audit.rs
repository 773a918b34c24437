//! The audit log on both backends: the append path, append-only tables,
//! tamper detection, checkpoints and proofs through the public endpoints.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use actix_web::http::StatusCode;
use actix_web::test as web;
use audit::{Actor, ActorType, Checkpoint, Hash, Outcome};
use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use hub::audit_log::NewEntry;
use hub::audit_log::verify::{Verdict, verify_stored, verify_stored_from};
use hub::dev::testing::TestApp;
use hub::storage_test;
use hub::store::DbConnection;
use hub::store::audit as store;

fn lookup(i: usize) -> NewEntry {
    NewEntry::new(
        "lookup.permitted",
        Actor::new(ActorType::Agency, "agency-a"),
        Outcome::Permitted,
    )
    .unwrap()
    .with_person(format!("person-{}", i % 3))
    .with_record_type("income@1.0")
    .with_purpose("benefit-eligibility")
    .with_legal_basis("auth-7", 2)
    .with_exchange(format!("ex-{i}"))
    .with_digests(
        Some(audit::sha256(b"request")),
        Some(audit::sha256(b"response")),
    )
    .with_provider("agency-b")
}

async fn append_n(app: &TestApp, n: usize) -> Vec<u64> {
    let futures = (0..n).map(|i| app.state.audit.append(lookup(i)));
    futures_util::future::join_all(futures)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

fn verdict(app: &TestApp) -> Verdict {
    let key = app.state.audit.signer().unwrap().verifier_key();
    verify_stored(&app.state.pool, &key, key.name()).unwrap()
}

/// The sequence number `crossroads audit verify` names.
fn first_bad_seq(app: &TestApp) -> u64 {
    match verdict(app) {
        Verdict::Mismatch { first_bad_seq, .. } => first_bad_seq,
        other => panic!("tampering not found: {other:?}"),
    }
}

storage_test!(
    concurrent_appends_get_consecutive_numbers,
    |app: TestApp| async move {
        let mut seqs = append_n(&app, 50).await;
        seqs.sort_unstable();
        assert_eq!(seqs, (0..50).collect::<Vec<u64>>());
        let more = append_n(&app, 20).await;
        assert!(more.iter().all(|s| (50..70).contains(s)));
        let blocking = {
            let state = app.state.clone();
            actix_web::web::block(move || state.audit.append_blocking(lookup(99)))
                .await
                .unwrap()
                .unwrap()
        };
        assert_eq!(blocking, 70);
        assert_eq!(store::tree_size(&mut app.conn()).unwrap(), 71);
        match verdict(&app) {
            Verdict::Verified { size, .. } => assert_eq!(size, 71),
            other => panic!("{other:?}"),
        }
    }
);

storage_test!(oversized_entries_are_refused, |app: TestApp| async move {
    let too_long = lookup(0).with_person("p".repeat(300));
    let error = app.state.audit.append(too_long).await.unwrap_err();
    assert!(error.to_string().contains("subject"), "{error}");
    let big_details = lookup(1).with_details(serde_json::json!({"note": "x".repeat(5_000)}));
    let error = app.state.audit.append(big_details).await.unwrap_err();
    assert!(error.to_string().contains("details"), "{error}");
    // Nothing was numbered for them.
    assert_eq!(app.state.audit.append(lookup(2)).await.unwrap(), 0);
    assert!(matches!(verdict(&app), Verdict::Verified { size: 1, .. }));
});

storage_test!(appended_entries_are_durable, |app: TestApp| async move {
    append_n(&app, 5).await;
    // A new pool (new connections) sees them: they were committed.
    let pool = app.db.pool();
    let mut conn = pool.get().unwrap();
    assert_eq!(store::tree_size(&mut conn).unwrap(), 5);
    let row = store::entry(&mut conn, 4).unwrap().unwrap();
    let entry = audit::Entry::from_canonical_bytes(row.entry.as_bytes()).unwrap();
    assert_eq!(entry.seq, 4);
    // Its leaf hash is the stored level-0 hash.
    let stored = store::read_hashes(&mut conn, &[audit::HashPosition::leaf(4)]).unwrap();
    assert_eq!(stored, vec![Some(audit::leaf_hash(row.entry.as_bytes()))]);
    assert_eq!(row.provider.as_deref(), Some("agency-b"));
});

storage_test!(
    the_database_refuses_updates_and_deletes,
    |app: TestApp| async move {
        append_n(&app, 3).await;
        let mut conn = app.conn();
        app.state.audit.latest_checkpoint(&mut conn).unwrap();
        for statement in [
            "UPDATE audit_entries SET kind = 'lookup.denied' WHERE seq = 1",
            "DELETE FROM audit_entries WHERE seq = 2",
            "DELETE FROM audit_entries",
            "UPDATE audit_hashes SET hash = hash WHERE stored_index = 0",
            "DELETE FROM audit_hashes",
            "UPDATE audit_checkpoints SET note = 'forged'",
            "DELETE FROM audit_checkpoints",
        ] {
            let err = diesel::sql_query(statement)
                .execute(&mut *conn)
                .expect_err(statement);
            assert!(
                err.to_string().contains("append-only"),
                "{statement}: {err}"
            );
        }
        if matches!(&*conn, DbConnection::Postgres(_)) {
            assert!(conn.batch_execute("TRUNCATE audit_entries").is_err());
        }
        assert_eq!(store::tree_size(&mut conn).unwrap(), 3);
    }
);

storage_test!(verify_names_the_altered_entry, |app: TestApp| async move {
    append_n(&app, 40).await;
    {
        let mut conn = app.conn();
        app.state.audit.latest_checkpoint(&mut conn).unwrap();
    }
    assert!(matches!(
        verdict(&app),
        Verdict::Verified {
            size: 40,
            checkpoints: 1,
            ..
        }
    ));
    let mut conn = app.conn();
    let untrigger = match &*conn {
        DbConnection::Sqlite(_) => "DROP TRIGGER audit_entries_no_update;",
        DbConnection::Postgres(_) => "DROP TRIGGER audit_entries_append_only ON audit_entries;",
    };
    conn.batch_execute(untrigger).unwrap();
    // One byte: agency-a -> agency-c in entry 17.
    let n = diesel::sql_query(
        "UPDATE audit_entries SET entry = replace(entry, 'agency-a', 'agency-c') WHERE seq = 17",
    )
    .execute(&mut *conn)
    .unwrap();
    assert_eq!(n, 1);
    drop(conn);
    assert_eq!(first_bad_seq(&app), 17);
});

storage_test!(
    verify_reports_the_earliest_of_several_alterations,
    |app: TestApp| async move {
        append_n(&app, 60).await;
        {
            let mut conn = app.conn();
            app.state.audit.latest_checkpoint(&mut conn).unwrap();
        }
        let mut conn = app.conn();
        let untrigger = match &*conn {
            DbConnection::Sqlite(_) => {
                "DROP TRIGGER audit_entries_no_update; DROP TRIGGER audit_hashes_no_delete;"
            }
            DbConnection::Postgres(_) => {
                "DROP TRIGGER audit_entries_append_only ON audit_entries;
                 DROP TRIGGER audit_hashes_append_only ON audit_hashes;"
            }
        };
        conn.batch_execute(untrigger).unwrap();
        // Entry 45 no longer canonical (a space after the first comma)…
        diesel::sql_query(
            "UPDATE audit_entries SET entry = replace(entry, '},', '}, ') WHERE seq = 45",
        )
        .execute(&mut *conn)
        .unwrap();
        assert_eq!(first_bad_seq(&app), 45);
        // …and the stored leaf hash of entry 38 gone: 38 comes first.
        let index = audit::HashPosition::leaf(38).stored_index() as i64;
        let deleted = diesel::sql_query(format!(
            "DELETE FROM audit_hashes WHERE stored_index = {index}"
        ))
        .execute(&mut *conn)
        .unwrap();
        assert_eq!(deleted, 1);
        assert_eq!(first_bad_seq(&app), 38);
        // …and one byte of entry 9 changed: 9 comes first.
        diesel::sql_query(
            "UPDATE audit_entries SET entry = replace(entry, 'agency-a', 'agency-c') WHERE seq = 9",
        )
        .execute(&mut *conn)
        .unwrap();
        drop(conn);
        assert_eq!(first_bad_seq(&app), 9);
    }
);

storage_test!(
    verify_while_entries_keep_coming,
    |app: TestApp| async move {
        append_n(&app, 300).await;
        let writer = {
            let app_state = app.state.clone();
            actix_web::rt::spawn(async move {
                for round in 0..40 {
                    let batch = (0..25).map(|i| app_state.audit.append(lookup(round * 25 + i)));
                    for seq in futures_util::future::join_all(batch).await {
                        seq.unwrap();
                    }
                }
            })
        };
        let key = app.state.audit.signer().unwrap().verifier_key();
        let mut sizes = Vec::new();
        while !writer.is_finished() {
            let pool = app.state.pool.clone();
            let key = key.clone();
            let verdict = actix_web::web::block(move || verify_stored(&pool, &key, key.name()))
                .await
                .unwrap()
                .unwrap();
            match verdict {
                Verdict::Verified { size, .. } => sizes.push(size),
                other => panic!("a growing log is not tampered with: {other:?}"),
            }
        }
        writer.await.unwrap();
        assert!(!sizes.is_empty());
        assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
        assert!(matches!(
            verdict(&app),
            Verdict::Verified { size: 1300, .. }
        ));
    }
);

/// `crossroads audit verify --since`'s function: the entries after `from`.
fn verdict_from(app: &TestApp, from: &Checkpoint) -> Verdict {
    let key = app.state.audit.signer().unwrap().verifier_key();
    verify_stored_from(
        &app.state.pool,
        &key,
        key.name(),
        Some(from),
        &indicatif::ProgressBar::hidden(),
    )
    .unwrap()
}

/// The latest checkpoint a verification checked.
/// Appends `n` entries and has a checkpoint of exactly that size signed
/// (the hub may have signed smaller ones meanwhile).
async fn signed_after(app: &TestApp, n: u64) {
    append_n(app, n as usize).await;
    app.state
        .audit
        .checkpoint_covering(&mut app.conn(), n)
        .unwrap();
}

fn latest_verified(app: &TestApp, verdict: Verdict) -> Checkpoint {
    let key = app.state.audit.signer().unwrap().verifier_key();
    match verdict {
        Verdict::Verified {
            latest: Some(note), ..
        } => Checkpoint::parse_and_verify_with(&note, &key).unwrap(),
        other => panic!("{other:?}"),
    }
}

/// Lets the test rewrite stored entries, as someone with SQL access could.
fn allow_rewriting_entries(conn: &mut DbConnection) {
    let untrigger = match &*conn {
        DbConnection::Sqlite(_) => "DROP TRIGGER audit_entries_no_update;",
        DbConnection::Postgres(_) => "DROP TRIGGER audit_entries_append_only ON audit_entries;",
    };
    conn.batch_execute(untrigger).unwrap();
}

storage_test!(
    verify_goes_on_from_the_checkpoint_verified_last_time,
    |app: TestApp| async move {
        signed_after(&app, 40).await;
        let first = latest_verified(&app, verdict(&app));
        assert_eq!(first.size, 40);
        append_n(&app, 30).await;
        app.state
            .audit
            .checkpoint_covering(&mut app.conn(), 70)
            .unwrap();
        let verdict = verdict_from(&app, &first);
        let Verdict::Verified {
            size: 70,
            from: 40,
            checkpoints: 2..,
            ..
        } = verdict
        else {
            panic!("{verdict:?}")
        };
        let second = latest_verified(&app, verdict);
        assert_eq!(second.size, 70);
        // Nothing new: the checkpoint itself is checked again.
        assert!(matches!(
            verdict_from(&app, &second),
            Verdict::Verified {
                size: 70,
                from: 70,
                checkpoints: 1,
                ..
            }
        ));
        // Entries after the last checkpoint are verified too.
        append_n(&app, 5).await;
        assert!(matches!(
            verdict_from(&app, &second),
            Verdict::Verified {
                size: 75,
                from: 70,
                ..
            }
        ));
    }
);

storage_test!(
    verify_from_a_checkpoint_finds_a_changed_new_entry_only,
    |app: TestApp| async move {
        signed_after(&app, 40).await;
        let first = latest_verified(&app, verdict(&app));
        assert_eq!(first.size, 40);
        append_n(&app, 30).await;
        let mut conn = app.conn();
        allow_rewriting_entries(&mut conn);
        // An entry below the checkpoint: not the incremental
        // verification's to find (it reads nothing below it but the
        // hashes that rebuild the signed root); the whole one finds it.
        diesel::sql_query(
            "UPDATE audit_entries SET entry = replace(entry, 'agency-a', 'agency-c') WHERE seq = 12",
        )
        .execute(&mut *conn)
        .unwrap();
        let incremental = verdict_from(&app, &first);
        assert!(
            matches!(incremental, Verdict::Verified { size: 70, .. }),
            "{incremental:?}"
        );
        assert_eq!(first_bad_seq(&app), 12);
        // An entry after it: found, at its own sequence number.
        diesel::sql_query(
            "UPDATE audit_entries SET entry = replace(entry, 'agency-a', 'agency-c') WHERE seq = 55",
        )
        .execute(&mut *conn)
        .unwrap();
        drop(conn);
        match verdict_from(&app, &first) {
            Verdict::Mismatch { first_bad_seq, .. } => assert_eq!(first_bad_seq, 55),
            other => panic!("tampering not found: {other:?}"),
        }
    }
);

storage_test!(
    verify_from_a_checkpoint_of_another_tree_is_refused,
    |app: TestApp| async move {
        signed_after(&app, 40).await;
        let signer = app.state.audit.signer().unwrap();
        let origin = signer.name().to_owned();
        // Signed by the log's own key, but not of this tree: the stored
        // hashes do not rebuild its root.
        let wrong_root = Checkpoint::new(&origin, 30, audit::sha256(b"another tree")).unwrap();
        let note = wrong_root.sign(&signer);
        let forged = Checkpoint::parse_and_verify_with(&note, &signer.verifier_key()).unwrap();
        assert!(matches!(
            verdict_from(&app, &forged),
            Verdict::Mismatch { .. }
        ));
        // Larger than the log.
        let beyond = Checkpoint::new(&origin, 41, audit::sha256(b"later")).unwrap();
        assert!(matches!(
            verdict_from(&app, &beyond),
            Verdict::Mismatch {
                first_bad_seq: 40,
                ..
            }
        ));
    }
);

#[derive(diesel::QueryableByName)]
struct WideRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    entry: String,
    #[diesel(sql_type = diesel::sql_types::Binary)]
    leaf_hash: Vec<u8>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    exchange_id: Option<String>,
}

storage_test!(
    narrowing_the_entry_row_migrates_both_ways,
    |app: TestApp| async move {
        append_n(&app, 45).await;
        let mut conn = app.conn();
        // The notifications', the subject salt's, the reference kinds' and
        // the consent-use reservations' migrations came later.
        let version = hub::store::migrations::revert_last(&mut conn).unwrap();
        assert_eq!(version, "20261211000001");
        let version = hub::store::migrations::revert_last(&mut conn).unwrap();
        assert_eq!(version, "20261210000001");
        let version = hub::store::migrations::revert_last(&mut conn).unwrap();
        assert_eq!(version, "20261204000010");
        let version = hub::store::migrations::revert_last(&mut conn).unwrap();
        assert_eq!(version, "20261204000001");
        let version = hub::store::migrations::revert_last(&mut conn).unwrap();
        assert_eq!(version, "20261125000001");
        // The wide row is back, its leaf hashes and exchange ids restored.
        let rows: Vec<WideRow> = diesel::sql_query(
            "SELECT seq, entry, leaf_hash, exchange_id FROM audit_entries ORDER BY seq",
        )
        .load(&mut *conn)
        .unwrap();
        assert_eq!(rows.len(), 45);
        for row in &rows {
            assert_eq!(
                row.leaf_hash,
                audit::leaf_hash(row.entry.as_bytes()).0.to_vec(),
                "entry {}",
                row.seq
            );
            let entry = audit::Entry::from_canonical_bytes(row.entry.as_bytes()).unwrap();
            assert_eq!(row.exchange_id, entry.exchange_id);
            assert!(row.exchange_id.is_some());
        }
        let err = diesel::sql_query("DELETE FROM audit_entries WHERE seq = 3")
            .execute(&mut *conn)
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        assert_eq!(
            hub::store::migrations::run_next(&mut conn).unwrap(),
            version
        );
        for later in ["20261204000001", "20261204000010", "20261210000001"] {
            assert_eq!(hub::store::migrations::run_next(&mut conn).unwrap(), later);
        }
        let err = diesel::sql_query("UPDATE audit_entries SET entry = entry WHERE seq = 3")
            .execute(&mut *conn)
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        drop(conn);
        append_n(&app, 5).await;
        assert!(matches!(verdict(&app), Verdict::Verified { size: 50, .. }));
    }
);

storage_test!(checkpoints_and_proofs_verify, |app: TestApp| async move {
    append_n(&app, 5).await;
    let (status, _, key) = app
        .send(web::TestRequest::get().uri("/log/verifier-key"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let key = String::from_utf8(key).unwrap().trim().to_owned();

    // Entries are not public.
    let (status, _, _) = app
        .send(web::TestRequest::get().uri("/v1/audit/entries/4"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let token = {
        let mut conn = app.conn();
        hub::services::operators::issue(&mut conn, "Auditor", app.clock.now())
            .unwrap()
            .token
    };
    let get_entry = |seq: u64| {
        web::TestRequest::get()
            .uri(&format!("/v1/audit/entries/{seq}"))
            .insert_header(("Authorization", format!("Bearer {token}")))
    };
    let (status, _, body) = app.send(get_entry(4)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let first: hub::audit_log::EntryProof = serde_json::from_slice(&body).unwrap();
    let cp1 = Checkpoint::parse_and_verify(&first.checkpoint, &key).unwrap();
    assert_eq!(cp1.size, 5);
    assert_eq!(cp1.origin, app.state.audit.origin().unwrap());
    let proof: Vec<Hash> = first
        .inclusion_proof
        .iter()
        .map(|h| Hash::from_base64(h).unwrap())
        .collect();
    let leaf = audit::leaf_hash(first.entry_json.as_bytes());
    audit::verify_inclusion(&leaf, 4, cp1.size, &proof, &cp1.root_hash).unwrap();
    assert_eq!(first.entry["exchange_id"], "ex-4");

    // The published checkpoint verifies with the published key.
    let (status, headers, note) = app
        .send(web::TestRequest::get().uri("/log/checkpoint"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let published =
        Checkpoint::parse_and_verify(std::str::from_utf8(&note).unwrap(), &key).unwrap();
    assert!(published.size >= 5);

    append_n(&app, 300).await;
    let (status, _, body) = app.send(get_entry(304)).await;
    assert_eq!(status, StatusCode::OK);
    let second: hub::audit_log::EntryProof = serde_json::from_slice(&body).unwrap();
    let cp2 = Checkpoint::parse_and_verify(&second.checkpoint, &key).unwrap();
    assert_eq!(cp2.size, 305);

    let (status, _, body) = app
        .send(web::TestRequest::get().uri("/log/proof/consistency?from=5&to=305"))
        .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let proof: Vec<Hash> = body["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_base64(h.as_str().unwrap()).unwrap())
        .collect();
    audit::verify_consistency(5, 305, &cp1.root_hash, &cp2.root_hash, &proof).unwrap();
    // Beyond the latest checkpoint: refused.
    let (status, _, _) = app
        .send(web::TestRequest::get().uri("/log/proof/consistency?from=5&to=100000"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Tiles: the full first tile and the partial second, as C2SP paths.
    let (status, headers, tile) = app
        .send(web::TestRequest::get().uri("/log/tile/0/000"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tile.len(), 256 * 32);
    assert!(
        headers
            .get("cache-control")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(&tile[4 * 32..5 * 32], leaf.0.as_slice());
    let (status, _, tile) = app
        .send(web::TestRequest::get().uri("/log/tile/0/001.p/49"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tile.len(), 49 * 32);
    let (status, _, tile) = app
        .send(web::TestRequest::get().uri("/log/tile/1/000.p/1"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tile.len(), 32);
    let (status, _, _) = app
        .send(web::TestRequest::get().uri("/log/tile/0/002"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = app
        .send(web::TestRequest::get().uri("/log/tile/entries/000"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A person's entries, each with its proof.
    let mut conn = app.conn();
    let mine = app
        .state
        .audit
        .entries_for_person(
            &mut conn,
            "person-1",
            &store::EntryFilter {
                agency: Some("agency-b".to_owned()),
                ..Default::default()
            },
            store::Page {
                before: None,
                limit: 10,
            },
        )
        .unwrap();
    assert_eq!(mine.len(), 10);
    for item in &mine {
        // The entry names the person by commitment; the salt given to the
        // person opens it.
        assert!(item.entry.get("subject").is_none());
        assert!(!item.entry_json.contains("person-1"));
        let entry = audit::Entry::from_canonical_bytes(item.entry_json.as_bytes()).unwrap();
        let salt: audit::Salt = item.subject_salt.as_deref().unwrap().parse().unwrap();
        assert!(entry.concerns("person-1", Some(&salt)));
        assert!(!entry.concerns("person-2", Some(&salt)));
        let cp = Checkpoint::parse_and_verify(&item.checkpoint, &key).unwrap();
        let proof: Vec<Hash> = item
            .inclusion_proof
            .iter()
            .map(|h| Hash::from_base64(h).unwrap())
            .collect();
        audit::verify_inclusion(
            &audit::leaf_hash(item.entry_json.as_bytes()),
            item.seq,
            cp.size,
            &proof,
            &cp.root_hash,
        )
        .unwrap();
    }
});

#[test]
fn the_openapi_document_lists_the_log() {
    let doc = serde_json::to_value(hub::api::document()).unwrap();
    for path in [
        "/log/checkpoint",
        "/log/tile/{path}",
        "/log/proof/consistency",
        "/log/verifier-key",
        "/v1/audit/entries/{seq}",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
}
