//! Energy deposits → the challenge voxels (and the profiles the physics checks need).
//!
//! A deposit in a sensor slab goes to readout layer `pair / pairs_per_layer`, angular bin of
//! α = atan2(y, x) over 16 equal bins of (−π, π], radial bin of r = √(x² + y²) from the layer's
//! edges; the flat index is radial-fastest, then angular, then layer
//! ([`hepnn_core::io::calo::CaloBinning::voxel_index`]). Deposits beyond the last radial edge
//! are kept in the totals and profiles but not in the voxels, as in the challenge.

use hepnn_core::io::calo::CaloBinning;

use super::geometry::CaloGeometry;

/// Width of the bins of [`ShowerTally::radial_silicon_mev`], mm.
pub const RADIAL_PROFILE_BIN_MM: f64 = 0.5;

/// Everything recorded of one shower.
#[derive(Debug, Clone)]
pub struct ShowerTally {
    /// Energy per voxel, MeV (the challenge's `showers` row).
    pub voxels_mev: Vec<f32>,
    /// Energy deposited in the sensors, all radii, MeV.
    pub silicon_mev: f64,
    /// Energy deposited in the absorbers, MeV.
    pub absorber_mev: f64,
    /// Energy carried out of the stack (front, back, or beyond the radius cut), MeV.
    pub leaked_mev: f64,
    /// Sensor energy per readout layer, all radii, MeV.
    pub layer_silicon_mev: Vec<f64>,
    /// Sensor energy in radial bins of [`RADIAL_PROFILE_BIN_MM`] (last bin: overflow), MeV.
    pub radial_silicon_mev: Vec<f64>,
    /// All deposited energy (absorber and sensor) in the same radial bins, MeV.
    pub radial_total_mev: Vec<f64>,
    /// Particles taken from the stack.
    pub particles: u64,
    /// Transport steps.
    pub steps: u64,
    offsets: Vec<usize>,
    pairs_per_layer: usize,
    binning: CaloBinning,
}

impl ShowerTally {
    /// An empty tally for `geometry`, with a radial profile out to `max_radius_mm`.
    pub fn new(geometry: &CaloGeometry, max_radius_mm: f64) -> Self {
        let binning: &CaloBinning = &geometry.binning;
        let radial_bins = (max_radius_mm / RADIAL_PROFILE_BIN_MM).ceil() as usize + 1;
        ShowerTally {
            voxels_mev: vec![0.0; binning.num_voxels()],
            silicon_mev: 0.0,
            absorber_mev: 0.0,
            leaked_mev: 0.0,
            layer_silicon_mev: vec![0.0; binning.layers.len()],
            radial_silicon_mev: vec![0.0; radial_bins],
            radial_total_mev: vec![0.0; radial_bins],
            particles: 0,
            steps: 0,
            offsets: binning.layer_offsets(),
            pairs_per_layer: geometry.pairs_per_layer,
            binning: binning.clone(),
        }
    }

    /// Records an escaping e± (a positron's annihilation energy 2 m_e leaves with it).
    pub(crate) fn leak_charged(&mut self, particle: &super::cascade::Particle) {
        self.leaked_mev += particle.kinetic_mev;
        if particle.species == super::cascade::Species::Positron {
            self.leaked_mev += 2.0 * super::cascade::ELECTRON_MASS_MEV;
        }
    }

    /// Records `energy_mev` deposited at `position` in `slab` (even: absorber, odd: sensor).
    pub(crate) fn deposit(&mut self, slab: usize, position: [f64; 3], energy_mev: f64) {
        if energy_mev <= 0.0 {
            return;
        }
        let [x, y, _] = position;
        let r = (x * x + y * y).sqrt();
        let radial = ((r / RADIAL_PROFILE_BIN_MM) as usize).min(self.radial_silicon_mev.len() - 1);
        self.radial_total_mev[radial] += energy_mev;
        if slab.is_multiple_of(2) {
            self.absorber_mev += energy_mev;
            return;
        }
        self.silicon_mev += energy_mev;
        let layer_index = (slab / 2) / self.pairs_per_layer;
        self.layer_silicon_mev[layer_index] += energy_mev;
        self.radial_silicon_mev[radial] += energy_mev;
        let layer = &self.binning.layers[layer_index];
        if let Some(r_bin) = layer.radial_bin(r) {
            let alpha_bin = layer.alpha_bin(y.atan2(x));
            let index = self.offsets[layer_index] + alpha_bin * layer.n_radial() + r_bin;
            self.voxels_mev[index] += energy_mev as f32;
        }
    }
}
