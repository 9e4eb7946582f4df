//! # hepnn-neutrino — neutrino event classification from two detector views
//!
//! NOvA's CVN (Aurisano et al., JINST 11 P09001 (2016), arXiv:1604.01444) classifies the
//! interactions in its detector from two images, the XZ and YZ views, each through its own
//! convolution tower, merged before the classification. Here:
//!
//! | module | what it holds |
//! |---|---|
//! | [`model`] | the two-tower CNN: [`model::TwoViewCnnConfig`] → [`model::TwoViewCnn`] |
//! | [`data`] | simulated events (hepnn-sim `neutrino`) as normalised batches |
//! | [`task`] | the classifier as a `TrainTask` of hepnn-nn's training loop; class probabilities |
//! | [`metrics`] | confusion matrix, efficiency and purity per class, νe efficiency at a purity, ROC, plots |
//! | [`baseline`] | the cut-based νe selection (length, shower width, cluster fraction, energy) |
//!
//! Classes: 0 νμ CC, 1 νe CC, 2 NC.
#![warn(missing_docs)]

pub mod baseline;
pub mod data;
pub mod error;
pub mod metrics;
pub mod model;
pub mod task;

pub use error::NeutrinoError;

#[cfg(test)]
mod tests;
