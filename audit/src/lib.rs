//! Audit: the append-only, tamper-evident Merkle log (RFC 9162 hashing,
//! C2SP checkpoints and tiles), its proofs and their verification.
//!
//! This crate knows nothing of HTTP or of a database driver. Where it needs
//! stored hashes it reads them through [`HashReader`], which the hub
//! implements over its database; [`MemoryLog`] is the in-memory version.
//!
//! An audit [`Entry`] records who looked at what about whom, why, under which
//! rule and with which outcome. It never holds the content of a record: only
//! identifiers and SHA-256 digests of the request and the response.

pub mod checkpoint;
pub mod commitment;
pub mod entry;
pub mod error;
pub mod hash;
pub mod memory;
pub mod merkle;
pub mod tile;
pub mod verify;

pub use checkpoint::{Checkpoint, LogSigner, VerifierKey};
pub use commitment::Salt;
pub use entry::{
    Actor, ActorType, EncodedTime, Entry, EntryKind, EntryTemplate, EntryTime, EntryVersion,
    LegalBasis, MAX_SEQ, Outcome,
};
pub use error::{AuditError, MismatchReason, VerifyError};
pub use hash::{EMPTY_ROOT, Hash, leaf_hash, node_hash, sha256};
pub use memory::MemoryLog;
pub use merkle::{
    consistency_proof_from_leaves, inclusion_proof_from_leaves, root_from_leaves,
    verify_consistency, verify_inclusion,
};
pub use tile::{
    HashPosition, HashReader, Tile, all_present, append, append_batch, prove_consistency,
    prove_inclusion, tiles_for_size, tree_hash,
};
pub use verify::{LogVerifier, VerifiedTree, verify_log};
