//! The text encodings of this crate, from `data-encoding`: unpadded base32
//! in two alphabets, lowercase hexadecimal; and constant-time comparison
//! from `subtle`.

use std::sync::LazyLock;

use data_encoding::{Encoding, HEXLOWER, HEXLOWER_PERMISSIVE, Specification};
use subtle::ConstantTimeEq;

/// RFC 4648 base32 symbols, lowercase (sector pseudonyms).
pub(crate) const BASE32_LOWER_SYMBOLS: &str = "abcdefghijklmnopqrstuvwxyz234567";

/// Crockford base32 symbols: no I, L, O or U (activation codes).
pub(crate) const CROCKFORD_SYMBOLS: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Unpadded base32 in [`BASE32_LOWER_SYMBOLS`].
pub(crate) static BASE32_LOWER: LazyLock<Encoding> =
    LazyLock::new(|| unpadded_base32(BASE32_LOWER_SYMBOLS));

/// Unpadded base32 in [`CROCKFORD_SYMBOLS`].
pub(crate) static CROCKFORD: LazyLock<Encoding> =
    LazyLock::new(|| unpadded_base32(CROCKFORD_SYMBOLS));

fn unpadded_base32(symbols: &str) -> Encoding {
    let mut spec = Specification::new();
    spec.symbols.push_str(symbols);
    spec.encoding()
        .unwrap_or_else(|e| unreachable!("a 32-symbol alphabet is a valid base32: {e}"))
}

/// Lowercase hexadecimal.
pub(crate) fn hex_encode(data: &[u8]) -> String {
    HEXLOWER.encode(data)
}

/// Decodes hexadecimal (either case) into exactly `N` bytes.
pub(crate) fn hex_decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = HEXLOWER_PERMISSIVE.decode(text.as_bytes()).ok()?;
    bytes.try_into().ok()
}

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(BASE32_LOWER.encode(plain.as_bytes()), encoded);
        }
        assert_eq!(CROCKFORD.encode(b"foobar"), "CSQPYRK1E8");
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex_encode(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(hex_decode::<3>("00ABff"), Some([0x00, 0xab, 0xff]));
        assert_eq!(hex_decode::<3>("00abf"), None);
        assert_eq!(hex_decode::<2>("zz00"), None);
        assert_eq!(hex_decode::<2>("00ab00"), None);
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
