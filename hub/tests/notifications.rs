//! Change notifications in process, on both backends: a notification is a
//! use of the consent it relies on (a `once` consent is used up by the
//! first, however many fan-out workers race), and a notification's record
//! is deleted after the retention period while its metadata stays.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use chrono::Duration;
use common::*;
use hub::dev::testing::TestApp;
use hub::services::notifications::{delivery, fanout};
use hub::storage_test;
use serde_json::{Value, json};

/// Changes published before the workers race.
const CHANGES: usize = 40;
/// Fan-out workers at once.
const WORKERS: usize = 16;

fn address(person: &str, n: usize) -> Value {
    json!({"commonId": person, "addressType": "legal-residence", "since": "2026-12-01",
           "address": {"street": format!("Street {n}"), "houseNumber": "1", "postcode": "1000",
                       "municipality": "Bruxelles", "country": "BE"}})
}

/// The fixture agency as source and subscriber of addresses (its
/// authorization needs consent), holding a file on Anna, who granted a
/// `once` consent. Its access token and Anna's common ID.
async fn subscribed(app: &TestApp) -> (String, String) {
    let op = operator_token(app);
    let (status, body) = send(
        app,
        "POST",
        "/v1/admin/agencies",
        &op,
        Some(json!({"id": AGENCY, "name": "Population Register", "sector": "civil",
                    "roles": ["consumer", "registrar", "provider"], "endpoint_url": "http://127.0.0.1:9",
                    "identifier_policy": "common_id", "certificates": [fixture("agency-p256.pem")]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let agency = access_token(app).await;
    purpose(app, &op, "benefit-eligibility").await;
    let (person, citizen) = citizen(app, &agency, "Anna").await;
    for (uri, body) in [
        (
            "/v1/admin/sources",
            json!({"record_type": "person.address", "major": 1, "provider": AGENCY}),
        ),
        (
            "/v1/admin/authorizations",
            json!({"consumer": {"agency": AGENCY}, "record_type": "person.address", "major": 1,
                   "fields": ["/commonId", "/addressType", "/since", "/address"],
                   "purposes": ["benefit-eligibility"], "legal_reference": legal(), "consent_required": true}),
        ),
    ] {
        let (status, answer) = send(app, "POST", uri, &op, Some(body)).await;
        assert_eq!(status, 201, "{uri}: {answer}");
    }
    for (uri, body) in [
        (
            "/v1/references",
            json!({"person": person, "kind": "file", "capacity": "beneficiary", "valid_from": "2020-01-01"}),
        ),
        (
            "/v1/subscriptions",
            json!({"record_type": "person.address@1", "purpose": "benefit-eligibility", "delivery": "pull"}),
        ),
    ] {
        let (status, answer) = send(app, "POST", uri, &agency, Some(body)).await;
        assert_eq!(status, 201, "{uri}: {answer}");
    }
    let until = app.clock.now() + Duration::days(30);
    let (status, granted) = send(
        app,
        "POST",
        "/v1/citizen/consents",
        &citizen,
        Some(json!({"agency": AGENCY, "record_types": ["person.address@1"], "purpose": "benefit-eligibility",
                    "valid_until": until, "frequency": {"kind": "once"}})),
    )
    .await;
    assert_eq!(status, 201, "{granted}");
    (agency, person)
}

/// Runs [`WORKERS`] fan-out workers at once until no change is left.
fn race_fan_out(app: &TestApp) -> usize {
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let state = app.state.clone();
            std::thread::spawn(move || {
                let mut made = 0;
                loop {
                    let done = fanout::fan_out_once(&state).unwrap();
                    if done.changes == 0 {
                        return made;
                    }
                    made += done.notifications;
                }
            })
        })
        .collect();
    workers.into_iter().map(|w| w.join().unwrap()).sum()
}

storage_test!(
    a_once_consent_is_used_up_by_the_first_notification,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let (agency, person) = subscribed(&app).await;
        for n in 0..CHANGES {
            let (status, body) = send(
                &app,
                "POST",
                "/v1/changes",
                &agency,
                Some(
                    json!({"person": person, "record_type": "person.address@1.0", "kind": "updated",
                            "effective_date": "2026-12-01", "record": address(&person, n),
                            "reference": format!("move-{n}")}),
                ),
            )
            .await;
            assert_eq!(status, 202, "{body}");
        }
        let made = race_fan_out(&app);
        assert_eq!(made, 1, "notifications made");
        // The decisions' entries were handed over with the fan-out; wait
        // until the sequencer has numbered them.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !hub::store::audit::queue_is_empty(&mut app.conn()).unwrap() {
            assert!(
                std::time::Instant::now() < deadline,
                "the hand-over table is not drained"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let (status, feed) = send(&app, "GET", "/v1/notifications", &agency, None).await;
        assert_eq!(status, 200, "{feed}");
        let told = feed["notifications"].as_array().unwrap();
        assert_eq!(told.len(), 1, "{feed}");
        assert_eq!(told[0]["data"]["address"]["street"], "Street 0");
        // One permitted (relying on the consent), the others refused: the
        // consent is used up.
        let permitted = audited(&app, "notification.permitted");
        assert_eq!(permitted.len(), 1, "{permitted:?}");
        let denied: Vec<Value> = hub::store::audit::entries_from(&mut app.conn(), 0, 100_000)
            .unwrap()
            .into_iter()
            .map(|(_, e)| serde_json::from_str::<Value>(&e).unwrap())
            .filter(|e| e["kind"] == "notification.denied")
            .collect();
        assert_eq!(denied.len(), CHANGES - 1);
        assert!(
            denied
                .iter()
                .all(|e| e["deny_code"] == "consent_use_exhausted"),
            "{denied:?}"
        );
        // A lookup relying on the consent finds it used up too.
        let (status, problem) = send(
            &app,
            "POST",
            "/v1/lookups",
            &agency,
            Some(json!({"person": person, "record_type": "person.address@1", "purpose": "benefit-eligibility"})),
        )
        .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (403, Some("consent_use_exhausted")),
            "{problem}"
        );

        // Sixteen reads on from the same cursor at once: the notification
        // is acknowledged, and audited as delivered, once.
        let cursor = feed["cursor"].as_str().unwrap().to_owned();
        let uri = format!("/v1/notifications?after={cursor}");
        let reads = (0..16).map(|_| send(&app, "GET", &uri, &agency, None));
        for (status, body) in futures_util::future::join_all(reads).await {
            assert_eq!(status, 200, "{body}");
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !hub::store::audit::queue_is_empty(&mut app.conn()).unwrap() {
            assert!(
                std::time::Instant::now() < deadline,
                "the hand-over table is not drained"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(audited(&app, "notification.delivered").len(), 1);

        // Past the retention period the record is deleted; the metadata
        // (the same id, the change) stays and replays.
        let id = told[0]["id"].clone();
        app.clock.advance(Duration::days(8));
        let mut conn = app.conn();
        let expired = delivery::expire(&mut conn, &app.state).unwrap();
        assert_eq!(expired, 1);
        drop(conn);
        let agency = access_token(&app).await;
        let (status, feed) = send(&app, "GET", "/v1/notifications", &agency, None).await;
        assert_eq!(status, 200, "{feed}");
        assert_eq!(feed["notifications"][0]["id"], id);
        assert_eq!(feed["notifications"][0]["data"], Value::Null);
        assert_eq!(feed["notifications"][0]["kind"], "updated");
    }
);
