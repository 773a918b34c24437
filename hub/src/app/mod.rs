//! The application: configuration, shared state, the server and its TLS,
//! the clock, the hub's own metrics and progress bars of long commands.

pub mod clock;
pub mod config;
pub mod metrics;
pub mod progress;
pub mod server;
pub mod state;
pub mod tls;
