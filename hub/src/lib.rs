//! The Crossroads hub: the HTTP API (actix-web), storage (diesel over SQLite
//! and PostgreSQL), configuration and the `crossroads` command line.
//!
//! Handlers are thin: they parse, call the domain crates (`identity`,
//! `schemas`, `consent`, `audit`) and map the result to a response.

pub mod access;
pub mod agencies;
pub mod api;
pub mod audit_log;
pub mod auth;
pub mod authorizations;
pub mod broker;
pub mod citizens;
pub mod cli;
pub mod config;
pub mod consents;
pub mod demo;
pub mod error;
pub mod events;
pub mod http;
pub mod jose;
pub mod keys;
pub mod metrics;
pub mod persons;
pub mod portal;
pub mod pseudonyms;
pub mod registry;
pub mod secrets;
pub mod server;
pub mod sim;
pub mod state;
pub mod store;
pub mod testing;
pub mod time;
pub mod tls;
pub mod tokens;
