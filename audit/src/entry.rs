//! Audit entries and their canonical, versioned encoding.
//!
//! An entry says who (actor) did what (kind) about whom (subject), for which
//! record type, why (purpose, legal basis, consent), with which outcome, and
//! the SHA-256 digests of the request and the response. **It never holds the
//! content of a record**, nor a secret: only identifiers and digests, and in
//! `details` a few non-secret extra fields.
//!
//! The encoding is RFC 8785 canonical JSON (sorted keys, no insignificant
//! whitespace) with a version number `v`; the leaf hash of the log is the
//! RFC 9162 leaf hash of these bytes.
//!
//! - `"v":1` names the person concerned in `subject` (a common ID or a
//!   sector pseudonym). Logs hold such entries and they stay valid.
//! - `"v":2` never names a person: `subject_commitment` holds
//!   `HMAC-SHA256(salt, identifier)` (see [`crate::commitment`]), the salt
//!   being kept beside the entry, outside the hashed bytes; `subject` is not
//!   allowed.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike as _, SubsecRound as _, Timelike as _, Utc};
use serde::{Deserialize, Serialize};

use crate::commitment::Salt;
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
    /// The person concerned in plain, in `subject`.
    #[default]
    V1,
    /// The person concerned by commitment, in `subject_commitment`.
    V2,
}

impl EntryVersion {
    /// The version new entries are written in.
    pub const CURRENT: EntryVersion = EntryVersion::V2;
}

impl Serialize for EntryVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            EntryVersion::V1 => s.serialize_u8(1),
            EntryVersion::V2 => s.serialize_u8(2),
        }
    }
}

impl<'de> Deserialize<'de> for EntryVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u64::deserialize(d)? {
            1 => Ok(EntryVersion::V1),
            2 => Ok(EntryVersion::V2),
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
        // `%Y-%m-%dT%H:%M:%S%.6fZ`, without parsing a format string each
        // time; chrono's own formatting for leap seconds and years it
        // writes with a sign.
        let t = &self.0;
        if t.nanosecond() >= 1_000_000_000 || !(0..=9999).contains(&t.year()) {
            return write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
        }
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.nanosecond() / 1_000
        )
    }
}

impl Serialize for EntryTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EntryTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor("an RFC 3339 time", |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| EntryTime::new(t.with_timezone(&Utc)))
                .map_err(|e| e.to_string())
        }))
    }
}

/// Deserialises a string where it lies (no copy) through `.1`.
struct StrVisitor<F>(&'static str, F);

impl<T, F: FnOnce(&str) -> Result<T, String>> serde::de::Visitor<'_> for StrVisitor<F> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<T, E> {
        (self.1)(s).map_err(E::custom)
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
        d.deserialize_str(StrVisitor("an entry kind", |s: &str| {
            EntryKind::new(s).map_err(|e| e.to_string())
        }))
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

impl ActorType {
    /// The serialised name (`agency`, `citizen`, `operator`, `hub`).
    pub fn as_str(&self) -> &'static str {
        match self {
            ActorType::Agency => "agency",
            ActorType::Citizen => "citizen",
            ActorType::Operator => "operator",
            ActorType::Hub => "hub",
        }
    }
}

/// The actor: its type and its identifier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    // Declared in key order, as in `Entry`.
    pub id: String,
    #[serde(rename = "type")]
    pub actor_type: ActorType,
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

impl Outcome {
    /// The serialised name (`permitted`, `denied`, `error`, `recorded`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Permitted => "permitted",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
            Outcome::Recorded => "recorded",
        }
    }
}

/// One audit log entry. Holds identifiers and digests only, never a record's
/// content.
///
/// The fields are declared in the order of their JSON keys, which is the
/// RFC 8785 order: serde_json's compact output of an entry is then already
/// canonical (see [`Entry::canonical_bytes`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_code: Option<String>,
    /// A few extra non-secret fields; never record content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_id: Option<String>,
    pub kind: EntryKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<LegalBasis>,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_type: Option<String>,
    /// SHA-256 of the request as sent (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_digest: Option<Hash>,
    /// SHA-256 of the response as returned (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_digest: Option<Hash>,
    /// Position in the log (the leaf index).
    pub seq: u64,
    /// Version 1 only: the person concerned, a common ID or a sector
    /// pseudonym.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Version 2 only: the person concerned by commitment,
    /// `HMAC-SHA256(salt, identifier)` in hex; the salt is kept outside the
    /// entry (see [`crate::commitment`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_commitment: Option<Hash>,
    pub time: EntryTime,
    /// Encoding version (`"v":1` or `"v":2`).
    pub v: EntryVersion,
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
            subject_commitment: None,
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

    /// The same entry in version 2: the person concerned, if any, named by
    /// the commitment of `subject` under `salt`. A version 2 entry is
    /// returned as it is.
    pub fn into_v2(mut self, salt: &Salt) -> Self {
        if self.v == EntryVersion::V1 {
            self.v = EntryVersion::V2;
            self.subject_commitment = self.subject.take().map(|s| salt.commit(&s));
        }
        self
    }

    /// Whether `salt` and `identifier` open this entry's commitment (a
    /// version 2 entry), or `identifier` is its subject (version 1).
    pub fn concerns(&self, identifier: &str, salt: Option<&Salt>) -> bool {
        match self.v {
            EntryVersion::V1 => self.subject.as_deref() == Some(identifier),
            EntryVersion::V2 => match (&self.subject_commitment, salt) {
                (Some(c), Some(salt)) => salt.verify(identifier, c),
                _ => false,
            },
        }
    }

    /// Checks the limits: `seq <= MAX_SEQ`, a time in the years 0000 to
    /// 9999, identifier strings non-empty and
    /// at most 256 bytes, `details` at most 4096 canonical bytes; a version
    /// 1 entry has no `subject_commitment`, a version 2 entry no `subject`.
    pub fn validate(&self) -> Result<(), AuditError> {
        let invalid = |m: String| Err(AuditError::InvalidEntry(m));
        if self.seq > MAX_SEQ {
            return invalid(format!("seq {} is above 2^53 - 1", self.seq));
        }
        // RFC 3339 writes four-digit years: a time outside them would
        // encode to bytes that no reader parses back.
        if !(0..=9999).contains(&self.time.get().year()) {
            return invalid(format!(
                "time {} is outside the years 0000 to 9999",
                self.time
            ));
        }
        match self.v {
            EntryVersion::V1 if self.subject_commitment.is_some() => {
                return invalid("a version 1 entry has no subject_commitment".into());
            }
            EntryVersion::V2 if self.subject.is_some() => {
                return invalid("a version 2 entry names its subject by commitment only".into());
            }
            _ => {}
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
            let len = canonical_len(d, map_is_plain(d))
                .map_err(|e| AuditError::InvalidEntry(format!("details: {e}")))?;
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
        self.encode()
    }

    /// RFC 8785 JSON of a valid entry. The fields are declared in key
    /// order, so serde_json's compact output is canonical whenever
    /// `details` is plain (see [`map_is_plain`]); otherwise serde_jcs sorts
    /// and formats it.
    fn encode(&self) -> Result<Vec<u8>, AuditError> {
        let plain = self.details.as_ref().is_none_or(map_is_plain);
        canonical_json(self, plain).map_err(|e| AuditError::InvalidEntry(e.to_string()))
    }

    /// The canonical encoding with the sequence number and the time left
    /// open: made once per entry by whoever appends it, filled in by the
    /// sequencer with [`EntryTemplate::fill`]. The entry's own `seq` and
    /// `time` are ignored.
    pub fn template(&self) -> Result<EntryTemplate, AuditError> {
        self.validate()?;
        EntryTemplate::new(self.encode()?)
    }

    /// The RFC 9162 leaf hash of the canonical encoding.
    pub fn leaf_hash(&self) -> Result<Hash, AuditError> {
        Ok(leaf_hash(&self.canonical_bytes()?))
    }

    /// Parses an entry and checks the bytes are its canonical encoding:
    /// exactly the bytes [`Entry::canonical_bytes`] gives for the entry
    /// they parse to. The encoding is compared as it is written, without
    /// building a copy.
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Self, AuditError> {
        let entry: Entry =
            serde_json::from_slice(bytes).map_err(|e| AuditError::InvalidEntry(e.to_string()))?;
        entry.validate()?;
        if !entry.encodes_to(bytes) {
            return Err(AuditError::InvalidEntry(
                "bytes are not the canonical encoding".into(),
            ));
        }
        Ok(entry)
    }

    /// Whether [`Entry::encode`] of this (valid) entry gives `bytes`.
    fn encodes_to(&self, bytes: &[u8]) -> bool {
        let plain = self.details.as_ref().is_none_or(map_is_plain);
        if !plain {
            return serde_jcs::to_vec(self).is_ok_and(|out| out == bytes);
        }
        let mut same = Compare { rest: bytes };
        serde_json::to_writer(&mut same, self).is_ok() && same.rest.is_empty()
    }
}

/// Whether serde_json writes `map` exactly as RFC 8785 does: keys ASCII
/// (UTF-16 and byte order then agree) and in ascending order, numbers
/// integers of at most 2^53 in magnitude (RFC 8785 writes others as
/// ECMAScript does), recursively. Strings are escaped alike by both.
fn map_is_plain(map: &serde_json::Map<String, serde_json::Value>) -> bool {
    map.keys().all(|k| k.is_ascii()) && map.keys().is_sorted() && map.values().all(value_is_plain)
}

fn value_is_plain(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Null | Value::Bool(_) | Value::String(_) => true,
        Value::Number(n) => n
            .as_i64()
            .map(i64::unsigned_abs)
            .or(n.as_u64())
            .is_some_and(|i| i <= MAX_SEQ + 1),
        Value::Array(items) => items.iter().all(value_is_plain),
        Value::Object(map) => map_is_plain(map),
    }
}

/// RFC 8785 JSON of `value`: serde_json's compact output when `plain` says
/// it is already canonical, serde_jcs otherwise.
fn canonical_json<T: Serialize + ?Sized>(value: &T, plain: bool) -> Result<Vec<u8>, String> {
    if plain {
        let mut out = Vec::with_capacity(512);
        serde_json::to_writer(&mut out, value).map_err(|e| e.to_string())?;
        Ok(out)
    } else {
        serde_jcs::to_vec(value).map_err(|e| e.to_string())
    }
}

/// The length of [`canonical_json`] of `value`, without keeping the bytes
/// when serde_json's output is canonical.
fn canonical_len<T: Serialize + ?Sized>(value: &T, plain: bool) -> Result<usize, String> {
    if plain {
        let mut count = Count(0);
        serde_json::to_writer(&mut count, value).map_err(|e| e.to_string())?;
        Ok(count.0)
    } else {
        serde_jcs::to_vec(value)
            .map(|v| v.len())
            .map_err(|e| e.to_string())
    }
}

/// A writer that only counts bytes.
struct Count(usize);

impl std::io::Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A writer that checks what is written is the next part of `rest`, and
/// fails at the first byte that differs or goes beyond it.
struct Compare<'a> {
    rest: &'a [u8],
}

impl std::io::Write for Compare<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.rest.strip_prefix(buf) {
            Some(rest) => {
                self.rest = rest;
                Ok(buf.len())
            }
            None => Err(std::io::ErrorKind::InvalidData.into()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An entry's canonical encoding with the sequence number and the time left
/// open (see [`Entry::template`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryTemplate {
    /// Up to and including `"seq":`.
    head: Vec<u8>,
    /// From the comma after the sequence number up to and including `"time":`.
    middle: Vec<u8>,
    /// From the comma after the time to the end.
    tail: Vec<u8>,
}

/// An entry time as it appears in the canonical encoding (quoted): format it
/// once with [`EncodedTime::new`] and fill many templates with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedTime {
    time: EntryTime,
    json: String,
}

impl EncodedTime {
    /// The encoding of `time`.
    pub fn new(time: EntryTime) -> Self {
        Self {
            time,
            json: format!("\"{time}\""),
        }
    }

    /// The time.
    pub fn time(&self) -> EntryTime {
        self.time
    }
}

impl EntryTemplate {
    /// Splits a canonical encoding around its top-level `seq` and `time`.
    /// Both keys sort after every key whose value can hold objects
    /// (`actor`, `details`, `legal_basis`), and only `subject`,
    /// `subject_commitment` and `v` (strings and a number) follow them: the last `,"seq":` and the last
    /// `,"time":` in the bytes are the top-level ones.
    fn new(bytes: Vec<u8>) -> Result<Self, AuditError> {
        const SEQ: &[u8] = b",\"seq\":";
        const TIME: &[u8] = b",\"time\":\"";
        let broken = || AuditError::InvalidEntry("entry encoding has no seq or time".into());
        let rfind = |needle: &[u8]| bytes.windows(needle.len()).rposition(|w| w == needle);
        let seq_start = rfind(SEQ).ok_or_else(broken)? + SEQ.len();
        let seq_end = seq_start
            + bytes[seq_start..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
        let time_key = rfind(TIME).ok_or_else(broken)?;
        // The opening quote of the time belongs to the filled-in value.
        let time_start = time_key + TIME.len() - 1;
        let time_end = time_start
            + 1
            + bytes[time_start + 1..]
                .iter()
                .position(|&b| b == b'"')
                .ok_or_else(broken)?
            + 1;
        if seq_end == seq_start || seq_end > time_key {
            return Err(broken());
        }
        Ok(Self {
            head: bytes[..seq_start].to_vec(),
            middle: bytes[seq_end..time_start].to_vec(),
            tail: bytes[time_end..].to_vec(),
        })
    }

    /// The canonical encoding of the entry with sequence number `seq` at
    /// `time`: the same bytes as [`Entry::canonical_bytes`] of that entry.
    pub fn fill(&self, seq: u64, time: &EncodedTime) -> Result<Vec<u8>, AuditError> {
        if seq > MAX_SEQ {
            return Err(AuditError::InvalidEntry(format!(
                "seq {seq} is above 2^53 - 1"
            )));
        }
        let mut out = Vec::with_capacity(
            self.head.len() + 20 + self.middle.len() + time.json.len() + self.tail.len(),
        );
        out.extend_from_slice(&self.head);
        out.extend_from_slice(seq.to_string().as_bytes());
        out.extend_from_slice(&self.middle);
        out.extend_from_slice(time.json.as_bytes());
        out.extend_from_slice(&self.tail);
        Ok(out)
    }
}
