//! Properties of the access decision that must hold for every input.

use chrono::{DateTime, Duration, Utc};
use consent::{
    AccessRequest, Authorization, AuthorizationId, AuthorizationSet, AuthorizationTerms, Consent,
    ConsentId, ConsentState, ConsentTerms, Consumer, Decision, FetchFrequency, LegalReference,
    Period, PurposeCode, decide,
};
use identity::{AgencyId, CommonId, Role, Sector};
use proptest::prelude::*;
use schemas::{RecordType, RecordTypeName, RecordTypeRef, Version, VersionReq};

const AGENCIES: [&str; 3] = ["BE-1", "BE-2", "BE-3"];
const SECTORS: [Sector; 2] = [Sector::Social, Sector::Tax];
const NAMES: [&str; 2] = ["person.address", "person.income"];
const PURPOSES: [&str; 2] = ["benefit-eligibility", "tax-assessment"];
const FIELDS: [&str; 5] = ["/street", "/city", "/postal_code", "/amount", "/year"];

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default()
}

fn hours(n: i64) -> DateTime<Utc> {
    t0() + Duration::hours(n)
}

fn agency(i: usize) -> AgencyId {
    AGENCIES[i % AGENCIES.len()]
        .parse()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn person(random_part: u32) -> CommonId {
    let check = 98 - (u64::from(random_part) * 100) % 97;
    format!("{random_part:09}{check:02}")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn purpose(i: usize) -> PurposeCode {
    PurposeCode::parse(PURPOSES[i % PURPOSES.len()]).unwrap_or_else(|e| panic!("{e}"))
}

fn name(i: usize) -> RecordTypeName {
    RecordTypeName::parse(NAMES[i % NAMES.len()]).unwrap_or_else(|e| panic!("{e}"))
}

fn legal() -> LegalReference {
    LegalReference {
        title: "Law of 15 January 1990, art. 5".into(),
        url: "https://example.gov/law/1990#art5".into(),
    }
}

prop_compose! {
    fn consumer_strategy()(which in 0usize..4, sector in 0usize..2) -> Consumer {
        if which < 3 {
            Consumer::Agency(agency(which))
        } else {
            Consumer::SectorRole { sector: SECTORS[sector], role: Role::Consumer }
        }
    }
}

prop_compose! {
    fn terms_strategy()(
        consumer in consumer_strategy(),
        name_i in 0usize..2,
        major in 1u32..3,
        fields in proptest::sample::subsequence(FIELDS.to_vec(), 1..=FIELDS.len()),
        purposes in proptest::sample::subsequence(vec![0usize, 1], 1..=2),
        until in proptest::option::of(100i64..400),
        consent_required in any::<bool>(),
    ) -> AuthorizationTerms {
        AuthorizationTerms {
            consumer,
            record_type: name(name_i),
            major,
            fields: fields.into_iter().map(str::to_owned).collect(),
            purposes: purposes.into_iter().map(purpose).collect(),
            legal_reference: legal(),
            valid_until: until.map(hours),
            consent_required,
        }
    }
}

/// Up to six authorizations, some superseded by a second version.
fn authorizations_strategy() -> impl Strategy<Value = AuthorizationSet> {
    proptest::collection::vec(
        (
            terms_strategy(),
            0i64..80,
            proptest::option::of((terms_strategy(), 0i64..60)),
        ),
        0..6,
    )
    .prop_map(|list| {
        let mut set = AuthorizationSet::new();
        for (i, (terms, from, next)) in list.into_iter().enumerate() {
            let id = AuthorizationId::parse(&format!("auth-{i}")).unwrap_or_else(|e| panic!("{e}"));
            let Ok(a) = Authorization::new(id.clone(), terms, hours(from)) else {
                continue;
            };
            if set.publish(a).is_err() {
                continue;
            }
            if let Some((next, delay)) = next {
                let _ = set.supersede(&id, next, hours(from + delay));
            }
        }
        set
    })
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Approve,
    Reject,
    Pause,
    Resume,
    Revoke,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Approve),
        Just(Op::Reject),
        Just(Op::Pause),
        Just(Op::Resume),
        Just(Op::Revoke),
    ]
}

fn apply(consent: &mut Consent, op: Op, at: DateTime<Utc>) {
    let _ = match op {
        Op::Approve => consent.approve(at),
        Op::Reject => consent.reject(at),
        Op::Pause => consent.pause(at),
        Op::Resume => consent.resume(at),
        Op::Revoke => consent.revoke(at),
    };
}

fn frequency_strategy() -> impl Strategy<Value = FetchFrequency> {
    prop_oneof![
        Just(FetchFrequency::Once),
        (
            1u32..4,
            prop_oneof![
                Just(Period::Day),
                Just(Period::Week),
                Just(Period::Month),
                Just(Period::Year)
            ]
        )
            .prop_map(|(count, period)| FetchFrequency::MaxPer { count, period }),
    ]
}

prop_compose! {
    fn consent_strategy(index: usize)(
        agency_i in 0usize..3,
        person_i in 0u32..2,
        name_i in 0usize..2,
        major in 1u32..3,
        purpose_i in 0usize..2,
        from in 0i64..100,
        length in 1i64..300,
        frequency in frequency_strategy(),
        granted in any::<bool>(),
        ops in proptest::collection::vec(op_strategy(), 0..4),
    ) -> Consent {
        let terms = ConsentTerms {
            person: person(person_i),
            consumer: agency(agency_i),
            record_types: vec![RecordTypeRef { name: name(name_i), version: VersionReq::Major(major) }],
            purpose: purpose(purpose_i),
            valid_from: hours(from),
            valid_until: hours(from + length),
            frequency,
        };
        let id = ConsentId::parse(&format!("cns-{index}")).unwrap_or_else(|e| panic!("{e}"));
        let made = if granted {
            Consent::grant(id, terms, hours(0))
        } else {
            Consent::request(id, terms, hours(0))
        };
        let mut consent = made.unwrap_or_else(|e| panic!("{e}"));
        for (step, op) in ops.into_iter().enumerate() {
            apply(&mut consent, op, hours(i64::try_from(step).unwrap_or(0)));
        }
        consent
    }
}

fn consents_strategy() -> impl Strategy<Value = Vec<Consent>> {
    (
        consent_strategy(0),
        consent_strategy(1),
        consent_strategy(2),
        0usize..=3,
    )
        .prop_map(|(a, b, c, n)| [a, b, c].into_iter().take(n).collect())
}

prop_compose! {
    fn request_strategy()(
        agency_i in 0usize..3,
        sector in 0usize..2,
        person_i in 0u32..2,
        name_i in 0usize..2,
        major in 1u32..3,
        minor in 0u32..3,
        purpose_i in 0usize..2,
        named in proptest::option::of(0usize..4),
        at in 0i64..500,
        agency_active in proptest::bool::weighted(0.9),
        person_active in proptest::bool::weighted(0.9),
    ) -> AccessRequest {
        AccessRequest {
            agency: agency(agency_i),
            agency_sector: SECTORS[sector],
            agency_roles: vec![Role::Consumer],
            agency_active,
            person: person(person_i),
            person_active,
            record_type: RecordType::new(name(name_i), Version::new(major, minor)),
            purpose: purpose(purpose_i),
            consent_id: named.map(|i| ConsentId::parse(&format!("cns-{i}")).unwrap_or_else(|e| panic!("{e}"))),
            at: hours(at),
        }
    }
}

/// A consent made to fit `request` (same person, agency, record type and
/// purpose), keeping its state, window and frequency.
fn aligned(consent: &Consent, request: &AccessRequest) -> Consent {
    let mut terms = consent.terms().clone();
    terms.person = request.person;
    terms.consumer = request.agency.clone();
    terms.record_types = vec![RecordTypeRef {
        name: request.record_type.name.clone(),
        version: VersionReq::Major(request.record_type.version.major),
    }];
    terms.purpose = request.purpose.clone();
    Consent::restore(
        consent.id().clone(),
        consent.revision(),
        terms,
        consent.state(),
        consent.created_at(),
        consent.updated_at(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

type World = (AuthorizationSet, AccessRequest, Vec<Consent>, [u32; 4]);

/// Authorizations, a request, consents (each made to fit the request with
/// probability one half) and use counts.
fn world_strategy() -> impl Strategy<Value = World> {
    (
        authorizations_strategy(),
        request_strategy(),
        consents_strategy(),
        uses_strategy(),
        proptest::array::uniform3(any::<bool>()),
    )
        .prop_map(|(set, request, consents, counts, align)| {
            let consents = consents
                .iter()
                .zip(align)
                .map(|(c, a)| if a { aligned(c, &request) } else { c.clone() })
                .collect();
            (set, request, consents, counts)
        })
}

fn uses_strategy() -> impl Strategy<Value = [u32; 4]> {
    proptest::array::uniform4(0u32..4)
}

fn uses_of(counts: [u32; 4]) -> impl Fn(&ConsentId) -> u32 {
    move |id: &ConsentId| {
        let index = id
            .as_str()
            .strip_prefix("cns-")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        counts.get(index).copied().unwrap_or(0)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// With no authorization, nothing is ever permitted.
    #[test]
    fn no_authorization_no_permit(
        request in request_strategy(),
        consents in consents_strategy(),
        counts in uses_strategy(),
    ) {
        let decision = decide(&request, &AuthorizationSet::new(), &consents, &uses_of(counts));
        prop_assert!(!decision.is_permit());
    }

    /// A permit rests on an authorization version that covers the request,
    /// and grants exactly (so never more than) its fields; a permit that
    /// needs consent names a consent usable at that time.
    #[test]
    fn permits_are_justified_and_fields_are_a_subset(
        (set, request, consents, counts) in world_strategy(),
    ) {
        let decision = decide(&request, &set, &consents, &uses_of(counts));
        if let Decision::Permit { authorization, consent, fields } = decision {
            let a = set.get(&authorization.id, authorization.version);
            prop_assert!(a.is_some());
            let Some(a) = a else { return Ok(()); };
            prop_assert!(fields.iter().all(|f| a.fields.contains(f)));
            prop_assert!(fields.len() <= a.fields.len());
            prop_assert!(request.agency_active && request.person_active);
            prop_assert!(a.in_force_at(request.at));
            prop_assert!(a.allows_purpose(&request.purpose));
            prop_assert!(a.consumer.covers(&request.agency, request.agency_sector, &request.agency_roles));
            prop_assert_eq!(&a.record_type, &request.record_type.name);
            prop_assert_eq!(a.major, request.record_type.version.major);
            prop_assert_eq!(a.consent_required, consent.is_some());
            if let Some(id) = consent {
                let c = consents.iter().find(|c| c.id() == &id);
                prop_assert!(c.is_some());
                let Some(c) = c else { return Ok(()); };
                prop_assert_eq!(c.state_at(request.at), ConsentState::Active);
                prop_assert!(c.window_started(request.at));
                prop_assert!(c.terms().frequency.allows_another(uses_of(counts)(&id)));
                prop_assert_eq!(&c.terms().person, &request.person);
                prop_assert_eq!(&c.terms().consumer, &request.agency);
                if let Some(named) = &request.consent_id {
                    prop_assert_eq!(named, &id);
                }
            }
        }
    }

    /// After a revocation, a pause or the end of its window, no lookup
    /// started from then on rests on that consent, named or not.
    #[test]
    fn no_permit_after_revoke_pause_or_expiry(
        (set, mut request, mut consents, counts) in world_strategy(),
        which in 0usize..3,
        change in 0u8..3,
        name_it in any::<bool>(),
        delay in 0i64..100,
    ) {
        if consents.is_empty() {
            return Ok(());
        }
        let which = which % consents.len();
        let id = consents[which].id().clone();
        let at = match change {
            0 => {
                let when = request.at;
                let _ = consents[which].revoke(when);
                when + Duration::hours(delay)
            }
            1 => {
                let when = request.at;
                let _ = consents[which].pause(when);
                when + Duration::hours(delay)
            }
            _ => consents[which].terms().valid_until + Duration::hours(delay),
        };
        let state = consents[which].state_at(at);
        // Only the outcomes of the change (or a consent that was never
        // active) are looked at.
        prop_assume!(state != ConsentState::Active);
        request.at = at;
        if name_it {
            request.consent_id = Some(id.clone());
        }
        let decision = decide(&request, &set, &consents, &uses_of(counts));
        if let Decision::Permit { consent, .. } = decision {
            prop_assert_ne!(consent, Some(id));
        }
    }

    /// Recording each permitted fetch and deciding again, a consent's fetch
    /// frequency is never exceeded in any period.
    #[test]
    fn use_limits_are_never_exceeded(
        frequency in frequency_strategy(),
        steps in proptest::collection::vec(0i64..(36 * 60), 1..60),
        length_days in 1i64..120,
    ) {
        let record_type = RecordType::new(name(0), Version::new(1, 0));
        let mut set = AuthorizationSet::new();
        let terms = AuthorizationTerms {
            consumer: Consumer::Agency(agency(0)),
            record_type: name(0),
            major: 1,
            fields: vec!["/street".into()],
            purposes: vec![purpose(0)],
            legal_reference: legal(),
            valid_until: None,
            consent_required: true,
        };
        let id = AuthorizationId::parse("auth-1").unwrap_or_else(|e| panic!("{e}"));
        let a = Authorization::new(id, terms, hours(0)).unwrap_or_else(|e| panic!("{e}"));
        prop_assert!(set.publish(a).is_ok());
        let consent = Consent::grant(
            ConsentId::parse("cns-1").unwrap_or_else(|e| panic!("{e}")),
            ConsentTerms {
                person: person(0),
                consumer: agency(0),
                record_types: vec![record_type.to_ref()],
                purpose: purpose(0),
                valid_from: hours(0),
                valid_until: hours(24 * length_days),
                frequency,
            },
            hours(0),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let consents = [consent];

        let mut used: Vec<DateTime<Utc>> = Vec::new();
        let mut at = hours(0);
        for step in steps {
            at += Duration::minutes(step);
            let start = consents[0].usage_period_start(at);
            let count = |_: &ConsentId| {
                u32::try_from(used.iter().filter(|u| **u >= start && **u <= at).count())
                    .unwrap_or(u32::MAX)
            };
            let request = AccessRequest {
                agency: agency(0),
                agency_sector: Sector::Social,
                agency_roles: vec![Role::Consumer],
                agency_active: true,
                person: person(0),
                person_active: true,
                record_type: record_type.clone(),
                purpose: purpose(0),
                consent_id: None,
                at,
            };
            if decide(&request, &set, &consents, &count).is_permit() {
                used.push(at);
            }
        }
        for &u in &used {
            let start = consents[0].usage_period_start(u);
            let in_period = used.iter().filter(|v| **v >= start && **v <= u).count();
            prop_assert!(
                u64::try_from(in_period).unwrap_or(u64::MAX) <= u64::from(frequency.limit()),
                "{} uses in the period of {}", in_period, u
            );
            prop_assert!(u < consents[0].terms().valid_until);
        }
        if frequency == FetchFrequency::Once {
            prop_assert!(used.len() <= 1);
        }
    }
}

/// The generators above reach permits (with and without consent) and every
/// deny code, so the properties are not true merely because nothing is
/// permitted.
#[test]
fn generators_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::BTreeSet;

    let mut runner = TestRunner::deterministic();
    let strategy = world_strategy();
    let mut seen = BTreeSet::new();
    for _ in 0..5_000 {
        let Ok(tree) = strategy.new_tree(&mut runner) else {
            continue;
        };
        let (set, request, consents, counts) = tree.current();
        let outcome = match decide(&request, &set, &consents, &uses_of(counts)) {
            Decision::Permit { consent: None, .. } => "permit",
            Decision::Permit {
                consent: Some(_), ..
            } => "permit_with_consent",
            Decision::Deny { code, .. } => code.as_str(),
        };
        seen.insert(outcome);
    }
    let mut expected: BTreeSet<&str> = consent::DenyCode::ALL.iter().map(|c| c.as_str()).collect();
    expected.insert("permit");
    expected.insert("permit_with_consent");
    let missing: Vec<_> = expected.difference(&seen).collect();
    assert!(missing.is_empty(), "never reached: {missing:?}");
}
