//! Tracker simulation: helices in the solenoid field and their hits on silicon layers.

pub mod helix;
pub mod three_hit;
