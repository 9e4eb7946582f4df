//! Reference electromagnetic shower simulation in the CaloChallenge dataset-2 calorimeter
//! (tungsten/silicon sampling, 45 layers × 16 angles × 9 radii = 6,480 voxels).
//!
//! - [`geometry`]: the slab stack (1.4 mm W + 0.3 mm Si, two pairs per readout layer, 36.3 X0),
//!   its effective X0, Molière radius and critical energy, and the challenge binning.
//! - [`cascade`]: the e±/γ cascade (bremsstrahlung, pair production, Compton, photoelectric,
//!   ionisation, multiple scattering, cuts), with the cross sections it uses and their sources.
//! - [`voxelise`]: deposits in silicon → voxels (radial-fastest, then angular, then layer).
//!
//! [`simulate_showers`] runs one shower per incident energy in parallel (rayon); shower `i`
//! draws from its own ChaCha8 stream `i` of the caller's seed, so results do not depend on the
//! thread count. [`Showers::to_challenge`] gives the challenge layout written by
//! `hepnn_core::io::calo::write_showers_npz`.
//!
//! ```
//! use hepnn_sim::calo::{CaloSimConfig, IncidentParticle, simulate_showers};
//! let config = CaloSimConfig::default();
//! let showers = simulate_showers(&config, IncidentParticle::Electron, &[2_000.0], 7)?;
//! let fraction = showers.tallies[0].silicon_mev / 2_000.0;
//! assert!(fraction > 0.01 && fraction < 0.05, "sampling fraction {fraction}");
//! # Ok::<(), hepnn_sim::tracker::SimError>(())
//! ```

pub mod analysis;
pub mod cascade;
pub mod geometry;
pub mod voxelise;

use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use hepnn_core::io::calo::CaloShowers;

pub use analysis::{ResolutionFit, containment_fraction, fit_resolution, shower_maximum_x0};
pub use cascade::{ELECTRON_MASS_MEV, Particle, Species};
pub use geometry::{CaloGeometry, Material};
pub use voxelise::ShowerTally;

use crate::tracker::SimError;

/// Settings of the reference simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct CaloSimConfig {
    /// The calorimeter (default: CaloChallenge dataset 2).
    pub geometry: CaloGeometry,
    /// e± below this kinetic energy stop and deposit it on the spot, MeV (default 1).
    pub electron_cut_mev: f64,
    /// Photons below this energy deposit it on the spot; also the bremsstrahlung production
    /// threshold (softer photons are a continuous loss), MeV (default 0.1).
    pub photon_cut_mev: f64,
    /// Particles beyond this distance from the axis escape, mm (default 300, ≈ 28 R_M).
    pub max_radius_mm: f64,
    /// Longest e± step, radiation lengths (default 0.2).
    pub max_step_x0: f64,
    /// Largest fraction of an e±'s kinetic energy lost to ionisation in one step (default 0.2).
    pub max_loss_fraction: f64,
}

impl Default for CaloSimConfig {
    fn default() -> Self {
        CaloSimConfig {
            geometry: CaloGeometry::dataset_2(),
            electron_cut_mev: 1.0,
            photon_cut_mev: 0.1,
            max_radius_mm: 300.0,
            max_step_x0: 0.2,
            max_loss_fraction: 0.2,
        }
    }
}

impl CaloSimConfig {
    /// Checks every setting.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |name: &'static str, message: String| Err(SimError::Config { name, message });
        self.geometry.validate().map_err(SimError::Geometry)?;
        if !(self.electron_cut_mev > 0.0 && self.electron_cut_mev.is_finite()) {
            return bad(
                "electron_cut_mev",
                format!("{} must be > 0", self.electron_cut_mev),
            );
        }
        if !(self.photon_cut_mev > 0.0 && self.photon_cut_mev.is_finite()) {
            return bad(
                "photon_cut_mev",
                format!("{} must be > 0", self.photon_cut_mev),
            );
        }
        if !(self.max_radius_mm > 0.0 && self.max_radius_mm.is_finite()) {
            return bad(
                "max_radius_mm",
                format!("{} must be > 0", self.max_radius_mm),
            );
        }
        if !(self.max_step_x0 > 0.0 && self.max_step_x0 <= 1.0) {
            return bad(
                "max_step_x0",
                format!("{} must be in (0, 1]", self.max_step_x0),
            );
        }
        if !(self.max_loss_fraction > 0.0 && self.max_loss_fraction <= 1.0) {
            return bad(
                "max_loss_fraction",
                format!("{} must be in (0, 1]", self.max_loss_fraction),
            );
        }
        Ok(())
    }
}

/// The particle entering the calorimeter (at the centre of its front face, along its axis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentParticle {
    /// e− (incident energy = kinetic energy).
    Electron,
    /// γ.
    Photon,
}

impl FromStr for IncidentParticle {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "e-" | "electron" => Ok(IncidentParticle::Electron),
            "gamma" | "photon" => Ok(IncidentParticle::Photon),
            other => Err(format!("particle `{other}`: expected e- or gamma")),
        }
    }
}

/// Incident-energy spectrum, in GeV on the command line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EnergySpectrum {
    /// Every shower at this energy, GeV (`fixed:50`).
    Fixed(f64),
    /// log E uniform between the bounds, GeV (`log-uniform:1:500`).
    LogUniform(f64, f64),
}

impl FromStr for EnergySpectrum {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let number = |t: &str| -> Result<f64, String> {
            let x: f64 = t.parse().map_err(|_| format!("`{t}` is not a number"))?;
            if x > 0.0 && x.is_finite() {
                Ok(x)
            } else {
                Err(format!("energy {x} GeV must be positive"))
            }
        };
        match parts[..] {
            ["fixed", e] => Ok(EnergySpectrum::Fixed(number(e)?)),
            ["log-uniform", lo, hi] => {
                let (lo, hi) = (number(lo)?, number(hi)?);
                if lo > hi {
                    return Err(format!("log-uniform:{lo}:{hi}: the bounds are reversed"));
                }
                Ok(EnergySpectrum::LogUniform(lo, hi))
            }
            _ => Err(format!(
                "energy `{s}`: expected fixed:GEV or log-uniform:GEV:GEV"
            )),
        }
    }
}

impl EnergySpectrum {
    /// `n` incident energies, MeV, drawn with `seed`.
    pub fn sample_mev(&self, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_CA10);
        (0..n)
            .map(|_| match *self {
                EnergySpectrum::Fixed(e) => 1000.0 * e,
                EnergySpectrum::LogUniform(lo, hi) => {
                    1000.0 * (lo.ln() + (hi.ln() - lo.ln()) * rng.random::<f64>()).exp()
                }
            })
            .collect()
    }
}

/// Simulated showers: the incident energies and one tally per shower.
#[derive(Debug, Clone)]
pub struct Showers {
    /// Incident energies, MeV.
    pub incident_energies_mev: Vec<f64>,
    /// What each shower deposited.
    pub tallies: Vec<ShowerTally>,
}

impl Showers {
    /// The challenge layout (`incident_energies` N × 1, `showers` N × voxels, MeV, float32).
    pub fn to_challenge(&self) -> CaloShowers {
        let voxels = self.tallies.first().map_or(0, |t| t.voxels_mev.len());
        CaloShowers {
            incident_energies_mev: self
                .incident_energies_mev
                .iter()
                .map(|&e| e as f32)
                .collect(),
            showers_mev: self
                .tallies
                .iter()
                .flat_map(|t| t.voxels_mev.iter().copied())
                .collect(),
            voxels,
        }
    }

    /// Mean sensor energy per readout layer, MeV (all radii).
    pub fn mean_layer_profile(&self) -> Vec<f64> {
        mean_of(self.tallies.iter().map(|t| &t.layer_silicon_mev[..]))
    }

    /// Mean deposited energy (absorber and sensor) per radial bin of
    /// [`voxelise::RADIAL_PROFILE_BIN_MM`], MeV.
    pub fn mean_radial_total_profile(&self) -> Vec<f64> {
        mean_of(self.tallies.iter().map(|t| &t.radial_total_mev[..]))
    }

    /// Mean sensor energy per radial bin of [`voxelise::RADIAL_PROFILE_BIN_MM`], MeV.
    pub fn mean_radial_profile(&self) -> Vec<f64> {
        mean_of(self.tallies.iter().map(|t| &t.radial_silicon_mev[..]))
    }
}

fn mean_of<'a>(rows: impl Iterator<Item = &'a [f64]>) -> Vec<f64> {
    let mut sum: Vec<f64> = Vec::new();
    let mut n = 0usize;
    for row in rows {
        if sum.is_empty() {
            sum = vec![0.0; row.len()];
        }
        for (s, x) in sum.iter_mut().zip(row) {
            *s += x;
        }
        n += 1;
    }
    sum.iter().map(|s| s / n.max(1) as f64).collect()
}

/// Simulates one shower per incident energy (MeV) of `particle`, in parallel; shower `i` uses
/// random stream `i` of `seed`.
pub fn simulate_showers(
    config: &CaloSimConfig,
    particle: IncidentParticle,
    incident_energies_mev: &[f64],
    seed: u64,
) -> Result<Showers, SimError> {
    config.validate()?;
    if let Some(bad) = incident_energies_mev
        .iter()
        .find(|e| !(e.is_finite() && **e > 0.0))
    {
        return Err(SimError::Config {
            name: "incident energy",
            message: format!("{bad} MeV must be finite and positive"),
        });
    }
    let tables = [
        cascade::MaterialTables::new(&config.geometry.absorber),
        cascade::MaterialTables::new(&config.geometry.sensor),
    ];
    let tallies = incident_energies_mev
        .par_iter()
        .enumerate()
        .map(|(i, &energy)| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(i as u64);
            let mut tally = ShowerTally::new(&config.geometry, config.max_radius_mm);
            let primary = Particle {
                species: match particle {
                    IncidentParticle::Electron => Species::Electron,
                    IncidentParticle::Photon => Species::Photon,
                },
                position: [0.0, 0.0, 0.0],
                direction: [0.0, 0.0, 1.0],
                kinetic_mev: energy,
                slab: 0,
            };
            cascade::run_shower(config, &tables, primary, &mut tally, &mut rng);
            tally
        })
        .collect();
    Ok(Showers {
        incident_energies_mev: incident_energies_mev.to_vec(),
        tallies,
    })
}

#[cfg(test)]
mod tests;
