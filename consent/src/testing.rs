//! Helpers shared by the unit tests.

use chrono::{DateTime, Duration, Utc};
use identity::{AgencyId, CommonId};
use schemas::{RecordType, RecordTypeName, RecordTypeRef};

use crate::authorization::{AuthorizationTerms, Consumer, LegalReference};
use crate::consent::{ConsentTerms, FetchFrequency};
use crate::ids::{AuthorizationId, ConsentId};
use crate::purpose::PurposeCode;

pub fn day(n: i64) -> DateTime<Utc> {
    ts("2026-01-01T00:00:00Z") + Duration::days(n)
}

pub fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.to_utc())
        .unwrap_or_else(|e| panic!("{e}"))
}

pub fn agency(s: &str) -> AgencyId {
    s.parse().unwrap_or_else(|e| panic!("{e}"))
}

/// A valid common identifier with the given 9-digit random part.
pub fn common_id(random_part: u32) -> CommonId {
    let check = 98 - (u64::from(random_part) * 100) % 97;
    format!("{random_part:09}{check:02}")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"))
}

pub fn person() -> CommonId {
    common_id(123_456_789)
}

pub fn other_person_id() -> CommonId {
    common_id(987_654_321)
}

pub fn auth_id(s: &str) -> AuthorizationId {
    AuthorizationId::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

pub fn consent_id(s: &str) -> ConsentId {
    ConsentId::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

pub fn purpose(s: &str) -> PurposeCode {
    PurposeCode::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

pub fn record(s: &str) -> RecordType {
    RecordType::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

pub fn record_ref(s: &str) -> RecordTypeRef {
    RecordTypeRef::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

pub fn legal() -> LegalReference {
    LegalReference {
        title: "Law of 15 January 1990, art. 5".into(),
        url: "https://example.gov/law/1990-01-15#art5".into(),
    }
}

pub fn terms(consumer: Consumer, record_type: &str, major: u32) -> AuthorizationTerms {
    AuthorizationTerms {
        consumer,
        record_type: RecordTypeName::parse(record_type).unwrap_or_else(|e| panic!("{e}")),
        major,
        fields: vec!["/street".into(), "/city".into(), "/postal_code".into()],
        purposes: vec![purpose("benefit-eligibility")],
        legal_reference: legal(),
        valid_until: None,
        consent_required: false,
    }
}

pub fn consent_terms(from: DateTime<Utc>, until: DateTime<Utc>) -> ConsentTerms {
    ConsentTerms {
        person: person(),
        consumer: agency("BE-0123456789"),
        record_types: vec![record_ref("person.address@1")],
        purpose: purpose("benefit-eligibility"),
        valid_from: from,
        valid_until: until,
        frequency: FetchFrequency::Once,
    }
}
