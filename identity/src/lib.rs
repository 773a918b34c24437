//! Identity: common identifiers of persons, sector pseudonyms, the agency
//! registry with its X.509 certificates, the hub's keys and signed tokens.
//!
//! This crate knows nothing of HTTP or of a database driver.
