//! Citizen credentials: activation codes, passwords, TOTP second factor and
//! the lockout policy after repeated failures.
//!
//! Nothing here stores anything: the hub keeps the digests, hashes, secrets
//! and lockout states these functions produce.

mod activation;
mod lockout;
mod password;
mod totp;

pub use activation::{
    ACTIVATION_CODE_CHARS, ActivationCode, ActivationCodeDigest, ActivationCodeError,
};
pub use lockout::{Locked, LockoutPolicy, LockoutState};
pub use password::{
    PasswordHashError, PasswordHashParams, PasswordPolicy, PasswordPolicyError, StoredPassword,
    hash_password, needs_rehash, verify_password,
};
pub use totp::{Totp, TotpDigits, TotpError, TotpSecret};
