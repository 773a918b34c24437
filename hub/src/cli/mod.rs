//! Subcommands of the `crossroads` command line that live in the library, so
//! that they can be tested.

pub mod agency;
pub mod keys;
pub mod person;
pub mod populate;
pub mod schema;
