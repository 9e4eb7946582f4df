//! # hepnn-tracking — charged-particle track reconstruction
//!
//! Hits are nodes, candidate hit pairs are edges; a graph neural network scores every edge, and
//! the kept edges make the tracks. This crate holds the edge classifier's training and evaluation
//! on labelled hit graphs ([`gnn`]), the figures of merit ([`metrics`]), and the trained Exa.TrkX GNN
//! run from its ONNX weights ([`exatrkx`]); and the reconstruction chain on events
//! ([`pipeline`]): graph construction ([`graph`]) → features ([`features`]) → edge classifier
//! ([`gnn`]) → track building ([`building`]).
#![warn(missing_docs)]

pub mod building;
pub mod error;
pub mod exatrkx;
pub mod features;
pub mod gnn;
pub mod graph;
pub mod kalman;
pub mod metrics;
pub mod next_hit;
pub mod pipeline;

pub use error::TrackingError;
