//! Benchmarks live in benches/; this library holds what the benches and examples share.

pub mod cnn;
pub mod lstm;
pub mod timing;
