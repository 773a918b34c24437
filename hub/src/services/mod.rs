//! The domain operations. Handlers, the portal and the command line reach the
//! store only through these.

pub mod access;
pub mod agencies;
pub mod authorizations;
pub mod broker;
pub mod citizens;
pub mod consents;
pub mod persons;
pub mod references;
pub mod schemas;
pub mod tokens;
