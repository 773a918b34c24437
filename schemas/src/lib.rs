//! Schemas: the registry of shared interoperability schemas (versioned JSON
//! Schema 2020-12 documents), compatibility rules and validation.
//!
//! This crate knows nothing of HTTP or of a database driver.
