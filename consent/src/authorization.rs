//! Authorizations: the legal basis that lets an agency (or every agency of a
//! sector with a role) obtain a record type for some purposes.
//!
//! An authorization is never edited in place. A change publishes a new
//! version that takes over from a date; the old version is closed at that
//! date and stays readable in the [`AuthorizationSet`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use identity::{AgencyId, Role, Sector};
use schemas::RecordTypeName;
use serde::{Deserialize, Serialize};

use crate::ids::AuthorizationId;
use crate::purpose::PurposeCode;

/// Why an authorization, or a change to the set of authorizations, is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationError {
    /// No field is granted.
    #[error("an authorization grants at least one field")]
    NoFields,
    /// A granted field is not a JSON Pointer.
    #[error("granted field {field:?} is not a JSON Pointer")]
    InvalidField {
        /// The text given.
        field: String,
    },
    /// No purpose is allowed.
    #[error("an authorization allows at least one purpose")]
    NoPurposes,
    /// `valid_until` is not after `valid_from`.
    #[error("an authorization's validity ends after it starts")]
    EmptyValidity,
    /// Versions are numbered from 1.
    #[error("authorization versions are numbered from 1")]
    InvalidVersion,
    /// The legal reference has no title.
    #[error("a legal reference has a title")]
    LegalTitleEmpty,
    /// The legal reference's URL is not an absolute http(s) URL.
    #[error("a legal reference has an absolute http(s) URL")]
    LegalUrlInvalid,
    /// An authorization with this id is already published.
    #[error("authorization {id} already exists")]
    Duplicate {
        /// The id.
        id: AuthorizationId,
    },
    /// No authorization has this id.
    #[error("no authorization {id}")]
    Unknown {
        /// The id.
        id: AuthorizationId,
    },
    /// The versions of an authorization are not 1, 2, … without a gap.
    #[error("authorization {id}: expected version {expected}, found {found}")]
    VersionGap {
        /// The id.
        id: AuthorizationId,
        /// The version that should come next.
        expected: u32,
        /// The version found.
        found: u32,
    },
    /// A superseded version is only readable; a latest version is not
    /// superseded.
    #[error("authorization {id} version {version}: inconsistent supersession")]
    Supersession {
        /// The id.
        id: AuthorizationId,
        /// The version.
        version: u32,
    },
    /// The new version would take over before the old one starts.
    #[error("a new version cannot take over before the version it supersedes starts")]
    SupersededBeforeStart,
    /// The new version would take over after the old one has ended.
    #[error("a new version cannot take over after the version it supersedes has ended")]
    SupersededAfterEnd,
}

impl AuthorizationError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoFields => "authorization_no_fields",
            Self::InvalidField { .. } => "authorization_invalid_field",
            Self::NoPurposes => "authorization_no_purposes",
            Self::EmptyValidity => "authorization_empty_validity",
            Self::InvalidVersion => "authorization_invalid_version",
            Self::LegalTitleEmpty => "legal_reference_title_empty",
            Self::LegalUrlInvalid => "legal_reference_url_invalid",
            Self::Duplicate { .. } => "authorization_exists",
            Self::Unknown { .. } => "authorization_unknown",
            Self::VersionGap { .. } => "authorization_version_gap",
            Self::Supersession { .. } => "authorization_supersession_inconsistent",
            Self::SupersededBeforeStart => "supersession_before_start",
            Self::SupersededAfterEnd => "supersession_after_end",
        }
    }
}

/// The legal text a rule rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalReference {
    /// E.g. `Law of 15 January 1990, art. 5`.
    pub title: String,
    /// Where to read it, an absolute http(s) URL.
    pub url: String,
}

impl LegalReference {
    /// Checks a non-blank title and an absolute http(s) URL with a host.
    pub fn validate(&self) -> Result<(), AuthorizationError> {
        if self.title.trim().is_empty() {
            return Err(AuthorizationError::LegalTitleEmpty);
        }
        let rest = self
            .url
            .strip_prefix("https://")
            .or_else(|| self.url.strip_prefix("http://"));
        let host_ok = rest.is_some_and(|r| {
            let host = r.split(['/', '?', '#']).next().unwrap_or_default();
            !host.is_empty()
        });
        if !host_ok
            || self
                .url
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(AuthorizationError::LegalUrlInvalid);
        }
        Ok(())
    }
}

/// Who may ask under an authorization.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Consumer {
    /// One agency.
    Agency(AgencyId),
    /// Every agency of `sector` that plays `role`.
    SectorRole {
        /// The sector.
        sector: Sector,
        /// The role.
        role: Role,
    },
}

impl Consumer {
    /// Whether an agency with this id, sector and roles is covered.
    pub fn covers(&self, agency: &AgencyId, sector: Sector, roles: &[Role]) -> bool {
        match self {
            Self::Agency(id) => id == agency,
            Self::SectorRole { sector: s, role } => *s == sector && roles.contains(role),
        }
    }

    /// 0 for one agency, 1 for a sector and role: lower is more specific.
    fn rank(&self) -> u8 {
        match self {
            Self::Agency(_) => 0,
            Self::SectorRole { .. } => 1,
        }
    }
}

/// Names one version of an authorization.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AuthorizationKey {
    /// The authorization.
    pub id: AuthorizationId,
    /// Its version.
    pub version: u32,
}

impl fmt::Display for AuthorizationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@v{}", self.id, self.version)
    }
}

/// What an authorization says: everything but its id, version and dates of
/// start and supersession. A new version is published from new terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationTerms {
    /// Who may ask.
    pub consumer: Consumer,
    /// The record type.
    pub record_type: RecordTypeName,
    /// Its major version (every minor of it).
    pub major: u32,
    /// The granted fields, as JSON Pointers into the record.
    pub fields: Vec<String>,
    /// The purposes the records may be obtained for.
    pub purposes: Vec<PurposeCode>,
    /// The legal basis.
    pub legal_reference: LegalReference,
    /// When the authorization ends (exclusive), if it does.
    pub valid_until: Option<DateTime<Utc>>,
    /// Whether the person's consent is also needed.
    pub consent_required: bool,
}

/// One version of an authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    /// The authorization, across versions.
    pub id: AuthorizationId,
    /// This version, from 1.
    pub version: u32,
    /// Who may ask.
    pub consumer: Consumer,
    /// The record type.
    pub record_type: RecordTypeName,
    /// Its major version (every minor of it).
    pub major: u32,
    /// The granted fields, as JSON Pointers into the record.
    pub fields: Vec<String>,
    /// The purposes the records may be obtained for.
    pub purposes: Vec<PurposeCode>,
    /// The legal basis.
    pub legal_reference: LegalReference,
    /// When this version starts to apply (inclusive).
    pub valid_from: DateTime<Utc>,
    /// When it ends (exclusive), if it does.
    pub valid_until: Option<DateTime<Utc>>,
    /// Whether the person's consent is also needed.
    pub consent_required: bool,
    /// When a newer version takes over (exclusive end of this one).
    pub superseded_from: Option<DateTime<Utc>>,
}

impl Authorization {
    /// Version 1 of a new authorization, in force from `valid_from`.
    pub fn new(
        id: AuthorizationId,
        terms: AuthorizationTerms,
        valid_from: DateTime<Utc>,
    ) -> Result<Self, AuthorizationError> {
        let authorization = Self::from_terms(id, 1, terms, valid_from);
        authorization.validate()?;
        Ok(authorization)
    }

    fn from_terms(
        id: AuthorizationId,
        version: u32,
        terms: AuthorizationTerms,
        valid_from: DateTime<Utc>,
    ) -> Self {
        let AuthorizationTerms {
            consumer,
            record_type,
            major,
            fields,
            purposes,
            legal_reference,
            valid_until,
            consent_required,
        } = terms;
        Self {
            id,
            version,
            consumer,
            record_type,
            major,
            fields,
            purposes,
            legal_reference,
            valid_from,
            valid_until,
            consent_required,
            superseded_from: None,
        }
    }

    /// Checks the rules every version follows.
    pub fn validate(&self) -> Result<(), AuthorizationError> {
        if self.version == 0 {
            return Err(AuthorizationError::InvalidVersion);
        }
        if self.fields.is_empty() {
            return Err(AuthorizationError::NoFields);
        }
        if let Some(field) = self.fields.iter().find(|f| !schemas::pointer::is_valid(f)) {
            return Err(AuthorizationError::InvalidField {
                field: field.clone(),
            });
        }
        if self.purposes.is_empty() {
            return Err(AuthorizationError::NoPurposes);
        }
        if self
            .valid_until
            .is_some_and(|until| until <= self.valid_from)
        {
            return Err(AuthorizationError::EmptyValidity);
        }
        self.legal_reference.validate()
    }

    /// This version's id and number.
    pub fn key(&self) -> AuthorizationKey {
        AuthorizationKey {
            id: self.id.clone(),
            version: self.version,
        }
    }

    /// When this version stops applying: its end of validity or its
    /// supersession, whichever comes first.
    pub fn end(&self) -> Option<DateTime<Utc>> {
        match (self.valid_until, self.superseded_from) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether this version applies at `at`: from `valid_from` (inclusive) to
    /// [`Authorization::end`] (exclusive).
    pub fn in_force_at(&self, at: DateTime<Utc>) -> bool {
        self.valid_from <= at && self.end().is_none_or(|end| at < end)
    }

    /// Whether `purpose` is one of the allowed purposes.
    pub fn allows_purpose(&self, purpose: &PurposeCode) -> bool {
        self.purposes.iter().any(|p| p == purpose)
    }
}

/// The versions about one record type, per major version, most specific
/// first.
type ByMajor = Vec<(u32, Vec<Arc<Authorization>>)>;

/// Every version of every authorization, with an index by record type and
/// major version for the access decision.
///
/// Build it once from storage and share it; rebuild or change it when an
/// authorization is published or superseded.
#[derive(Debug, Clone, Default)]
pub struct AuthorizationSet {
    /// Versions of each authorization, oldest first.
    versions: BTreeMap<AuthorizationId, Vec<Arc<Authorization>>>,
    /// Record type name → (major, versions for it, most specific first).
    index: HashMap<String, ByMajor>,
}

impl AuthorizationSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Restores a set from stored versions, in any order. Each
    /// authorization's versions must run 1, 2, … without a gap, every version
    /// but the last must be superseded and the last must not be.
    pub fn from_versions(
        versions: impl IntoIterator<Item = Authorization>,
    ) -> Result<Self, AuthorizationError> {
        let mut grouped: BTreeMap<AuthorizationId, Vec<Authorization>> = BTreeMap::new();
        for version in versions {
            version.validate()?;
            grouped.entry(version.id.clone()).or_default().push(version);
        }
        let mut set = Self::new();
        for (id, mut list) in grouped {
            list.sort_by_key(|a| a.version);
            let last = list.len();
            for (position, authorization) in list.iter().enumerate() {
                let expected = u32::try_from(position + 1).unwrap_or(u32::MAX);
                if authorization.version != expected {
                    return Err(AuthorizationError::VersionGap {
                        id: id.clone(),
                        expected,
                        found: authorization.version,
                    });
                }
                let is_last = position + 1 == last;
                if authorization.superseded_from.is_some() == is_last {
                    return Err(AuthorizationError::Supersession {
                        id: id.clone(),
                        version: authorization.version,
                    });
                }
            }
            set.versions
                .insert(id, list.into_iter().map(Arc::new).collect());
        }
        set.reindex();
        Ok(set)
    }

    /// Publishes version 1 of a new authorization.
    pub fn publish(
        &mut self,
        authorization: Authorization,
    ) -> Result<&Authorization, AuthorizationError> {
        authorization.validate()?;
        if self.versions.contains_key(&authorization.id) {
            return Err(AuthorizationError::Duplicate {
                id: authorization.id,
            });
        }
        if authorization.version != 1 {
            return Err(AuthorizationError::VersionGap {
                id: authorization.id,
                expected: 1,
                found: authorization.version,
            });
        }
        if authorization.superseded_from.is_some() {
            return Err(AuthorizationError::Supersession {
                id: authorization.id,
                version: 1,
            });
        }
        let id = authorization.id.clone();
        self.versions
            .insert(id.clone(), vec![Arc::new(authorization)]);
        self.reindex();
        self.latest(&id).ok_or(AuthorizationError::Unknown { id })
    }

    /// Publishes a new version of authorization `id` with `terms`, in force
    /// from `from`; the current latest version is closed at `from`. Returns
    /// the new version.
    pub fn supersede(
        &mut self,
        id: &AuthorizationId,
        terms: AuthorizationTerms,
        from: DateTime<Utc>,
    ) -> Result<&Authorization, AuthorizationError> {
        let unknown = || AuthorizationError::Unknown { id: id.clone() };
        let list = self.versions.get_mut(id).ok_or_else(unknown)?;
        let old = list.last().ok_or_else(unknown)?;
        if from < old.valid_from {
            return Err(AuthorizationError::SupersededBeforeStart);
        }
        if old.end().is_some_and(|end| from > end) {
            return Err(AuthorizationError::SupersededAfterEnd);
        }
        let next = Authorization::from_terms(id.clone(), old.version + 1, terms, from);
        next.validate()?;
        let mut closed = Authorization::clone(old);
        closed.superseded_from = Some(from);
        if let Some(slot) = list.last_mut() {
            *slot = Arc::new(closed);
        }
        list.push(Arc::new(next));
        self.reindex();
        self.latest(id).ok_or_else(unknown)
    }

    fn reindex(&mut self) {
        let mut index: HashMap<String, ByMajor> = HashMap::new();
        for authorization in self.versions.values().flatten() {
            let majors = index
                .entry(authorization.record_type.as_str().to_owned())
                .or_default();
            let slot = match majors.iter().position(|(m, _)| *m == authorization.major) {
                Some(i) => &mut majors[i].1,
                None => {
                    majors.push((authorization.major, Vec::new()));
                    let last = majors.len() - 1;
                    &mut majors[last].1
                }
            };
            slot.push(Arc::clone(authorization));
        }
        for list in index.values_mut().flat_map(|m| m.iter_mut()) {
            list.1.sort_by(|a, b| {
                (a.consumer.rank(), &a.id, std::cmp::Reverse(a.version)).cmp(&(
                    b.consumer.rank(),
                    &b.id,
                    std::cmp::Reverse(b.version),
                ))
            });
        }
        self.index = index;
    }

    /// Every version about `record_type` at major `major`, in any state:
    /// agency-specific ones first, then by id, newest version first.
    pub fn for_record_type(&self, record_type: &str, major: u32) -> &[Arc<Authorization>] {
        self.index
            .get(record_type)
            .and_then(|majors| majors.iter().find(|(m, _)| *m == major))
            .map_or(&[], |(_, list)| list.as_slice())
    }

    /// One version.
    pub fn get(&self, id: &AuthorizationId, version: u32) -> Option<&Authorization> {
        let index = usize::try_from(version.checked_sub(1)?).ok()?;
        self.versions.get(id)?.get(index).map(|a| &**a)
    }

    /// The latest version of an authorization.
    pub fn latest(&self, id: &AuthorizationId) -> Option<&Authorization> {
        self.versions.get(id)?.last().map(|a| &**a)
    }

    /// Every version of an authorization, oldest first.
    pub fn history(&self, id: &AuthorizationId) -> impl Iterator<Item = &Authorization> {
        self.versions.get(id).into_iter().flatten().map(|a| &**a)
    }

    /// Every version of every authorization.
    pub fn iter(&self) -> impl Iterator<Item = &Authorization> {
        self.versions.values().flatten().map(|a| &**a)
    }

    /// The versions in force at `at` (at most one per authorization).
    pub fn in_force(&self, at: DateTime<Utc>) -> impl Iterator<Item = &Authorization> {
        self.iter().filter(move |a| a.in_force_at(at))
    }

    /// The versions in force at `at` under which this agency may ask.
    pub fn for_consumer<'a>(
        &'a self,
        agency: &'a AgencyId,
        sector: Sector,
        roles: &'a [Role],
        at: DateTime<Utc>,
    ) -> impl Iterator<Item = &'a Authorization> {
        self.in_force(at)
            .filter(move |a| a.consumer.covers(agency, sector, roles))
    }

    /// How many authorizations (not versions).
    pub fn len(&self) -> usize {
        self.versions.len()
    }

    /// Whether there is no authorization.
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn legal_references() {
        let ok = legal();
        assert_eq!(ok.validate(), Ok(()));
        let code = |title: &str, url: &str| {
            LegalReference {
                title: title.into(),
                url: url.into(),
            }
            .validate()
            .err()
            .map(|e| e.code())
        };
        assert_eq!(
            code(" ", "https://x.gov"),
            Some("legal_reference_title_empty")
        );
        assert_eq!(
            code("Law", "x.gov/law"),
            Some("legal_reference_url_invalid")
        );
        assert_eq!(
            code("Law", "https:///law"),
            Some("legal_reference_url_invalid")
        );
        assert_eq!(
            code("Law", "https://x.gov/a b"),
            Some("legal_reference_url_invalid")
        );
        assert_eq!(code("Law", "http://x.gov/law#5"), None);
    }

    #[test]
    fn validation_codes() {
        let base = || terms(Consumer::Agency(agency("BE-1")), "person.address", 1);
        let new = |t: AuthorizationTerms| {
            Authorization::new(auth_id("auth-1"), t, day(1))
                .err()
                .map(|e| e.code())
        };
        assert_eq!(new(base()), None);
        let mut t = base();
        t.fields.clear();
        assert_eq!(new(t), Some("authorization_no_fields"));
        let mut t = base();
        t.fields.push("street".into());
        assert_eq!(new(t), Some("authorization_invalid_field"));
        let mut t = base();
        t.purposes.clear();
        assert_eq!(new(t), Some("authorization_no_purposes"));
        let mut t = base();
        t.valid_until = Some(day(1));
        assert_eq!(new(t), Some("authorization_empty_validity"));
        let mut t = base();
        t.legal_reference.url = "nope".into();
        assert_eq!(new(t), Some("legal_reference_url_invalid"));
    }

    #[test]
    fn in_force_window_is_half_open() {
        let mut t = terms(Consumer::Agency(agency("BE-1")), "person.address", 1);
        t.valid_until = Some(day(10));
        let a = Authorization::new(auth_id("auth-1"), t, day(1)).unwrap_or_else(|e| panic!("{e}"));
        assert!(!a.in_force_at(day(1) - chrono::Duration::seconds(1)));
        assert!(a.in_force_at(day(1)));
        assert!(a.in_force_at(day(10) - chrono::Duration::seconds(1)));
        assert!(!a.in_force_at(day(10)));
    }

    #[test]
    fn supersede_closes_the_old_version_and_keeps_history() {
        let mut set = AuthorizationSet::new();
        let id = auth_id("auth-1");
        let a = Authorization::new(
            id.clone(),
            terms(Consumer::Agency(agency("BE-1")), "person.address", 1),
            day(1),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(set.publish(a.clone()).is_ok());
        assert_eq!(
            set.publish(a).err().map(|e| e.code()),
            Some("authorization_exists")
        );

        let mut next = terms(Consumer::Agency(agency("BE-1")), "person.address", 1);
        next.fields = vec!["/street".into()];
        let v2 = set
            .supersede(&id, next.clone(), day(5))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v2.version, 2);
        assert_eq!(v2.valid_from, day(5));
        assert_eq!(v2.superseded_from, None);

        let v1 = set.get(&id, 1).unwrap_or_else(|| panic!("v1"));
        assert_eq!(v1.superseded_from, Some(day(5)));
        assert_eq!(set.history(&id).count(), 2);
        assert_eq!(set.len(), 1);

        let in_force = |at| set.in_force(at).map(|a| a.version).collect::<Vec<_>>();
        assert_eq!(in_force(day(0)), Vec::<u32>::new());
        assert_eq!(in_force(day(4)), vec![1]);
        assert_eq!(in_force(day(5)), vec![2]);
        assert_eq!(in_force(day(50)), vec![2]);

        // Not before the latest version starts, not for an unknown id.
        assert_eq!(
            set.supersede(&id, next.clone(), day(4))
                .err()
                .map(|e| e.code()),
            Some("supersession_before_start")
        );
        assert_eq!(
            set.supersede(&auth_id("auth-2"), next.clone(), day(6))
                .err()
                .map(|e| e.code()),
            Some("authorization_unknown")
        );
        // The new terms are validated and nothing changes on refusal.
        let mut bad = next.clone();
        bad.purposes.clear();
        assert_eq!(
            set.supersede(&id, bad, day(6)).err().map(|e| e.code()),
            Some("authorization_no_purposes")
        );
        assert_eq!(set.history(&id).count(), 2);
    }

    #[test]
    fn cannot_supersede_after_the_end() {
        let mut set = AuthorizationSet::new();
        let id = auth_id("auth-1");
        let mut t = terms(Consumer::Agency(agency("BE-1")), "person.address", 1);
        t.valid_until = Some(day(10));
        let a = Authorization::new(id.clone(), t.clone(), day(1)).unwrap_or_else(|e| panic!("{e}"));
        assert!(set.publish(a).is_ok());
        t.valid_until = None;
        assert_eq!(
            set.supersede(&id, t.clone(), day(11))
                .err()
                .map(|e| e.code()),
            Some("supersession_after_end")
        );
        // Taking over exactly at the end continues the rule without a gap.
        assert!(set.supersede(&id, t, day(10)).is_ok());
    }

    #[test]
    fn restore_from_versions() {
        let id = auth_id("auth-1");
        let t = terms(Consumer::Agency(agency("BE-1")), "person.address", 1);
        let v1 =
            Authorization::new(id.clone(), t.clone(), day(1)).unwrap_or_else(|e| panic!("{e}"));
        let mut closed = v1.clone();
        closed.superseded_from = Some(day(3));
        let mut v2 = v1.clone();
        v2.version = 2;
        v2.valid_from = day(3);

        let set = AuthorizationSet::from_versions([v2.clone(), closed.clone()])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.latest(&id).map(|a| a.version), Some(2));
        assert_eq!(set.for_record_type("person.address", 1).len(), 2);
        assert!(set.for_record_type("person.address", 2).is_empty());
        assert!(set.for_record_type("person.other", 1).is_empty());

        let gap = AuthorizationSet::from_versions([v2.clone()])
            .err()
            .map(|e| e.code());
        assert_eq!(gap, Some("authorization_version_gap"));
        let open = AuthorizationSet::from_versions([v1, v2])
            .err()
            .map(|e| e.code());
        assert_eq!(open, Some("authorization_supersession_inconsistent"));
    }

    #[test]
    fn consumers_and_index_order() {
        let be1 = agency("BE-1");
        let be2 = agency("BE-2");
        let sector = Consumer::SectorRole {
            sector: Sector::Social,
            role: Role::Consumer,
        };
        assert!(sector.covers(&be1, Sector::Social, &[Role::Provider, Role::Consumer]));
        assert!(!sector.covers(&be1, Sector::Tax, &[Role::Consumer]));
        assert!(!sector.covers(&be1, Sector::Social, &[Role::Provider]));
        assert!(Consumer::Agency(be1.clone()).covers(&be1, Sector::Tax, &[]));
        assert!(!Consumer::Agency(be1.clone()).covers(&be2, Sector::Tax, &[]));

        let mut set = AuthorizationSet::new();
        for (id, consumer) in [
            ("auth-a", sector),
            ("auth-b", Consumer::Agency(be1.clone())),
        ] {
            let a = Authorization::new(auth_id(id), terms(consumer, "person.address", 1), day(1))
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(set.publish(a).is_ok());
        }
        let order: Vec<&str> = set
            .for_record_type("person.address", 1)
            .iter()
            .map(|a| a.id.as_str())
            .collect();
        assert_eq!(order, ["auth-b", "auth-a"]);
        assert_eq!(
            set.for_consumer(&be2, Sector::Social, &[Role::Consumer], day(2))
                .count(),
            1
        );
    }

    #[test]
    fn serde_round_trip() {
        let a = Authorization::new(
            auth_id("auth-1"),
            terms(
                Consumer::SectorRole {
                    sector: Sector::Social,
                    role: Role::Consumer,
                },
                "person.address",
                1,
            ),
            day(1),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::to_value(&a).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            json["consumer"],
            serde_json::json!({"sector_role": {"sector": "social", "role": "consumer"}})
        );
        let back: Authorization = serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, a);
    }
}
