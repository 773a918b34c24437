//! The Crossroads hub: the HTTP API (actix-web), storage (diesel over SQLite
//! and PostgreSQL), configuration and the `crossroads` command line.
//!
//! The folders show the architecture (see `docs/architecture.md`):
//!
//! - `app`: configuration, shared state, the server, TLS, the clock, metrics;
//! - `http`: middleware, rate limits, the one error mapping, and one
//!   extractor per kind of caller;
//! - `api`: one action per file, each declared once (route and OpenAPI);
//! - `services`: the domain operations, the only way to the store;
//! - `audit_log`: the append-only log and its sequencer;
//! - `secrets`: keys, the pseudonym secret, JOSE helpers, secret files;
//! - `store`: diesel queries over both backends;
//! - `portal`: the citizen portal; `cli`: operator commands;
//! - `dev`: the demo and the agency simulator.

pub mod api;
pub mod app;
pub mod audit_log;
pub mod cli;
pub mod dev;
pub mod http;
pub mod portal;
pub mod secrets;
pub mod services;
pub mod store;
