//! One access decision against ~100 authorizations and a handful of consents,
//! with the authorization index built (warm).

use std::hint::black_box;

use chrono::{DateTime, Duration, Utc};
use consent::{
    AccessRequest, Authorization, AuthorizationId, AuthorizationSet, AuthorizationTerms, Consent,
    ConsentId, ConsentTerms, Consumer, FetchFrequency, LegalReference, Period, PurposeCode, decide,
};
use criterion::{Criterion, criterion_group, criterion_main};
use identity::{AgencyId, CommonId, Role, Sector};
use schemas::{RecordType, RecordTypeName, RecordTypeRef};

const NAMES: [&str; 10] = [
    "person.address",
    "person.income",
    "person.household",
    "person.civil-status",
    "person.employment",
    "person.benefits",
    "person.health-insurance",
    "person.education",
    "person.tax-return",
    "person.vehicle",
];

fn parse<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.parse().ok()
}

struct World {
    set: AuthorizationSet,
    consents: Vec<Consent>,
    with_consent: AccessRequest,
    without_consent: AccessRequest,
}

fn world() -> Option<World> {
    let t0 = DateTime::<Utc>::from_timestamp(1_767_225_600, 0)?;
    let me: AgencyId = parse("BE-0123456789")?;
    let check = 98 - (123_456_789u64 * 100) % 97;
    let person: CommonId = parse(&format!("123456789{check:02}"))?;
    let purposes: Vec<PurposeCode> = [
        "benefit-eligibility",
        "tax-assessment",
        "healthcare-reimbursement",
    ]
    .iter()
    .filter_map(|p| PurposeCode::parse(p).ok())
    .collect();
    let legal = LegalReference {
        title: "Law of 15 January 1990, art. 5".into(),
        url: "https://example.gov/law/1990#art5".into(),
    };

    // 100 authorizations: 10 record types × 10 consumers (8 other agencies,
    // this agency, and the social sector's consumers).
    let mut set = AuthorizationSet::new();
    for (n, name) in NAMES.iter().enumerate() {
        for c in 0..10 {
            let consumer = match c {
                8 => Consumer::Agency(me.clone()),
                9 => Consumer::SectorRole {
                    sector: Sector::Social,
                    role: Role::Consumer,
                },
                _ => Consumer::Agency(parse(&format!("BE-{:010}", 1000 + c))?),
            };
            let terms = AuthorizationTerms {
                consumer,
                record_type: RecordTypeName::parse(name).ok()?,
                major: 1,
                fields: vec![
                    "/street".into(),
                    "/number".into(),
                    "/city".into(),
                    "/postal_code".into(),
                ],
                purposes: purposes[..2].to_vec(),
                legal_reference: legal.clone(),
                valid_until: None,
                consent_required: n % 2 == 0 && c == 8,
            };
            let id = AuthorizationId::parse(&format!("auth-{n}-{c}")).ok()?;
            set.publish(Authorization::new(id, terms, t0).ok()?).ok()?;
        }
    }

    // A handful of consents of the person with this agency, the usable one last.
    let mut consents = Vec::new();
    for (i, name) in NAMES.iter().take(5).enumerate() {
        let terms = ConsentTerms {
            person,
            consumer: me.clone(),
            record_types: vec![RecordTypeRef::parse(&format!("{name}@1")).ok()?],
            purpose: purposes[i % 2].clone(),
            valid_from: t0,
            valid_until: t0 + Duration::days(365),
            frequency: FetchFrequency::MaxPer {
                count: 10,
                period: Period::Day,
            },
        };
        let id = ConsentId::parse(&format!("cns-{i}")).ok()?;
        consents.push(Consent::grant(id, terms, t0).ok()?);
    }
    consents.reverse();

    let request = |name: &str| -> Option<AccessRequest> {
        Some(AccessRequest {
            agency: me.clone(),
            agency_sector: Sector::Social,
            agency_roles: vec![Role::Consumer, Role::Provider],
            agency_active: true,
            person,
            person_active: true,
            record_type: RecordType::parse(name).ok()?,
            purpose: purposes[0].clone(),
            consent_id: None,
            at: t0 + Duration::days(30),
        })
    };
    Some(World {
        set,
        consents,
        with_consent: request("person.address@1.3")?,
        without_consent: request("person.income@1.0")?,
    })
}

fn decisions(c: &mut Criterion) {
    let Some(w) = world() else {
        panic!("the bench's world could not be built");
    };
    let uses = |_: &ConsentId| 3;
    assert!(decide(&w.with_consent, &w.set, &w.consents, &uses).is_permit());
    assert!(decide(&w.without_consent, &w.set, &w.consents, &uses).is_permit());

    c.bench_function("decide/permit_with_consent", |b| {
        b.iter(|| decide(black_box(&w.with_consent), &w.set, &w.consents, &uses))
    });
    c.bench_function("decide/permit_without_consent", |b| {
        b.iter(|| decide(black_box(&w.without_consent), &w.set, &w.consents, &uses))
    });
    let mut denied = w.with_consent.clone();
    denied.purpose =
        PurposeCode::parse("healthcare-reimbursement").unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("decide/deny_purpose", |b| {
        b.iter(|| decide(black_box(&denied), &w.set, &w.consents, &uses))
    });
}

criterion_group!(benches, decisions);
criterion_main!(benches);
