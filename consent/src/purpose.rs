//! Purposes: the controlled list of reasons an agency may state for a lookup
//! (`benefit-eligibility`, `tax-assessment`, …), managed by operators.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::authorization::LegalReference;

/// Longest purpose code.
pub const PURPOSE_CODE_MAX: usize = 64;

/// Why a purpose or its code is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PurposeError {
    /// The code is empty.
    #[error("a purpose code is not empty")]
    EmptyCode,
    /// The code is longer than [`PURPOSE_CODE_MAX`].
    #[error("a purpose code has at most {PURPOSE_CODE_MAX} characters")]
    CodeTooLong,
    /// The code is not lowercase kebab case.
    #[error(
        "a purpose code is lowercase kebab case: words of a-z and 0-9 joined by single '-', starting with a letter"
    )]
    InvalidCode,
    /// The title is blank.
    #[error("a purpose has a title")]
    EmptyTitle,
    /// The legal reference is not valid.
    #[error("the purpose's legal reference is not valid: {0}")]
    LegalReference(String),
}

impl PurposeError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::EmptyCode => "purpose_code_empty",
            Self::CodeTooLong => "purpose_code_too_long",
            Self::InvalidCode => "purpose_code_invalid",
            Self::EmptyTitle => "purpose_title_empty",
            Self::LegalReference(_) => "purpose_legal_reference_invalid",
        }
    }
}

/// A purpose code in lowercase kebab case, e.g. `benefit-eligibility`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PurposeCode(String);

impl PurposeCode {
    /// Parses and validates a code: `[a-z][a-z0-9]*(-[a-z0-9]+)*`, at most 64
    /// characters.
    pub fn parse(input: &str) -> Result<Self, PurposeError> {
        if input.is_empty() {
            return Err(PurposeError::EmptyCode);
        }
        if input.len() > PURPOSE_CODE_MAX {
            return Err(PurposeError::CodeTooLong);
        }
        let starts_with_letter = input.as_bytes().first().is_some_and(u8::is_ascii_lowercase);
        let words_ok = input.split('-').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        if starts_with_letter && words_ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(PurposeError::InvalidCode)
        }
    }

    /// The code as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PurposeCode {
    type Err = PurposeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for PurposeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for PurposeCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PurposeCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// One entry of the controlled list of purposes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purpose {
    /// The code agencies state in their requests.
    pub code: PurposeCode,
    /// A short human title.
    pub title: String,
    /// What the purpose covers.
    pub description: String,
    /// The legal text that defines it.
    pub legal_reference: LegalReference,
}

impl Purpose {
    /// A purpose, checked: a non-blank title and a valid legal reference.
    pub fn new(
        code: PurposeCode,
        title: impl Into<String>,
        description: impl Into<String>,
        legal_reference: LegalReference,
    ) -> Result<Self, PurposeError> {
        let purpose = Self {
            code,
            title: title.into(),
            description: description.into(),
            legal_reference,
        };
        purpose.validate()?;
        Ok(purpose)
    }

    /// Checks a purpose read from storage or from an operator's input.
    pub fn validate(&self) -> Result<(), PurposeError> {
        if self.title.trim().is_empty() {
            return Err(PurposeError::EmptyTitle);
        }
        self.legal_reference
            .validate()
            .map_err(|e| PurposeError::LegalReference(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference() -> LegalReference {
        LegalReference {
            title: "Law of 15 January 1990, art. 5".into(),
            url: "https://example.gov/law/1990-01-15#art5".into(),
        }
    }

    #[test]
    fn valid_codes() {
        for code in ["benefit-eligibility", "tax-assessment", "a", "vat2-check"] {
            assert_eq!(
                PurposeCode::parse(code).map(|c| c.to_string()),
                Ok(code.to_owned())
            );
        }
    }

    #[test]
    fn invalid_codes() {
        let code = |s: &str| PurposeCode::parse(s).err().map(|e| e.code());
        assert_eq!(code(""), Some("purpose_code_empty"));
        assert_eq!(code(&"a".repeat(65)), Some("purpose_code_too_long"));
        for bad in [
            "Tax",
            "tax_assessment",
            "-tax",
            "tax-",
            "tax--x",
            "1tax",
            "tax x",
        ] {
            assert_eq!(code(bad), Some("purpose_code_invalid"), "{bad}");
        }
    }

    #[test]
    fn purposes_need_a_title_and_a_legal_reference() {
        let code = PurposeCode::parse("tax-assessment").unwrap_or_else(|e| panic!("{e}"));
        let ok = Purpose::new(
            code.clone(),
            "Tax assessment",
            "Assess income tax",
            reference(),
        );
        assert!(ok.is_ok());
        let blank = Purpose::new(code.clone(), "  ", "", reference());
        assert_eq!(blank.err().map(|e| e.code()), Some("purpose_title_empty"));
        let mut bad_ref = reference();
        bad_ref.url = "ftp://example.gov".into();
        let bad = Purpose::new(code, "Tax", "", bad_ref);
        assert_eq!(
            bad.err().map(|e| e.code()),
            Some("purpose_legal_reference_invalid")
        );
    }

    proptest! {
        #[test]
        fn kebab_codes_round_trip(code in "[a-z][a-z0-9]{0,9}(-[a-z0-9]{1,9}){0,4}") {
            let parsed = PurposeCode::parse(&code);
            prop_assert_eq!(parsed.map(|c| c.to_string()), Ok(code));
        }

        #[test]
        fn parser_never_panics(s in "\\PC{0,80}") {
            let _ = PurposeCode::parse(&s);
        }
    }
}
