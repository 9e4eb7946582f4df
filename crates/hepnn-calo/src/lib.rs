//! # hepnn-calo — fast calorimeter simulation and its validation
//!
//! The reference showers come from hepnn-sim's `calo` cascade (the layout of the Fast Calorimeter
//! Simulation Challenge 2022, dataset 2: 45 layers × 16 angular × 9 radial voxels). This crate
//! learns to generate them quickly and measures how well it does.
#![warn(missing_docs)]

pub mod anomaly;
pub mod diffusion;
pub mod error;
pub mod gan;
pub mod preprocess;
pub mod validation;

pub use error::CaloError;
