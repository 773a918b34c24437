//! Whole numbers as JSON reads them. JSON has one number type, and JSON
//! Schema's `integer` holds every number without a fractional part, so `4`,
//! `4.0` and `4e0` are the same integer; serde reads only the first into an
//! integer type. A field declared `integer` in a description reads all three
//! with [`whole_u32`].

use serde::de::{Deserialize, Deserializer, Error, Unexpected};
use serde_json::Number;

/// The value of `number` if it is a whole number from 0 to `u32::MAX`.
pub fn as_whole_u32(number: &Number) -> Option<u32> {
    if let Some(n) = number.as_u64() {
        return u32::try_from(n).ok();
    }
    if number.is_i64() {
        return None;
    }
    let f = number.as_f64()?;
    if f.fract() != 0.0 || !(0.0..=f64::from(u32::MAX)).contains(&f) {
        return None;
    }
    // Whole and in range: the conversion is exact.
    u32::try_from(f as u64).ok()
}

/// Reads a whole number from 0 to `u32::MAX` written in any JSON notation
/// (`4`, `4.0`, `4e0`); for `#[serde(deserialize_with = …)]`.
pub fn whole_u32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let number = Number::deserialize(deserializer)?;
    as_whole_u32(&number).ok_or_else(|| {
        D::Error::invalid_value(
            Unexpected::Other(&number.to_string()),
            &"a whole number from 0 to 4294967295",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Option<u32> {
        serde_json::from_str::<Number>(text)
            .ok()
            .and_then(|n| as_whole_u32(&n))
    }

    #[test]
    fn whole_numbers_in_any_notation() {
        assert_eq!(read("0"), Some(0));
        assert_eq!(read("4"), Some(4));
        assert_eq!(read("1000000.0"), Some(1_000_000));
        assert_eq!(read("4e0"), Some(4));
        assert_eq!(read("-0.0"), Some(0));
        assert_eq!(read("4294967295"), Some(u32::MAX));
        assert_eq!(read("4294967295.0"), Some(u32::MAX));
    }

    #[test]
    fn fractions_negatives_and_overflow_are_refused() {
        assert_eq!(read("1.5"), None);
        assert_eq!(read("-1"), None);
        assert_eq!(read("-1.0"), None);
        assert_eq!(read("4294967296"), None);
        assert_eq!(read("4294967296.0"), None);
        assert_eq!(read("1e300"), None);
    }

    #[test]
    fn deserialize_with_reads_and_refuses() {
        #[derive(serde::Deserialize)]
        struct Holder {
            #[serde(deserialize_with = "whole_u32")]
            n: u32,
        }
        let holder: Holder = serde_json::from_str(r#"{"n": 7.0}"#).unwrap();
        assert_eq!(holder.n, 7);
        assert!(serde_json::from_str::<Holder>(r#"{"n": 7.5}"#).is_err());
        assert!(serde_json::from_str::<Holder>(r#"{"n": "7"}"#).is_err());
    }
}
