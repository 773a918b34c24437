//! Consent and authorization: legal bases, the consent lifecycle and the
//! access decision.
//!
//! This crate knows nothing of HTTP or of a database driver.
