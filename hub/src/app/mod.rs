//! The application: configuration, shared state, the server and its TLS,
//! the clock and the hub's own metrics.

pub mod clock;
pub mod config;
pub mod metrics;
pub mod progress;
pub mod server;
pub mod state;
pub mod tls;
