//! Agencies: their identifier, the sector they belong to, the roles they play
//! on the hub and how they name persons.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest local part of an [`AgencyId`] (after `CC-`).
pub const AGENCY_LOCAL_MAX: usize = 20;

/// Why a string is not a valid agency identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum AgencyIdError {
    /// There is no `-` after a two-letter country code.
    #[error("an agency identifier reads CC-LOCAL, e.g. BE-0123456789")]
    MissingSeparator,
    /// The country code is not two uppercase ASCII letters.
    #[error("the country code of an agency identifier is two uppercase letters")]
    BadCountryCode,
    /// Nothing follows the separator.
    #[error("the local part of an agency identifier is empty")]
    EmptyLocalPart,
    /// The local part is longer than 20 characters.
    #[error("the local part of an agency identifier has at most 20 characters")]
    LocalPartTooLong,
    /// The local part holds a character other than an ASCII letter or digit.
    #[error("the local part of an agency identifier holds only ASCII letters and digits")]
    BadCharacter,
}

impl AgencyIdError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingSeparator => "agency_id_missing_separator",
            Self::BadCountryCode => "agency_id_bad_country_code",
            Self::EmptyLocalPart => "agency_id_empty_local_part",
            Self::LocalPartTooLong => "agency_id_local_part_too_long",
            Self::BadCharacter => "agency_id_bad_character",
        }
    }
}

/// An agency's identifier: a two-letter country code, `-`, then 1 to 20 ASCII
/// letters or digits, e.g. `BE-0123456789` (a Belgian enterprise number).
///
/// Parsing is exact: no trimming and no case folding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgencyId(String);

impl AgencyId {
    /// The identifier as written, e.g. `BE-0123456789`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The two-letter country code, e.g. `BE`.
    pub fn country(&self) -> &str {
        self.0.get(..2).unwrap_or_default()
    }

    /// The part after the country code and separator.
    pub fn local_part(&self) -> &str {
        self.0.get(3..).unwrap_or_default()
    }
}

impl FromStr for AgencyId {
    type Err = AgencyIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        match bytes {
            [a, b, rest @ ..] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => match rest {
                [b'-', local @ ..] => {
                    if local.is_empty() {
                        Err(AgencyIdError::EmptyLocalPart)
                    } else if !local.iter().all(u8::is_ascii_alphanumeric) {
                        Err(AgencyIdError::BadCharacter)
                    } else if local.len() > AGENCY_LOCAL_MAX {
                        Err(AgencyIdError::LocalPartTooLong)
                    } else {
                        Ok(Self(s.to_owned()))
                    }
                }
                _ => Err(AgencyIdError::MissingSeparator),
            },
            _ => Err(AgencyIdError::BadCountryCode),
        }
    }
}

impl fmt::Display for AgencyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for AgencyId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AgencyId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A name that is not one of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnknownNameError {
    /// Not a [`Sector`].
    #[error("unknown sector {0:?}")]
    Sector(String),
    /// Not a [`Role`].
    #[error("unknown role {0:?}")]
    Role(String),
    /// Not an [`IdentifierPolicy`].
    #[error("unknown identifier policy {0:?}")]
    IdentifierPolicy(String),
}

impl UnknownNameError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Sector(_) => "unknown_sector",
            Self::Role(_) => "unknown_role",
            Self::IdentifierPolicy(_) => "unknown_identifier_policy",
        }
    }
}

/// Declares a fieldless enum with snake_case names for serde, `Display`,
/// `FromStr` and `as_str`.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $err:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant ),+ ];

            /// The snake_case name, as in serde.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownNameError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    _ => Err(UnknownNameError::$err(s.to_owned())),
                }
            }
        }
    };
}

named_enum! {
    /// The sector of government an agency belongs to. Each sector sees persons
    /// under its own pseudonym (see [`crate::pseudonym`]).
    Sector, Sector {
        /// Civil registration: births, marriages, deaths, residence.
        Civil => "civil",
        /// Social security and benefits.
        Social => "social",
        /// Taxation.
        Tax => "tax",
        /// Health care and health insurance.
        Health => "health",
        /// Employment and labour.
        Employment => "employment",
        /// Education.
        Education => "education",
        /// Courts and justice.
        Justice => "justice",
        /// Any other sector.
        Other => "other",
    }
}

named_enum! {
    /// What an agency may do on the hub.
    Role, Role {
        /// Asks the hub for records.
        Consumer => "consumer",
        /// Answers for the records it is the authentic source of.
        Provider => "provider",
        /// Registers persons and so is issued common identifiers.
        Registrar => "registrar",
    }
}

named_enum! {
    /// How an agency names persons in its exchanges with the hub.
    IdentifierPolicy, IdentifierPolicy {
        /// By the person's [`crate::CommonId`].
        CommonId => "common_id",
        /// By the person's pseudonym in the agency's sector.
        SectorPseudonym => "sector_pseudonym",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn agency_ids() {
        let id: AgencyId = "BE-0123456789".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id.country(), "BE");
        assert_eq!(id.local_part(), "0123456789");
        assert_eq!(id.to_string(), "BE-0123456789");
        assert!("EE-a1B2".parse::<AgencyId>().is_ok());
        assert!("BE-12345678901234567890".parse::<AgencyId>().is_ok());

        let cases = [
            ("", AgencyIdError::BadCountryCode),
            ("be-0123", AgencyIdError::BadCountryCode),
            ("B1-0123", AgencyIdError::BadCountryCode),
            ("B", AgencyIdError::BadCountryCode),
            ("BE", AgencyIdError::MissingSeparator),
            ("BEL-0123", AgencyIdError::MissingSeparator),
            ("BE0123", AgencyIdError::MissingSeparator),
            ("BE-", AgencyIdError::EmptyLocalPart),
            ("BE-0123 4", AgencyIdError::BadCharacter),
            ("BE-01-23", AgencyIdError::BadCharacter),
            ("BE-ü", AgencyIdError::BadCharacter),
            ("BE-123456789012345678901", AgencyIdError::LocalPartTooLong),
        ];
        for (s, err) in cases {
            assert_eq!(s.parse::<AgencyId>(), Err(err), "{s:?}");
        }
        assert_eq!(
            AgencyIdError::LocalPartTooLong.code(),
            "agency_id_local_part_too_long"
        );
    }

    #[test]
    fn agency_id_serde() {
        let json = "\"BE-0123456789\"";
        let id: AgencyId = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(serde_json::to_string(&id).unwrap_or_default(), json);
        assert!(serde_json::from_str::<AgencyId>("\"be-1\"").is_err());
    }

    #[test]
    fn named_enums_round_trip() {
        for s in Sector::ALL {
            assert_eq!(s.as_str().parse::<Sector>(), Ok(*s));
            let json = serde_json::to_string(s).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        for r in Role::ALL {
            assert_eq!(r.to_string().parse::<Role>(), Ok(*r));
        }
        assert_eq!(
            serde_json::to_string(&IdentifierPolicy::SectorPseudonym).unwrap_or_default(),
            "\"sector_pseudonym\""
        );
        assert_eq!("common_id".parse(), Ok(IdentifierPolicy::CommonId));
        assert_eq!(Sector::ALL.len(), 8);
        let err = "Tax".parse::<Sector>().err();
        assert_eq!(
            err.as_ref().map(UnknownNameError::code),
            Some("unknown_sector")
        );
        assert_eq!(
            "admin".parse::<Role>().err().map(|e| e.code()),
            Some("unknown_role")
        );
    }

    proptest! {
        #[test]
        fn valid_agency_ids_round_trip(s in "[A-Z]{2}-[A-Za-z0-9]{1,20}") {
            let id: AgencyId = s.parse().map_err(|e: AgencyIdError| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(id.as_str(), s.as_str());
        }

        #[test]
        fn agency_parser_never_panics(s in "\\PC{0,30}") {
            let _ = s.parse::<AgencyId>();
        }
    }
}
