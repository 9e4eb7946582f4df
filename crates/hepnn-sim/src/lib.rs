//! # hepnn-sim — detector simulation (no machine learning)
//!
//! Data flow: generator particles → detector simulation → hits. The [`tracker`] module simulates
//! the TrackML silicon tracker: its 18,728 modules (read from `detectors.csv` or built in),
//! a pile-up generator fitted to the real TrackML particles files, helix propagation in the 2 T
//! solenoid with exact module crossings and Highland multiple scattering, digitisation, noise,
//! the TrackML truth weights, and TrackML CSV events written atomically, many events in parallel.
//! Fed the real particles of TrackML events, it reproduces their hit counts per volume to within
//! 11% (`tests/tests.rs`). [`tracker::helix`] and [`tracker::three_hit`] hold the transverse
//! helix and the three-hit pT measurement of the backpropagation example. The [`neutrino`] module
//! simulates νμ CC, νe CC and NC interactions in a NOvA-like two-view tracking calorimeter.
#![warn(missing_docs)]

pub mod calo;
pub mod neutrino;
pub mod tracker;
