//! The domain operations. Handlers, the portal and the command line reach the
//! store only through these.

pub mod access;
pub mod agencies;
pub mod authorizations;
pub mod broker;
pub mod citizens;
pub mod consents;
pub mod maintenance;
pub mod notifications;
pub mod operators;
pub mod persons;
pub mod population;
pub mod references;
pub mod schemas;
pub mod signing_keys;
pub mod tokens;

/// The connection every service function takes (handlers borrow one with
/// `AppState::db` and hand it on; only services and the audit log query
/// it), and the error a service may pass on from the store.
pub use crate::store::{DbConnection, StoreError};
