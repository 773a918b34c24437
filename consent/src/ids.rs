//! Identifiers of authorizations and consents: a fixed prefix, then 1 to 64
//! characters among `a-z`, `0-9` and `-` (e.g. `auth-2024-017`,
//! `cns-7f3c9a2e-1b4d-4c1e-9a53-0e2f6b1d8c44`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest part after the prefix.
pub const ID_SUFFIX_MAX: usize = 64;

/// Why a text is not an authorization or consent identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The text does not start with the expected prefix.
    #[error("the identifier must start with {expected:?}")]
    BadPrefix {
        /// The prefix required, e.g. `cns-`.
        expected: &'static str,
    },
    /// Nothing follows the prefix.
    #[error("the identifier is empty after its prefix")]
    Empty,
    /// More than [`ID_SUFFIX_MAX`] characters follow the prefix.
    #[error("the identifier has more than {ID_SUFFIX_MAX} characters after its prefix")]
    TooLong,
    /// A character other than `a-z`, `0-9` or `-`.
    #[error("the identifier holds only a-z, 0-9 and '-'")]
    BadCharacter,
}

impl IdError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadPrefix { .. } => "id_bad_prefix",
            Self::Empty => "id_empty",
            Self::TooLong => "id_too_long",
            Self::BadCharacter => "id_bad_character",
        }
    }
}

fn check(input: &str, prefix: &'static str) -> Result<(), IdError> {
    let rest = input
        .strip_prefix(prefix)
        .ok_or(IdError::BadPrefix { expected: prefix })?;
    if rest.is_empty() {
        Err(IdError::Empty)
    } else if !rest
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Err(IdError::BadCharacter)
    } else if rest.len() > ID_SUFFIX_MAX {
        Err(IdError::TooLong)
    } else {
        Ok(())
    }
}

macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The prefix every identifier of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// Parses and validates an identifier.
            pub fn parse(input: &str) -> Result<Self, IdError> {
                check(input, Self::PREFIX).map(|()| Self(input.to_owned()))
            }

            /// The identifier as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id! {
    /// Names an authorization across all its versions, e.g. `auth-2024-017`.
    AuthorizationId, "auth-"
}

prefixed_id! {
    /// Names a consent across all its revisions, e.g. `cns-7f3c9a2e-…`.
    ConsentId, "cns-"
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_valid_identifiers() {
        let id = AuthorizationId::parse("auth-2024-017").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id.as_str(), "auth-2024-017");
        assert_eq!(id.to_string(), "auth-2024-017");
        let id: ConsentId = "cns-7f3c9a2e-1b4d-4c1e-9a53-0e2f6b1d8c44"
            .parse()
            .unwrap_or_else(|e: IdError| panic!("{e}"));
        assert_eq!(id.as_str(), "cns-7f3c9a2e-1b4d-4c1e-9a53-0e2f6b1d8c44");
    }

    #[test]
    fn refuses_invalid_identifiers() {
        let code = |r: Result<ConsentId, IdError>| r.err().map(|e| e.code());
        assert_eq!(code(ConsentId::parse("auth-1")), Some("id_bad_prefix"));
        assert_eq!(code(ConsentId::parse("cns-")), Some("id_empty"));
        assert_eq!(code(ConsentId::parse("cns-ABC")), Some("id_bad_character"));
        assert_eq!(code(ConsentId::parse("cns-a b")), Some("id_bad_character"));
        assert_eq!(
            code(ConsentId::parse(&format!("cns-{}", "a".repeat(65)))),
            Some("id_too_long")
        );
        assert_eq!(
            AuthorizationId::parse("cns-1").err().map(|e| e.code()),
            Some("id_bad_prefix")
        );
    }

    #[test]
    fn serde_is_the_plain_string() {
        let id = ConsentId::parse("cns-42").unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::to_string(&id).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(json, r#""cns-42""#);
        let back: ConsentId = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, id);
        assert!(serde_json::from_str::<ConsentId>(r#""auth-42""#).is_err());
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(suffix in "[a-z0-9-]{1,64}") {
            let id = ConsentId::parse(&format!("cns-{suffix}"));
            prop_assert!(id.is_ok());
            if let Ok(id) = id {
                prop_assert_eq!(ConsentId::parse(&id.to_string()), Ok(id));
            }
        }

        #[test]
        fn parser_never_panics(s in "\\PC{0,80}") {
            let _ = AuthorizationId::parse(&s);
            let _ = ConsentId::parse(&s);
        }
    }
}
