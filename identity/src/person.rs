//! Persons: their identifying attributes, the normalised key used to find
//! duplicates, their status with its transitions, and the events the registry
//! appends to the audit log.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::common_id::CommonId;

/// Longest name or birth place accepted, in characters.
pub const NAME_MAX_CHARS: usize = 200;

/// Earliest birth date accepted.
pub const EARLIEST_BIRTH_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1880, 1, 1) {
    Some(date) => date,
    None => NaiveDate::MIN,
};

/// Why a person's attributes are not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonError {
    /// The given names are empty or blank.
    #[error("the given names are empty")]
    EmptyGivenNames,
    /// The family name is empty or blank.
    #[error("the family name is empty")]
    EmptyFamilyName,
    /// The birth place is given but blank.
    #[error("the birth place is blank")]
    EmptyBirthPlace,
    /// A name or the birth place is longer than 200 characters.
    #[error("{field} is longer than {NAME_MAX_CHARS} characters")]
    TooLong {
        /// Which field: `given_names`, `family_name` or `birth_place`.
        field: &'static str,
    },
    /// A name or the birth place holds a control character.
    #[error("{field} holds a control character")]
    ControlCharacter {
        /// Which field: `given_names`, `family_name` or `birth_place`.
        field: &'static str,
    },
    /// The birth date is after today.
    #[error("the birth date is in the future")]
    BirthDateInFuture,
    /// The birth date is before 1880-01-01.
    #[error("the birth date is before 1880")]
    BirthDateTooEarly,
}

impl PersonError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::EmptyGivenNames => "given_names_empty",
            Self::EmptyFamilyName => "family_name_empty",
            Self::EmptyBirthPlace => "birth_place_empty",
            Self::TooLong { .. } => "attribute_too_long",
            Self::ControlCharacter { .. } => "attribute_control_character",
            Self::BirthDateInFuture => "birth_date_in_future",
            Self::BirthDateTooEarly => "birth_date_too_early",
        }
    }
}

/// Sex as recorded by the civil registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Recorded as neither (where the law allows it).
    Other,
}

/// The attributes that identify a person in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PersonAttributes {
    /// All given names, in order, separated by spaces.
    pub given_names: String,
    /// The family name (surname).
    pub family_name: String,
    /// Date of birth.
    pub birth_date: NaiveDate,
    /// Place of birth, where known.
    pub birth_place: Option<String>,
    /// Sex, where recorded.
    pub sex: Option<Sex>,
}

fn check_text(field: &'static str, value: &str) -> Result<bool, PersonError> {
    if value.chars().count() > NAME_MAX_CHARS {
        return Err(PersonError::TooLong { field });
    }
    if value.chars().any(char::is_control) {
        return Err(PersonError::ControlCharacter { field });
    }
    Ok(!value.trim().is_empty())
}

impl PersonAttributes {
    /// Checks the attributes: names not blank, at most 200 characters, no
    /// control characters; birth date from 1880-01-01 up to `today`.
    pub fn validate(&self, today: NaiveDate) -> Result<(), PersonError> {
        if !check_text("given_names", &self.given_names)? {
            return Err(PersonError::EmptyGivenNames);
        }
        if !check_text("family_name", &self.family_name)? {
            return Err(PersonError::EmptyFamilyName);
        }
        if let Some(place) = &self.birth_place
            && !check_text("birth_place", place)?
        {
            return Err(PersonError::EmptyBirthPlace);
        }
        if self.birth_date > today {
            return Err(PersonError::BirthDateInFuture);
        }
        if self.birth_date < EARLIEST_BIRTH_DATE {
            return Err(PersonError::BirthDateTooEarly);
        }
        Ok(())
    }

    /// A copy with names and birth place passed through [`normalize_name`].
    pub fn normalized(&self) -> PersonAttributes {
        PersonAttributes {
            given_names: normalize_name(&self.given_names),
            family_name: normalize_name(&self.family_name),
            birth_date: self.birth_date,
            birth_place: self.birth_place.as_deref().map(normalize_name),
            sex: self.sex,
        }
    }

    /// The key under which possible duplicates are looked for: normalised
    /// family name, normalised given names and birth date.
    pub fn match_key(&self) -> MatchKey {
        MatchKey(format!(
            "{}|{}|{}",
            normalize_name(&self.family_name),
            normalize_name(&self.given_names),
            self.birth_date.format("%Y-%m-%d")
        ))
    }
}

/// Key for duplicate detection: `family|given|YYYY-MM-DD`, all normalised.
/// Two persons with the same key are candidates for a merge, to be decided by
/// a registrar.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MatchKey(String);

impl MatchKey {
    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MatchKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Letters that compatibility decomposition leaves whole, written the way
/// registries commonly transliterate them.
fn fold_letter(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'ø' => "o",
        'ł' => "l",
        'đ' | 'ð' => "d",
        'þ' => "th",
        'ı' => "i",
        _ => return None,
    })
}

/// Normalises a name for comparison: compatibility decomposition (NFKD),
/// combining marks dropped, lowercase, a few letters transliterated
/// (`ß`→`ss`, `æ`→`ae`, `ø`→`o`…), hyphens, dashes and whitespace turned into
/// single spaces, and no space at either end.
///
/// `"José  Müller-Lüdenscheid"` and `"jose muller ludenscheid"` both give
/// `"jose muller ludenscheid"`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_space = false;
    for c in name.nfkd().filter(|c| !is_combining_mark(*c)) {
        let separator = c.is_whitespace()
            || matches!(
                c,
                '-' | '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '_'
            );
        if separator {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        for lower in c.to_lowercase() {
            match fold_letter(lower) {
                Some(folded) => out.push_str(folded),
                None => out.push(lower),
            }
        }
    }
    out
}

/// The kind of a [`PersonStatus`], without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusKind {
    /// See [`PersonStatus::Active`].
    Active,
    /// See [`PersonStatus::Deceased`].
    Deceased,
    /// See [`PersonStatus::Inactive`].
    Inactive,
    /// See [`PersonStatus::Replaced`].
    Replaced,
}

/// A status change that the current status does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// `action` is not allowed from status `from`.
    #[error("cannot {action} a person whose status is {from:?}")]
    NotAllowed {
        /// The status the person is in.
        from: StatusKind,
        /// The refused action, e.g. `mark_deceased`.
        action: &'static str,
    },
    /// A person cannot be merged into itself.
    #[error("a person cannot be merged into itself")]
    SelfMerge,
    /// The surviving person of a merge must be active.
    #[error("the surviving person of a merge must be active, not {0:?}")]
    SurvivorNotActive(StatusKind),
    /// A date of death before the date of birth.
    #[error("the date of death is before the date of birth")]
    DeathBeforeBirth,
}

impl TransitionError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAllowed { .. } => "person_status_transition_not_allowed",
            Self::SelfMerge => "person_self_merge",
            Self::SurvivorNotActive(_) => "merge_survivor_not_active",
            Self::DeathBeforeBirth => "death_before_birth",
        }
    }
}

/// Where a person stands in the registry.
///
/// ```text
/// Active ──deactivate──▶ Inactive ──reactivate──▶ Active
/// Active ──mark_deceased──▶ Deceased ──rescind_death──▶ Active
/// Active | Inactive ──replace_by──▶ Replaced   (final)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PersonStatus {
    /// Alive and in use.
    Active,
    /// Died on the given date.
    Deceased {
        /// Date of death.
        on: NaiveDate,
    },
    /// Set aside (e.g. emigrated, or registered in error), can be reactivated.
    Inactive,
    /// Merged into another person, whose identifier is the one to use. Final.
    Replaced {
        /// The surviving person's identifier.
        by: CommonId,
    },
}

impl PersonStatus {
    /// The kind of this status.
    pub fn kind(&self) -> StatusKind {
        match self {
            Self::Active => StatusKind::Active,
            Self::Deceased { .. } => StatusKind::Deceased,
            Self::Inactive => StatusKind::Inactive,
            Self::Replaced { .. } => StatusKind::Replaced,
        }
    }

    fn refuse<T>(self, action: &'static str) -> Result<T, TransitionError> {
        Err(TransitionError::NotAllowed {
            from: self.kind(),
            action,
        })
    }

    /// Active → Deceased on `on`. Only from Active.
    pub fn mark_deceased(self, on: NaiveDate) -> Result<PersonStatus, TransitionError> {
        match self {
            Self::Active => Ok(Self::Deceased { on }),
            other => other.refuse("mark_deceased"),
        }
    }

    /// Like [`PersonStatus::mark_deceased`], also refusing a date of death
    /// before `birth_date`.
    pub fn mark_deceased_after_birth(
        self,
        on: NaiveDate,
        birth_date: NaiveDate,
    ) -> Result<PersonStatus, TransitionError> {
        if on < birth_date {
            return Err(TransitionError::DeathBeforeBirth);
        }
        self.mark_deceased(on)
    }

    /// Deceased → Active, to correct a death recorded in error.
    pub fn rescind_death(self) -> Result<PersonStatus, TransitionError> {
        match self {
            Self::Deceased { .. } => Ok(Self::Active),
            other => other.refuse("rescind_death"),
        }
    }

    /// Active → Inactive.
    pub fn deactivate(self) -> Result<PersonStatus, TransitionError> {
        match self {
            Self::Active => Ok(Self::Inactive),
            other => other.refuse("deactivate"),
        }
    }

    /// Inactive → Active.
    pub fn reactivate(self) -> Result<PersonStatus, TransitionError> {
        match self {
            Self::Inactive => Ok(Self::Active),
            other => other.refuse("reactivate"),
        }
    }

    /// Active or Inactive → Replaced by `by`.
    pub fn replace_by(self, by: CommonId) -> Result<PersonStatus, TransitionError> {
        match self {
            Self::Active | Self::Inactive => Ok(Self::Replaced { by }),
            other => other.refuse("replace"),
        }
    }
}

/// Merges the duplicate `replaced` into `survivor`: the survivor must be
/// Active and differ from the replaced person, who must be Active or Inactive.
/// Returns the replaced person's new status and the event to audit.
pub fn merge(
    survivor: CommonId,
    survivor_status: PersonStatus,
    replaced: CommonId,
    replaced_status: PersonStatus,
) -> Result<(PersonStatus, PersonEvent), TransitionError> {
    if survivor == replaced {
        return Err(TransitionError::SelfMerge);
    }
    if survivor_status != PersonStatus::Active {
        return Err(TransitionError::SurvivorNotActive(survivor_status.kind()));
    }
    let status = replaced_status.replace_by(survivor)?;
    Ok((status, PersonEvent::Merged { survivor, replaced }))
}

/// What happened to a person in the registry, for the audit log.
///
/// Serialised with a `type` tag in snake_case, e.g.
/// `{"type":"merged","survivor":"…","replaced":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PersonEvent {
    /// A person was registered and issued a common identifier.
    Registered {
        /// The new identifier.
        id: CommonId,
    },
    /// A person's attributes were corrected (the values are not logged).
    AttributesCorrected {
        /// Whose attributes.
        id: CommonId,
    },
    /// A person's status changed.
    StatusChanged {
        /// Whose status.
        id: CommonId,
        /// The status before.
        from: PersonStatus,
        /// The status after.
        to: PersonStatus,
    },
    /// A duplicate was merged into the surviving person.
    Merged {
        /// The identifier that stays in use.
        survivor: CommonId,
        /// The identifier now replaced by `survivor`.
        replaced: CommonId,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_else(|| panic!("{y}-{m}-{d}"))
    }

    fn person() -> PersonAttributes {
        PersonAttributes {
            given_names: "José".into(),
            family_name: "Müller-Lüdenscheid".into(),
            birth_date: date(1970, 5, 17),
            birth_place: Some("Liège".into()),
            sex: Some(Sex::Male),
        }
    }

    fn cid(s: &str) -> CommonId {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn normalization() {
        assert_eq!(
            normalize_name("José  Müller-Lüdenscheid"),
            normalize_name("jose muller ludenscheid")
        );
        assert_eq!(
            normalize_name("José  Müller-Lüdenscheid"),
            "jose muller ludenscheid"
        );
        assert_eq!(normalize_name("  Van\tDen – Bossche "), "van den bossche");
        assert_eq!(normalize_name("STRAßE"), "strasse");
        assert_eq!(normalize_name("Øster Ærø"), "oster aero");
        assert_eq!(normalize_name("Łukasz Żółć"), "lukasz zolc");
        assert_eq!(normalize_name("ﬁnn"), "finn");
        assert_eq!(normalize_name(""), "");
    }

    #[test]
    fn match_keys() {
        let a = person();
        let b = PersonAttributes {
            given_names: "jose".into(),
            family_name: "MULLER LUDENSCHEID".into(),
            birth_place: None,
            sex: None,
            ..person()
        };
        assert_eq!(a.match_key(), b.match_key());
        assert_eq!(a.match_key().as_str(), "muller ludenscheid|jose|1970-05-17");
        let c = PersonAttributes {
            birth_date: date(1970, 5, 18),
            ..person()
        };
        assert_ne!(a.match_key(), c.match_key());
        assert_eq!(a.normalized().birth_place.as_deref(), Some("liege"));
    }

    #[test]
    fn validation() {
        let today = date(2025, 1, 1);
        assert_eq!(person().validate(today), Ok(()));
        let cases = [
            (
                PersonAttributes {
                    given_names: "  ".into(),
                    ..person()
                },
                PersonError::EmptyGivenNames,
            ),
            (
                PersonAttributes {
                    family_name: String::new(),
                    ..person()
                },
                PersonError::EmptyFamilyName,
            ),
            (
                PersonAttributes {
                    birth_place: Some(" ".into()),
                    ..person()
                },
                PersonError::EmptyBirthPlace,
            ),
            (
                PersonAttributes {
                    family_name: "x".repeat(201),
                    ..person()
                },
                PersonError::TooLong {
                    field: "family_name",
                },
            ),
            (
                PersonAttributes {
                    given_names: "a\u{0}b".into(),
                    ..person()
                },
                PersonError::ControlCharacter {
                    field: "given_names",
                },
            ),
            (
                PersonAttributes {
                    birth_date: date(2025, 1, 2),
                    ..person()
                },
                PersonError::BirthDateInFuture,
            ),
            (
                PersonAttributes {
                    birth_date: date(1879, 12, 31),
                    ..person()
                },
                PersonError::BirthDateTooEarly,
            ),
        ];
        for (attrs, err) in cases {
            assert_eq!(attrs.validate(today), Err(err.clone()), "{attrs:?}");
            assert!(!err.code().is_empty());
        }
        let born_today = PersonAttributes {
            birth_date: today,
            ..person()
        };
        assert_eq!(born_today.validate(today), Ok(()));
        let long_ok = PersonAttributes {
            family_name: "é".repeat(200),
            ..person()
        };
        assert_eq!(long_ok.validate(today), Ok(()));
    }

    #[test]
    fn transitions() {
        let on = date(2024, 3, 1);
        let other = cid("12345678978");
        use PersonStatus::*;
        assert_eq!(Active.mark_deceased(on), Ok(Deceased { on }));
        assert!(Inactive.mark_deceased(on).is_err());
        assert_eq!(Deceased { on }.rescind_death(), Ok(Active));
        assert_eq!(Active.deactivate(), Ok(Inactive));
        assert_eq!(Inactive.reactivate(), Ok(Active));
        assert!(Active.reactivate().is_err());
        assert_eq!(Active.replace_by(other), Ok(Replaced { by: other }));
        assert_eq!(Inactive.replace_by(other), Ok(Replaced { by: other }));
        assert_eq!(
            Deceased { on }.replace_by(other),
            Err(TransitionError::NotAllowed {
                from: StatusKind::Deceased,
                action: "replace"
            })
        );
        let replaced = Replaced { by: other };
        assert!(replaced.mark_deceased(on).is_err());
        assert!(replaced.deactivate().is_err());
        assert!(replaced.reactivate().is_err());
        assert!(replaced.rescind_death().is_err());
        assert!(replaced.replace_by(other).is_err());
        assert_eq!(
            Active.mark_deceased_after_birth(date(1969, 1, 1), date(1970, 1, 1)),
            Err(TransitionError::DeathBeforeBirth)
        );
    }

    #[test]
    fn merging() {
        let survivor = cid("12345678978");
        let replaced = cid("000.000.042-69");
        let (status, event) = merge(
            survivor,
            PersonStatus::Active,
            replaced,
            PersonStatus::Inactive,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status, PersonStatus::Replaced { by: survivor });
        assert_eq!(event, PersonEvent::Merged { survivor, replaced });
        assert_eq!(
            merge(
                survivor,
                PersonStatus::Active,
                survivor,
                PersonStatus::Active
            ),
            Err(TransitionError::SelfMerge)
        );
        assert_eq!(
            merge(
                survivor,
                PersonStatus::Inactive,
                replaced,
                PersonStatus::Active
            ),
            Err(TransitionError::SurvivorNotActive(StatusKind::Inactive))
        );
    }

    #[test]
    fn serde_forms() {
        let id = cid("12345678978");
        let status = PersonStatus::Deceased {
            on: date(2024, 3, 1),
        };
        let json = serde_json::to_string(&status).unwrap_or_default();
        assert_eq!(json, r#"{"status":"deceased","on":"2024-03-01"}"#);
        let event = PersonEvent::StatusChanged {
            id,
            from: PersonStatus::Active,
            to: status,
        };
        let json = serde_json::to_string(&event).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"type":"status_changed","id":"12345678978","from":{"status":"active"},"to":{"status":"deceased","on":"2024-03-01"}}"#
        );
        let back: PersonEvent = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, event);
        let attrs = serde_json::to_value(person()).unwrap_or_default();
        assert_eq!(attrs["sex"], "male");
        assert_eq!(attrs["birth_date"], "1970-05-17");
    }

    fn any_status() -> impl Strategy<Value = PersonStatus> {
        prop_oneof![
            Just(PersonStatus::Active),
            Just(PersonStatus::Inactive),
            Just(PersonStatus::Deceased {
                on: date(2020, 1, 1)
            }),
            Just(PersonStatus::Replaced {
                by: cid("12345678978")
            }),
        ]
    }

    proptest! {
        #[test]
        fn normalization_is_idempotent(s in "\\PC{0,40}") {
            let once = normalize_name(&s);
            prop_assert_eq!(normalize_name(&once), once.clone());
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
        }

        #[test]
        fn replaced_is_final(status in any_status()) {
            let replaced = PersonStatus::Replaced { by: cid("12345678978") };
            let on = date(2021, 1, 1);
            prop_assert!(replaced.mark_deceased(on).is_err());
            prop_assert!(replaced.deactivate().is_err());
            prop_assert!(replaced.reactivate().is_err());
            prop_assert!(replaced.rescind_death().is_err());
            // Only Active and Inactive may be replaced.
            let ok = status.replace_by(cid("12345678978")).is_ok();
            prop_assert_eq!(ok, matches!(status, PersonStatus::Active | PersonStatus::Inactive));
            // Only Active may be marked deceased.
            prop_assert_eq!(status.mark_deceased(on).is_ok(), status == PersonStatus::Active);
        }
    }
}
