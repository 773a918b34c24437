//! Audit: the append-only, tamper-evident Merkle log (RFC 9162 hashing,
//! C2SP checkpoints and tiles), its proofs and their verification.
//!
//! This crate knows nothing of HTTP or of a database driver.
