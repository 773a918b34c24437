//! Development tools: the demo and the agency simulator.

pub mod demo;
pub mod sim;
pub mod testing;
