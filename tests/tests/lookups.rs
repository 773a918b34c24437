//! Brokered lookups end to end: `crossroads serve` and three
//! `crossroads agency-sim` providers as separate processes over real HTTP,
//! on SQLite and on PostgreSQL. Every outcome of `POST /v1/lookups` is
//! provoked by a test of its own, in a world of its own, and each must
//! leave exactly one audit entry.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::future::Future;
use std::time::Duration;

use e2e::{AgencySim, AgencySpec, World};
use hub::dev::testing::{Backend, skip};
use serde_json::{Value, json};

/// Population register: `person.address@1` (common IDs).
const REGISTER: &str = "BE-0200000001";
/// Tax authority: `tax.income-statement@1`, and a broken
/// `health.insurance-coverage@1` (its record does not match the schema).
const TAX: &str = "BE-0300000001";
/// Employment register: `employment.current-employer@1`, slow, then down.
const EMPLOYMENT: &str = "BE-0600000001";
/// Benefits agency: a consumer that sees common IDs.
const BENEFITS: &str = "BE-0400000001";
/// Health insurer: a consumer that sees persons by its sector pseudonym.
const INSURER: &str = "BE-0800000001";
/// A well-formed common ID that nobody holds.
const NOBODY: &str = "12345678978";
const PURPOSE: &str = "benefit-eligibility";

/// The world of these tests: the hub, three providers, two consumers, and
/// four persons (two of them merged).
struct Lookups {
    world: World,
    anna: String,
    tom: String,
    survivor: String,
    replaced: String,
    /// The population register and the tax authority, up for the whole
    /// test.
    _providers: [AgencySim; 2],
    slow_sim: AgencySim,
    /// Every outcome's exchange id, to count its audit entries at the end.
    exchanges: Vec<(&'static str, String)>,
}

async fn lookups_world(backend: Backend) -> Option<Lookups> {
    let mut world = World::create(backend)?;
    // Operator set-up from the command line: persons, a merge.
    let anna = world.register("Anna", "Peeters", "1985-07-30").id;
    let tom = world.register("Tom", "Janssens", "1983-02-15").id;
    let survivor = world.register("Sofia", "El Amrani", "1992-11-03").id;
    let replaced = world.register("Sophia", "Elamrani", "1992-03-11").id;
    let merged = world.cli(&["person", "merge", &survivor, &replaced]);
    assert!(merged.contains("now resolves to"), "{merged}");

    world.serve();

    // The providers, as separate processes, each with its records file.
    let address = |id: &str, house: &str, town: &str| {
        json!({
            "commonId": id, "addressType": "legal-residence", "since": "2019-09-01",
            "address": {"street": "Rue de la Loi", "houseNumber": house, "box": "2",
                        "postcode": "1000", "municipality": town, "country": "BE"},
        })
    };
    // The population register serves HTTPS with a certificate of the same
    // private CA.
    let register_sim = world.tls_provider(
        REGISTER,
        &json!({"person.address": {
            anna.clone(): address(&anna, "16", "Bruxelles"),
            survivor.clone(): address(&survivor, "42", "Gent"),
        }}),
    );
    assert!(
        register_sim.url.starts_with("https://"),
        "{}",
        register_sim.url
    );
    let tax_sim = world.provider(
        TAX,
        &json!({
            "tax.income-statement": {anna.clone(): {
                "commonId": anna, "taxYear": 2026, "incomeYear": 2025, "status": "assessed",
                "currency": "EUR", "taxableIncome": 31250.0,
            }},
            // Not an insurance coverage: no insurer, a status that is a number.
            "health.insurance-coverage": {anna.clone(): {"commonId": anna, "status": "secret-status-4711"}},
        }),
        0,
    );
    let slow_sim = world.provider(
        EMPLOYMENT,
        &json!({"employment.current-employer": {anna.clone(): {
            "commonId": anna, "asOf": "2026-01-01", "employments": [],
        }}}),
        2_000,
    );

    // Onboarding over HTTP, as an operator.
    let (register_url, tax_url, slow_url) = (
        register_sim.url.clone(),
        tax_sim.url.clone(),
        slow_sim.url.clone(),
    );
    for agency in [
        AgencySpec::provider(REGISTER, "Population Register", "civil", &register_url),
        AgencySpec::provider(TAX, "Tax Authority", "tax", &tax_url),
        AgencySpec::provider(EMPLOYMENT, "Employment Register", "employment", &slow_url),
        AgencySpec::consumer(BENEFITS, "Benefits Agency", "social"),
        AgencySpec {
            id: INSURER,
            name: "Health Insurer",
            sector: "health",
            roles: &["consumer"],
            endpoint: None,
            policy: "sector_pseudonym",
        },
    ] {
        world.onboard(agency).await;
    }
    for (record_type, provider, timeout_ms) in [
        ("person.address", REGISTER, 5_000),
        ("tax.income-statement", TAX, 5_000),
        ("health.insurance-coverage", TAX, 5_000),
        ("employment.current-employer", EMPLOYMENT, 300),
    ] {
        world
            .admin(
                "/v1/admin/sources",
                &json!({"record_type": record_type, "major": 1, "provider": provider, "timeout_ms": timeout_ms}),
            )
            .await;
    }
    // Nobody is the source of person.family-composition@1.

    world
        .purpose(PURPOSE, "Checking eligibility for a social benefit")
        .await;
    // Every field the schema requires must be granted; the box number (not
    // required) and the income breakdown (withholdable) are not.
    let grants: [(&str, &str, &[&str], bool); 6] = [
        (BENEFITS, "person.address", e2e::ADDRESS_FIELDS, false),
        (BENEFITS, "tax.income-statement", e2e::INCOME_FIELDS, true),
        (
            BENEFITS,
            "health.insurance-coverage",
            &[
                "/commonId",
                "/insurer",
                "/status",
                "/coverage",
                "/increasedReimbursement",
            ],
            false,
        ),
        (
            BENEFITS,
            "employment.current-employer",
            &["/commonId", "/asOf", "/employments"],
            false,
        ),
        (
            BENEFITS,
            "person.family-composition",
            &["/commonId", "/asOf", "/householdSize", "/members"],
            false,
        ),
        (INSURER, "person.address", e2e::ADDRESS_FIELDS, false),
    ];
    for (consumer, record_type, fields, consent_required) in grants {
        world
            .authorize(consumer, record_type, fields, PURPOSE, consent_required)
            .await;
    }
    Some(Lookups {
        world,
        anna,
        tom,
        survivor,
        replaced,
        _providers: [register_sim, tax_sim],
        slow_sim,
        exchanges: Vec::new(),
    })
}

impl Lookups {
    /// A lookup by `agency`'s token: its status and body.
    async fn lookup(&self, agency: &str, person: &str, record_type: &str) -> (u16, Value) {
        self.world
            .client()
            .send(
                reqwest::Method::POST,
                "/v1/lookups",
                Some(self.world.token(agency)),
                Some(&json!({"person": person, "record_type": record_type, "purpose": PURPOSE})),
            )
            .await
            .unwrap()
    }

    /// Checks a refused lookup's status, problem code and exchange id, and
    /// keeps the exchange id as `outcome`'s.
    fn refused(&mut self, outcome: &'static str, answer: &(u16, Value), status: u16, code: &str) {
        let (got, body) = answer;
        assert_eq!(
            (*got, body["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        assert_eq!(body["status"], status, "{body}");
        let exchange = body["exchange_id"].as_str().unwrap();
        assert!(exchange.starts_with("exc-"), "{body}");
        self.exchanges.push((outcome, exchange.to_owned()));
        problem_snapshot(body);
    }

    /// Checks a permitted lookup, and keeps its exchange id as `outcome`'s.
    fn permitted(&mut self, outcome: &'static str, answer: &(u16, Value)) {
        let (got, body) = answer;
        assert_eq!(*got, 200, "{body}");
        self.exchanges
            .push((outcome, body["exchange_id"].as_str().unwrap().to_owned()));
    }

    /// Exactly one audit entry per exchange of this test, of the right
    /// outcome, and none for any other exchange.
    fn audited(&self) {
        let by_exchange = self.world.entries_by_exchange();
        assert_eq!(by_exchange.len(), self.exchanges.len(), "{by_exchange:#?}");
        for (outcome, id) in &self.exchanges {
            let entries = by_exchange.get(id).map(Vec::as_slice).unwrap_or_default();
            assert_eq!(entries.len(), 1, "{outcome}: {entries:#?}");
            let entry = &entries[0];
            let expected = match *outcome {
                "no_authorization" | "consent_required" => "denied",
                o if o.starts_with("permitted")
                    || o.starts_with("pseudonymous")
                    || o == "merged" =>
                {
                    "permitted"
                }
                _ => "error",
            };
            assert_eq!(entry["outcome"], expected, "{outcome}: {entry}");
            let caller = if outcome.starts_with("pseudonymous") {
                INSURER
            } else {
                BENEFITS
            };
            assert_eq!(entry["actor"]["id"], caller, "{outcome}: {entry}");
            if expected == "denied" {
                assert_eq!(entry["deny_code"], *outcome, "{entry}");
            }
            if expected == "permitted" {
                assert!(entry["response_digest"].is_string(), "{entry}");
            }
        }
    }
}

/// Snapshots a refusal's problem body as `snapshots/problem_<code>.snap`,
/// scrubbed of what changes from run to run (the same on both backends).
fn problem_snapshot(body: &Value) {
    let code = body["code"].as_str().unwrap();
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        insta::assert_json_snapshot!(format!("problem_{code}"), hub::dev::testing::scrub(body));
    });
}

/// Runs `body` in a fresh world on `backend`, or reports the skip.
async fn on<F, Fut>(backend: Backend, test: &str, body: F)
where
    F: FnOnce(Lookups) -> Fut,
    Fut: Future<Output = ()>,
{
    match lookups_world(backend).await {
        Some(world) => body(world).await,
        None => skip(test),
    }
}

/// Declares a test that runs once on each backend, as `NAME::sqlite` and
/// `NAME::postgres`, in a world of its own.
macro_rules! lookup_test {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                on(Backend::Sqlite, concat!(module_path!(), "::sqlite"), $body).await;
            }

            #[tokio::test]
            async fn postgres() {
                on(
                    Backend::Postgres,
                    concat!(module_path!(), "::postgres"),
                    $body,
                )
                .await;
            }
        }
    };
}

lookup_test!(
    a_permitted_lookup_answers_only_the_granted_fields,
    |mut w: Lookups| async move {
        // Permitted, minimised: the box number is not granted.
        let answer = w.lookup(BENEFITS, &w.anna, "person.address@1").await;
        w.permitted("permitted", &answer);
        let body = &answer.1;
        assert_eq!(body["provider"], REGISTER, "{body}");
        assert_eq!(body["person"], w.anna.as_str(), "{body}");
        assert!(
            body["record_type"]
                .as_str()
                .unwrap()
                .starts_with("person.address@1."),
            "{body}"
        );
        assert_eq!(body["data"]["address"]["houseNumber"], "16", "{body}");
        assert_eq!(body["data"]["address"]["municipality"], "Bruxelles");
        assert!(body["data"]["address"].get("box").is_none(), "{body}");
        assert_eq!(body["data"]["since"], "2019-09-01", "{body}");
        w.audited();
    }
);

lookup_test!(
    a_lookup_without_an_authorization_is_refused,
    |mut w: Lookups| async move {
        // Denied: no authorization for the record type.
        let answer = w.lookup(BENEFITS, &w.anna, "person.identity@1").await;
        w.refused("no_authorization", &answer, 403, "no_authorization");
        w.audited();
    }
);

lookup_test!(
    a_lookup_that_needs_consent_without_one_is_refused,
    |mut w: Lookups| async move {
        // Denied: the rule requires the person's consent, and there is none.
        let answer = w.lookup(BENEFITS, &w.anna, "tax.income-statement@1").await;
        w.refused("consent_required", &answer, 403, "consent_required");
        w.audited();
    }
);

lookup_test!(
    a_lookup_on_an_unregistered_person_is_not_found,
    |mut w: Lookups| async move {
        // Not a registered person.
        let answer = w.lookup(BENEFITS, NOBODY, "person.address@1").await;
        w.refused("unknown_person", &answer, 404, "unknown_person");
        w.audited();
    }
);

lookup_test!(
    a_lookup_the_provider_has_no_record_for_is_not_found,
    |mut w: Lookups| async move {
        // The provider holds no record on Tom.
        let answer = w.lookup(BENEFITS, &w.tom, "person.address@1").await;
        w.refused("no_record", &answer, 404, "no_record");
        w.audited();
    }
);

lookup_test!(
    a_lookup_of_a_record_type_nobody_provides_is_not_found,
    |mut w: Lookups| async move {
        // Nobody provides the record type.
        let answer = w
            .lookup(BENEFITS, &w.anna, "person.family-composition@1")
            .await;
        w.refused("no_provider", &answer, 404, "no_provider");
        w.audited();
    }
);

lookup_test!(
    an_answer_that_does_not_match_the_schema_is_refused_and_never_shown,
    |mut w: Lookups| async move {
        // The provider answers something that does not match the schema:
        // the problem counts the schema errors and never shows the data.
        let answer = w
            .lookup(BENEFITS, &w.anna, "health.insurance-coverage@1")
            .await;
        w.refused(
            "provider_invalid_response",
            &answer,
            502,
            "provider_invalid_response",
        );
        assert!(
            !answer.1.to_string().contains("secret-status-4711"),
            "{}",
            answer.1
        );
        w.audited();
        // The hub logged the invalid answer by where it failed, never by
        // the value the validator would quote.
        let (_, log) = w.world.stop("TERM");
        let log = log.join("\n");
        assert!(log.contains("provider answer does not validate"), "{log}");
        assert!(!log.contains("secret-status-4711"), "{log}");
    }
);

lookup_test!(
    a_provider_slower_than_its_timeout_is_refused_in_time,
    |mut w: Lookups| async move {
        // The provider takes 2 s; the source allows 300 ms.
        let started = std::time::Instant::now();
        let answer = w
            .lookup(BENEFITS, &w.anna, "employment.current-employer@1")
            .await;
        w.refused("provider_timeout", &answer, 504, "provider_timeout");
        assert!(started.elapsed() < Duration::from_millis(1_500));
        w.audited();
    }
);

lookup_test!(
    a_provider_that_is_gone_is_unavailable,
    |mut w: Lookups| async move {
        // The provider's process is gone.
        w.slow_sim.kill();
        let answer = w
            .lookup(BENEFITS, &w.anna, "employment.current-employer@1")
            .await;
        w.refused("provider_unavailable", &answer, 503, "provider_unavailable");
        w.audited();
    }
);

lookup_test!(
    a_merged_id_answers_for_the_survivor,
    |mut w: Lookups| async move {
        let answer = w.lookup(BENEFITS, &w.replaced, "person.address@1").await;
        w.permitted("merged", &answer);
        assert_eq!(answer.1["person"], w.survivor.as_str(), "{}", answer.1);
        assert_eq!(answer.1["data"]["commonId"], w.survivor.as_str());
        assert_eq!(answer.1["data"]["address"]["municipality"], "Gent");
        w.audited();
    }
);

/// The insurer's lookup of Anna by common ID (a document the person handed
/// over): the answer names her by the insurer's sector pseudonym, which is
/// returned.
async fn insurer_pseudonym(w: &mut Lookups) -> String {
    let answer = w.lookup(INSURER, &w.anna, "person.address@1").await;
    w.permitted("pseudonymous, by common ID", &answer);
    let pseudonym = answer.1["person"].as_str().unwrap().to_owned();
    assert_ne!(pseudonym, w.anna);
    pseudonym
}

lookup_test!(
    a_pseudonymous_consumer_sees_only_its_sector_pseudonym,
    |mut w: Lookups| async move {
        // Named by common ID once, the answer names the person by the
        // insurer's sector pseudonym; asked by that pseudonym, the same.
        let pseudonym = insurer_pseudonym(&mut w).await;
        let answer = w.lookup(INSURER, &pseudonym, "person.address@1").await;
        w.permitted("pseudonymous", &answer);
        assert_eq!(answer.1["person"], pseudonym.as_str(), "{}", answer.1);
        // The common ID does not reach it inside the record either.
        assert_eq!(
            answer.1["data"]["commonId"],
            pseudonym.as_str(),
            "{}",
            answer.1
        );
        assert!(!answer.1.to_string().contains(&w.anna), "{}", answer.1);
        assert_eq!(answer.1["data"]["address"]["municipality"], "Bruxelles");
        assert!(answer.1["data"]["address"].get("box").is_none());
        w.audited();
    }
);

lookup_test!(
    another_sectors_pseudonym_is_refused,
    |mut w: Lookups| async move {
        let pseudonym = insurer_pseudonym(&mut w).await;
        // Another sector's consumer cannot use it.
        let answer = w.lookup(BENEFITS, &pseudonym, "person.address@1").await;
        w.refused("foreign pseudonym", &answer, 422, "foreign_pseudonym");
        w.audited();
    }
);
