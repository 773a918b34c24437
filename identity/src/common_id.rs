//! The common identifier of a person.
//!
//! A [`CommonId`] is meaningless and random: 9 random decimal digits followed
//! by 2 check digits computed with ISO 7064 MOD 97-10, so that the 11-digit
//! number, read as an integer, is congruent to 1 modulo 97. It says nothing
//! about the person (no birth date, no sex, no place).
//!
//! Forms:
//! - compact: `12345678901` (11 digits), used in storage, tokens and JSON;
//! - display: `123.456.789-01` (`DDD.DDD.DDD-CC`), for people to read.
//!
//! The random space holds 10^9 identifiers. [`CommonId::generate`] is stateless,
//! so two draws can collide (for a million identifiers about 500 pairs are
//! expected): the registry must check a fresh identifier against those already
//! issued and draw again on conflict.

use std::fmt;
use std::str::FromStr;

use rand::{CryptoRng, TryCryptoRng};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Number of digits of a common identifier.
pub const COMMON_ID_LEN: usize = 11;

/// Number of random digits (the rest are check digits).
const RANDOM_DIGITS: usize = 9;

/// Exclusive upper bound of the random part.
const RANDOM_SPACE: u32 = 1_000_000_000;

/// Why a string is not a valid common identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum CommonIdError {
    /// The input does not hold exactly 11 digits.
    #[error("a common identifier has exactly 11 digits")]
    WrongLength,
    /// The input holds a character other than a digit or a separator
    /// (space, hyphen, dot).
    #[error("a common identifier holds only digits and the separators space, '-' and '.'")]
    NotDigits,
    /// The two last digits are not the MOD 97-10 check digits of the first nine.
    #[error("the check digits of the common identifier do not match")]
    BadCheckDigits,
}

impl CommonIdError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::WrongLength => "wrong_length",
            Self::NotDigits => "not_digits",
            Self::BadCheckDigits => "bad_check_digits",
        }
    }
}

/// A person's common identifier: 9 random digits and 2 check digits.
///
/// Its `Debug` form masks all but the last four digits; `Display` gives the
/// display form `DDD.DDD.DDD-CC`; serde uses the compact digit string.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommonId([u8; COMMON_ID_LEN]);

/// ISO 7064 MOD 97-10 check digits of a 9-digit number: `98 - (n * 100 mod 97)`,
/// always in `2..=98`.
fn check_digits(random_part: u32) -> u8 {
    // n * 100 mod 97 == n * 3 mod 97; computed in u64 to stay clear of overflow.
    let remainder = (u64::from(random_part) * 100) % 97;
    // remainder < 97, so the result is in 2..=98 and fits a u8.
    (98 - remainder) as u8
}

impl CommonId {
    /// Builds the identifier whose random part is `random_part` (< 10^9).
    fn from_random_part(random_part: u32) -> Self {
        debug_assert!(random_part < RANDOM_SPACE);
        let number = u64::from(random_part) * 100 + u64::from(check_digits(random_part));
        let mut digits = [b'0'; COMMON_ID_LEN];
        let mut rest = number;
        for slot in digits.iter_mut().rev() {
            // rest % 10 < 10, fits a u8.
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        Self(digits)
    }

    /// Draws a fresh identifier from a cryptographic random number generator
    /// that cannot fail, such as `rand::rng()`.
    ///
    /// The 9 random digits are uniform over `000000000..=999999999` (rejection
    /// sampling, no modulo bias). The caller must check uniqueness against the
    /// registry and draw again on conflict.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        match Self::try_generate(rng) {
            Ok(id) => id,
            Err(never) => match never {},
        }
    }

    /// Like [`CommonId::generate`], for a generator that can fail, such as
    /// `rand::rngs::OsRng`.
    pub fn try_generate<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, R::Error> {
        // The largest multiple of 10^9 that fits a u32 is 4 * 10^9: values at
        // or above it are rejected so every random part is equally likely.
        const ZONE: u32 = 4 * RANDOM_SPACE;
        loop {
            let value = rng.try_next_u32()?;
            if value < ZONE {
                return Ok(Self::from_random_part(value % RANDOM_SPACE));
            }
        }
    }

    /// The compact form: the 11 digits without separators.
    pub fn as_digits(&self) -> &str {
        // The array only ever holds ASCII digits, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The identifier read as an integer (below 10^11).
    pub fn to_u64(&self) -> u64 {
        self.0
            .iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'))
    }

    /// The 9 random digits, read as an integer.
    pub fn random_part(&self) -> u32 {
        self.0[..RANDOM_DIGITS]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    }

    /// Writes the display form, replacing the first `hidden` digits by `*`.
    fn write_display(&self, f: &mut fmt::Formatter<'_>, hidden: usize) -> fmt::Result {
        use fmt::Write;
        for (i, &d) in self.0.iter().enumerate() {
            match i {
                3 | 6 => f.write_char('.')?,
                9 => f.write_char('-')?,
                _ => {}
            }
            f.write_char(if i < hidden { '*' } else { char::from(d) })?;
        }
        Ok(())
    }
}

impl FromStr for CommonId {
    type Err = CommonIdError;

    /// Parses the compact form (`12345678901`) or the display form
    /// (`123.456.789-01`). Spaces, hyphens and dots are ignored wherever they
    /// stand; any other character is rejected.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut digits = [0u8; COMMON_ID_LEN];
        let mut count = 0usize;
        for b in s.bytes() {
            match b {
                b'0'..=b'9' => {
                    if let Some(slot) = digits.get_mut(count) {
                        *slot = b;
                    }
                    count += 1;
                }
                b' ' | b'-' | b'.' => {}
                _ => return Err(CommonIdError::NotDigits),
            }
        }
        if count != COMMON_ID_LEN {
            return Err(CommonIdError::WrongLength);
        }
        let id = Self(digits);
        let check = u32::from(digits[9] - b'0') * 10 + u32::from(digits[10] - b'0');
        // Strict comparison: only the canonical check digits (2..=98) are
        // accepted, not their aliases 00, 01 and 99 that also give mod 97 == 1.
        if check != u32::from(check_digits(id.random_part())) {
            return Err(CommonIdError::BadCheckDigits);
        }
        debug_assert_eq!(id.to_u64() % 97, 1);
        Ok(id)
    }
}

impl fmt::Display for CommonId {
    /// The display form `DDD.DDD.DDD-CC`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_display(f, 0)
    }
}

impl fmt::Debug for CommonId {
    /// Masks all but the last four digits: `CommonId(***.***.*89-01)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CommonId(")?;
        self.write_display(f, COMMON_ID_LEN - 4)?;
        f.write_str(")")
    }
}

impl Serialize for CommonId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_digits())
    }
}

impl<'de> Deserialize<'de> for CommonId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = CommonId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an 11-digit common identifier")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<CommonId, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn id(random_part: u32) -> CommonId {
        CommonId::from_random_part(random_part)
    }

    #[test]
    fn check_digits_make_mod_97_equal_one() {
        for n in [0u32, 1, 2, 123_456_789, 999_999_999, 500_000_000] {
            assert_eq!(id(n).to_u64() % 97, 1, "{n}");
        }
    }

    #[test]
    fn known_value() {
        // 123456789 * 100 mod 97 = 12345678900 mod 97 = 20; 98 - 20 = 78.
        let id = id(123_456_789);
        assert_eq!(id.as_digits(), "12345678978");
        assert_eq!(id.to_string(), "123.456.789-78");
        assert_eq!(format!("{id:?}"), "CommonId(***.***.*89-78)");
        assert_eq!(id.random_part(), 123_456_789);
    }

    #[test]
    fn leading_zero_is_kept() {
        let id = id(42);
        assert_eq!(id.as_digits().len(), 11);
        assert!(id.as_digits().starts_with("000000042"));
        assert_eq!(id.as_digits().parse::<CommonId>(), Ok(id));
    }

    #[test]
    fn parse_forms_and_errors() {
        let id = id(123_456_789);
        for s in [
            "12345678978",
            "123.456.789-78",
            "123 456 789 78",
            "123-456-789-78",
            " 123.456.789-78 ",
        ] {
            assert_eq!(s.parse::<CommonId>(), Ok(id), "{s}");
        }
        assert_eq!("".parse::<CommonId>(), Err(CommonIdError::WrongLength));
        assert_eq!(
            "1234567897".parse::<CommonId>(),
            Err(CommonIdError::WrongLength)
        );
        assert_eq!(
            "123456789782".parse::<CommonId>(),
            Err(CommonIdError::WrongLength)
        );
        assert_eq!(
            "123/456/789-78".parse::<CommonId>(),
            Err(CommonIdError::NotDigits)
        );
        assert_eq!(
            "12345678９78".parse::<CommonId>(),
            Err(CommonIdError::NotDigits)
        );
        assert_eq!(
            "1234567897a".parse::<CommonId>(),
            Err(CommonIdError::NotDigits)
        );
        assert_eq!(
            "12345678979".parse::<CommonId>(),
            Err(CommonIdError::BadCheckDigits)
        );
        assert_eq!(CommonIdError::WrongLength.code(), "wrong_length");
        assert_eq!(CommonIdError::NotDigits.code(), "not_digits");
        assert_eq!(CommonIdError::BadCheckDigits.code(), "bad_check_digits");
    }

    #[test]
    fn check_digit_aliases_are_rejected() {
        // Find random parts whose canonical check is 97, 98 or 2: their
        // aliases 00, 01 and 99 also give mod 97 == 1 but are not canonical.
        for (canonical, alias) in [(97u8, "00"), (98, "01"), (2, "99")] {
            let n = (0u32..1000)
                .find(|&n| check_digits(n) == canonical)
                .unwrap_or_default();
            let s = format!("{n:09}{alias}");
            assert_eq!(s.parse::<u64>().unwrap_or_default() % 97, 1);
            assert_eq!(s.parse::<CommonId>(), Err(CommonIdError::BadCheckDigits));
        }
    }

    #[test]
    fn serde_uses_compact_digits() {
        let id = id(7);
        let json = serde_json::to_string(&id).unwrap_or_default();
        assert_eq!(json, format!("\"{}\"", id.as_digits()));
        let back: CommonId = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, id);
        let display: CommonId =
            serde_json::from_str(&format!("\"{id}\"")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(display, id);
        assert!(serde_json::from_str::<CommonId>("\"00000000700\"").is_err());
        assert!(serde_json::from_str::<CommonId>("7").is_err());
    }

    #[test]
    fn try_generate_with_os_rng() {
        let id = CommonId::try_generate(&mut rand::rngs::OsRng)
            .unwrap_or_else(|e| panic!("os rng: {e}"));
        assert_eq!(id.as_digits().parse::<CommonId>(), Ok(id));
    }

    /// One million draws: collisions match the birthday expectation for a
    /// space of 10^9 (registration draws again on conflict, which this test
    /// also does until it holds a million distinct identifiers), and each of
    /// the 9 random digit positions passes a chi-square test of uniformity.
    #[test]
    fn million_generated_ids_are_unique_after_retry_and_uniform() {
        const N: usize = 1_000_000;
        let mut rng = rand::rng();
        let mut seen: HashSet<u64> = HashSet::with_capacity(N);
        let mut counts = [[0u64; 10]; RANDOM_DIGITS];
        let mut collisions = 0u64;
        while seen.len() < N {
            let id = CommonId::generate(&mut rng);
            if !seen.insert(id.to_u64()) {
                collisions += 1;
                continue;
            }
            for (pos, d) in id.0[..RANDOM_DIGITS].iter().enumerate() {
                counts[pos][usize::from(d - b'0')] += 1;
            }
        }
        assert_eq!(seen.len(), N);
        // Expected collisions ~ N^2 / (2 * 10^9) = 500, standard deviation ~22;
        // five standard deviations either side.
        assert!(
            (388..=612).contains(&collisions),
            "collisions: {collisions}"
        );
        // Chi-square with 9 degrees of freedom; 40 is beyond p = 10^-5.
        let expected = N as f64 / 10.0;
        for (pos, bins) in counts.iter().enumerate() {
            let chi2: f64 = bins
                .iter()
                .map(|&c| {
                    let d = c as f64 - expected;
                    d * d / expected
                })
                .sum();
            assert!(chi2 < 40.0, "position {pos}: chi2 = {chi2}, bins {bins:?}");
        }
    }

    proptest! {
        #[test]
        fn generated_forms_round_trip(n in 0u32..RANDOM_SPACE) {
            let id = id(n);
            prop_assert_eq!(id.as_digits().parse::<CommonId>(), Ok(id));
            prop_assert_eq!(id.to_string().parse::<CommonId>(), Ok(id));
            prop_assert_eq!(id.to_u64() % 97, 1);
            let debug = format!("{id:?}");
            prop_assert!(!debug.contains(&id.as_digits()[..7]));
            let tail = format!("*{}-{})", &id.as_digits()[7..9], &id.as_digits()[9..]);
            prop_assert!(debug.ends_with(&tail));
        }

        #[test]
        fn every_single_substitution_is_rejected(n in 0u32..RANDOM_SPACE) {
            let digits = id(n).0;
            for pos in 0..COMMON_ID_LEN {
                for d in b'0'..=b'9' {
                    if d == digits[pos] {
                        continue;
                    }
                    let mut changed = digits;
                    changed[pos] = d;
                    let s = std::str::from_utf8(&changed).unwrap_or_default();
                    prop_assert_eq!(s.parse::<CommonId>(), Err(CommonIdError::BadCheckDigits), "input {:?}", s);
                }
            }
        }

        #[test]
        fn every_adjacent_transposition_is_rejected(n in 0u32..RANDOM_SPACE) {
            let digits = id(n).0;
            for pos in 0..COMMON_ID_LEN - 1 {
                if digits[pos] == digits[pos + 1] {
                    continue;
                }
                let mut swapped = digits;
                swapped.swap(pos, pos + 1);
                let s = std::str::from_utf8(&swapped).unwrap_or_default();
                prop_assert_eq!(s.parse::<CommonId>(), Err(CommonIdError::BadCheckDigits), "input {:?}", s);
            }
        }

        #[test]
        fn parser_never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<CommonId>();
        }
    }
}
