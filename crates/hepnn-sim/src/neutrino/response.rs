//! Cell response: deposits → light at the readout → photo-electrons → calibrated energy.
//!
//! For a deposit E (MeV) with stopping power dE/dx in a cell whose fibre carries the light a
//! distance d to the photodetector:
//!
//! ```text
//! L  = E / (1 + k_B dE/dx) · exp(−d / λ_att)           Birks saturation, fibre attenuation
//! PE ~ Poisson(n_pe Σ L) + N(0, σ_el)                   photo-statistics, electronics noise
//! E_cell = PE / (n_pe exp(−d̄ / λ_att))  if PE ≥ threshold, else 0   calibration to the cell centre
//! ```
//!
//! Noise hits: a Poisson number (mean `noise_hits`) of random cells get an exponential charge
//! above threshold.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Normal, Poisson};

use super::geometry::{DetectorConfig, View};
use super::physics::Deposit;

/// Cell response and noise settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseConfig {
    /// Birks constant k_B, cm/MeV (NOvA: ≈ 0.0125).
    pub birks_cm_per_mev: f64,
    /// Attenuation length of the wavelength-shifting fibre, cm.
    pub attenuation_length_cm: f64,
    /// Photo-electrons per MeV of light at the readout.
    pub pe_per_mev: f64,
    /// Electronics noise, photo-electrons (Gaussian σ).
    pub electronics_noise_pe: f64,
    /// Readout threshold, photo-electrons.
    pub threshold_pe: f64,
    /// Mean number of noise hits per event (both views together).
    pub noise_hits: f64,
    /// Mean charge of a noise hit above threshold, photo-electrons.
    pub noise_hit_mean_pe: f64,
}

impl Default for ResponseConfig {
    fn default() -> Self {
        Self {
            birks_cm_per_mev: 0.0125,
            attenuation_length_cm: 350.0,
            pe_per_mev: 6.0,
            electronics_noise_pe: 0.8,
            threshold_pe: 3.0,
            noise_hits: 5.0,
            noise_hit_mean_pe: 3.0,
        }
    }
}

/// Light collected per cell of one event.
pub struct Readout<'a> {
    detector: &'a DetectorConfig,
    config: &'a ResponseConfig,
    /// Light (MeV at the readout) per cell, XZ then YZ.
    light: Vec<f64>,
}

impl<'a> Readout<'a> {
    /// An empty readout.
    pub fn new(detector: &'a DetectorConfig, config: &'a ResponseConfig) -> Self {
        Self {
            detector,
            config,
            light: vec![0.0; 2 * detector.planes_per_view() * detector.cells],
        }
    }

    fn index(&self, view: View, plane: usize, cell: usize) -> usize {
        let per_view = self.detector.planes_per_view() * self.detector.cells;
        let offset = if view == View::Xz { 0 } else { per_view };
        offset + plane * self.detector.cells + cell
    }

    /// Adds one deposit (nothing if outside the detector).
    pub fn add(&mut self, d: Deposit) {
        if let Some((view, plane, cell, fibre_cm)) = self.detector.cell_of(d.position) {
            if plane >= self.detector.planes_per_view() {
                return;
            }
            let visible = d.energy_mev / (1.0 + self.config.birks_cm_per_mev * d.dedx_mev_per_cm);
            let light = visible * (-fibre_cm / self.config.attenuation_length_cm).exp();
            let i = self.index(view, plane, cell);
            self.light[i] += light;
        }
    }

    /// Photo-statistics, noise, threshold and calibration: the XZ and YZ images in MeV.
    pub fn digitise(self, rng: &mut ChaCha8Rng) -> (Vec<f32>, Vec<f32>) {
        let c = self.config;
        let calibration =
            c.pe_per_mev * (-0.5 * self.detector.width_cm() / c.attenuation_length_cm).exp();
        let electronics = Normal::new(0.0, c.electronics_noise_pe.max(1e-12)).expect("σ > 0");
        let mut pe: Vec<f64> = self
            .light
            .iter()
            .map(|&l| {
                if l <= 0.0 {
                    return 0.0;
                }
                let mean = c.pe_per_mev * l;
                let n = Poisson::new(mean).map_or(mean, |p| p.sample(rng));
                n + electronics.sample(rng)
            })
            .collect();
        if c.noise_hits > 0.0 {
            let count = Poisson::new(c.noise_hits).map_or(0.0, |p| p.sample(rng)) as usize;
            let charge = Exp::new(1.0 / c.noise_hit_mean_pe.max(1e-12)).expect("positive");
            for _ in 0..count {
                let i = rng.random_range(0..pe.len());
                pe[i] += c.threshold_pe + charge.sample(rng);
            }
        }
        let half = pe.len() / 2;
        let energy: Vec<f32> = pe
            .iter()
            .map(|&q| {
                if q >= c.threshold_pe {
                    (q / calibration) as f32
                } else {
                    0.0
                }
            })
            .collect();
        (energy[..half].to_vec(), energy[half..].to_vec())
    }
}
