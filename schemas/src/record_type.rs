//! Record type names, versions and references.
//!
//! - [`RecordTypeName`]: `person.address` — 2 to 5 dot-separated segments, each
//!   made of `[a-z0-9-]`.
//! - [`Version`]: `major.minor`, both without leading zeros.
//! - [`RecordType`]: one exact published version, `person.address@1.2`.
//! - [`RecordTypeRef`]: what a consumer asks for: `person.address@1` (the latest
//!   minor of major 1) or `person.address@1.2` (exactly that version).
//!
//! All of them implement `Display`, `FromStr` and serde (as strings), and
//! `Display` followed by `FromStr` gives back the same value.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Fewest segments a record type name may have.
pub const MIN_SEGMENTS: usize = 2;
/// Most segments a record type name may have.
pub const MAX_SEGMENTS: usize = 5;

/// Why a record type name, version or reference did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordTypeError {
    #[error("record type name is empty")]
    EmptyName,
    #[error("record type name has {found} segments; it needs at least {MIN_SEGMENTS}")]
    TooFewSegments { found: usize },
    #[error("record type name has {found} segments; it may have at most {MAX_SEGMENTS}")]
    TooManySegments { found: usize },
    #[error("segment {index} of the record type name is empty")]
    EmptySegment { index: usize },
    #[error(
        "record type name has the character {character:?} at byte {position}; only a-z, 0-9, '-' and '.' are allowed"
    )]
    InvalidCharacter { character: char, position: usize },
    #[error("reference {input:?} has no '@' separating the name from the version")]
    MissingVersion { input: String },
    #[error("version {input:?} is not of the form <major>.<minor>")]
    InvalidVersion { input: String },
    #[error("version number {input:?} has a leading zero")]
    LeadingZero { input: String },
    #[error("version number {input:?} is too large")]
    VersionOverflow { input: String },
}

impl RecordTypeError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::EmptyName => "record_type_empty",
            Self::TooFewSegments { .. } => "record_type_too_few_segments",
            Self::TooManySegments { .. } => "record_type_too_many_segments",
            Self::EmptySegment { .. } => "record_type_empty_segment",
            Self::InvalidCharacter { .. } => "record_type_invalid_character",
            Self::MissingVersion { .. } => "record_type_missing_version",
            Self::InvalidVersion { .. } => "version_invalid",
            Self::LeadingZero { .. } => "version_leading_zero",
            Self::VersionOverflow { .. } => "version_overflow",
        }
    }
}

/// The name of a record type, e.g. `person.address`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordTypeName(String);

impl RecordTypeName {
    /// Parses and validates a name.
    pub fn parse(input: &str) -> Result<Self, RecordTypeError> {
        if input.is_empty() {
            return Err(RecordTypeError::EmptyName);
        }
        if let Some((position, character)) = input
            .char_indices()
            .find(|(_, c)| !matches!(c, 'a'..='z' | '0'..='9' | '-' | '.'))
        {
            return Err(RecordTypeError::InvalidCharacter {
                character,
                position,
            });
        }
        let segments: Vec<&str> = input.split('.').collect();
        if let Some(index) = segments.iter().position(|s| s.is_empty()) {
            return Err(RecordTypeError::EmptySegment { index });
        }
        match segments.len() {
            n if n < MIN_SEGMENTS => Err(RecordTypeError::TooFewSegments { found: n }),
            n if n > MAX_SEGMENTS => Err(RecordTypeError::TooManySegments { found: n }),
            _ => Ok(Self(input.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The segments of the name, e.g. `["person", "address"]`.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }
}

/// A schema version: minors are backward compatible within their major.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
}

impl Version {
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// Parses `major.minor`.
    pub fn parse(input: &str) -> Result<Self, RecordTypeError> {
        let (major, minor) =
            input
                .split_once('.')
                .ok_or_else(|| RecordTypeError::InvalidVersion {
                    input: input.to_owned(),
                })?;
        Ok(Self {
            major: parse_number(major, input)?,
            minor: parse_number(minor, input)?,
        })
    }
}

/// Parses one version number: ASCII digits, no sign, no leading zero.
fn parse_number(part: &str, whole: &str) -> Result<u32, RecordTypeError> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RecordTypeError::InvalidVersion {
            input: whole.to_owned(),
        });
    }
    if part.len() > 1 && part.starts_with('0') {
        return Err(RecordTypeError::LeadingZero {
            input: part.to_owned(),
        });
    }
    part.parse().map_err(|_| RecordTypeError::VersionOverflow {
        input: part.to_owned(),
    })
}

/// One exact version of a record type: `person.address@1.2`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordType {
    pub name: RecordTypeName,
    pub version: Version,
}

impl RecordType {
    pub fn new(name: RecordTypeName, version: Version) -> Self {
        Self { name, version }
    }

    /// The reference that asks for exactly this version.
    pub fn to_ref(&self) -> RecordTypeRef {
        RecordTypeRef {
            name: self.name.clone(),
            version: VersionReq::Exact(self.version),
        }
    }
}

/// Which version(s) a reference accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VersionReq {
    /// The latest minor of this major.
    Major(u32),
    /// Exactly this version.
    Exact(Version),
}

impl VersionReq {
    pub fn major(self) -> u32 {
        match self {
            Self::Major(major) => major,
            Self::Exact(v) => v.major,
        }
    }

    pub fn parse(input: &str) -> Result<Self, RecordTypeError> {
        if input.contains('.') {
            Version::parse(input).map(Self::Exact)
        } else {
            parse_number(input, input).map(Self::Major)
        }
    }
}

/// A reference to a record type: `person.address@1` or `person.address@1.2`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordTypeRef {
    pub name: RecordTypeName,
    pub version: VersionReq,
}

impl RecordTypeRef {
    pub fn parse(input: &str) -> Result<Self, RecordTypeError> {
        let (name, version) =
            input
                .split_once('@')
                .ok_or_else(|| RecordTypeError::MissingVersion {
                    input: input.to_owned(),
                })?;
        Ok(Self {
            name: RecordTypeName::parse(name)?,
            version: VersionReq::parse(version)?,
        })
    }
}

impl RecordType {
    pub fn parse(input: &str) -> Result<Self, RecordTypeError> {
        let (name, version) =
            input
                .split_once('@')
                .ok_or_else(|| RecordTypeError::MissingVersion {
                    input: input.to_owned(),
                })?;
        Ok(Self {
            name: RecordTypeName::parse(name)?,
            version: Version::parse(version)?,
        })
    }
}

impl From<RecordType> for RecordTypeRef {
    fn from(value: RecordType) -> Self {
        Self {
            name: value.name,
            version: VersionReq::Exact(value.version),
        }
    }
}

impl fmt::Display for RecordTypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl fmt::Display for VersionReq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Major(major) => write!(f, "{major}"),
            Self::Exact(version) => version.fmt(f),
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

impl fmt::Display for RecordTypeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// `FromStr` + string serde for each type, through its `parse`.
macro_rules! string_forms {
    ($($ty:ty),*) => {$(
        impl FromStr for $ty {
            type Err = RecordTypeError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    )*};
}

string_forms!(
    RecordTypeName,
    Version,
    VersionReq,
    RecordType,
    RecordTypeRef
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_names() {
        let name = RecordTypeName::parse("person.family-composition").unwrap();
        assert_eq!(name.as_str(), "person.family-composition");
        assert_eq!(
            name.segments().collect::<Vec<_>>(),
            ["person", "family-composition"]
        );
        assert!(RecordTypeName::parse("a.b.c.d.e").is_ok());
    }

    #[test]
    fn rejects_bad_names_precisely() {
        use RecordTypeError::*;
        let cases = [
            ("", EmptyName),
            ("person", TooFewSegments { found: 1 }),
            ("a.b.c.d.e.f", TooManySegments { found: 6 }),
            ("person..address", EmptySegment { index: 1 }),
            (".person", EmptySegment { index: 0 }),
            ("person.", EmptySegment { index: 1 }),
            (
                "person.Address",
                InvalidCharacter {
                    character: 'A',
                    position: 7,
                },
            ),
            (
                "person_x.address",
                InvalidCharacter {
                    character: '_',
                    position: 6,
                },
            ),
            (
                "person.adresse-é",
                InvalidCharacter {
                    character: 'é',
                    position: 15,
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(RecordTypeName::parse(input), Err(expected), "{input}");
        }
    }

    #[test]
    fn parses_versions_and_refs() {
        assert_eq!(Version::parse("1.2"), Ok(Version::new(1, 2)));
        assert_eq!(Version::parse("10.0"), Ok(Version::new(10, 0)));
        assert!(Version::new(1, 10) > Version::new(1, 9));
        assert!(Version::new(2, 0) > Version::new(1, 9));

        let latest: RecordTypeRef = "person.address@1".parse().unwrap();
        assert_eq!(latest.version, VersionReq::Major(1));
        let exact: RecordTypeRef = "person.address@1.2".parse().unwrap();
        assert_eq!(exact.version, VersionReq::Exact(Version::new(1, 2)));
        assert_eq!(exact.to_string(), "person.address@1.2");

        let rt: RecordType = "tax.income-statement@2.0".parse().unwrap();
        assert_eq!(rt.to_ref(), "tax.income-statement@2.0".parse().unwrap());
    }

    #[test]
    fn rejects_bad_versions_precisely() {
        use RecordTypeError::*;
        let err = |s: &str| RecordTypeRef::parse(s).unwrap_err().code();
        assert_eq!(err("person.address"), "record_type_missing_version");
        assert_eq!(err("person.address@"), "version_invalid");
        assert_eq!(err("person.address@1."), "version_invalid");
        assert_eq!(err("person.address@1.2.3"), "version_invalid");
        assert_eq!(err("person.address@+1"), "version_invalid");
        assert_eq!(err("person.address@v1"), "version_invalid");
        assert_eq!(err("person.address@01"), "version_leading_zero");
        assert_eq!(err("person.address@99999999999"), "version_overflow");
        assert_eq!(err("Person.address@1"), "record_type_invalid_character");
        assert_eq!(
            RecordType::parse("person.address@1"),
            Err(InvalidVersion { input: "1".into() })
        );
        assert_eq!(
            Version::parse("1.02"),
            Err(LeadingZero { input: "02".into() })
        );
    }

    #[test]
    fn serde_uses_the_string_form() {
        let r: RecordTypeRef = "person.address@1".parse().unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, "\"person.address@1\"");
        assert_eq!(serde_json::from_str::<RecordTypeRef>(&json).unwrap(), r);
        assert_eq!(
            serde_json::to_string(&Version::new(3, 14)).unwrap(),
            "\"3.14\""
        );
        let bad = serde_json::from_str::<RecordType>("\"person@1.0\"").unwrap_err();
        assert!(bad.to_string().contains("segments"), "{bad}");
    }

    fn name_strategy() -> impl Strategy<Value = String> {
        prop::collection::vec("[a-z0-9-]{1,12}", MIN_SEGMENTS..=MAX_SEGMENTS)
            .prop_map(|segments| segments.join("."))
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(name in name_strategy(), major in any::<u32>(), minor in any::<u32>(), exact in any::<bool>()) {
            let version = if exact { VersionReq::Exact(Version::new(major, minor)) } else { VersionReq::Major(major) };
            let r = RecordTypeRef { name: RecordTypeName::parse(&name).unwrap(), version };
            let text = r.to_string();
            prop_assert_eq!(RecordTypeRef::parse(&text), Ok(r));
        }

        #[test]
        fn parsing_never_panics_and_accepts_only_canonical_text(input in "\\PC{0,40}") {
            if let Ok(r) = RecordTypeRef::parse(&input) {
                prop_assert_eq!(r.to_string(), input);
            }
        }

        #[test]
        fn version_order_is_lexicographic(a in any::<(u32, u32)>(), b in any::<(u32, u32)>()) {
            prop_assert_eq!(Version::new(a.0, a.1).cmp(&Version::new(b.0, b.1)), a.cmp(&b));
        }
    }
}
