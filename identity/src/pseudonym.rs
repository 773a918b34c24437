//! Sector pseudonyms.
//!
//! An agency whose [`IdentifierPolicy`](crate::IdentifierPolicy) is
//! `sector_pseudonym` never sees a person's common identifier: it sees the
//! person's pseudonym in its sector, so that two sectors cannot link their
//! records about a person without going through the hub.
//!
//! Form: `<sector>:<32 base32 characters>`, e.g. `tax:mfrggzdfmztwq2lknnwg23tpobyxe43u`,
//! where the sector is the [`Sector`]'s snake_case name and the characters are
//! the first 20 bytes (160 bits) of HMAC-SHA256(sector key, the compact common
//! identifier), in the RFC 4648 base32 alphabet, lowercase, without padding.
//!
//! Each sector key is derived from one master secret with HKDF-SHA256 (the
//! salt is fixed, the info is the sector's name), so the hub keeps one secret.
//!
//! HMAC is one-way: a pseudonym cannot be turned back into a common
//! identifier by computation. The hub keeps, for each sector, the table
//! pseudonym → common identifier, filled when it first computes a person's
//! pseudonym, and resolves incoming pseudonyms there. This crate only computes.

use std::fmt;
use std::str::FromStr;

use ring::{hkdf, hmac};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::agency::Sector;
use crate::common_id::CommonId;
use crate::encoding::{BASE32_LOWER, BASE32_LOWER_SYMBOLS};

/// Bytes of the HMAC kept in a pseudonym.
pub const PSEUDONYM_BYTES: usize = 20;

/// Base32 characters of a pseudonym after the sector tag.
pub const PSEUDONYM_CHARS: usize = 32;

/// Shortest master secret accepted, in bytes.
pub const MASTER_SECRET_MIN: usize = 32;

/// HKDF salt: fixed, so that the same master secret always gives the same keys.
const HKDF_SALT: &[u8] = b"crossroads/sector-pseudonym/v1";

/// What went wrong with a pseudonym or the pseudonym keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PseudonymError {
    /// The master secret is shorter than 32 bytes.
    #[error("the pseudonym master secret must have at least 32 bytes")]
    MasterSecretTooShort,
    /// Key derivation failed.
    #[error("the sector keys could not be derived")]
    KeyDerivation,
    /// The pseudonym has no `sector:` prefix.
    #[error("a sector pseudonym reads sector:value")]
    MissingSectorTag,
    /// The prefix is not a known sector.
    #[error("the sector of the pseudonym is unknown")]
    UnknownSector,
    /// The value does not have 32 characters.
    #[error("a sector pseudonym value has 32 characters")]
    WrongLength,
    /// The value holds a character outside lowercase base32.
    #[error("a sector pseudonym value holds only a-z and 2-7")]
    BadCharacter,
}

impl PseudonymError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MasterSecretTooShort => "pseudonym_master_secret_too_short",
            Self::KeyDerivation => "pseudonym_key_derivation_failed",
            Self::MissingSectorTag => "pseudonym_missing_sector",
            Self::UnknownSector => "pseudonym_unknown_sector",
            Self::WrongLength => "pseudonym_wrong_length",
            Self::BadCharacter => "pseudonym_bad_character",
        }
    }
}

/// A person's pseudonym in one sector, e.g. `health:…` (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SectorPseudonym {
    sector: Sector,
    text: String,
}

impl SectorPseudonym {
    /// The sector this pseudonym belongs to.
    pub fn sector(&self) -> Sector {
        self.sector
    }

    /// The whole pseudonym, tag included.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value after `sector:`.
    pub fn value(&self) -> &str {
        self.text
            .get(self.sector.as_str().len() + 1..)
            .unwrap_or_default()
    }
}

impl FromStr for SectorPseudonym {
    type Err = PseudonymError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (tag, value) = s.split_once(':').ok_or(PseudonymError::MissingSectorTag)?;
        let sector: Sector = tag.parse().map_err(|_| PseudonymError::UnknownSector)?;
        if !value
            .bytes()
            .all(|b| BASE32_LOWER_SYMBOLS.as_bytes().contains(&b))
        {
            return Err(PseudonymError::BadCharacter);
        }
        if value.len() != PSEUDONYM_CHARS {
            return Err(PseudonymError::WrongLength);
        }
        Ok(Self {
            sector,
            text: s.to_owned(),
        })
    }
}

impl fmt::Display for SectorPseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for SectorPseudonym {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for SectorPseudonym {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Computes the pseudonym of `id` in `sector` with that sector's key.
///
/// A pure function: the same key and identifier always give the same result.
pub fn compute_pseudonym(sector_key: &hmac::Key, sector: Sector, id: &CommonId) -> SectorPseudonym {
    let tag = hmac::sign(sector_key, id.as_digits().as_bytes());
    let truncated = tag.as_ref().get(..PSEUDONYM_BYTES).unwrap_or_default();
    let mut text = String::with_capacity(sector.as_str().len() + 1 + PSEUDONYM_CHARS);
    text.push_str(sector.as_str());
    text.push(':');
    text.push_str(&BASE32_LOWER.encode(truncated));
    SectorPseudonym { sector, text }
}

/// Holds one key per sector, derived from a master secret, and computes
/// pseudonyms. Its `Debug` form shows no key.
pub struct PseudonymService {
    /// In the order of [`Sector::ALL`], which is the order of discriminants.
    keys: Vec<hmac::Key>,
}

impl PseudonymService {
    /// Derives every sector's key from `master_secret` (at least 32 bytes) with
    /// HKDF-SHA256, info = the sector's name.
    pub fn new(master_secret: &[u8]) -> Result<Self, PseudonymError> {
        if master_secret.len() < MASTER_SECRET_MIN {
            return Err(PseudonymError::MasterSecretTooShort);
        }
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(master_secret);
        let keys = Sector::ALL
            .iter()
            .map(|sector| {
                let info = [sector.as_str().as_bytes()];
                prk.expand(&info, hmac::HMAC_SHA256)
                    .map(hmac::Key::from)
                    .map_err(|_| PseudonymError::KeyDerivation)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { keys })
    }

    /// The pseudonym of `id` in `sector`.
    pub fn pseudonym(&self, sector: Sector, id: &CommonId) -> SectorPseudonym {
        compute_pseudonym(&self.keys[sector as usize], sector, id)
    }

    /// Whether `pseudonym` is the pseudonym of `id` in its sector
    /// (constant-time comparison of the HMAC).
    pub fn matches(&self, pseudonym: &SectorPseudonym, id: &CommonId) -> bool {
        let expected = self.pseudonym(pseudonym.sector(), id);
        crate::encoding::constant_time_eq(
            expected.as_str().as_bytes(),
            pseudonym.as_str().as_bytes(),
        )
    }
}

impl fmt::Debug for PseudonymService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PseudonymService")
            .field("sectors", &self.keys.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn service() -> PseudonymService {
        PseudonymService::new(&[7u8; 32]).unwrap_or_else(|e| panic!("{e}"))
    }

    fn id(s: &str) -> CommonId {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn form_and_parse() {
        let service = service();
        let p = service.pseudonym(Sector::Tax, &id("12345678978"));
        assert!(p.as_str().starts_with("tax:"));
        assert_eq!(p.value().len(), PSEUDONYM_CHARS);
        assert_eq!(p.as_str().parse::<SectorPseudonym>(), Ok(p.clone()));
        let json = serde_json::to_string(&p).unwrap_or_default();
        let back: SectorPseudonym = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, p);
        assert!(service.matches(&p, &id("12345678978")));
    }

    #[test]
    fn derivation_matches_hkdf_and_hmac_by_hand() {
        // HKDF-Extract then Expand with one block is HMAC(PRK, info || 0x01).
        let master = [7u8; 32];
        let prk = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, HKDF_SALT), &master);
        let prk_key = hmac::Key::new(hmac::HMAC_SHA256, prk.as_ref());
        let okm = hmac::sign(&prk_key, b"health\x01");
        let sector_key = hmac::Key::new(hmac::HMAC_SHA256, okm.as_ref());
        let id = id("12345678978");
        let tag = hmac::sign(&sector_key, b"12345678978");
        let expected = format!("health:{}", BASE32_LOWER.encode(&tag.as_ref()[..20]));
        assert_eq!(service().pseudonym(Sector::Health, &id).as_str(), expected);
    }

    #[test]
    fn errors() {
        assert_eq!(
            PseudonymService::new(&[0u8; 31]).err(),
            Some(PseudonymError::MasterSecretTooShort)
        );
        let cases = [
            ("abc", PseudonymError::MissingSectorTag),
            (
                "police:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                PseudonymError::UnknownSector,
            ),
            ("tax:aaaa", PseudonymError::WrongLength),
            (
                "tax:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
                PseudonymError::BadCharacter,
            ),
            (
                "tax:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                PseudonymError::BadCharacter,
            ),
        ];
        for (s, err) in cases {
            assert_eq!(s.parse::<SectorPseudonym>(), Err(err), "{s}");
        }
        assert_eq!(
            PseudonymError::UnknownSector.code(),
            "pseudonym_unknown_sector"
        );
        assert!(!format!("{:?}", service()).contains('7'));
    }

    fn any_id() -> impl Strategy<Value = CommonId> {
        any::<[u8; 16]>().prop_map(|seed| {
            use rand::SeedableRng;
            let mut rng = rand::rngs::StdRng::from_seed({
                let mut s = [0u8; 32];
                s[..16].copy_from_slice(&seed);
                s
            });
            CommonId::generate(&mut rng)
        })
    }

    fn any_sector() -> impl Strategy<Value = Sector> {
        proptest::sample::select(Sector::ALL)
    }

    proptest! {
        #[test]
        fn sectors_differ_for_one_person(id in any_id(), a in any_sector(), b in any_sector()) {
            prop_assume!(a != b);
            let service = service();
            let pa = service.pseudonym(a, &id);
            let pb = service.pseudonym(b, &id);
            prop_assert_ne!(pa.value(), pb.value());
        }

        #[test]
        fn stable_for_one_person_in_one_sector(id in any_id(), sector in any_sector()) {
            let first = service().pseudonym(sector, &id);
            let again = service().pseudonym(sector, &id);
            prop_assert_eq!(&first, &again);
            prop_assert_eq!(first.as_str().parse::<SectorPseudonym>(), Ok(again));
        }

        #[test]
        fn persons_differ_in_one_sector(a in any_id(), b in any_id(), sector in any_sector()) {
            prop_assume!(a != b);
            let service = service();
            prop_assert_ne!(service.pseudonym(sector, &a), service.pseudonym(sector, &b));
        }
    }
}
