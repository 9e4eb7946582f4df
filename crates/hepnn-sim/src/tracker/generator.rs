//! A pile-up particle generator fitted to the real TrackML particles files.
//!
//! An event is one hard-scatter vertex plus Poisson(⟨μ⟩) pile-up vertices. Each vertex sits at
//! (x, y, z) ~ N(0, σ_xy) × N(0, σ_xy) × N(0, σ_z). A pile-up vertex emits Poisson(ν) charged
//! primaries with
//!
//! ```text
//! dN/dpT ∝ pT · (1 + pT/(n T))^(−n)   (Tsallis / Hagedorn), pT > 0.1 GeV,
//! |η| from a histogram in bins of 0.5 up to 4 (nearly flat), sign of η and φ uniform,
//! q = +1 with probability f₊, else −1.
//! ```
//!
//! (pT/(nT) then follows a beta-prime law B′(2, n − 2), drawn as the ratio of two Gamma
//! variates; n → ∞ gives the Gamma(2, T) law of a thermal spectrum, whose tail is far too light.)
//!
//! The hard-scatter vertex ([`HardScatter`], a tt̄-like event) emits an underlying event of the
//! same soft law plus jets and isolated leptons:
//!
//! ```text
//! jets:      Poisson(λ_j), pT ~ Pareto(pT_min, index a): dN/dpT ∝ pT^(−a), |η| < η_max, φ uniform;
//!            n_ch ~ Poisson(c₀ + c₁ ln(pT/GeV)) charged particles sharing f_ch · p_jet with
//!            momentum fractions ~ Dirichlet(α, …, α), each at angle atan(j_T / p) to the jet axis
//!            (uniform azimuth), j_T ~ Gamma(2, ⟨j_T⟩/2) — the limited transverse momentum of
//!            fragmentation, so stiff particles are collimated (Field–Feynman picture);
//! leptons:   Poisson(λ_ℓ), pT ~ Pareto(20 GeV, index 3), |η| < 2.5 (W → ℓν).
//! ```
//!
//! A fraction of the particles are secondaries (particles produced away from the beam line,
//! which the TrackML files list as particles of their own). The files show two kinds
//! ([`SecondaryModel::TwoComponent`], the default):
//!
//! ```text
//! broad:      per primary Poisson(n_sec); pT − 0.1 GeV ~ Gamma(k_sec, T_sec); |η| from the
//!             secondaries' histogram, φ uniform — no memory of the parent's direction
//!             (debris of interactions in the material, δ-rays);
//! collimated: per primary Poisson(n_dec) (n_dec,hard for the hard scatter's jet and lepton
//!             particles: heavy-flavour decays); momentum z · p_parent, z ~ Beta(a, b), at
//!             angle atan(j / p) to the parent's direction (uniform azimuth), j ~ Gamma(2, j₀)
//!             — decays of neutral and charged hadrons and photon conversions, which keep
//!             the parent's direction.
//! ```
//!
//! Both are made at a transverse radius drawn from their measured radius histogram, on the
//! straight line of their parent. [`SecondaryModel::Isotropic`] is the earlier one-component
//! model (Poisson(0.417) per primary, pT − 0.1 ~ Exp(0.188), broad): it gives the right soft
//! bulk but stiff secondaries with random directions, whose tracks miss the beam line by
//! centimetres, where the real ones point nearly back to it.
//!
//! # The fit (8 real events 1000–1004, 1006–1008 of TrackML train_1, ⟨μ⟩ = 200)
//! - 11,525 particles per event on average; 29.4% have a vertex off the beam line (r > 1 mm):
//!   n_sec = 0.294/0.706 = 0.417 per primary, ν = 11,525 / (201 · 1.417) = 40.5.
//! - Primaries: σ_z = 5.76 mm (not the 55 mm sometimes quoted: the files say 5.8 mm),
//!   σ_xy ≈ 0.014 mm.
//! - Pile-up primaries (vertex within 1 mm of the beam line, not the hard-scatter vertex; 7,908
//!   per event): pT quartiles 0.270/0.446/0.739 GeV, P(pT > 1, 2, 3, 5 GeV) = 0.145, 0.0284,
//!   0.0078, 0.0010. The Tsallis law with n = 7.5, T = 0.175 GeV gives 0.268/0.461/0.785 and
//!   0.161, 0.0287, 0.0075, 0.0010 (the earlier Gamma(2, 0.252) law: 0.094, 0.0032, 4·10⁻⁵, 0
//!   — no stiff pile-up tracks at all).
//! - The hard-scatter vertex (the vertex most pT > 5 GeV particles share): 224 charged primaries
//!   per event, of which 70.8 / 32.0 / 12.3 / 5.6 / 2.4 above 1 / 2 / 5 / 10 / 20 GeV; a
//!   pT > 5 GeV particle has 2.7 / 4.8 / 7.3 others (pT > 0.5 GeV) within ΔR < 0.1 / 0.2 / 0.4 —
//!   jets. The defaults of [`HardScatter`] give 224 / 64 / 34 / 15 / 5.8 / 2.2 and 2.5 / 4.5 / 7.1
//!   (a toy fit by hand, not a parton shower). Without them the generator had no particle above
//!   5 GeV in the barrel, where the real events have ~3 per event — and a tracker trained on it
//!   never saw a stiff barrel track.
//! - Secondaries: pT quartiles 0.155/0.230/0.343 GeV; 0.1 + Exp(0.188) gives 0.154/0.230/0.360.
//!   Split by the angle Δφ between a secondary's momentum and its production point (seen from
//!   the beam line, i.e. the parent's direction): below pT = 0.5 GeV |Δφ| is broad (median
//!   1.0–1.4 rad), above it narrow (median 0.19 rad at 0.5–0.7 GeV, 0.073 at 1–1.5, 0.035 at
//!   1.5–3; the momentum transverse to the parent, pT·tan|Δφ|, has median 0.082 GeV). Broad
//!   (all but pT > 0.5 GeV with |Δφ| < 0.3): 3,134 per event, pT − 0.1 quartiles
//!   0.050/0.117/0.212, P(pT > 0.5) = 0.016 → Gamma(1.7, 0.075): 0.056/0.104/0.174, 0.019.
//!   Collimated (pT > 0.5 GeV, |Δφ| < 0.3): 258 per event, P(pT > 1/2/5/10 GeV) = 0.38 /
//!   0.105 / 0.023 / 0.016; half of them within 50 mm of the beam line, against 30% of the
//!   broad ones. The defaults of [`SecondaryModel::TwoComponent`] were tuned by hand to these
//!   numbers (test in `tests/tests.rs`).
//! - Mean charge 0.105: f₊ = 0.553.
//!
//! The test in `tests/tests.rs` checks the mean multiplicity, the pT median and the numbers of
//! particles above 1, 2 and 5 GeV against the files.

use std::f64::consts::PI;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma, Normal, Poisson};

use hepnn_core::{Particle, ParticleId};

use super::error::{Result, SimError};

/// Measured |η| histogram of primaries, bins of 0.5 from 0 to 4 (8 real events).
const PRIMARY_ETA: [f64; 8] = [
    8015.0, 8218.0, 8458.0, 8579.0, 8497.0, 8100.0, 7768.0, 7425.0,
];
/// Measured |η| histogram of secondaries, bins of 0.5 from 0 to 4.
const SECONDARY_ETA: [f64; 8] = [11266.0, 7142.0, 3503.0, 1680.0, 1118.0, 983.0, 779.0, 671.0];
/// Measured production-radius histogram of secondaries, bins of 50 mm from 1 to 1000 mm.
const SECONDARY_RADIUS: [f64; 20] = [
    9439.0, 3433.0, 1955.0, 2099.0, 1430.0, 2519.0, 355.0, 1444.0, 351.0, 962.0, 404.0, 135.0,
    117.0, 672.0, 21.0, 285.0, 847.0, 255.0, 207.0, 213.0,
];

/// Measured production-radius histogram of the collimated secondaries (pT > 0.5 GeV, |Δφ| <
/// 0.3 to the parent's direction), bins of 50 mm from 1 to 1000 mm.
const COLLIMATED_RADIUS: [f64; 19] = [
    1097.0, 407.0, 208.0, 128.0, 50.0, 41.0, 31.0, 29.0, 16.0, 16.0, 11.0, 5.0, 3.0, 6.0, 4.0, 2.0,
    9.0, 2.0, 2.0,
];

/// How secondaries are made (module docs).
#[derive(Debug, Clone, PartialEq)]
pub enum SecondaryModel {
    /// The earlier model: Poisson(`secondaries_per_primary`) per primary, pT − pt_min ~
    /// Exp(`secondary_pt_slope`), |η| from the histogram, φ uniform.
    Isotropic,
    /// Broad secondaries (Poisson(`secondaries_per_primary`), pT − pt_min ~
    /// Gamma(`broad_pt_shape`, `secondary_pt_slope`)) plus collimated ones.
    TwoComponent(TwoComponentSecondaries),
}

/// The settings of [`SecondaryModel::TwoComponent`]: the broad secondaries' pT shape and the
/// collimated secondaries.
#[derive(Debug, Clone, PartialEq)]
pub struct TwoComponentSecondaries {
    /// Shape k of the broad secondaries' Gamma(k, T_sec) law of pT − pt_min.
    pub broad_pt_shape: f64,
    /// Mean number of collimated secondaries per primary n_dec.
    pub per_primary: f64,
    /// The same per jet or lepton particle of the hard scatter n_dec,hard.
    pub per_hard_primary: f64,
    /// Beta(a, b) law of the momentum fraction z.
    pub fraction: [f64; 2],
    /// Scale j₀ (GeV) of the Gamma(2, j₀) transverse momentum relative to the parent.
    pub kick: f64,
}

impl Default for TwoComponentSecondaries {
    fn default() -> Self {
        Self {
            broad_pt_shape: 1.7,
            per_primary: 0.078,
            per_hard_primary: 0.5,
            fraction: [3.0, 0.5],
            kick: 0.08,
        }
    }
}

impl Default for SecondaryModel {
    fn default() -> Self {
        Self::TwoComponent(TwoComponentSecondaries::default())
    }
}

impl SecondaryModel {
    /// The earlier isotropic model with its fitted settings (`secondaries_per_primary` 0.417,
    /// `secondary_pt_slope` 0.188 GeV): the generator of models trained before the
    /// two-component model.
    pub fn isotropic_config() -> GeneratorConfig {
        GeneratorConfig {
            secondaries_per_primary: 0.417,
            secondary_pt_slope: 0.188,
            secondaries: SecondaryModel::Isotropic,
            ..GeneratorConfig::default()
        }
    }
}

/// Settings of the generator; the defaults are the fit to the real files (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    /// Mean number of pile-up vertices ⟨μ⟩ (Poisson); one hard-scatter vertex is added.
    pub pileup: f64,
    /// Mean number of charged primaries per vertex ν.
    pub primaries_per_vertex: f64,
    /// Mean number of (broad) secondaries per primary.
    pub secondaries_per_primary: f64,
    /// Temperature T of the Tsallis law dN/dpT ∝ pT (1 + pT/(nT))^(−n) of soft primaries (GeV).
    pub pt_slope: f64,
    /// Power n of that law (n → ∞: the Gamma(2, T) law dN/dpT ∝ pT exp(−pT/T)); > 4.
    pub pt_power: f64,
    /// Slope (scale) of the law of pT − pt_min of (broad) secondaries (GeV).
    pub secondary_pt_slope: f64,
    /// How secondaries are made.
    pub secondaries: SecondaryModel,
    /// Lowest pT generated (GeV).
    pub pt_min: f64,
    /// Beam-spot length σ_z (mm).
    pub sigma_z: f64,
    /// Transverse beam-spot size σ_xy (mm).
    pub sigma_xy: f64,
    /// Probability of a positive charge.
    pub positive_fraction: f64,
    /// Jets and leptons of the hard-scatter vertex (`None`: that vertex is one more pile-up
    /// vertex).
    pub hard_scatter: Option<HardScatter>,
}

/// The hard-scatter vertex: a soft underlying event plus jets and isolated leptons (module
/// docs; defaults fitted to the TrackML files).
#[derive(Debug, Clone, PartialEq)]
pub struct HardScatter {
    /// Mean number of soft charged primaries (the pile-up law) of the underlying event.
    pub underlying: f64,
    /// Mean number of jets λ_j.
    pub jets: f64,
    /// Lowest jet pT (GeV).
    pub jet_pt_min: f64,
    /// Index a of the jet spectrum dN/dpT ∝ pT^(−a) (> 1).
    pub jet_pt_index: f64,
    /// Jets have |η| below this.
    pub jet_eta_max: f64,
    /// Fraction f_ch of the jet momentum carried by charged particles.
    pub charged_fraction: f64,
    /// Charged multiplicity c₀ + c₁ ln(pT_jet/GeV) (mean of a Poisson law).
    pub multiplicity: [f64; 2],
    /// Dirichlet parameter α of the momentum fractions (small: a few particles carry most).
    pub fragmentation_alpha: f64,
    /// Mean transverse momentum ⟨j_T⟩ of a particle relative to its jet axis (GeV).
    pub mean_jt: f64,
    /// Mean number of isolated leptons λ_ℓ (pT ~ Pareto(20 GeV, index 3), |η| < 2.5).
    pub leptons: f64,
}

impl Default for HardScatter {
    fn default() -> Self {
        Self {
            underlying: 165.0,
            jets: 6.0,
            jet_pt_min: 30.0,
            jet_pt_index: 3.0,
            jet_eta_max: 3.0,
            charged_fraction: 0.65,
            multiplicity: [4.0, 2.5],
            fragmentation_alpha: 0.4,
            mean_jt: 0.5,
            leptons: 1.0,
        }
    }
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            pileup: 200.0,
            primaries_per_vertex: 40.5,
            secondaries_per_primary: 0.34,
            pt_slope: 0.175,
            pt_power: 7.5,
            secondary_pt_slope: 0.075,
            secondaries: SecondaryModel::default(),
            pt_min: 0.1,
            sigma_z: 5.76,
            sigma_xy: 0.014,
            positive_fraction: 0.553,
            hard_scatter: Some(HardScatter::default()),
        }
    }
}

impl GeneratorConfig {
    /// Checks every setting once, before any work.
    ///
    /// # Errors
    /// [`SimError::Config`] naming the first setting out of range.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("primaries_per_vertex", self.primaries_per_vertex),
            ("pt_slope", self.pt_slope),
            ("secondary_pt_slope", self.secondary_pt_slope),
            ("pt_min", self.pt_min),
            ("sigma_z", self.sigma_z),
            ("sigma_xy", self.sigma_xy),
        ];
        for (name, value) in positive {
            if !(value.is_finite() && value > 0.0) {
                return Err(SimError::Config {
                    name,
                    message: format!("expected a positive number, found {value}"),
                });
            }
        }
        for (name, value) in [
            ("pileup", self.pileup),
            ("secondaries_per_primary", self.secondaries_per_primary),
        ] {
            if !(0.0..1e5).contains(&value) {
                return Err(SimError::Config {
                    name,
                    message: format!("expected a number in [0, 1e5), found {value}"),
                });
            }
        }
        // Primaries are drawn by rejection above pt_min: keep the acceptance reasonable.
        if self.pt_min > 20.0 * self.pt_slope {
            return Err(SimError::Config {
                name: "pt_min",
                message: format!(
                    "{} GeV is too far in the tail of the pT law (slope {} GeV): at most 20 slopes",
                    self.pt_min, self.pt_slope
                ),
            });
        }
        if !(self.pt_power.is_finite() && self.pt_power > 4.0) {
            return Err(SimError::Config {
                name: "pt_power",
                message: format!("expected a number above 4, found {}", self.pt_power),
            });
        }
        if let Some(hs) = &self.hard_scatter {
            hs.validate()?;
        }
        if let SecondaryModel::TwoComponent(c) = &self.secondaries {
            c.validate()?;
        }
        if !(0.0..=1.0).contains(&self.positive_fraction) {
            return Err(SimError::Config {
                name: "positive_fraction",
                message: format!("expected a probability, found {}", self.positive_fraction),
            });
        }
        Ok(())
    }
}

impl HardScatter {
    /// Checks every setting.
    ///
    /// # Errors
    /// [`SimError::Config`] naming the first setting out of range.
    pub fn validate(&self) -> Result<()> {
        let checks = [
            ("hard_scatter.underlying", self.underlying, 0.0, 1e5),
            ("hard_scatter.jets", self.jets, 0.0, 1e3),
            ("hard_scatter.jet_pt_min", self.jet_pt_min, 1e-3, 1e5),
            (
                "hard_scatter.jet_pt_index",
                self.jet_pt_index,
                1.0 + 1e-6,
                100.0,
            ),
            ("hard_scatter.jet_eta_max", self.jet_eta_max, 0.0, 4.0),
            (
                "hard_scatter.charged_fraction",
                self.charged_fraction,
                1e-6,
                1.0,
            ),
            (
                "hard_scatter.multiplicity[0]",
                self.multiplicity[0],
                0.0,
                1e3,
            ),
            (
                "hard_scatter.multiplicity[1]",
                self.multiplicity[1],
                0.0,
                1e3,
            ),
            (
                "hard_scatter.fragmentation_alpha",
                self.fragmentation_alpha,
                1e-3,
                1e3,
            ),
            ("hard_scatter.mean_jt", self.mean_jt, 0.0, 1e3),
            ("hard_scatter.leptons", self.leptons, 0.0, 1e3),
        ];
        in_ranges(&checks)
    }
}

impl TwoComponentSecondaries {
    /// Checks every setting.
    ///
    /// # Errors
    /// [`SimError::Config`] naming the first setting out of range.
    pub fn validate(&self) -> Result<()> {
        let checks = [
            ("secondaries.broad_pt_shape", self.broad_pt_shape, 1e-3, 1e3),
            ("secondaries.per_primary", self.per_primary, 0.0, 1e3),
            (
                "secondaries.per_hard_primary",
                self.per_hard_primary,
                0.0,
                1e3,
            ),
            ("secondaries.fraction[0]", self.fraction[0], 1e-3, 1e3),
            ("secondaries.fraction[1]", self.fraction[1], 1e-3, 1e3),
            ("secondaries.kick", self.kick, 1e-6, 1e3),
        ];
        in_ranges(&checks)
    }
}

/// Checks that each `(name, value, lo, hi)` has a finite value in [lo, hi].
///
/// # Errors
/// [`SimError::Config`] naming the first setting out of range.
fn in_ranges(checks: &[(&'static str, f64, f64, f64)]) -> Result<()> {
    for &(name, value, lo, hi) in checks {
        if !(value.is_finite() && (lo..=hi).contains(&value)) {
            return Err(SimError::Config {
                name,
                message: format!("expected a number in [{lo}, {hi}], found {value}"),
            });
        }
    }
    Ok(())
}

/// Draws a bin from a histogram and a uniform value inside it.
fn from_histogram<R: Rng + ?Sized>(rng: &mut R, counts: &[f64], lo: f64, width: f64) -> f64 {
    let total: f64 = counts.iter().sum();
    let mut pick = rng.random::<f64>() * total;
    for (bin, &count) in counts.iter().enumerate() {
        if pick < count {
            return lo + width * (bin as f64 + rng.random::<f64>());
        }
        pick -= count;
    }
    lo + width * counts.len() as f64
}

/// Poisson draw (0 for a zero mean).
fn poisson<R: Rng + ?Sized>(rng: &mut R, mean: f64) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    Poisson::new(mean).map_or(0, |d| d.sample(rng) as u64)
}

/// Generates the charged particles of one event with the seed `seed`. Particle ids encode the
/// vertex (bits 40 and up), generation (bits 32–39: 0 primary, 1 secondary) and a counter.
///
/// # Errors
/// [`SimError::Config`] for invalid settings.
pub fn generate(config: &GeneratorConfig, seed: u64) -> Result<Vec<Particle>> {
    config.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let vertices = 1 + poisson(&mut rng, config.pileup);
    let beam_z = Normal::new(0.0, config.sigma_z).expect("σ_z validated");
    let beam_xy = Normal::new(0.0, config.sigma_xy).expect("σ_xy validated");
    let soft = SoftPt::new(config);
    let secondary_pt = SecondaryPt::new(config);
    let collimated = match &config.secondaries {
        SecondaryModel::TwoComponent(c) => Some((
            c,
            Beta::new(c.fraction[0], c.fraction[1]).expect("Beta validated"),
            Gamma::new(2.0, c.kick).expect("kick validated"),
        )),
        SecondaryModel::Isotropic => None,
    };
    let mut particles = Vec::new();
    for vertex in 0..vertices {
        let v = [
            beam_xy.sample(&mut rng),
            beam_xy.sample(&mut rng),
            beam_z.sample(&mut rng),
        ];
        // (pT, η, φ) of this vertex's primaries.
        let mut primaries: Vec<[f64; 3]> = Vec::new();
        let hard = if vertex == 0 {
            config.hard_scatter.as_ref()
        } else {
            None
        };
        let soft_count = hard.map_or(config.primaries_per_vertex, |h| h.underlying);
        for _ in 0..poisson(&mut rng, soft_count) {
            let pt = soft.sample(&mut rng);
            let eta_sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            let eta = eta_sign * from_histogram(&mut rng, &PRIMARY_ETA, 0.0, 0.5);
            primaries.push([pt, eta, rng.random_range(-PI..PI)]);
        }
        let soft_primaries = primaries.len();
        if let Some(hard) = hard {
            hard_scatter(hard, config.pt_min, &mut rng, &mut primaries);
        }
        let mut counter = 0u64;
        let mut id = |generation: u64| {
            counter += 1;
            ParticleId(((vertex + 1) << 40) | (generation << 32) | counter)
        };
        for (index, [pt, eta, phi]) in primaries.into_iter().enumerate() {
            let q = charge(&mut rng, config.positive_fraction);
            let primary = Particle {
                particle_id: id(0),
                particle_type: None,
                vx: v[0],
                vy: v[1],
                vz: v[2],
                px: pt * phi.cos(),
                py: pt * phi.sin(),
                pz: pt * eta.sinh(),
                q,
                nhits: 0,
            };
            // A secondary at transverse radius r on the parent's straight line, inside the
            // tracker's length.
            let secondary = |r: f64, [pt_s, eta_s, phi_s]: [f64; 3], q: i32, id: ParticleId| {
                let dz = (r * eta.sinh()).clamp(-3000.0, 3000.0);
                Particle {
                    particle_id: id,
                    particle_type: None,
                    vx: v[0] + r * phi.cos(),
                    vy: v[1] + r * phi.sin(),
                    vz: v[2] + dz,
                    px: pt_s * phi_s.cos(),
                    py: pt_s * phi_s.sin(),
                    pz: pt_s * eta_s.sinh(),
                    q,
                    nhits: 0,
                }
            };
            for _ in 0..poisson(&mut rng, config.secondaries_per_primary) {
                let r = from_histogram(&mut rng, &SECONDARY_RADIUS, 1.0, 50.0);
                let pt_s = config.pt_min + secondary_pt.sample(&mut rng);
                let eta_s = eta.signum() * from_histogram(&mut rng, &SECONDARY_ETA, 0.0, 0.5);
                let phi_s = rng.random_range(-PI..PI);
                let q = charge(&mut rng, config.positive_fraction);
                particles.push(secondary(r, [pt_s, eta_s, phi_s], q, id(1)));
            }
            if let Some((c, fraction, kick)) = &collimated {
                let rate = if index >= soft_primaries {
                    c.per_hard_primary
                } else {
                    c.per_primary
                };
                for _ in 0..poisson(&mut rng, rate) {
                    let p = fraction.sample(&mut rng) * pt * eta.cosh();
                    let angle = (kick.sample(&mut rng) / p).atan();
                    let psi = rng.random_range(0.0..2.0 * PI);
                    let r = from_histogram(&mut rng, &COLLIMATED_RADIUS, 1.0, 50.0);
                    let q = charge(&mut rng, config.positive_fraction);
                    let d = tilt(eta, phi, angle, psi);
                    if let Some(kinematics) = pt_eta_phi(d, p, config.pt_min) {
                        particles.push(secondary(r, kinematics, q, id(1)));
                    }
                }
            }
            particles.push(primary);
        }
    }
    Ok(particles)
}

/// The unit vector at `angle` to the direction (η, φ), turned by azimuth `psi` about it.
fn tilt(eta: f64, phi: f64, angle: f64, psi: f64) -> [f64; 3] {
    let axis = [phi.cos() / eta.cosh(), phi.sin() / eta.cosh(), eta.tanh()];
    let u = [-phi.sin(), phi.cos(), 0.0]; // axis × ẑ, normalised
    let w = [
        axis[1] * u[2] - axis[2] * u[1],
        axis[2] * u[0] - axis[0] * u[2],
        axis[0] * u[1] - axis[1] * u[0],
    ];
    let (sa, ca) = angle.sin_cos();
    let (sp, cp) = psi.sin_cos();
    std::array::from_fn(|k| ca * axis[k] + sa * (cp * u[k] + sp * w[k]))
}

/// (pT, η, φ) of momentum `p` along the unit vector `d`; `None` at or below `pt_min` or at
/// |η| ≥ 4 (outside the generated range).
fn pt_eta_phi(d: [f64; 3], p: f64, pt_min: f64) -> Option<[f64; 3]> {
    let transverse = d[0].hypot(d[1]);
    let pt = p * transverse;
    if pt <= pt_min || transverse <= 0.0 {
        return None;
    }
    let eta = (d[2] / transverse).asinh();
    (eta.abs() < 4.0).then(|| [pt, eta, d[1].atan2(d[0])])
}

/// The law of pT − pt_min of (broad) secondaries: Exp(T_sec) for the isotropic model,
/// Gamma(k_sec, T_sec) for the two-component one.
enum SecondaryPt {
    Exp(Exp<f64>),
    Gamma(Gamma<f64>),
}

impl SecondaryPt {
    fn new(config: &GeneratorConfig) -> Self {
        match &config.secondaries {
            SecondaryModel::Isotropic => {
                Self::Exp(Exp::new(1.0 / config.secondary_pt_slope).expect("slope validated"))
            }
            SecondaryModel::TwoComponent(c) => Self::Gamma(
                Gamma::new(c.broad_pt_shape, config.secondary_pt_slope).expect("shape validated"),
            ),
        }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> f64 {
        match self {
            Self::Exp(d) => d.sample(rng),
            Self::Gamma(d) => d.sample(rng),
        }
    }
}

fn charge(rng: &mut ChaCha8Rng, positive_fraction: f64) -> i32 {
    if rng.random_bool(positive_fraction) {
        1
    } else {
        -1
    }
}

/// The soft (Tsallis) pT law above pt_min: pT = nT · X/Y, X ~ Gamma(2), Y ~ Gamma(n − 2).
struct SoftPt {
    x: Gamma<f64>,
    y: Gamma<f64>,
    scale: f64,
    pt_min: f64,
}

impl SoftPt {
    fn new(config: &GeneratorConfig) -> Self {
        Self {
            x: Gamma::new(2.0, 1.0).expect("constant shape"),
            y: Gamma::new(config.pt_power - 2.0, 1.0).expect("n > 4 validated"),
            scale: config.pt_power * config.pt_slope,
            pt_min: config.pt_min,
        }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> f64 {
        loop {
            let pt = self.scale * self.x.sample(rng) / self.y.sample(rng);
            if pt > self.pt_min {
                return pt;
            }
        }
    }
}

/// Pareto draw: x_min · U^(−1/(a − 1)), density ∝ x^(−a) above x_min.
fn pareto(rng: &mut ChaCha8Rng, x_min: f64, index: f64) -> f64 {
    let u: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    x_min * u.powf(-1.0 / (index - 1.0))
}

/// Appends the (pT, η, φ) of the hard scatter's jet fragments and leptons (module docs).
fn hard_scatter(hard: &HardScatter, pt_min: f64, rng: &mut ChaCha8Rng, out: &mut Vec<[f64; 3]>) {
    for _ in 0..poisson(rng, hard.leptons) {
        out.push([
            pareto(rng, 20.0, 3.0),
            rng.random_range(-2.5..2.5),
            rng.random_range(-PI..PI),
        ]);
    }
    let fraction = Gamma::new(hard.fragmentation_alpha, 1.0).expect("α validated");
    let jt = Gamma::new(2.0, (hard.mean_jt / 2.0).max(1e-12)).expect("⟨j_T⟩ validated");
    for _ in 0..poisson(rng, hard.jets) {
        let jet_pt = pareto(rng, hard.jet_pt_min, hard.jet_pt_index);
        let jet_eta = rng.random_range(-hard.jet_eta_max..=hard.jet_eta_max);
        let jet_phi = rng.random_range(-PI..PI);
        let momentum = hard.charged_fraction * jet_pt * jet_eta.cosh();
        let n = poisson(
            rng,
            hard.multiplicity[0] + hard.multiplicity[1] * jet_pt.ln().max(0.0),
        )
        .max(1);
        let shares: Vec<f64> = (0..n).map(|_| fraction.sample(rng)).collect();
        let total: f64 = shares.iter().sum::<f64>().max(f64::MIN_POSITIVE);
        for share in shares {
            let p = momentum * share / total;
            if p <= 0.0 {
                continue;
            }
            let angle = (jt.sample(rng) / p).atan();
            let psi = rng.random_range(0.0..2.0 * PI);
            if let Some(kinematics) = pt_eta_phi(tilt(jet_eta, jet_phi, angle, psi), p, pt_min) {
                out.push(kinematics);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_particles_and_ids_are_unique() {
        let config = GeneratorConfig {
            pileup: 5.0,
            ..GeneratorConfig::default()
        };
        let a = generate(&config, 7).expect("valid settings");
        assert_eq!(a, generate(&config, 7).expect("valid settings"));
        assert_ne!(a, generate(&config, 8).expect("valid settings"));
        let mut ids: Vec<u64> = a.iter().map(|p| p.particle_id.0).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), a.len());
        assert!(a.iter().all(|p| p.pt() > 0.1 && p.eta().abs() < 4.0 + 1e-9));
    }

    /// Mean number of other particles (pT > 0.5 GeV) within ΔR < 0.2 of each pT > 5 GeV
    /// particle, and the number of those stiff particles.
    fn stiff_neighbours(particles: &[Particle]) -> (f64, usize) {
        let stiff: Vec<&Particle> = particles.iter().filter(|p| p.pt() > 5.0).collect();
        let mut total = 0usize;
        for s in &stiff {
            total += particles
                .iter()
                .filter(|q| q.pt() > 0.5 && q.particle_id != s.particle_id)
                .filter(|q| {
                    let dphi = (q.py.atan2(q.px) - s.py.atan2(s.px) + PI).rem_euclid(2.0 * PI) - PI;
                    (q.eta() - s.eta()).hypot(dphi) < 0.2
                })
                .count();
        }
        (total as f64 / stiff.len().max(1) as f64, stiff.len())
    }

    #[test]
    fn the_hard_scatter_makes_collimated_stiff_particles() {
        let config = GeneratorConfig {
            pileup: 0.0,
            ..GeneratorConfig::default()
        };
        let (mut neighbours, mut stiff) = (0.0, 0);
        for seed in 0..20 {
            let (n, s) = stiff_neighbours(&generate(&config, seed).expect("valid settings"));
            neighbours += n * s as f64;
            stiff += s;
        }
        let mean = neighbours / stiff as f64;
        // Real TrackML hard-scatter vertices: 12.3 particles above 5 GeV, 4.8 neighbours each.
        assert!(
            (6 * 20..20 * 20).contains(&stiff),
            "{stiff} stiff particles in 20 events"
        );
        assert!(
            (2.5..8.0).contains(&mean),
            "{mean} neighbours within ΔR < 0.2"
        );
        // Without the hard scatter, the soft law alone has (almost) none.
        let soft = GeneratorConfig {
            hard_scatter: None,
            ..config
        };
        let stiff_soft: usize = (0..20)
            .map(|seed| stiff_neighbours(&generate(&soft, seed).expect("valid")).1)
            .sum();
        assert!(stiff_soft < 5, "{stiff_soft}");
    }

    #[test]
    fn bad_settings_are_named() {
        let config = GeneratorConfig {
            hard_scatter: Some(HardScatter {
                jet_pt_index: 1.0,
                ..HardScatter::default()
            }),
            ..GeneratorConfig::default()
        };
        let error = generate(&config, 1).expect_err("index 1");
        assert!(error.to_string().contains("jet_pt_index"), "{error}");
        let config = GeneratorConfig {
            sigma_z: -1.0,
            ..GeneratorConfig::default()
        };
        let error = generate(&config, 1).expect_err("σ_z < 0");
        assert!(error.to_string().contains("sigma_z"), "{error}");
        let config = GeneratorConfig {
            secondaries: SecondaryModel::TwoComponent(TwoComponentSecondaries {
                kick: f64::NAN,
                ..TwoComponentSecondaries::default()
            }),
            ..GeneratorConfig::default()
        };
        let error = generate(&config, 1).expect_err("NaN kick");
        assert!(error.to_string().contains("secondaries.kick"), "{error}");
    }
}
