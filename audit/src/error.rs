//! The crate's single error type.

use crate::tile::HashPosition;

/// Why a log failed verification; carried by [`AuditError::Mismatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MismatchReason {
    /// The entries did not arrive with consecutive sequence numbers from 0;
    /// `found` is the sequence number that came where `first_bad_seq` was due.
    SequenceGap { found: u64 },
    /// The entry bytes are not the canonical encoding of an entry, or the
    /// entry's own `seq` field disagrees with its position.
    BadEntry,
    /// The recomputed leaf hash differs from the stored leaf hash.
    StoredLeafHash,
    /// The recomputed interior hash at `position` differs from the stored one.
    /// The leaves under it matched their stored hashes, so the stored tree
    /// itself was altered; `first_bad_seq` is the first leaf under it.
    StoredNodeHash { position: HashPosition },
    /// The root recomputed at `checkpoint_size` differs from the checkpoint.
    /// Without stored hashes the change can only be located after the last
    /// checkpoint that matched: `first_bad_seq` is that checkpoint's size.
    CheckpointRoot { checkpoint_size: u64 },
    /// A checkpoint names a size larger than the number of entries given.
    CheckpointBeyondLog { checkpoint_size: u64 },
    /// Verification resumed from a trusted checkpoint, but the stored
    /// hashes of the tree at its size do not fold to its root: the stored
    /// log below that size was altered, or the checkpoint is of another
    /// log. Where is not known: `first_bad_seq` is 0.
    ResumeRoot { checkpoint_size: u64 },
}

/// Errors of the audit crate.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A leaf index is not below the tree size.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// The two sizes of a consistency proof are not `0 < old <= new`
    /// (or `old == new == 0`).
    #[error("invalid tree sizes for a consistency proof: {old} -> {new}")]
    InvalidSizes { old: u64, new: u64 },
    /// A proof did not verify.
    #[error("{0} proof does not verify")]
    ProofInvalid(&'static str),
    /// The hash store did not hold a hash that a tree of this size must have.
    #[error("stored hash missing at level {level}, index {index}")]
    HashMissing { level: u8, index: u64 },
    /// The hash store failed (the source is the store's own error).
    #[error("hash store failed")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A tile coordinate or tile path is malformed.
    #[error("invalid tile: {0}")]
    InvalidTile(String),
    /// A key name, key string or signer key is malformed.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// A signed note or checkpoint body is malformed.
    #[error("malformed note: {0}")]
    MalformedNote(String),
    /// The note carries no signature from the verifier's key.
    #[error("note has no signature by key {0}")]
    UnknownKey(String),
    /// A signature by the verifier's key does not verify.
    #[error("invalid signature by key {0}")]
    BadSignature(String),
    /// An audit entry is invalid or not canonically encoded.
    #[error("invalid entry: {0}")]
    InvalidEntry(String),
    /// The log does not match its stored hashes or checkpoints.
    #[error("log verification failed at sequence number {first_bad_seq}: {reason:?}")]
    Mismatch {
        first_bad_seq: u64,
        reason: MismatchReason,
    },
}

/// The error of the log verifier (the same enum; see [`AuditError::Mismatch`]).
pub type VerifyError = AuditError;

/// Result with [`AuditError`].
pub type Result<T, E = AuditError> = std::result::Result<T, E>;
