//! Tracker simulation: charged particles through the TrackML silicon tracker in a 2 T solenoid.
//!
//! The chain, one module each: [`geometry`] (modules and layers from `detectors.csv` or built in)
//! → [`generator`] (pile-up particles fitted to the real files, or real particles read from
//! TrackML files) → [`propagation`] (helix, exact module crossings, Highland multiple scattering)
//! → [`simulation`] (digitisation, noise, truth weights, TrackML event files, events in parallel).
//! [`helix`] and [`three_hit`] hold the transverse helix and the three-hit pT measurement of the
//! backpropagation example.

pub mod error;
pub mod generator;
pub mod geometry;
pub mod helix;
pub mod propagation;
pub mod simulation;
pub mod three_hit;

pub use error::SimError;
pub use generator::{GeneratorConfig, generate};
pub use geometry::{Detector, Layer, LayerShape, Surface};
pub use propagation::{PropagationConfig, Solenoid, highland_theta0, propagate};
pub use simulation::{
    DigitisationConfig, EventStats, NoiseConfig, ParticleSource, RunConfig, SimConfig, run_events,
    simulate_event, write_event,
};
