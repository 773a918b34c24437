//! Identity: common identifiers of persons, sector pseudonyms, the agency
//! registry with its X.509 certificates, the hub's keys and signed tokens.
//!
//! This crate knows nothing of HTTP or of a database driver. Time is always
//! passed in (`now`, `today`), never read from the system clock.

pub mod agency;
pub mod citizen;
pub mod common_id;
mod encoding;
pub mod person;
pub mod pseudonym;

pub use agency::{AgencyId, AgencyIdError, IdentifierPolicy, Role, Sector, UnknownNameError};
pub use citizen::{
    ActivationCode, ActivationCodeDigest, ActivationCodeError, Locked, LockoutPolicy, LockoutState,
    PasswordHashError, PasswordHashParams, PasswordPolicy, PasswordPolicyError, StoredPassword,
    Totp, TotpDigits, TotpError, TotpSecret, hash_password, needs_rehash, verify_password,
};
pub use common_id::{CommonId, CommonIdError};
pub use person::{
    MatchKey, PersonAttributes, PersonError, PersonEvent, PersonStatus, Sex, StatusKind,
    TransitionError, normalize_name,
};
pub use pseudonym::{PseudonymError, PseudonymService, SectorPseudonym, compute_pseudonym};

pub mod jose;
pub mod jwt;
pub mod keys;
pub mod x509;
