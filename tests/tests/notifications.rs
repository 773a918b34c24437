//! Change notifications between real processes, on SQLite and on
//! PostgreSQL: the population register publishes a change of a person's
//! address; the hub tells exactly the agencies that subscribe, hold a
//! `file` reference on the person, are authorized and (where required)
//! have consent, minimised to their grant, by pull feed or by signed
//! webhook batch; every decision is audited, refusals included.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::collections::HashMap;
use std::time::Duration;

use e2e::{ADDRESS_FIELDS, AgencySim, AgencySpec, World};
use hub::dev::demo::client::HubClient;
use hub::dev::testing::{Backend, skip};
use serde_json::{Value, json};

/// The population register: the source of `person.address`.
const POP: &str = "BE-0100000001";
/// Pull, common IDs.
const BENEFITS: &str = "BE-0400000001";
/// Webhook, sector pseudonyms.
const PENSIONS: &str = "BE-0400000002";
/// Subscribed and authorized, but holding no file on the person.
const NO_FILE: &str = "BE-0400000003";
/// Subscribed with a file, but its authorization needs a consent it lacks.
const NO_CONSENT: &str = "BE-0400000004";
/// A second register, for the source checks.
const POP_2: &str = "BE-0100000002";
const PURPOSE: &str = "benefit-eligibility";

/// Problem codes other tests snapshot already (with other details).
const SNAPSHOTTED_ELSEWHERE: &[&str] =
    &["insufficient_scope", "unknown_person", "no_authorization"];

/// Snapshots a refusal's problem body as `snapshots/problem_<code>.snap`,
/// scrubbed of what changes from run to run (the same on both backends).
/// A code seen twice in one test is snapshotted the first time only.
fn problem_snapshot(body: &Value, seen: &mut std::collections::BTreeSet<String>) {
    let code = body["code"].as_str().unwrap();
    if SNAPSHOTTED_ELSEWHERE.contains(&code) || !seen.insert(code.to_owned()) {
        return;
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        insta::assert_json_snapshot!(format!("problem_{code}"), hub::dev::testing::scrub(body));
    });
}

fn address(common_id: &str, street: &str, since: &str) -> Value {
    json!({"commonId": common_id, "addressType": "legal-residence", "since": since,
           "address": {"street": street, "houseNumber": "16", "box": "3", "postcode": "1000",
                       "municipality": "Bruxelles", "country": "BE"}})
}

async fn send(
    hub: &HubClient,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    hub.send(method, path, Some(token), body.as_ref())
        .await
        .unwrap()
}

async fn publish(hub: &HubClient, token: &str, body: Value) -> (u16, Value) {
    send(hub, reqwest::Method::POST, "/v1/changes", token, Some(body)).await
}

/// Reads an agency's pull feed from `after`, waiting up to `wait` seconds.
async fn pull(hub: &HubClient, token: &str, after: Option<&str>, wait: u64) -> Value {
    let path = match after {
        Some(cursor) => format!("/v1/notifications?after={cursor}&wait={wait}"),
        None => format!("/v1/notifications?wait={wait}"),
    };
    let (status, body) = send(hub, reqwest::Method::GET, &path, token, None).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The shared set-up: the register and four consumers onboarded, every
/// subscription made, file references declared on Anna (not by
/// [`NO_FILE`]). The webhook receiver of [`PENSIONS`].
async fn scene(world: &mut World, anna: &str) -> AgencySim {
    let mut serve = world.serve_command();
    serve
        .env("CROSSROADS_ALLOW_INSECURE_WEBHOOKS", "true")
        .env("CROSSROADS_WEBHOOK_ALLOW_PRIVATE", "true");
    world.serve_with(serve);
    let receiver = world.provider(PENSIONS, &json!({}), 0);
    world
        .onboard(AgencySpec {
            id: POP,
            name: "Population Register",
            sector: "civil",
            roles: &["provider", "registrar"],
            endpoint: Some("http://127.0.0.1:9"),
            policy: "common_id",
        })
        .await;
    for (id, name, policy) in [
        (BENEFITS, "Benefits Agency", "common_id"),
        (PENSIONS, "Pension Service", "sector_pseudonym"),
        (NO_FILE, "Curious Agency", "common_id"),
        (NO_CONSENT, "Housing Agency", "common_id"),
    ] {
        world
            .onboard(AgencySpec {
                id,
                name,
                sector: "social",
                roles: &["consumer"],
                endpoint: None,
                policy,
            })
            .await;
    }
    world.source("person.address", POP).await;
    world
        .purpose(PURPOSE, "Checking eligibility for a social benefit")
        .await;
    world
        .authorize(BENEFITS, "person.address", ADDRESS_FIELDS, PURPOSE, false)
        .await;
    world
        .authorize(PENSIONS, "person.address", ADDRESS_FIELDS, PURPOSE, false)
        .await;
    world
        .authorize(NO_FILE, "person.address", ADDRESS_FIELDS, PURPOSE, false)
        .await;
    world
        .authorize(NO_CONSENT, "person.address", ADDRESS_FIELDS, PURPOSE, true)
        .await;
    let hub = world.client();
    for agency in [BENEFITS, PENSIONS, NO_CONSENT] {
        let (status, body) = send(
            hub,
            reqwest::Method::POST,
            "/v1/references",
            world.token(agency),
            Some(json!({"person": anna, "kind": "file", "capacity": "beneficiary", "valid_from": "2020-01-01"})),
        )
        .await;
        assert_eq!(status, 201, "{agency}: {body}");
    }
    for (agency, delivery) in [
        (BENEFITS, json!({"delivery": "pull"})),
        (
            PENSIONS,
            json!({"delivery": "webhook", "webhook_url": format!("{}/notifications", receiver.url)}),
        ),
        (NO_FILE, json!({"delivery": "pull"})),
        (NO_CONSENT, json!({"delivery": "pull"})),
    ] {
        let mut body = json!({"record_type": "person.address@1", "purpose": PURPOSE});
        body.as_object_mut()
            .unwrap()
            .extend(delivery.as_object().unwrap().clone());
        let (status, answer) = send(
            hub,
            reqwest::Method::POST,
            "/v1/subscriptions",
            world.token(agency),
            Some(body),
        )
        .await;
        assert_eq!(status, 201, "{agency}: {answer}");
    }
    receiver
}

async fn who_is_told(backend: Backend, test: &str) {
    let Some(mut world) = World::create(backend) else {
        return skip(test);
    };
    let anna = world.register("Anna", "Peeters", "1985-07-30").id;
    let receiver = scene(&mut world, &anna).await;
    let hub = world.client().clone();
    let pop = world.token(POP).to_owned();

    let change = json!({"person": anna, "record_type": "person.address@1.0", "kind": "updated",
                        "effective_date": "2026-12-01", "changed_fields": ["/address/box", "/since"],
                        "record": address(&anna, "Rue Neuve", "2026-12-01"), "reference": "move-1"});
    let (status, accepted) = publish(&hub, &pop, change.clone()).await;
    assert_eq!(status, 202, "{accepted}");
    let change_id = accepted["change_id"].as_str().unwrap().to_owned();
    assert_eq!(accepted["duplicate"], false);

    // The same reference again, sixteen times at once: the same change.
    let again =
        futures_util::future::join_all((0..16).map(|_| publish(&hub, &pop, change.clone()))).await;
    for (status, body) in again {
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["change_id"], change_id.as_str());
        assert_eq!(body["duplicate"], true);
    }

    // Benefits (pull, common IDs): minimised to its grant.
    let page = pull(&hub, world.token(BENEFITS), None, 10).await;
    let told = page["notifications"].as_array().unwrap();
    assert_eq!(told.len(), 1, "{page}");
    let n = &told[0];
    assert_eq!(n["change_id"], change_id.as_str());
    assert_eq!(n["person"], anna.as_str());
    assert_eq!(n["source"], POP);
    assert_eq!(n["kind"], "updated");
    assert_eq!(n["record_type"], "person.address@1.0");
    let mut expected = address(&anna, "Rue Neuve", "2026-12-01");
    expected["address"].as_object_mut().unwrap().remove("box");
    assert_eq!(n["data"], expected);
    // The box number is not granted: that it changed is not told either.
    assert_eq!(n["changed_fields"], json!(["/since"]));
    // Reading on from the cursor acknowledges it; nothing more comes.
    let cursor = page["cursor"].as_str().unwrap().to_owned();
    let next = pull(&hub, world.token(BENEFITS), Some(&cursor), 1).await;
    assert_eq!(next["notifications"], json!([]), "{next}");
    // Replay from the start: still there (retention), the same id.
    let replay = pull(&hub, world.token(BENEFITS), None, 0).await;
    assert_eq!(replay["notifications"][0]["id"], n["id"]);

    // Pensions (webhook, pseudonyms): a signed batch, verified by the
    // receiver with the provider library; its pseudonym only.
    let pushed = receiver.notifications(1, Duration::from_secs(20));
    assert_eq!(pushed.len(), 1, "{pushed:?} {:?}", receiver.log());
    let p = &pushed[0];
    let pseudonym = p["person"].as_str().unwrap();
    assert_ne!(pseudonym, anna);
    assert_eq!(p["data"]["commonId"], pseudonym);
    assert!(!p.to_string().contains(&anna), "{p}");
    assert_eq!(p["data"]["address"]["street"], "Rue Neuve");
    assert!(p["data"]["address"].get("box").is_none(), "{p}");

    // No file, no consent: nothing.
    for agency in [NO_FILE, NO_CONSENT] {
        let page = pull(&hub, world.token(agency), None, 1).await;
        assert_eq!(page["notifications"], json!([]), "{agency}: {page}");
    }

    // The audit log: one decision per agency concerned (the refusal
    // included), a delivery for each one told; nothing for NO_FILE.
    let entries = world.entries_by_exchange();
    let mut kinds: HashMap<String, Vec<String>> = HashMap::new();
    for list in entries.values() {
        for e in list {
            let kind = e["kind"].as_str().unwrap_or_default();
            if kind.starts_with("notification.") {
                kinds
                    .entry(e["actor"]["id"].as_str().unwrap().to_owned())
                    .or_default()
                    .push(kind.to_owned());
            }
        }
    }
    for list in kinds.values_mut() {
        list.sort();
    }
    assert_eq!(
        kinds[BENEFITS],
        ["notification.delivered", "notification.permitted"],
        "{kinds:?}"
    );
    assert_eq!(
        kinds[PENSIONS],
        ["notification.delivered", "notification.permitted"],
        "{kinds:?}"
    );
    assert_eq!(kinds[NO_CONSENT], ["notification.denied"], "{kinds:?}");
    assert!(!kinds.contains_key(NO_FILE), "{kinds:?}");
    let denied = entries
        .values()
        .flatten()
        .find(|e| e["kind"] == "notification.denied")
        .unwrap();
    assert_eq!(denied["deny_code"], "consent_required", "{denied}");
    let accepted_entry = &entries[&change_id];
    assert_eq!(accepted_entry[0]["kind"], "change.accepted");
}

#[tokio::test]
async fn a_change_reaches_exactly_those_who_may_know_on_sqlite() {
    who_is_told(Backend::Sqlite, "notifications::who_is_told_on_sqlite").await;
}

#[tokio::test]
async fn a_change_reaches_exactly_those_who_may_know_on_postgres() {
    who_is_told(Backend::Postgres, "notifications::who_is_told_on_postgres").await;
}

/// Bad input gets a clear problem and changes nothing.
async fn bad_input(backend: Backend, test: &str) {
    let Some(mut world) = World::create(backend) else {
        return skip(test);
    };
    let anna = world.register("Anna", "Peeters", "1985-07-30").id;
    let _receiver = scene(&mut world, &anna).await;
    let hub = world.client().clone();
    let good = json!({"person": anna, "record_type": "person.address@1.0", "kind": "updated",
                      "effective_date": "2026-12-01", "record": address(&anna, "Rue Neuve", "2026-12-01"),
                      "reference": "r-1"});
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    let mut seen = std::collections::BTreeSet::new();
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (BENEFITS, good.clone(), 403, "insufficient_scope"),
        (
            POP,
            with("person", json!("12345678978")),
            404,
            "unknown_person",
        ),
        (
            POP,
            with("record", json!({"commonId": anna})),
            422,
            "record_invalid",
        ),
        (
            POP,
            with("record_type", json!("person.address@1")),
            422,
            "invalid_record_type",
        ),
        (
            POP,
            with("kind", json!("deleted")),
            422,
            "record_not_allowed",
        ),
        (
            POP,
            with("effective_date", json!("2026-13-01")),
            422,
            "invalid_effective_date",
        ),
        (
            POP,
            with("changed_fields", json!(["street"])),
            422,
            "invalid_changed_fields",
        ),
        (POP, with("reference", json!("")), 422, "invalid_reference"),
        (
            POP,
            with(
                "record",
                json!({"commonId": "12345678978", "addressType": "legal-residence", "since": "2026-12-01",
              "address": {"street": "x", "houseNumber": "1", "postcode": "1000", "municipality": "B", "country": "BE"}}),
            ),
            422,
            "record_person_mismatch",
        ),
    ];
    for (agency, body, status, code) in cases {
        let (got, problem) = publish(&hub, world.token(agency), body.clone()).await;
        assert_eq!(
            (got, problem["code"].as_str().unwrap_or_default()),
            (status, code),
            "{body}: {problem}"
        );
        problem_snapshot(&problem, &mut seen);
    }

    let (_, invalid) = publish(
        &hub,
        world.token(POP),
        with("record", json!({"commonId": anna, "addressType": "castle"})),
    )
    .await;
    let pointers: Vec<&str> = invalid["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["pointer"].as_str().unwrap())
        .collect();
    assert!(pointers.contains(&"/addressType"), "{invalid}");

    // Another register, not (yet) a source of addresses: refused. Once it
    // is one too, addresses are routed by reference, and the first
    // register holds no source reference on Anna: refused as well.
    world
        .onboard(AgencySpec {
            id: POP_2,
            name: "Second Register",
            sector: "civil",
            roles: &["provider"],
            endpoint: Some("http://127.0.0.1:9"),
            policy: "common_id",
        })
        .await;
    let (status, problem) = publish(&hub, world.token(POP_2), good.clone()).await;
    assert_eq!(
        (status, problem["code"].as_str().unwrap()),
        (403, "not_the_source"),
        "{problem}"
    );
    problem_snapshot(&problem, &mut seen);
    world.source("person.address", POP_2).await;
    let (status, problem) = publish(&hub, world.token(POP), good.clone()).await;
    assert_eq!(
        (status, problem["code"].as_str().unwrap()),
        (403, "no_source_reference"),
        "{problem}"
    );
    problem_snapshot(&problem, &mut seen);

    let subscribe = |body: Value| {
        let hub = hub.clone();
        let token = world.token(BENEFITS).to_owned();
        async move {
            send(
                &hub,
                reqwest::Method::POST,
                "/v1/subscriptions",
                &token,
                Some(body),
            )
            .await
        }
    };
    for (body, code) in [
        (
            json!({"record_type": "person.address@1", "purpose": "marketing", "delivery": "pull"}),
            "unknown_purpose",
        ),
        (
            json!({"record_type": "tax.income-statement@1", "purpose": PURPOSE, "delivery": "pull"}),
            "no_authorization",
        ),
        (
            json!({"record_type": "person.address@1", "purpose": PURPOSE, "delivery": "webhook", "webhook_url": "ftp://agency.example/x"}),
            "invalid_webhook_url",
        ),
        (
            json!({"record_type": "person.address@1", "purpose": PURPOSE, "delivery": "webhook"}),
            "invalid_webhook_url",
        ),
        (
            json!({"record_type": "no.such-type@1", "purpose": PURPOSE, "delivery": "pull"}),
            "unknown_record_type",
        ),
    ] {
        let (status, problem) = subscribe(body.clone()).await;
        assert_eq!(
            (status, problem["code"].as_str().unwrap_or_default()),
            (422, code),
            "{body}: {problem}"
        );
        problem_snapshot(&problem, &mut seen);
    }
    let (status, problem) = send(
        &hub,
        reqwest::Method::GET,
        "/v1/notifications?after=forged",
        world.token(BENEFITS),
        None,
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str().unwrap()),
        (422, "invalid_cursor")
    );
    problem_snapshot(&problem, &mut seen);
    // Nothing was published: the feed is empty.
    let page = pull(&hub, world.token(BENEFITS), None, 1).await;
    assert_eq!(page["notifications"], json!([]), "{page}");
}

#[tokio::test]
async fn bad_input_changes_nothing_on_sqlite() {
    bad_input(Backend::Sqlite, "notifications::bad_input_on_sqlite").await;
}

#[tokio::test]
async fn bad_input_changes_nothing_on_postgres() {
    bad_input(Backend::Postgres, "notifications::bad_input_on_postgres").await;
}
