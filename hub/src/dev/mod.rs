//! Development tools: the demo and the agency simulator.

pub mod demo;
pub mod sim;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
