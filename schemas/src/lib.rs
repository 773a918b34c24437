//! Schemas: the registry of shared interoperability schemas (versioned JSON
//! Schema 2020-12 documents), compatibility rules and validation.
//!
//! This crate knows nothing of HTTP or of a database driver.
//!
//! - [`record_type`]: names, versions and references (`person.address@1.1`).
//! - [`catalog`]: the registry with cached validators, and the shipped catalog.
//! - [`compat`]: the rules a new version must follow to be published.
//! - [`fields`]: addressable fields, grants and minimisation of records.

pub mod catalog;
pub mod compat;
pub mod embedded;
pub mod fields;
pub mod numbers;
pub mod pointer;
pub mod record_type;

pub use catalog::{
    Catalog, CatalogError, DEFAULT_BASE_URL, SchemaEntry, SchemaProblem, TITLE_KEYWORD,
    ValidationIssue, title_of,
};
pub use compat::{PublishError, Violation, ViolationKind, check_compatible, check_publish};
pub use fields::{
    FieldError, FieldSelection, check_grant, fields, minimize, withheld_view, withholdable,
};
pub use record_type::{
    RecordType, RecordTypeError, RecordTypeName, RecordTypeRef, Version, VersionReq,
};
