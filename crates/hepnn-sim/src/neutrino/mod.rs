//! Two-view detector images of νμ CC, νe CC and NC interactions in a small NOvA-like
//! liquid-scintillator tracking calorimeter, the input of the CNN event classifier (NOvA's CVN:
//! Aurisano et al., JINST 11 P09001 (2016), arXiv:1604.01444).
//!
//! Chain: [`physics::interact`] draws an interaction (energy spectrum, inelasticity, vertex) and
//! steps its particles into energy deposits; [`response`] turns deposits into cell readings
//! (Birks saturation, attenuation along the fibre, photo-statistics, electronics noise, noise
//! hits, threshold, calibration); [`simulate_events`] does many events in parallel, each from its
//! own seed. The detector is described in [`geometry`]; events are stored as `.npz` ([`io`]).
//!
//! ```
//! use hepnn_sim::neutrino::{Interaction, SimulationConfig, simulate_event};
//! let config = SimulationConfig::default();
//! let event = simulate_event(&config, Interaction::NumuCc, 7, 0);
//! // 2 views × 64 planes × 48 cells, in MeV.
//! assert_eq!(event.xz.len(), 64 * 48);
//! assert!(event.xz.iter().sum::<f32>() > 0.0);
//! ```

pub mod geometry;
pub mod io;
pub mod physics;
pub mod response;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

pub use geometry::{DetectorConfig, View};
pub use physics::{Interaction, Spectrum, Truth};
pub use response::ResponseConfig;

/// Everything the simulation needs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SimulationConfig {
    /// Dimensions and materials.
    pub detector: DetectorConfig,
    /// Neutrino energy spectrum.
    pub spectrum: Spectrum,
    /// Cell response and noise.
    pub response: ResponseConfig,
}

/// One simulated event: its truth and its two views.
#[derive(Debug, Clone, PartialEq)]
pub struct NeutrinoEvent {
    /// Generator-level truth (class, energies, vertex).
    pub truth: Truth,
    /// XZ view: calibrated energy (MeV) per (plane, cell), plane-major, `planes_per_view × cells`.
    pub xz: Vec<f32>,
    /// YZ view, same layout.
    pub yz: Vec<f32>,
}

impl NeutrinoEvent {
    /// The class label (0 νμ CC, 1 νe CC, 2 NC).
    pub fn label(&self) -> usize {
        self.truth.interaction.label()
    }
}

/// The seed of event `index` of a run seeded with `seed`.
fn event_seed(seed: u64, index: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03)
}

/// Simulates one event of class `interaction`; the same (`seed`, `index`) gives the same event.
pub fn simulate_event(
    config: &SimulationConfig,
    interaction: Interaction,
    seed: u64,
    index: u64,
) -> NeutrinoEvent {
    let mut rng = ChaCha8Rng::seed_from_u64(event_seed(seed, index));
    let mut readout = response::Readout::new(&config.detector, &config.response);
    let truth = {
        let mut stepper = physics::Stepper {
            detector: &config.detector,
            rng: &mut rng,
            sink: |d| readout.add(d),
        };
        physics::interact(interaction, &config.spectrum, &mut stepper)
    };
    let (xz, yz) = readout.digitise(&mut rng);
    NeutrinoEvent { truth, xz, yz }
}

/// Simulates `n` events, classes in turn νμ CC, νe CC, NC (equal shares), in parallel; event `i`
/// of a run is the same whatever the thread count.
pub fn simulate_events(
    config: &SimulationConfig,
    n: usize,
    seed: u64,
    first_index: u64,
) -> Vec<NeutrinoEvent> {
    (0..n as u64)
        .into_par_iter()
        .map(|i| {
            let index = first_index + i;
            let class = Interaction::ALL[(index % 3) as usize];
            simulate_event(config, class, seed, index)
        })
        .collect()
}

#[cfg(test)]
mod tests;
