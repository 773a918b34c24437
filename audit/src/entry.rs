//! Audit entries and their canonical, versioned encoding.
//!
//! An entry says who (actor) did what (kind) about whom (subject), for which
//! record type, why (purpose, legal basis, consent), with which outcome, and
//! the SHA-256 digests of the request and the response. **It never holds the
//! content of a record**, nor a secret: only identifiers and digests, and in
//! `details` a few non-secret extra fields.
//!
//! The encoding is RFC 8785 canonical JSON (sorted keys, no insignificant
//! whitespace) with `"v":1`; the leaf hash of the log is the RFC 9162 leaf
//! hash of these bytes.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SubsecRound as _, Utc};
use serde::{Deserialize, Serialize};

use crate::error::AuditError;
use crate::hash::{Hash, leaf_hash};

/// Largest sequence number: canonical JSON numbers are IEEE doubles, which
/// hold integers exactly up to 2^53 - 1.
pub const MAX_SEQ: u64 = (1 << 53) - 1;
/// Largest canonical size of `details`, in bytes.
pub const MAX_DETAILS_BYTES: usize = 4096;
/// Largest length of an identifier or code string, in bytes.
pub const MAX_FIELD_BYTES: usize = 256;

/// The encoding version; serialised as the number in field `v`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EntryVersion {
    #[default]
    V1,
}

impl Serialize for EntryVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            EntryVersion::V1 => s.serialize_u8(1),
        }
    }
}

impl<'de> Deserialize<'de> for EntryVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u64::deserialize(d)? {
            1 => Ok(EntryVersion::V1),
            v => Err(serde::de::Error::custom(format!(
                "unknown entry version {v}"
            ))),
        }
    }
}

/// A UTC time rounded to microseconds, encoded as
/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryTime(DateTime<Utc>);

impl EntryTime {
    /// Rounds `time` to the nearest microsecond.
    pub fn new(time: DateTime<Utc>) -> Self {
        Self(time.round_subsecs(6))
    }

    /// The time.
    pub fn get(&self) -> DateTime<Utc> {
        self.0
    }
}

impl From<DateTime<Utc>> for EntryTime {
    fn from(t: DateTime<Utc>) -> Self {
        Self::new(t)
    }
}

impl fmt::Display for EntryTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
    }
}

impl Serialize for EntryTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EntryTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| EntryTime::new(t.with_timezone(&Utc)))
            .map_err(serde::de::Error::custom)
    }
}

/// What happened: lowercase dotted words, e.g. `lookup.permitted`,
/// `lookup.provider_error`, `consent.approved`, `agency.suspended`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct EntryKind(String);

impl EntryKind {
    /// Checks and wraps a kind: two or more dot-separated words of
    /// `a-z`, `0-9` and `_`, each starting with a letter; at most 64 bytes.
    pub fn new(s: &str) -> Result<Self, AuditError> {
        let word_ok = |w: &str| {
            w.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if s.len() <= 64 && s.contains('.') && s.split('.').all(word_ok) {
            Ok(Self(s.to_owned()))
        } else {
            Err(AuditError::InvalidEntry(format!(
                "invalid entry kind {s:?}"
            )))
        }
    }

    /// The kind as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for EntryKind {
    type Err = AuditError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EntryKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        EntryKind::new(&s).map_err(serde::de::Error::custom)
    }
}

/// Who acted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorType {
    Agency,
    Citizen,
    Operator,
    Hub,
}

/// The actor: its type and its identifier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    #[serde(rename = "type")]
    pub actor_type: ActorType,
    pub id: String,
}

impl Actor {
    /// An actor.
    pub fn new(actor_type: ActorType, id: impl Into<String>) -> Self {
        Self {
            actor_type,
            id: id.into(),
        }
    }
}

/// The authorization (legal basis) a decision relied on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalBasis {
    pub authorization_id: String,
    pub version: u32,
}

/// The outcome of the audited event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Permitted,
    Denied,
    Error,
    Recorded,
}

/// One audit log entry. Holds identifiers and digests only, never a record's
/// content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Encoding version (`"v":1`).
    pub v: EntryVersion,
    /// Position in the log (the leaf index).
    pub seq: u64,
    pub time: EntryTime,
    pub kind: EntryKind,
    pub actor: Actor,
    /// The person concerned: a common ID or a sector pseudonym.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<LegalBasis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_id: Option<String>,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_id: Option<String>,
    /// SHA-256 of the request as sent (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_digest: Option<Hash>,
    /// SHA-256 of the response as returned (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_digest: Option<Hash>,
    /// A few extra non-secret fields; never record content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Entry {
    /// An entry with the required fields; the optional ones are `None`.
    pub fn new(
        seq: u64,
        time: impl Into<EntryTime>,
        kind: EntryKind,
        actor: Actor,
        outcome: Outcome,
    ) -> Self {
        Self {
            v: EntryVersion::V1,
            seq,
            time: time.into(),
            kind,
            actor,
            subject: None,
            record_type: None,
            purpose: None,
            legal_basis: None,
            consent_id: None,
            outcome,
            deny_code: None,
            exchange_id: None,
            request_digest: None,
            response_digest: None,
            details: None,
        }
    }

    /// Checks the limits: `seq <= MAX_SEQ`, identifier strings non-empty and
    /// at most 256 bytes, `details` at most 4096 canonical bytes.
    pub fn validate(&self) -> Result<(), AuditError> {
        let invalid = |m: String| Err(AuditError::InvalidEntry(m));
        if self.seq > MAX_SEQ {
            return invalid(format!("seq {} is above 2^53 - 1", self.seq));
        }
        let strings = [
            ("actor.id", Some(&self.actor.id)),
            ("subject", self.subject.as_ref()),
            ("record_type", self.record_type.as_ref()),
            ("purpose", self.purpose.as_ref()),
            (
                "legal_basis.authorization_id",
                self.legal_basis.as_ref().map(|l| &l.authorization_id),
            ),
            ("consent_id", self.consent_id.as_ref()),
            ("deny_code", self.deny_code.as_ref()),
            ("exchange_id", self.exchange_id.as_ref()),
        ];
        for (name, value) in strings {
            if let Some(v) = value
                && (v.is_empty() || v.len() > MAX_FIELD_BYTES)
            {
                return invalid(format!("{name} must have 1 to {MAX_FIELD_BYTES} bytes"));
            }
        }
        if let Some(d) = &self.details {
            let len = serde_jcs::to_vec(d)
                .map_err(|e| AuditError::InvalidEntry(format!("details: {e}")))?
                .len();
            if len > MAX_DETAILS_BYTES {
                return invalid(format!(
                    "details take {len} bytes, more than {MAX_DETAILS_BYTES}"
                ));
            }
        }
        Ok(())
    }

    /// The canonical encoding (RFC 8785 JSON); deterministic.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, AuditError> {
        self.validate()?;
        serde_jcs::to_vec(self).map_err(|e| AuditError::InvalidEntry(e.to_string()))
    }

    /// The RFC 9162 leaf hash of the canonical encoding.
    pub fn leaf_hash(&self) -> Result<Hash, AuditError> {
        Ok(leaf_hash(&self.canonical_bytes()?))
    }

    /// Parses an entry and checks the bytes are its canonical encoding.
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Self, AuditError> {
        let entry: Entry =
            serde_json::from_slice(bytes).map_err(|e| AuditError::InvalidEntry(e.to_string()))?;
        if entry.canonical_bytes()? != bytes {
            return Err(AuditError::InvalidEntry(
                "bytes are not the canonical encoding".into(),
            ));
        }
        Ok(entry)
    }
}
