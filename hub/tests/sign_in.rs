//! Citizen sign-in against guessing, on both backends: parallel guesses
//! are counted one by one, so at most the allowance reach the password
//! check; the delay that follows is short and ends; an unknown account is
//! refused the same way, as slowly; a success is audited.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use std::time::{Duration, Instant};

use actix_web::test as web;
use common::*;
use hub::dev::testing::TestApp;
use hub::storage_test;
use serde_json::{Value, json};

/// Attempts let through before the delay starts.
const ALLOWANCE: u64 = 5;

/// A registered, activated citizen; their common ID.
async fn citizen(app: &TestApp) -> String {
    let agency = agency_token(app, &["registrar"], "common_id").await;
    activated(app, &agency, peeters("Anna")).await
}

fn attempt(id: &str, password: &str, peer: &str) -> web::TestRequest {
    web::TestRequest::post()
        .uri("/v1/citizen/sign-in")
        .peer_addr(peer.parse().unwrap())
        .set_json(json!({"common_id": id, "password": password}))
}

storage_test!(
    parallel_guesses_are_counted_one_by_one,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let id = citizen(&app).await;
        let checks = app.state.hub_metrics.password_checks();
        let service = web::init_service(hub::http::app(app.state.clone())).await;
        let guesses = (0..24).map(|i| {
            let req = attempt(&id, &format!("wrong guess number {i}"), "192.0.2.7:4000");
            web::call_service(&service, req.to_request())
        });
        let mut statuses: Vec<u16> = futures_util::future::join_all(guesses)
            .await
            .into_iter()
            .map(|res| res.status().as_u16())
            .collect();
        statuses.sort_unstable();
        // At most the allowance reached the password check; the others were
        // refused before it.
        let checked = app.state.hub_metrics.password_checks() - checks;
        assert!(checked <= ALLOWANCE, "{checked} guesses were checked");
        assert_eq!(
            statuses.iter().filter(|s| **s == 401).count() as u64,
            checked,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 401 || *s == 429),
            "{statuses:?}"
        );
        // The delay started, and was audited once.
        let (status, _, body) = call(&app, attempt(&id, PASSWORD, "198.51.100.9:5000")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (429, Some("account_locked")),
            "{body}"
        );
        let started = Instant::now();
        while audited(&app, "citizen.locked").is_empty() {
            assert!(started.elapsed() < Duration::from_secs(5));
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        // It is short: a minute later the right password works, from
        // another address, and the sign-in is audited.
        app.clock.advance(chrono::Duration::seconds(61));
        let (status, _, body) = call(&app, attempt(&id, PASSWORD, "198.51.100.9:5000")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(audited(&app, "citizen.signed_in").len(), 1);
        // And the count starts again from zero.
        let (status, _, _) = call(&app, attempt(&id, "wrong again", "198.51.100.9:5000")).await;
        assert_eq!(status, 401);
    }
);

storage_test!(
    unknown_accounts_are_refused_alike,
    setup = |backend| hub::dev::testing::TestApp::with_config(backend, |config| {
        config.trust_anchors_file = Some(fixture_path("ca.pem"));
        // A password hash that costs something, as in production.
        config.argon2_memory_kib = 4 * 1024;
        config.argon2_iterations = 1;
    }),
    |app: TestApp| async move {
        let id = citizen(&app).await;
        let service = web::init_service(hub::http::app(app.state.clone())).await;
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        let mut bodies: Vec<Value> = Vec::new();
        for round in 0..16 {
            // Stay below the allowance: the delay is another matter.
            if round % 4 == 0 {
                app.clock.advance(chrono::Duration::minutes(5));
                let (status, _, _) = call(&app, attempt(&id, PASSWORD, "192.0.2.1:1")).await;
                assert_eq!(status, 200);
            }
            for (who, times) in [("85073003328", &mut unknown), (id.as_str(), &mut known)] {
                let req = attempt(who, "not the password", "192.0.2.1:1");
                let started = Instant::now();
                let res = web::call_service(&service, req.to_request()).await;
                let took = started.elapsed();
                assert_eq!(res.status().as_u16(), 401);
                let body: Value = serde_json::from_slice(&web::read_body(res).await).unwrap();
                if round > 0 {
                    times.push(took.as_secs_f64());
                }
                bodies.push(body);
            }
        }
        // One refusal for both…
        for body in &bodies {
            assert_eq!(body["code"], "invalid_credentials", "{body}");
            assert_eq!(body["detail"], bodies[0]["detail"], "{body}");
        }
        // …as slow for an unknown account as for a wrong password: means
        // of the middle 60 % of each (a busy machine's stalls aside).
        let mean = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            let cut = v.len() / 5;
            let middle = &v[cut..v.len() - cut];
            middle.iter().sum::<f64>() / middle.len() as f64
        };
        let (k, u) = (mean(&known), mean(&unknown));
        assert!(
            (k - u).abs() / k.max(u) < 0.10,
            "known {:.1} ms, unknown {:.1} ms",
            k * 1e3,
            u * 1e3
        );
    }
);

storage_test!(
    signing_out_ends_the_token,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let id = citizen(&app).await;
        let (status, _, body) = call(&app, attempt(&id, PASSWORD, "192.0.2.1:1")).await;
        assert_eq!(status, 200, "{body}");
        let token = body["access_token"].as_str().unwrap().to_owned();
        let me = || with_bearer(web::TestRequest::get().uri("/v1/citizen/me"), &token);
        assert_eq!(call(&app, me()).await.0, 200);
        let out = with_bearer(web::TestRequest::post().uri("/v1/citizen/sign-out"), &token);
        assert_eq!(call(&app, out).await.0, 204);
        // The token has not expired, but its session has ended.
        let (status, _, body) = call(&app, me()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("session_ended")),
            "{body}"
        );
        problem_snapshot(&body);

        // Ended sessions do not pile up: the next sign-in sweeps them.
        use diesel::prelude::*;
        use hub::store::tables::citizen_sessions;
        let sessions = || {
            citizen_sessions::table
                .count()
                .get_result::<i64>(&mut *app.conn())
                .unwrap()
        };
        assert_eq!(
            call(&app, attempt(&id, PASSWORD, "192.0.2.1:1")).await.0,
            200
        );
        assert_eq!(sessions(), 1);
        app.clock.advance(chrono::Duration::minutes(31));
        assert_eq!(
            call(&app, attempt(&id, PASSWORD, "192.0.2.1:1")).await.0,
            200
        );
        assert_eq!(sessions(), 1);
    }
);

storage_test!(
    failures_are_shown_to_the_citizen_at_the_next_sign_in,
    setup = app_with_fixture_ca,
    |app: TestApp| async move {
        let id = citizen(&app).await;
        for _ in 0..3 {
            let (status, _, _) = call(&app, attempt(&id, "wrong", "192.0.2.9:1")).await;
            assert_eq!(status, 401);
        }
        let (status, _, body) = call(&app, attempt(&id, PASSWORD, "192.0.2.9:1")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["failed_attempts"], 3, "{body}");
        let token = body["access_token"].as_str().unwrap().to_owned();
        // The access log shows it, in the sign-in's entry.
        let (status, _, log) = call(
            &app,
            with_bearer(
                web::TestRequest::get().uri("/v1/citizen/access-log"),
                &token,
            ),
        )
        .await;
        assert_eq!(status, 200, "{log}");
        let text = log.to_string();
        assert!(text.contains("citizen.signed_in"), "{log}");
        assert!(text.contains("\"failed_attempts\":3"), "{log}");
        // Counted afresh after a success.
        let (_, _, body) = call(&app, attempt(&id, PASSWORD, "192.0.2.9:1")).await;
        assert_eq!(body["failed_attempts"], 0, "{body}");
    }
);
