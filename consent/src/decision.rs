//! The access decision: may this agency obtain this record type about this
//! person for this purpose, now?

use std::fmt;

use chrono::{DateTime, Utc};
use identity::{AgencyId, CommonId, Role, Sector};
use schemas::RecordType;
use serde::{Deserialize, Serialize};

use crate::authorization::{AuthorizationKey, AuthorizationSet};
use crate::consent::{Consent, ConsentState};
use crate::ids::ConsentId;
use crate::purpose::PurposeCode;

/// Everything the decision looks at about one lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    /// The consumer agency.
    pub agency: AgencyId,
    /// Its sector.
    pub agency_sector: Sector,
    /// Its roles.
    pub agency_roles: Vec<Role>,
    /// Whether the agency is active (not suspended).
    pub agency_active: bool,
    /// The person the record is about.
    pub person: CommonId,
    /// Whether the person is active (not deceased, set aside or merged).
    pub person_active: bool,
    /// The exact record type and version asked for.
    pub record_type: RecordType,
    /// The purpose stated.
    pub purpose: PurposeCode,
    /// The consent the agency relies on, if it names one.
    pub consent_id: Option<ConsentId>,
    /// When the lookup starts.
    pub at: DateTime<Utc>,
}

/// Why a lookup is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyCode {
    /// No authorization lets this agency obtain this record type (major).
    NoAuthorization,
    /// Authorizations exist but none allows the stated purpose.
    PurposeNotAllowed,
    /// Authorizations exist but none is in force at the time of the lookup.
    AuthorizationNotInForce,
    /// The authorization needs the person's consent and none covers the lookup.
    ConsentRequired,
    /// The consent is still a pending request.
    ConsentPending,
    /// The consent is paused.
    ConsentPaused,
    /// The consent is revoked.
    ConsentRevoked,
    /// The consent's window is over.
    ConsentExpired,
    /// The consent's fetch frequency is used up for the current period.
    ConsentUseExhausted,
    /// The agency is suspended.
    AgencySuspended,
    /// The person is not active.
    PersonInactive,
}

impl DenyCode {
    /// Every code.
    pub const ALL: [Self; 11] = [
        Self::NoAuthorization,
        Self::PurposeNotAllowed,
        Self::AuthorizationNotInForce,
        Self::ConsentRequired,
        Self::ConsentPending,
        Self::ConsentPaused,
        Self::ConsentRevoked,
        Self::ConsentExpired,
        Self::ConsentUseExhausted,
        Self::AgencySuspended,
        Self::PersonInactive,
    ];

    /// The stable snake_case code.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NoAuthorization => "no_authorization",
            Self::PurposeNotAllowed => "purpose_not_allowed",
            Self::AuthorizationNotInForce => "authorization_not_in_force",
            Self::ConsentRequired => "consent_required",
            Self::ConsentPending => "consent_pending",
            Self::ConsentPaused => "consent_paused",
            Self::ConsentRevoked => "consent_revoked",
            Self::ConsentExpired => "consent_expired",
            Self::ConsentUseExhausted => "consent_use_exhausted",
            Self::AgencySuspended => "agency_suspended",
            Self::PersonInactive => "person_inactive",
        }
    }
}

impl fmt::Display for DenyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Decision {
    /// The lookup may go ahead.
    Permit {
        /// The authorization version it rests on.
        authorization: AuthorizationKey,
        /// The consent it rests on, when the authorization needs one.
        consent: Option<ConsentId>,
        /// The fields the agency may receive: the authorization's granted
        /// fields.
        fields: Vec<String>,
    },
    /// The lookup is refused.
    Deny {
        /// Why, as a stable code.
        code: DenyCode,
        /// Why, for a person.
        detail: String,
    },
}

impl Decision {
    fn deny(code: DenyCode, detail: String) -> Self {
        Self::Deny { code, detail }
    }

    /// Whether the lookup may go ahead.
    pub fn is_permit(&self) -> bool {
        matches!(self, Self::Permit { .. })
    }

    /// The refusal's code, if refused.
    pub fn deny_code(&self) -> Option<DenyCode> {
        match self {
            Self::Permit { .. } => None,
            Self::Deny { code, .. } => Some(*code),
        }
    }
}

/// How one consent fares for a lookup.
enum ConsentOutcome<'a> {
    Usable(&'a Consent),
    Refused(DenyCode, String),
}

/// Lower is a more useful refusal to report when no consent is usable.
fn refusal_rank(code: DenyCode) -> u8 {
    match code {
        DenyCode::ConsentUseExhausted => 0,
        DenyCode::ConsentPaused => 1,
        DenyCode::ConsentPending => 2,
        DenyCode::ConsentExpired => 3,
        DenyCode::ConsentRevoked => 4,
        _ => 5,
    }
}

fn judge_consent<'a>(
    consent: &'a Consent,
    at: DateTime<Utc>,
    uses: &dyn Fn(&ConsentId) -> u32,
) -> ConsentOutcome<'a> {
    let id = consent.id();
    let refused = |code, detail| ConsentOutcome::Refused(code, detail);
    match consent.state_at(at) {
        ConsentState::Pending => refused(
            DenyCode::ConsentPending,
            format!("consent {id} awaits the person's approval"),
        ),
        ConsentState::Paused => refused(
            DenyCode::ConsentPaused,
            format!("consent {id} is paused by the person"),
        ),
        ConsentState::Revoked => refused(
            DenyCode::ConsentRevoked,
            format!("consent {id} was revoked by the person"),
        ),
        ConsentState::Expired => refused(
            DenyCode::ConsentExpired,
            format!("consent {id} expired at {}", consent.terms().valid_until),
        ),
        ConsentState::Rejected => refused(
            DenyCode::ConsentRequired,
            format!("the person rejected consent request {id}"),
        ),
        ConsentState::Active if !consent.window_started(at) => refused(
            DenyCode::ConsentRequired,
            format!("consent {id} applies from {}", consent.terms().valid_from),
        ),
        ConsentState::Active => {
            let used = uses(id);
            if consent.terms().frequency.allows_another(used) {
                ConsentOutcome::Usable(consent)
            } else {
                refused(
                    DenyCode::ConsentUseExhausted,
                    format!(
                        "consent {id} allows {} fetch(es) per period and {used} were made",
                        consent.terms().frequency.limit()
                    ),
                )
            }
        }
    }
}

/// Finds the consent a lookup may rest on: the named one, or else the first
/// usable one among those of this person with this agency covering the
/// record type and purpose.
fn choose_consent<'a>(
    request: &AccessRequest,
    consents: &'a [Consent],
    uses: &dyn Fn(&ConsentId) -> u32,
) -> Result<&'a Consent, (DenyCode, String)> {
    let mut best: Option<(DenyCode, String)> = None;
    let matching = consents.iter().filter(|c| {
        let terms = c.terms();
        request.consent_id.as_ref().is_none_or(|id| c.id() == id)
            && terms.person == request.person
            && terms.consumer == request.agency
            && terms.purpose == request.purpose
            && terms.covers_record_type(&request.record_type)
    });
    for consent in matching {
        match judge_consent(consent, request.at, uses) {
            ConsentOutcome::Usable(consent) => return Ok(consent),
            ConsentOutcome::Refused(code, detail) => {
                if best
                    .as_ref()
                    .is_none_or(|(b, _)| refusal_rank(code) < refusal_rank(*b))
                {
                    best = Some((code, detail));
                }
            }
        }
    }
    Err(best.unwrap_or_else(|| {
        let detail = match &request.consent_id {
            Some(id) => format!(
                "consent {id} does not cover {} for {} by {}",
                request.record_type, request.purpose, request.agency
            ),
            None => format!(
                "no consent of the person lets {} obtain {} for {}",
                request.agency, request.record_type, request.purpose
            ),
        };
        (DenyCode::ConsentRequired, detail)
    }))
}

/// Decides whether `request` may go ahead.
///
/// Checks, in order: the agency is active (`agency_suspended`); the person is
/// active (`person_inactive`); an authorization covers this agency, record
/// type and major version (`no_authorization`), one of them is in force
/// (`authorization_not_in_force`) and one in force allows the purpose
/// (`purpose_not_allowed`). The eligible authorizations are tried most
/// specific first (one agency before a sector and role); the first that needs
/// no consent, or whose consent is usable, permits. A consent is usable when it
/// is the named one (or, if none is named, any of `consents` for this person,
/// agency, record type and purpose), active at `at` within its window, and
/// `uses(id)` — its fetches since [`Consent::usage_period_start`] — leaves
/// room under its frequency. Otherwise the most telling consent refusal is
/// returned (`consent_use_exhausted`, `consent_paused`, `consent_pending`,
/// `consent_expired`, `consent_revoked`, then `consent_required`).
///
/// A permit's fields are exactly the authorization's granted fields.
pub fn decide(
    request: &AccessRequest,
    authorizations: &AuthorizationSet,
    consents: &[Consent],
    uses: &dyn Fn(&ConsentId) -> u32,
) -> Decision {
    if !request.agency_active {
        return Decision::deny(
            DenyCode::AgencySuspended,
            format!("agency {} is suspended", request.agency),
        );
    }
    if !request.person_active {
        return Decision::deny(
            DenyCode::PersonInactive,
            "the person is not active".to_owned(),
        );
    }

    let record_type = &request.record_type;
    let candidates = authorizations
        .for_record_type(record_type.name.as_str(), record_type.version.major)
        .iter()
        .filter(|a| {
            a.consumer.covers(
                &request.agency,
                request.agency_sector,
                &request.agency_roles,
            )
        });

    let mut covered = false;
    let mut in_force = false;
    let mut consent: Option<Result<&Consent, (DenyCode, String)>> = None;
    for authorization in candidates {
        covered = true;
        if !authorization.in_force_at(request.at) {
            continue;
        }
        in_force = true;
        if !authorization.allows_purpose(&request.purpose) {
            continue;
        }
        let permit = |consent: Option<ConsentId>| Decision::Permit {
            authorization: authorization.key(),
            consent,
            fields: authorization.fields.clone(),
        };
        if !authorization.consent_required {
            return permit(None);
        }
        let outcome = consent.get_or_insert_with(|| choose_consent(request, consents, uses));
        if let Ok(found) = outcome {
            return permit(Some(found.id().clone()));
        }
    }

    match consent {
        Some(Err((code, detail))) => Decision::deny(code, detail),
        // Unreachable: a usable consent has returned a permit above.
        Some(Ok(_)) => Decision::deny(DenyCode::ConsentRequired, "no usable consent".to_owned()),
        None if in_force => Decision::deny(
            DenyCode::PurposeNotAllowed,
            format!(
                "no authorization in force lets {} obtain {}@{} for {}",
                request.agency, record_type.name, record_type.version.major, request.purpose
            ),
        ),
        None if covered => Decision::deny(
            DenyCode::AuthorizationNotInForce,
            format!(
                "no authorization for {} to obtain {}@{} is in force at {}",
                request.agency, record_type.name, record_type.version.major, request.at
            ),
        ),
        None => Decision::deny(
            DenyCode::NoAuthorization,
            format!(
                "no authorization lets {} obtain {}@{}",
                request.agency, record_type.name, record_type.version.major
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorization::{Authorization, Consumer};
    use crate::consent::{FetchFrequency, Period};
    use crate::testing::*;

    const AGENCY: &str = "BE-0123456789";

    fn set_with(consent_required: bool) -> AuthorizationSet {
        let mut t = terms(Consumer::Agency(agency(AGENCY)), "person.address", 1);
        t.consent_required = consent_required;
        t.valid_until = Some(day(100));
        let a = Authorization::new(auth_id("auth-1"), t, day(1)).unwrap_or_else(|e| panic!("{e}"));
        let mut set = AuthorizationSet::new();
        assert!(set.publish(a).is_ok());
        set
    }

    fn request() -> AccessRequest {
        AccessRequest {
            agency: agency(AGENCY),
            agency_sector: Sector::Social,
            agency_roles: vec![Role::Consumer],
            agency_active: true,
            person: person(),
            person_active: true,
            record_type: record("person.address@1.2"),
            purpose: purpose("benefit-eligibility"),
            consent_id: None,
            at: day(10),
        }
    }

    fn active_consent(id: &str) -> Consent {
        let mut t = consent_terms(day(1), day(50));
        t.consumer = agency(AGENCY);
        Consent::grant(consent_id(id), t, day(1)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn no_uses(_: &ConsentId) -> u32 {
        0
    }

    fn code(d: &Decision) -> Option<&'static str> {
        d.deny_code().map(|c| c.as_str())
    }

    #[test]
    fn permit_without_consent() {
        let d = decide(&request(), &set_with(false), &[], &no_uses);
        assert_eq!(
            d,
            Decision::Permit {
                authorization: AuthorizationKey {
                    id: auth_id("auth-1"),
                    version: 1
                },
                consent: None,
                fields: vec!["/street".into(), "/city".into(), "/postal_code".into()],
            }
        );
    }

    #[test]
    fn agency_and_person_come_first() {
        let set = AuthorizationSet::new();
        let mut r = request();
        r.agency_active = false;
        r.person_active = false;
        assert_eq!(
            code(&decide(&r, &set, &[], &no_uses)),
            Some("agency_suspended")
        );
        r.agency_active = true;
        assert_eq!(
            code(&decide(&r, &set, &[], &no_uses)),
            Some("person_inactive")
        );
    }

    #[test]
    fn authorization_checks() {
        let set = set_with(false);
        let mut r = request();
        r.record_type = record("person.address@2.0");
        assert_eq!(
            code(&decide(&r, &set, &[], &no_uses)),
            Some("no_authorization")
        );
        let mut r = request();
        r.agency = agency("BE-999");
        assert_eq!(
            code(&decide(&r, &set, &[], &no_uses)),
            Some("no_authorization")
        );
        let mut r = request();
        r.at = day(100);
        assert_eq!(
            code(&decide(&r, &set, &[], &no_uses)),
            Some("authorization_not_in_force")
        );
        r.at = day(0);
        assert_eq!(
            code(&decide(&r, &set, &[], &no_uses)),
            Some("authorization_not_in_force")
        );
        let mut r = request();
        r.purpose = purpose("tax-assessment");
        assert_eq!(
            code(&decide(&r, &set, &[], &no_uses)),
            Some("purpose_not_allowed")
        );
    }

    #[test]
    fn sector_role_authorizations() {
        let t = terms(
            Consumer::SectorRole {
                sector: Sector::Social,
                role: Role::Consumer,
            },
            "person.address",
            1,
        );
        let a = Authorization::new(auth_id("auth-s"), t, day(1)).unwrap_or_else(|e| panic!("{e}"));
        let mut set = AuthorizationSet::new();
        assert!(set.publish(a).is_ok());
        assert!(decide(&request(), &set, &[], &no_uses).is_permit());
        let mut r = request();
        r.agency_sector = Sector::Tax;
        assert_eq!(
            code(&decide(&r, &set, &[], &no_uses)),
            Some("no_authorization")
        );
        let mut r = request();
        r.agency_roles = vec![Role::Provider];
        assert_eq!(
            code(&decide(&r, &set, &[], &no_uses)),
            Some("no_authorization")
        );
    }

    #[test]
    fn supersession_switches_versions_at_the_date() {
        let mut set = set_with(false);
        let mut t = terms(Consumer::Agency(agency(AGENCY)), "person.address", 1);
        t.fields = vec!["/city".into()];
        assert!(set.supersede(&auth_id("auth-1"), t, day(20)).is_ok());
        let mut r = request();
        r.at = day(19);
        let v = |d: Decision| match d {
            Decision::Permit {
                authorization,
                fields,
                ..
            } => Some((authorization.version, fields)),
            Decision::Deny { .. } => None,
        };
        assert_eq!(v(decide(&r, &set, &[], &no_uses)).map(|x| x.0), Some(1));
        r.at = day(20);
        assert_eq!(
            v(decide(&r, &set, &[], &no_uses)),
            Some((2, vec!["/city".to_owned()]))
        );
    }

    #[test]
    fn consent_required_and_found() {
        let set = set_with(true);
        assert_eq!(
            code(&decide(&request(), &set, &[], &no_uses)),
            Some("consent_required")
        );
        let consents = [active_consent("cns-1")];
        match decide(&request(), &set, &consents, &no_uses) {
            Decision::Permit { consent, .. } => assert_eq!(consent, Some(consent_id("cns-1"))),
            other => panic!("{other:?}"),
        }
        // A consent for another purpose, agency, person or record type does not count.
        let mut r = request();
        r.purpose = purpose("tax-assessment");
        let mut t = terms(Consumer::Agency(agency(AGENCY)), "person.address", 1);
        t.consent_required = true;
        t.purposes.push(purpose("tax-assessment"));
        let mut set2 = AuthorizationSet::new();
        let a = Authorization::new(auth_id("auth-2"), t, day(1)).unwrap_or_else(|e| panic!("{e}"));
        assert!(set2.publish(a).is_ok());
        assert_eq!(
            code(&decide(&r, &set2, &consents, &no_uses)),
            Some("consent_required")
        );
        let mut other_person = consents[0].terms().clone();
        other_person.person = other_person_id();
        let c = Consent::grant(consent_id("cns-9"), other_person, day(1))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            code(&decide(&request(), &set, &[c], &no_uses)),
            Some("consent_required")
        );
        // The named consent must be one that covers the lookup.
        let mut r = request();
        r.consent_id = Some(consent_id("cns-404"));
        assert_eq!(
            code(&decide(&r, &set, &consents, &no_uses)),
            Some("consent_required")
        );
    }

    #[test]
    fn consent_states_deny() {
        let set = set_with(true);
        let terms = active_consent("cns-1").terms().clone();
        let pending = Consent::request(consent_id("cns-1"), terms.clone(), day(1))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            code(&decide(
                &request(),
                &set,
                std::slice::from_ref(&pending),
                &no_uses
            )),
            Some("consent_pending")
        );

        let mut paused = active_consent("cns-1");
        assert!(paused.pause(day(2)).is_ok());
        assert_eq!(
            code(&decide(&request(), &set, &[paused], &no_uses)),
            Some("consent_paused")
        );

        let mut revoked = active_consent("cns-1");
        assert!(revoked.revoke(day(2)).is_ok());
        assert_eq!(
            code(&decide(&request(), &set, &[revoked], &no_uses)),
            Some("consent_revoked")
        );

        // Expired by time even though the state still says active.
        let mut r = request();
        r.at = day(50);
        assert_eq!(
            code(&decide(&r, &set, &[active_consent("cns-1")], &no_uses)),
            Some("consent_expired")
        );

        let mut rejected = pending;
        assert!(rejected.reject(day(2)).is_ok());
        assert_eq!(
            code(&decide(&request(), &set, &[rejected], &no_uses)),
            Some("consent_required")
        );

        // Not yet in its window.
        let mut later = terms;
        later.valid_from = day(20);
        let later =
            Consent::grant(consent_id("cns-2"), later, day(1)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            code(&decide(&request(), &set, &[later], &no_uses)),
            Some("consent_required")
        );
    }

    #[test]
    fn use_limits() {
        let set = set_with(true);
        let mut terms = active_consent("cns-1").terms().clone();
        terms.frequency = FetchFrequency::MaxPer {
            count: 3,
            period: Period::Day,
        };
        let c =
            Consent::grant(consent_id("cns-1"), terms, day(1)).unwrap_or_else(|e| panic!("{e}"));
        let consents = [c];
        assert!(decide(&request(), &set, &consents, &|_| 2).is_permit());
        assert_eq!(
            code(&decide(&request(), &set, &consents, &|_| 3)),
            Some("consent_use_exhausted")
        );
        let once = [active_consent("cns-2")];
        assert!(decide(&request(), &set, &once, &|_| 0).is_permit());
        assert_eq!(
            code(&decide(&request(), &set, &once, &|_| 1)),
            Some("consent_use_exhausted")
        );
    }

    #[test]
    fn best_consent_is_chosen_and_named_consent_is_binding() {
        let set = set_with(true);
        let mut revoked = active_consent("cns-1");
        assert!(revoked.revoke(day(2)).is_ok());
        let mut paused = active_consent("cns-2");
        assert!(paused.pause(day(2)).is_ok());
        let good = active_consent("cns-3");
        let consents = [revoked, paused, good];
        match decide(&request(), &set, &consents, &no_uses) {
            Decision::Permit { consent, .. } => assert_eq!(consent, Some(consent_id("cns-3"))),
            other => panic!("{other:?}"),
        }
        // Without a usable one, the most telling refusal is reported.
        assert_eq!(
            code(&decide(&request(), &set, &consents[..2], &no_uses)),
            Some("consent_paused")
        );
        // A named consent is the only one considered.
        let mut r = request();
        r.consent_id = Some(consent_id("cns-1"));
        assert_eq!(
            code(&decide(&r, &set, &consents, &no_uses)),
            Some("consent_revoked")
        );
        // The exhausted one is skipped for another with room.
        let uses = |id: &ConsentId| u32::from(id.as_str() == "cns-3");
        let two = [active_consent("cns-3"), active_consent("cns-4")];
        match decide(&request(), &set, &two, &uses) {
            Decision::Permit { consent, .. } => assert_eq!(consent, Some(consent_id("cns-4"))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_basis_without_consent_wins_over_a_missing_consent() {
        let mut set = set_with(true);
        let t = terms(
            Consumer::SectorRole {
                sector: Sector::Social,
                role: Role::Consumer,
            },
            "person.address",
            1,
        );
        let a = Authorization::new(auth_id("auth-2"), t, day(1)).unwrap_or_else(|e| panic!("{e}"));
        assert!(set.publish(a).is_ok());
        match decide(&request(), &set, &[], &no_uses) {
            Decision::Permit {
                authorization,
                consent,
                ..
            } => {
                assert_eq!(authorization.id, auth_id("auth-2"));
                assert_eq!(consent, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deny_codes_are_stable() {
        let codes: Vec<&str> = DenyCode::ALL.iter().map(DenyCode::as_str).collect();
        assert_eq!(
            codes,
            [
                "no_authorization",
                "purpose_not_allowed",
                "authorization_not_in_force",
                "consent_required",
                "consent_pending",
                "consent_paused",
                "consent_revoked",
                "consent_expired",
                "consent_use_exhausted",
                "agency_suspended",
                "person_inactive",
            ]
        );
        for code in DenyCode::ALL {
            let json = serde_json::to_value(code).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(json, code.as_str());
        }
    }
}
