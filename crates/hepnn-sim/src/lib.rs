//! # hepnn-sim — detector simulation (no machine learning)
//!
//! Data flow: generator particles → detector simulation → hits. This crate starts with the
//! transverse helix of a charged particle in the solenoid and its crossings with barrel layers
//! ([`tracker::helix`]), enough to simulate the three-hit pT measurement that the MLP of the
//! foundation slides learns; the full TrackML-geometry simulation builds on it.
#![warn(missing_docs)]

pub mod tracker;
