//! Checkpoints (C2SP tlog-checkpoint) in C2SP signed notes, signed with
//! Ed25519 (ring).
//!
//! A note is its text (ending in a newline), a blank line, then one line per
//! signature: `— <key name> <base64(key hash || signature)>` (em dash U+2014).
//! The key hash is the first 4 bytes of
//! `SHA-256(key name || "\n" || 0x01 || public key)`, big-endian.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};

use crate::error::AuditError;
use crate::hash::{Hash, sha256};

/// The signature algorithm byte of Ed25519 in note keys.
const ALG_ED25519: u8 = 0x01;
/// At most this many signature lines are read from a note.
const MAX_SIGNATURES: usize = 100;
/// The prefix of a signature line.
const SIG_PREFIX: &str = "\u{2014} ";

fn check_key_name(name: &str) -> Result<(), AuditError> {
    if name.is_empty()
        || name.contains('+')
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        Err(AuditError::InvalidKey(format!(
            "key name {name:?} must be non-empty, without '+' or whitespace"
        )))
    } else {
        Ok(())
    }
}

fn key_hash(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut data = Vec::with_capacity(name.len() + 34);
    data.extend_from_slice(name.as_bytes());
    data.push(b'\n');
    data.push(ALG_ED25519);
    data.extend_from_slice(public_key);
    let h = sha256(&data);
    u32::from_be_bytes([h.0[0], h.0[1], h.0[2], h.0[3]])
}

fn parse_key_hash(s: &str) -> Result<u32, AuditError> {
    if s.len() != 8
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(AuditError::InvalidKey(
            "key hash must be 8 lowercase hex digits".into(),
        ));
    }
    u32::from_str_radix(s, 16).map_err(|_| AuditError::InvalidKey("bad key hash".into()))
}

fn decode_alg_key(s: &str) -> Result<[u8; 32], AuditError> {
    let raw = STANDARD
        .decode(s)
        .map_err(|_| AuditError::InvalidKey("key is not base64".into()))?;
    match raw.split_first() {
        Some((&ALG_ED25519, key)) => <[u8; 32]>::try_from(key)
            .map_err(|_| AuditError::InvalidKey("an Ed25519 key has 32 bytes".into())),
        _ => Err(AuditError::InvalidKey("unsupported key algorithm".into())),
    }
}

fn encode_alg_key(key: &[u8; 32]) -> String {
    let mut raw = Vec::with_capacity(33);
    raw.push(ALG_ED25519);
    raw.extend_from_slice(key);
    STANDARD.encode(raw)
}

/// A log's signing key: a key name and an Ed25519 seed.
pub struct LogSigner {
    name: String,
    seed: [u8; 32],
    pair: Ed25519KeyPair,
    public: [u8; 32],
    hash: u32,
}

impl LogSigner {
    /// A new key with a random seed from the system's secure generator.
    pub fn generate(name: &str) -> Result<Self, AuditError> {
        let mut seed = [0u8; 32];
        SystemRandom::new()
            .fill(&mut seed)
            .map_err(|_| AuditError::InvalidKey("the system random generator failed".into()))?;
        Self::from_seed(name, seed)
    }

    /// A key from its name and 32-byte seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, AuditError> {
        check_key_name(name)?;
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|_| AuditError::InvalidKey("bad Ed25519 seed".into()))?;
        let public = <[u8; 32]>::try_from(pair.public_key().as_ref())
            .map_err(|_| AuditError::InvalidKey("bad Ed25519 public key".into()))?;
        Ok(Self {
            name: name.to_owned(),
            seed,
            pair,
            public,
            hash: key_hash(name, &public),
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>`.
    pub fn from_signer_key(s: &str) -> Result<Self, AuditError> {
        let rest = s.strip_prefix("PRIVATE+KEY+").ok_or_else(|| {
            AuditError::InvalidKey("signer key must start with PRIVATE+KEY+".into())
        })?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hash), Some(key), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuditError::InvalidKey(
                "signer key has the wrong shape".into(),
            ));
        };
        let hash = parse_key_hash(hash)?;
        let signer = Self::from_seed(name, decode_alg_key(key)?)?;
        if signer.hash != hash {
            return Err(AuditError::InvalidKey(
                "signer key hash does not match".into(),
            ));
        }
        Ok(signer)
    }

    /// The signer key string; a secret, to be kept like a password.
    pub fn signer_key_string(&self) -> String {
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.hash,
            encode_alg_key(&self.seed)
        )
    }

    /// The matching verifier key.
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            hash: self.hash,
            public: self.public,
        }
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Signs a note text (which must end in a newline): returns the note.
    pub fn sign_note(&self, text: &str) -> String {
        let sig = self.pair.sign(text.as_bytes());
        let mut raw = Vec::with_capacity(68);
        raw.extend_from_slice(&self.hash.to_be_bytes());
        raw.extend_from_slice(sig.as_ref());
        format!(
            "{text}\n{SIG_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(raw)
        )
    }
}

impl fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogSigner")
            .field("name", &self.name)
            .field("hash", &format_args!("{:08x}", self.hash))
            .finish_non_exhaustive()
    }
}

/// A public verifier key: `<name>+<hash>+<base64(0x01 || public key)>`.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    hash: u32,
    public: [u8; 32],
}

impl VerifierKey {
    /// Parses a verifier key string and checks its key hash.
    pub fn parse(s: &str) -> Result<Self, AuditError> {
        let mut parts = s.splitn(3, '+');
        let (Some(name), Some(hash), Some(key), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuditError::InvalidKey(
                "verifier key has the wrong shape".into(),
            ));
        };
        check_key_name(name)?;
        let hash = parse_key_hash(hash)?;
        let public = decode_alg_key(key)?;
        if key_hash(name, &public) != hash {
            return Err(AuditError::InvalidKey(
                "verifier key hash does not match".into(),
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            hash,
            public,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key hash.
    pub fn key_hash(&self) -> u32 {
        self.hash
    }

    /// Opens a signed note: returns its text once a signature by this key
    /// verifies. Signatures by other keys (e.g. witnesses) are skipped.
    pub fn open_note<'a>(&self, note: &'a str) -> Result<&'a str, AuditError> {
        let malformed = |m: &str| AuditError::MalformedNote(m.to_owned());
        if note.chars().any(|c| c.is_control() && c != '\n') {
            return Err(malformed("control characters in note"));
        }
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| malformed("no blank line before the signatures"))?;
        let (text, sigs) = (&note[..=split], &note[split + 2..]);
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(malformed("signature block must end in a newline"));
        }
        let mut found = false;
        for (i, line) in sigs[..sigs.len() - 1].split('\n').enumerate() {
            if i >= MAX_SIGNATURES {
                return Err(malformed("too many signatures"));
            }
            let rest = line
                .strip_prefix(SIG_PREFIX)
                .ok_or_else(|| malformed("signature line must start with an em dash"))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or_else(|| malformed("signature line has no key name"))?;
            check_key_name(name).map_err(|_| malformed("bad key name in signature"))?;
            let raw = STANDARD
                .decode(b64)
                .map_err(|_| malformed("signature is not base64"))?;
            if raw.len() < 5 {
                return Err(malformed("signature too short"));
            }
            let hash = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
            if name != self.name || hash != self.hash {
                continue;
            }
            UnparsedPublicKey::new(&ED25519, &self.public)
                .verify(text.as_bytes(), &raw[4..])
                .map_err(|_| AuditError::BadSignature(self.name.clone()))?;
            found = true;
        }
        if found {
            Ok(text)
        } else {
            Err(AuditError::UnknownKey(self.name.clone()))
        }
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.hash,
            encode_alg_key(&self.public)
        )
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

/// A checkpoint: the log's origin, its size and its root hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line, e.g. `crossroads.example/audit`.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// Root hash of the tree of `size` leaves.
    pub root_hash: Hash,
    /// Optional extension lines after the root hash (none is usual).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines; checks the origin.
    pub fn new(origin: &str, size: u64, root_hash: Hash) -> Result<Self, AuditError> {
        check_line(origin, "origin")?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root_hash,
            extensions: Vec::new(),
        })
    }

    /// The note text: `<origin>\n<size>\n<base64 root>\n[extensions\n]`.
    pub fn to_body(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root_hash.to_base64()
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// The signed note. The origin and extension lines must be single
    /// non-empty lines ([`Checkpoint::new`] checks the origin); a checkpoint
    /// that breaks this yields a note that does not parse.
    pub fn sign(&self, signer: &LogSigner) -> String {
        signer.sign_note(&self.to_body())
    }

    /// Parses a checkpoint body (the note text).
    pub fn parse_body(body: &str) -> Result<Self, AuditError> {
        let malformed = |m: &str| AuditError::MalformedNote(m.to_owned());
        let lines = body
            .strip_suffix('\n')
            .ok_or_else(|| malformed("checkpoint must end in a newline"))?;
        let mut lines = lines.split('\n');
        let origin = lines.next().unwrap_or_default();
        check_line(origin, "origin")?;
        let size = lines.next().ok_or_else(|| malformed("no tree size"))?;
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(malformed("tree size must be a decimal number"));
        }
        let size: u64 = size.parse().map_err(|_| malformed("tree size too large"))?;
        let root = lines.next().ok_or_else(|| malformed("no root hash"))?;
        let root_hash = Hash::from_base64(root)?;
        if root_hash.to_base64() != root {
            return Err(malformed("root hash is not canonical base64"));
        }
        let extensions = lines
            .map(|l| check_line(l, "extension").map(|()| l.to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root_hash,
            extensions,
        })
    }

    /// Verifies a signed checkpoint against one verifier key string.
    pub fn parse_and_verify(note: &str, verifier_key: &str) -> Result<Self, AuditError> {
        let key = VerifierKey::parse(verifier_key)?;
        Self::parse_and_verify_with(note, &key)
    }

    /// Verifies a signed checkpoint against a parsed verifier key.
    pub fn parse_and_verify_with(note: &str, key: &VerifierKey) -> Result<Self, AuditError> {
        Self::parse_body(key.open_note(note)?)
    }
}

fn check_line(line: &str, what: &str) -> Result<(), AuditError> {
    if line.is_empty() || line.contains('\n') || line.chars().any(char::is_control) {
        Err(AuditError::MalformedNote(format!(
            "{what} must be one non-empty line"
        )))
    } else {
        Ok(())
    }
}
