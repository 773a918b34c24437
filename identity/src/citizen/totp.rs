//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): HMAC-SHA-1,
//! 30-second steps, 6 digits by default, one step of clock drift accepted
//! either way, and a replay guard.
//!
//! The codes, the base32 form of secrets and the `otpauth://` URI come from
//! `totp-rs`; this module adds what the hub needs around them: the time step
//! a code matched (so that no code is accepted twice), typed errors, and a
//! secret whose `Debug` form hides it.

use std::fmt;

use chrono::{DateTime, Utc};
use rand::CryptoRng;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::encoding::constant_time_eq;

/// Shortest secret accepted, in bytes (RFC 4226 requires 128 bits).
pub const TOTP_SECRET_MIN: usize = 16;

/// Length of a generated secret, in bytes (160 bits, as RFC 4226 recommends).
const TOTP_SECRET_GENERATED: usize = 20;

/// Why a TOTP code or secret is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// The code does not have the expected number of digits.
    #[error("a one-time code has {0} digits")]
    MalformedCode(usize),
    /// The code matches none of the accepted time steps.
    #[error("the one-time code is wrong or expired")]
    Mismatch,
    /// The code was already used (its time step is not after the last used one).
    #[error("the one-time code was already used")]
    Replayed,
    /// The secret is shorter than 16 bytes.
    #[error("a TOTP secret has at least 16 bytes")]
    SecretTooShort,
    /// The secret is not valid base32.
    #[error("a TOTP secret is written in base32")]
    SecretNotBase32,
    /// The time is before 1970.
    #[error("the time is before the Unix epoch")]
    TimeBeforeEpoch,
}

impl TotpError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedCode(_) => "totp_code_malformed",
            Self::Mismatch => "totp_code_mismatch",
            Self::Replayed => "totp_code_replayed",
            Self::SecretTooShort => "totp_secret_too_short",
            Self::SecretNotBase32 => "totp_secret_not_base32",
            Self::TimeBeforeEpoch => "totp_time_before_epoch",
        }
    }
}

/// A shared TOTP secret. Its `Debug` form hides the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl TotpSecret {
    /// Draws a fresh 20-byte secret.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = vec![0u8; TOTP_SECRET_GENERATED];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Wraps stored secret bytes (at least 16).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, TotpError> {
        if bytes.len() < TOTP_SECRET_MIN {
            return Err(TotpError::SecretTooShort);
        }
        Ok(Self(bytes))
    }

    /// Parses base32 as authenticator apps show it: either case, spaces and
    /// `=` padding ignored.
    pub fn from_base32(text: &str) -> Result<Self, TotpError> {
        let cleaned: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '=')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let bytes = Secret::Encoded(cleaned)
            .to_bytes()
            .map_err(|_| TotpError::SecretNotBase32)?;
        Self::from_bytes(bytes)
    }

    /// The secret bytes, to store (encrypted) by the hub.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Uppercase base32 without padding, as typed into authenticator apps.
    pub fn to_base32(&self) -> String {
        match Secret::Raw(self.0.clone()).to_encoded() {
            Secret::Encoded(text) => text,
            Secret::Raw(_) => unreachable!("to_encoded always encodes"),
        }
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

/// Number of digits of a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TotpDigits {
    /// Six digits (what authenticator apps use).
    #[default]
    Six,
    /// Eight digits (as in the RFC 6238 test vectors).
    Eight,
}

impl TotpDigits {
    fn count(self) -> usize {
        match self {
            Self::Six => 6,
            Self::Eight => 8,
        }
    }
}

/// TOTP settings. The default is RFC 6238 as apps use it: 6 digits, 30-second
/// steps, one step of drift accepted either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totp {
    /// Digits of a code.
    pub digits: TotpDigits,
    /// Length of a time step in seconds (at least 1).
    pub step_seconds: u32,
    /// Steps of clock drift accepted before and after the current one.
    pub skew_steps: u8,
}

impl Default for Totp {
    fn default() -> Self {
        Self {
            digits: TotpDigits::Six,
            step_seconds: 30,
            skew_steps: 1,
        }
    }
}

impl Totp {
    /// The time step that `now` falls in.
    pub fn step_at(&self, now: DateTime<Utc>) -> Result<u64, TotpError> {
        let seconds = u64::try_from(now.timestamp()).map_err(|_| TotpError::TimeBeforeEpoch)?;
        Ok(seconds / u64::from(self.step_seconds.max(1)))
    }

    /// The generator of `secret` with these settings.
    fn generator(&self, secret: &TotpSecret, issuer: Option<&str>, account: &str) -> TOTP {
        // Unchecked: the secret's length is checked by `TotpSecret`, and the
        // issuer may hold a `:` (a URL), which the URI's encoding escapes.
        TOTP::new_unchecked(
            Algorithm::SHA1,
            self.digits.count(),
            0,
            u64::from(self.step_seconds.max(1)),
            secret.0.clone(),
            issuer.map(str::to_owned),
            account.to_owned(),
        )
    }

    /// The code of `secret` for time step `step`, zero-padded.
    pub fn code_for_step(&self, secret: &TotpSecret, step: u64) -> String {
        let generator = self.generator(secret, None, "");
        generator.generate(step.saturating_mul(generator.step))
    }

    /// The code for `now`, zero-padded to the number of digits.
    pub fn code(&self, secret: &TotpSecret, now: DateTime<Utc>) -> Result<String, TotpError> {
        let step = self.step_at(now)?;
        Ok(self.code_for_step(secret, step))
    }

    /// Checks `code` at `now`, within the accepted drift. Returns the time step
    /// it matched, which the caller stores and passes back as
    /// `last_used_step` so that no code is accepted twice.
    pub fn verify(
        &self,
        secret: &TotpSecret,
        code: &str,
        now: DateTime<Utc>,
        last_used_step: Option<u64>,
    ) -> Result<u64, TotpError> {
        let code = code.trim();
        let digits = self.digits.count();
        if code.len() != digits || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TotpError::MalformedCode(digits));
        }
        let current = self.step_at(now)?;
        let skew = u64::from(self.skew_steps);
        let generator = self.generator(secret, None, "");
        let mut matched = None;
        // Every candidate is computed and compared, whatever matches first.
        for step in current.saturating_sub(skew)..=current.saturating_add(skew) {
            let expected = generator.generate(step.saturating_mul(generator.step));
            if constant_time_eq(expected.as_bytes(), code.as_bytes()) && matched.is_none() {
                matched = Some(step);
            }
        }
        let step = matched.ok_or(TotpError::Mismatch)?;
        if last_used_step.is_some_and(|last| step <= last) {
            return Err(TotpError::Replayed);
        }
        Ok(step)
    }

    /// The `otpauth://` URI that authenticator apps read from a QR code
    /// (the Key Uri Format: parameters at their defaults are left out).
    pub fn otpauth_uri(&self, secret: &TotpSecret, issuer: &str, account: &str) -> String {
        self.generator(secret, Some(issuer), account).get_url()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0)
            .single()
            .unwrap_or_else(|| panic!("{seconds}"))
    }

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// RFC 6238 appendix B, SHA-1 column.
    const VECTORS: [(i64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    #[test]
    fn rfc6238_vectors_eight_digits() {
        let totp = Totp {
            digits: TotpDigits::Eight,
            ..Totp::default()
        };
        let secret = rfc_secret();
        for (time, expected) in VECTORS {
            assert_eq!(
                totp.code(&secret, at(time)).as_deref(),
                Ok(expected),
                "{time}"
            );
            assert!(totp.verify(&secret, expected, at(time), None).is_ok());
        }
    }

    #[test]
    fn rfc6238_vectors_six_digits() {
        let totp = Totp::default();
        let secret = rfc_secret();
        for (time, expected) in VECTORS {
            let six = &expected[2..];
            assert_eq!(totp.code(&secret, at(time)).as_deref(), Ok(six), "{time}");
        }
    }

    #[test]
    fn drift_window_and_replay() {
        let totp = Totp::default();
        let secret = rfc_secret();
        let now = at(1_111_111_111);
        let step = totp.step_at(now).unwrap_or_default();
        let previous = totp.code_for_step(&secret, step - 1);
        let next = totp.code_for_step(&secret, step + 1);
        let too_old = totp.code_for_step(&secret, step - 2);
        assert_eq!(totp.verify(&secret, &previous, now, None), Ok(step - 1));
        assert_eq!(totp.verify(&secret, &next, now, None), Ok(step + 1));
        if too_old != previous && too_old != next {
            assert_eq!(
                totp.verify(&secret, &too_old, now, None),
                Err(TotpError::Mismatch)
            );
        }
        let current = totp.code(&secret, now).unwrap_or_default();
        assert_eq!(
            totp.verify(&secret, &current, now, Some(step)),
            Err(TotpError::Replayed)
        );
        assert_eq!(
            totp.verify(&secret, &previous, now, Some(step - 1)),
            Err(TotpError::Replayed)
        );
        assert_eq!(
            totp.verify(&secret, &current, now, Some(step - 1)),
            Ok(step)
        );
        assert_eq!(
            totp.verify(&secret, "12345", now, None),
            Err(TotpError::MalformedCode(6))
        );
        assert_eq!(
            totp.verify(&secret, "12a456", now, None),
            Err(TotpError::MalformedCode(6))
        );
        assert_eq!(totp.step_at(at(-1)), Err(TotpError::TimeBeforeEpoch));
    }

    #[test]
    fn secrets() {
        let secret = rfc_secret();
        // RFC 4648 base32 of "12345678901234567890".
        assert_eq!(secret.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            TotpSecret::from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq"),
            Ok(secret.clone())
        );
        assert_eq!(
            TotpSecret::from_base32("GEZDGNBV"),
            Err(TotpError::SecretTooShort)
        );
        assert_eq!(
            TotpSecret::from_base32("GEZ1"),
            Err(TotpError::SecretNotBase32)
        );
        let fresh = TotpSecret::generate(&mut rand::rng());
        assert_eq!(fresh.as_bytes().len(), 20);
        assert_eq!(format!("{fresh:?}"), "TotpSecret(..)");
        assert_eq!(
            Totp::default().otpauth_uri(&secret, "Crossroads BE", "jo@example.org"),
            "otpauth://totp/Crossroads%20BE:jo%40example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Crossroads%20BE"
        );
        // A hub's issuer is its URL; settings off the defaults are stated.
        let eight = Totp {
            digits: TotpDigits::Eight,
            step_seconds: 60,
            skew_steps: 1,
        };
        assert_eq!(
            eight.otpauth_uri(&secret, "https://hub.example", "42"),
            "otpauth://totp/https%3A%2F%2Fhub.example:42?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8&issuer=https%3A%2F%2Fhub.example&period=60"
        );
    }
}
