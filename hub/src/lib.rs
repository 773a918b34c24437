//! The Crossroads hub: the HTTP API (actix-web), storage (diesel over SQLite
//! and PostgreSQL), configuration and the `crossroads` command line.
//!
//! Handlers are thin: they parse, call the domain crates (`identity`,
//! `schemas`, `consent`, `audit`) and map the result to a response.

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod http;
pub mod server;
pub mod state;
pub mod store;
pub mod testing;
pub mod time;
