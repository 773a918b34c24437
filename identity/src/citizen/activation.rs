//! One-time activation codes, sent to a citizen by post or handed over at a
//! desk, with which the citizen sets up an account.

use std::fmt;
use std::str::FromStr;

use rand::CryptoRng;
use ring::digest;

use crate::encoding::{CROCKFORD, CROCKFORD_SYMBOLS, constant_time_eq, hex_decode, hex_encode};

/// Characters of an activation code, separators not counted.
pub const ACTIVATION_CODE_CHARS: usize = 16;

/// Random bytes behind a code: 80 bits, exactly 16 base32 characters.
const ACTIVATION_CODE_BYTES: usize = 10;

/// Why a string is not an activation code or a stored digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ActivationCodeError {
    /// Not 16 characters once separators are removed.
    #[error("an activation code has 16 characters")]
    WrongLength,
    /// A character outside the code's alphabet.
    #[error("an activation code holds only digits and the letters A-Z except U")]
    BadCharacter,
    /// A stored digest that is not 64 hexadecimal digits.
    #[error("a stored activation code digest is 64 hexadecimal digits")]
    MalformedDigest,
}

impl ActivationCodeError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::WrongLength => "activation_code_wrong_length",
            Self::BadCharacter => "activation_code_bad_character",
            Self::MalformedDigest => "activation_code_digest_malformed",
        }
    }
}

/// A one-time activation code: 16 characters of the Crockford base32 alphabet
/// (digits and letters without I, L, O, U), 80 random bits, shown in four
/// groups of four: `7KQ2-M9XD-4RTB-W0HZ`.
///
/// Parsing forgives what people do when typing: lowercase, missing or extra
/// hyphens and spaces, `O` for `0`, `I` or `L` for `1`.
///
/// Its `Debug` form hides the code. Store only its [`ActivationCodeDigest`].
#[derive(Clone, PartialEq, Eq)]
pub struct ActivationCode(String);

impl ActivationCode {
    /// Draws a fresh code.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; ACTIVATION_CODE_BYTES];
        rng.fill_bytes(&mut bytes);
        Self(CROCKFORD.encode(&bytes))
    }

    /// The 16 characters without separators.
    pub fn as_compact(&self) -> &str {
        &self.0
    }

    /// The SHA-256 digest of the compact form, to store instead of the code.
    ///
    /// An unsalted fast hash is enough here: the code has 80 random bits, is
    /// used once, and expires.
    pub fn digest(&self) -> ActivationCodeDigest {
        let d = digest::digest(&digest::SHA256, self.0.as_bytes());
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(d.as_ref());
        ActivationCodeDigest(bytes)
    }
}

impl FromStr for ActivationCode {
    type Err = ActivationCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = String::with_capacity(ACTIVATION_CODE_CHARS);
        for c in s.chars() {
            let c = match c.to_ascii_uppercase() {
                '-' | ' ' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c if c.is_ascii() && CROCKFORD_SYMBOLS.as_bytes().contains(&(c as u8)) => c,
                _ => return Err(ActivationCodeError::BadCharacter),
            };
            if out.len() == ACTIVATION_CODE_CHARS {
                return Err(ActivationCodeError::WrongLength);
            }
            out.push(c);
        }
        if out.len() != ACTIVATION_CODE_CHARS {
            return Err(ActivationCodeError::WrongLength);
        }
        Ok(Self(out))
    }
}

impl fmt::Display for ActivationCode {
    /// Four groups of four, joined by hyphens.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.0.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                f.write_str("-")?;
            }
            fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}

impl fmt::Debug for ActivationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ActivationCode(****-****-****-****)")
    }
}

/// The SHA-256 digest of an activation code, as stored by the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActivationCodeDigest([u8; 32]);

impl ActivationCodeDigest {
    /// Wraps stored digest bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hexadecimal, 64 characters.
    pub fn to_hex(&self) -> String {
        hex_encode(&self.0)
    }

    /// Parses 64 hexadecimal digits.
    pub fn from_hex(text: &str) -> Result<Self, ActivationCodeError> {
        hex_decode::<32>(text)
            .map(Self)
            .ok_or(ActivationCodeError::MalformedDigest)
    }

    /// Whether `code` is the code this digest was made from, compared in
    /// constant time.
    pub fn verify(&self, code: &ActivationCode) -> bool {
        constant_time_eq(&self.0, &code.digest().0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generate_display_parse() {
        let mut rng = rand::rng();
        let code = ActivationCode::generate(&mut rng);
        let shown = code.to_string();
        assert_eq!(shown.len(), 19);
        assert_eq!(shown.matches('-').count(), 3);
        assert_eq!(shown.parse::<ActivationCode>(), Ok(code.clone()));
        assert_eq!(
            code.as_compact().parse::<ActivationCode>(),
            Ok(code.clone())
        );
        assert_eq!(
            shown
                .to_lowercase()
                .replace('-', " ")
                .parse::<ActivationCode>(),
            Ok(code.clone())
        );
        assert!(!format!("{code:?}").contains(&code.as_compact()[..4]));
    }

    #[test]
    fn forgiving_parse_and_errors() {
        let code: ActivationCode = "o1il-abcd-efgh-jkmn"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(code.as_compact(), "0111ABCDEFGHJKMN");
        assert_eq!(
            "ABCD-EFGH-JKMN-PQR".parse::<ActivationCode>(),
            Err(ActivationCodeError::WrongLength)
        );
        assert_eq!(
            "ABCD-EFGH-JKMN-PQRST".parse::<ActivationCode>(),
            Err(ActivationCodeError::WrongLength)
        );
        assert_eq!(
            "ABCD-EFGH-JKMN-PQRU".parse::<ActivationCode>(),
            Err(ActivationCodeError::BadCharacter)
        );
        assert_eq!(
            "ABCD_EFGH-JKMN-PQRS".parse::<ActivationCode>(),
            Err(ActivationCodeError::BadCharacter)
        );
        assert_eq!(
            "ABCD-EFGH-JKMN-PQRÉ".parse::<ActivationCode>(),
            Err(ActivationCodeError::BadCharacter)
        );
        assert_eq!(
            ActivationCodeError::WrongLength.code(),
            "activation_code_wrong_length"
        );
    }

    #[test]
    fn digest_storage_and_verification() {
        let code: ActivationCode = "0000-0000-0000-0000"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let digest = code.digest();
        // SHA-256 of sixteen ASCII zeros.
        assert_eq!(
            digest.to_hex(),
            "fcdb4b423f4e5283afa249d762ef6aef150e91fccd810d43e5e719d14512dec7"
        );
        assert_eq!(ActivationCodeDigest::from_hex(&digest.to_hex()), Ok(digest));
        assert_eq!(ActivationCodeDigest::from_bytes(*digest.as_bytes()), digest);
        assert!(digest.verify(&code));
        let other: ActivationCode = "0000-0000-0000-0001"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!digest.verify(&other));
        assert_eq!(
            ActivationCodeDigest::from_hex("abc"),
            Err(ActivationCodeError::MalformedDigest)
        );
    }

    proptest! {
        #[test]
        fn codes_round_trip(bytes in any::<[u8; 10]>()) {
            let code = ActivationCode(CROCKFORD.encode(&bytes));
            prop_assert_eq!(code.as_compact().len(), ACTIVATION_CODE_CHARS);
            prop_assert_eq!(code.to_string().parse::<ActivationCode>(), Ok(code.clone()));
            prop_assert!(code.digest().verify(&code));
        }
    }
}
