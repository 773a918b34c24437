//! Consents, in the spirit of India's Account Aggregator consent artefact: a
//! person lets one agency obtain some record types for one purpose, within a
//! window, at most so often.
//!
//! States and the transitions between them:
//!
//! ```text
//! pending ──approve──▶ active ◀──resume── paused
//!    │                  │  └────pause────▶  │
//!  reject               ├──revoke──▶ revoked ◀──revoke──┤
//!    ▼                  └──expire──▶ expired ◀──expire──┘
//! rejected
//! ```
//!
//! Every change bumps the consent's revision, so a new artefact is made.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use identity::{AgencyId, CommonId};
use schemas::{RecordType, RecordTypeRef, VersionReq};
use serde::{Deserialize, Serialize};

use crate::ids::ConsentId;
use crate::purpose::PurposeCode;

/// The state of a consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    /// Requested by an agency, awaiting the person's answer.
    Pending,
    /// In effect.
    Active,
    /// Suspended by the person; can be resumed.
    Paused,
    /// Refused by the person. Final.
    Rejected,
    /// Withdrawn by the person. Final.
    Revoked,
    /// Past its window. Final.
    Expired,
}

impl ConsentState {
    /// The snake_case name, as in serde.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Rejected => "rejected",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }

    /// Whether no transition leaves this state.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Rejected | Self::Revoked | Self::Expired)
    }

    fn to(self, to: Self, allowed: bool) -> Result<Self, TransitionError> {
        if allowed {
            Ok(to)
        } else {
            Err(TransitionError::IllegalTransition { from: self, to })
        }
    }

    /// `pending → active`.
    pub fn approve(self) -> Result<Self, TransitionError> {
        self.to(Self::Active, self == Self::Pending)
    }

    /// `pending → rejected`.
    pub fn reject(self) -> Result<Self, TransitionError> {
        self.to(Self::Rejected, self == Self::Pending)
    }

    /// `active → paused`.
    pub fn pause(self) -> Result<Self, TransitionError> {
        self.to(Self::Paused, self == Self::Active)
    }

    /// `paused → active`.
    pub fn resume(self) -> Result<Self, TransitionError> {
        self.to(Self::Active, self == Self::Paused)
    }

    /// `active | paused → revoked`.
    pub fn revoke(self) -> Result<Self, TransitionError> {
        self.to(Self::Revoked, matches!(self, Self::Active | Self::Paused))
    }

    /// `active | paused → expired`.
    pub fn expire(self) -> Result<Self, TransitionError> {
        self.to(Self::Expired, matches!(self, Self::Active | Self::Paused))
    }
}

impl fmt::Display for ConsentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state change the current state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// `from → to` is not a transition of the consent lifecycle.
    #[error("a consent cannot go from {from} to {to}")]
    IllegalTransition {
        /// The current state.
        from: ConsentState,
        /// The state asked for.
        to: ConsentState,
    },
}

impl TransitionError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::IllegalTransition { .. } => "illegal_transition",
        }
    }
}

/// The unit of a fetch-frequency period, as calendar periods in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// From 00:00 UTC.
    Day,
    /// From Monday 00:00 UTC (ISO 8601 weeks).
    Week,
    /// From the first of the month, 00:00 UTC.
    Month,
    /// From 1 January, 00:00 UTC.
    Year,
}

impl Period {
    /// The start of the period that contains `at`.
    pub fn start(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let date = at.date_naive();
        let first = match self {
            Self::Day => Some(date),
            Self::Week => date.checked_sub_signed(Duration::days(i64::from(
                date.weekday().num_days_from_monday(),
            ))),
            Self::Month => NaiveDate::from_ymd_opt(date.year(), date.month(), 1),
            Self::Year => NaiveDate::from_ymd_opt(date.year(), 1, 1),
        };
        first
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map_or(at, |d| d.and_utc())
    }
}

/// How often data may be fetched under a consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FetchFrequency {
    /// A single fetch over the whole window.
    Once,
    /// At most `count` fetches per calendar `period`.
    MaxPer {
        /// The most fetches in one period (at least 1).
        #[serde(deserialize_with = "schemas::numbers::whole_u32")]
        count: u32,
        /// The period.
        period: Period,
    },
}

impl FetchFrequency {
    /// Whether one more fetch is allowed after `used` fetches in the current
    /// period (see [`Consent::usage_period_start`]).
    pub fn allows_another(&self, used: u32) -> bool {
        match self {
            Self::Once => used == 0,
            Self::MaxPer { count, .. } => used < *count,
        }
    }

    /// The most fetches in one period.
    pub fn limit(&self) -> u32 {
        match self {
            Self::Once => 1,
            Self::MaxPer { count, .. } => *count,
        }
    }
}

/// Why a consent cannot be made or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    /// The state does not allow the change.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// No record type is named.
    #[error("a consent covers at least one record type")]
    NoRecordTypes,
    /// The window ends before or when it starts.
    #[error("a consent's window ends after it starts")]
    EmptyWindow,
    /// A frequency of zero fetches per period.
    #[error("a consent allows at least one fetch per period")]
    ZeroFrequency,
    /// The window is over: the consent can no longer be approved, granted or
    /// resumed.
    #[error("the consent's window ended at {until}")]
    WindowEnded {
        /// The end of the window.
        until: DateTime<Utc>,
    },
    /// A stored revision of 0.
    #[error("consent revisions are numbered from 1")]
    InvalidRevision,
}

impl ConsentError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Transition(e) => e.code(),
            Self::NoRecordTypes => "consent_no_record_types",
            Self::EmptyWindow => "consent_empty_window",
            Self::ZeroFrequency => "consent_zero_frequency",
            Self::WindowEnded { .. } => "consent_window_ended",
            Self::InvalidRevision => "consent_invalid_revision",
        }
    }
}

/// What a consent allows: everything but its id, state and revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentTerms {
    /// Whose data.
    pub person: CommonId,
    /// The agency that may obtain it.
    pub consumer: AgencyId,
    /// The record types covered: `name@major` (every minor) or `name@major.minor`.
    pub record_types: Vec<RecordTypeRef>,
    /// The one purpose.
    pub purpose: PurposeCode,
    /// Start of the window (inclusive).
    pub valid_from: DateTime<Utc>,
    /// End of the window (exclusive).
    pub valid_until: DateTime<Utc>,
    /// How often data may be fetched.
    pub frequency: FetchFrequency,
}

impl ConsentTerms {
    /// Checks at least one record type, a non-empty window, a non-zero
    /// frequency.
    pub fn validate(&self) -> Result<(), ConsentError> {
        if self.record_types.is_empty() {
            return Err(ConsentError::NoRecordTypes);
        }
        if self.valid_until <= self.valid_from {
            return Err(ConsentError::EmptyWindow);
        }
        if self.frequency.limit() == 0 {
            return Err(ConsentError::ZeroFrequency);
        }
        Ok(())
    }

    /// Whether `record_type` is one of the record types covered.
    pub fn covers_record_type(&self, record_type: &RecordType) -> bool {
        self.record_types.iter().any(|r| {
            r.name == record_type.name
                && match r.version {
                    VersionReq::Major(major) => major == record_type.version.major,
                    VersionReq::Exact(version) => version == record_type.version,
                }
        })
    }
}

/// A consent, at one revision. Deserializing checks it as
/// [`Consent::restore`] does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredConsent")]
pub struct Consent {
    id: ConsentId,
    revision: u32,
    #[serde(flatten)]
    terms: ConsentTerms,
    state: ConsentState,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// The serialized form of a [`Consent`], checked on the way in.
#[derive(Deserialize)]
struct StoredConsent {
    id: ConsentId,
    revision: u32,
    #[serde(flatten)]
    terms: ConsentTerms,
    state: ConsentState,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<StoredConsent> for Consent {
    type Error = ConsentError;

    fn try_from(s: StoredConsent) -> Result<Self, Self::Error> {
        Self::restore(
            s.id,
            s.revision,
            s.terms,
            s.state,
            s.created_at,
            s.updated_at,
        )
    }
}

impl Consent {
    /// A consent request made by an agency: pending, revision 1.
    pub fn request(
        id: ConsentId,
        terms: ConsentTerms,
        at: DateTime<Utc>,
    ) -> Result<Self, ConsentError> {
        terms.validate()?;
        Ok(Self {
            id,
            revision: 1,
            terms,
            state: ConsentState::Pending,
            created_at: at,
            updated_at: at,
        })
    }

    /// A consent granted directly by the person: active, revision 1. Refused
    /// when the window is already over at `at`.
    pub fn grant(
        id: ConsentId,
        terms: ConsentTerms,
        at: DateTime<Utc>,
    ) -> Result<Self, ConsentError> {
        let mut consent = Self::request(id, terms, at)?;
        consent.check_window(at)?;
        consent.state = ConsentState::Active;
        Ok(consent)
    }

    /// A consent read back from storage.
    pub fn restore(
        id: ConsentId,
        revision: u32,
        terms: ConsentTerms,
        state: ConsentState,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> Result<Self, ConsentError> {
        terms.validate()?;
        if revision == 0 {
            return Err(ConsentError::InvalidRevision);
        }
        Ok(Self {
            id,
            revision,
            terms,
            state,
            created_at,
            updated_at,
        })
    }

    /// The consent's id (the same across revisions).
    pub fn id(&self) -> &ConsentId {
        &self.id
    }

    /// The revision, from 1, bumped by every change.
    pub fn revision(&self) -> u32 {
        self.revision
    }

    /// What it allows.
    pub fn terms(&self) -> &ConsentTerms {
        &self.terms
    }

    /// The recorded state (see [`Consent::state_at`] for the state in effect).
    pub fn state(&self) -> ConsentState {
        self.state
    }

    /// When it was requested or granted.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// When it last changed.
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    /// The state in effect at `at`: an active or paused consent whose window
    /// is over is expired, even before [`Consent::expire_if_due`] records it.
    pub fn state_at(&self, at: DateTime<Utc>) -> ConsentState {
        match self.state {
            ConsentState::Active | ConsentState::Paused if self.window_ended(at) => {
                ConsentState::Expired
            }
            state => state,
        }
    }

    /// Whether the window is over at `at`.
    pub fn window_ended(&self, at: DateTime<Utc>) -> bool {
        at >= self.terms.valid_until
    }

    /// Whether the window has started at `at`.
    pub fn window_started(&self, at: DateTime<Utc>) -> bool {
        at >= self.terms.valid_from
    }

    /// Since when the uses that count against the fetch frequency at `at` are
    /// counted: the window's start for [`FetchFrequency::Once`], else the start
    /// of the current calendar period (never before the window's start).
    pub fn usage_period_start(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        match self.terms.frequency {
            FetchFrequency::Once => self.terms.valid_from,
            FetchFrequency::MaxPer { period, .. } => period.start(at).max(self.terms.valid_from),
        }
    }

    fn check_window(&self, at: DateTime<Utc>) -> Result<(), ConsentError> {
        if self.window_ended(at) {
            Err(ConsentError::WindowEnded {
                until: self.terms.valid_until,
            })
        } else {
            Ok(())
        }
    }

    fn apply(
        &mut self,
        change: fn(ConsentState) -> Result<ConsentState, TransitionError>,
        at: DateTime<Utc>,
    ) -> Result<(), ConsentError> {
        self.state = change(self.state)?;
        self.revision = self.revision.saturating_add(1);
        self.updated_at = at;
        Ok(())
    }

    /// The person approves a pending request. Refused once the window is
    /// over.
    pub fn approve(&mut self, at: DateTime<Utc>) -> Result<(), ConsentError> {
        self.state.approve()?;
        self.check_window(at)?;
        self.apply(ConsentState::approve, at)
    }

    /// The person rejects a pending request.
    pub fn reject(&mut self, at: DateTime<Utc>) -> Result<(), ConsentError> {
        self.apply(ConsentState::reject, at)
    }

    /// The person pauses an active consent. An active consent whose window
    /// is over has expired and cannot be paused.
    pub fn pause(&mut self, at: DateTime<Utc>) -> Result<(), ConsentError> {
        self.expire_if_due(at);
        self.apply(ConsentState::pause, at)
    }

    /// The person resumes a paused consent. Refused once the window is over.
    pub fn resume(&mut self, at: DateTime<Utc>) -> Result<(), ConsentError> {
        self.expire_if_due(at);
        self.apply(ConsentState::resume, at)
    }

    /// The person revokes an active or paused consent; it takes effect for
    /// every lookup that starts at or after `at`.
    pub fn revoke(&mut self, at: DateTime<Utc>) -> Result<(), ConsentError> {
        self.apply(ConsentState::revoke, at)
    }

    /// Records the expiry of an active or paused consent whose window is
    /// over at `at`. Returns whether the consent changed.
    pub fn expire_if_due(&mut self, at: DateTime<Utc>) -> bool {
        if !self.window_ended(at) {
            return false;
        }
        match self.state.expire() {
            Ok(state) => {
                self.state = state;
                self.revision = self.revision.saturating_add(1);
                self.updated_at = at;
                true
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use ConsentState::*;

    const ALL: [ConsentState; 6] = [Pending, Active, Paused, Rejected, Revoked, Expired];

    type Change = fn(ConsentState) -> Result<ConsentState, TransitionError>;

    fn check_transition(change: Change, to: ConsentState, allowed_from: &[ConsentState]) {
        for from in ALL {
            let result = change(from);
            if allowed_from.contains(&from) {
                assert_eq!(result, Ok(to), "{from} → {to}");
            } else {
                assert_eq!(
                    result,
                    Err(TransitionError::IllegalTransition { from, to }),
                    "{from} → {to} must be refused"
                );
                assert_eq!(result.err().map(|e| e.code()), Some("illegal_transition"));
            }
        }
    }

    #[test]
    fn approve_only_from_pending() {
        check_transition(ConsentState::approve, Active, &[Pending]);
    }

    #[test]
    fn reject_only_from_pending() {
        check_transition(ConsentState::reject, Rejected, &[Pending]);
    }

    #[test]
    fn pause_only_from_active() {
        check_transition(ConsentState::pause, Paused, &[Active]);
    }

    #[test]
    fn resume_only_from_paused() {
        check_transition(ConsentState::resume, Active, &[Paused]);
    }

    #[test]
    fn revoke_from_active_or_paused() {
        check_transition(ConsentState::revoke, Revoked, &[Active, Paused]);
    }

    #[test]
    fn expire_from_active_or_paused() {
        check_transition(ConsentState::expire, Expired, &[Active, Paused]);
    }

    #[test]
    fn final_states() {
        let finals: Vec<_> = ALL.into_iter().filter(ConsentState::is_final).collect();
        assert_eq!(finals, [Rejected, Revoked, Expired]);
    }

    #[test]
    fn error_message_names_both_states() {
        let err = Revoked.resume().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("a consent cannot go from revoked to active")
        );
    }

    #[test]
    fn request_then_lifecycle_bumps_revision() {
        let mut c = Consent::request(consent_id("cns-1"), consent_terms(day(1), day(30)), day(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.state(), c.revision()), (Pending, 1));
        assert!(c.approve(day(2)).is_ok());
        assert_eq!(
            (c.state(), c.revision(), c.updated_at()),
            (Active, 2, day(2))
        );
        assert!(c.pause(day(3)).is_ok());
        assert_eq!((c.state(), c.revision()), (Paused, 3));
        assert!(c.resume(day(4)).is_ok());
        assert_eq!((c.state(), c.revision()), (Active, 4));
        assert!(c.revoke(day(5)).is_ok());
        assert_eq!((c.state(), c.revision()), (Revoked, 5));
        // Refusals leave everything as it was.
        for change in [
            Consent::approve,
            Consent::reject,
            Consent::pause,
            Consent::resume,
            Consent::revoke,
        ] {
            let before = c.clone();
            let err = change(&mut c, day(6)).err().map(|e| e.code());
            assert_eq!(err, Some("illegal_transition"));
            assert_eq!(c, before);
        }
        assert!(!c.expire_if_due(day(40)));
        assert_eq!(c.state(), Revoked);
    }

    #[test]
    fn reject_a_request() {
        let mut c = Consent::request(consent_id("cns-1"), consent_terms(day(1), day(30)), day(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.reject(day(1)).is_ok());
        assert_eq!((c.state(), c.revision()), (Rejected, 2));
        assert_eq!(
            c.approve(day(2)).err().map(|e| e.code()),
            Some("illegal_transition")
        );
    }

    #[test]
    fn grant_starts_active() {
        let c = Consent::grant(consent_id("cns-1"), consent_terms(day(1), day(30)), day(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.state(), c.revision()), (Active, 1));
        let late = Consent::grant(consent_id("cns-1"), consent_terms(day(1), day(30)), day(30));
        assert_eq!(late.err().map(|e| e.code()), Some("consent_window_ended"));
    }

    #[test]
    fn expiry_by_time() {
        let mut c = Consent::grant(consent_id("cns-1"), consent_terms(day(1), day(30)), day(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.state_at(day(29)), Active);
        assert_eq!(c.state_at(day(30)), Expired);
        assert!(!c.expire_if_due(day(29)));
        assert_eq!(c.revision(), 1);
        assert!(c.expire_if_due(day(30)));
        assert_eq!((c.state(), c.revision()), (Expired, 2));
        assert!(!c.expire_if_due(day(31)));
        assert_eq!(c.revision(), 2);

        // Paused consents expire too.
        let mut p = Consent::grant(consent_id("cns-2"), consent_terms(day(1), day(30)), day(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(p.pause(day(2)).is_ok());
        assert_eq!(p.state_at(day(31)), Expired);
        // Resuming after the window has ended records the expiry and refuses.
        assert_eq!(
            p.resume(day(31)).err().map(|e| e.code()),
            Some("illegal_transition")
        );
        assert_eq!(p.state(), Expired);

        // A pending request is not expired by time: it can no longer be
        // approved, but can still be rejected.
        let mut r = Consent::request(consent_id("cns-3"), consent_terms(day(1), day(30)), day(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!r.expire_if_due(day(31)));
        assert_eq!(r.state_at(day(31)), Pending);
        assert_eq!(
            r.approve(day(31)).err().map(|e| e.code()),
            Some("consent_window_ended")
        );
        assert_eq!((r.state(), r.revision()), (Pending, 1));
        assert!(r.reject(day(31)).is_ok());
    }

    #[test]
    fn pausing_an_expired_consent_is_refused() {
        let mut c = Consent::grant(consent_id("cns-1"), consent_terms(day(1), day(30)), day(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.pause(day(30)).err().map(|e| e.code()),
            Some("illegal_transition")
        );
        assert_eq!(c.state(), Expired);
    }

    #[test]
    fn terms_validation() {
        let code = |t: ConsentTerms| {
            Consent::request(consent_id("cns-1"), t, day(0))
                .err()
                .map(|e| e.code())
        };
        let mut t = consent_terms(day(1), day(30));
        t.record_types.clear();
        assert_eq!(code(t), Some("consent_no_record_types"));
        assert_eq!(
            code(consent_terms(day(2), day(2))),
            Some("consent_empty_window")
        );
        let mut t = consent_terms(day(1), day(30));
        t.frequency = FetchFrequency::MaxPer {
            count: 0,
            period: Period::Day,
        };
        assert_eq!(code(t), Some("consent_zero_frequency"));
        let restored = Consent::restore(
            consent_id("cns-1"),
            0,
            consent_terms(day(1), day(30)),
            Active,
            day(0),
            day(0),
        );
        assert_eq!(
            restored.err().map(|e| e.code()),
            Some("consent_invalid_revision")
        );
    }

    #[test]
    fn record_type_coverage() {
        let mut t = consent_terms(day(1), day(30));
        t.record_types = vec![
            record_ref("person.address@1"),
            record_ref("person.income@2.1"),
        ];
        assert!(t.covers_record_type(&record("person.address@1.0")));
        assert!(t.covers_record_type(&record("person.address@1.7")));
        assert!(!t.covers_record_type(&record("person.address@2.0")));
        assert!(t.covers_record_type(&record("person.income@2.1")));
        assert!(!t.covers_record_type(&record("person.income@2.2")));
        assert!(!t.covers_record_type(&record("person.household@1.0")));
    }

    #[test]
    fn calendar_periods() {
        // 2026-03-18 is a Wednesday.
        let at = ts("2026-03-18T15:30:00Z");
        assert_eq!(Period::Day.start(at), ts("2026-03-18T00:00:00Z"));
        assert_eq!(Period::Week.start(at), ts("2026-03-16T00:00:00Z"));
        assert_eq!(Period::Month.start(at), ts("2026-03-01T00:00:00Z"));
        assert_eq!(Period::Year.start(at), ts("2026-01-01T00:00:00Z"));

        let mut t = consent_terms(ts("2026-03-17T12:00:00Z"), ts("2026-06-01T00:00:00Z"));
        t.frequency = FetchFrequency::MaxPer {
            count: 2,
            period: Period::Month,
        };
        let c = Consent::grant(consent_id("cns-1"), t, day(0)).unwrap_or_else(|e| panic!("{e}"));
        // Never before the window's start.
        assert_eq!(c.usage_period_start(at), ts("2026-03-17T12:00:00Z"));
        assert_eq!(
            c.usage_period_start(ts("2026-04-02T00:00:00Z")),
            ts("2026-04-01T00:00:00Z")
        );
        assert!(c.terms().frequency.allows_another(1));
        assert!(!c.terms().frequency.allows_another(2));
        assert!(FetchFrequency::Once.allows_another(0));
        assert!(!FetchFrequency::Once.allows_another(1));
    }

    #[test]
    fn serde_shape() {
        let c = Consent::grant(consent_id("cns-1"), consent_terms(day(1), day(30)), day(0))
            .unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::to_value(&c).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(json["state"], "active");
        assert_eq!(json["id"], "cns-1");
        assert_eq!(json["frequency"]["kind"], "once");
        let back: Consent = serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, c);
        let mut bad = json;
        bad["revision"] = 0.into();
        assert!(serde_json::from_value::<Consent>(bad).is_err());
    }
}
