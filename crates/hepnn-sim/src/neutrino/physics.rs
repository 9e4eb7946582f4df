//! The interactions and the particles they make, stepped through the detector as energy deposits.
//!
//! - **νμ CC**: a muon, E_μ = (1 − y) E_ν, minimum ionising (1.8 MeV/cm with Landau-like
//!   fluctuations) until it ranges out or leaves, Highland multiple scattering every step;
//! - **νe CC**: an electron that showers at once: the longitudinal profile
//!   dE/dt = E b (bt)^{a−1} e^{−bt} / Γ(a), t in X₀, b = 0.5, t_max = (a − 1)/b = ln(E/E_c) − 0.5
//!   (photons: + 0.5), sampled as energy spots whose depth is Gamma-distributed and whose distance
//!   from the axis follows a core (0.2 R_M) + halo (R_M) mixture, so showers fluctuate spot by spot;
//! - **NC**: only the hadronic system (E_had = y E_ν), the neutrino leaves;
//! - **hadronic system** (every interaction): 1 + Poisson(1.2 E_had/GeV) particles sharing E_had:
//!   protons (range R = 0.0022 T^1.77 cm, T in MeV, so a Bragg peak with heavy ionisation),
//!   charged pions (minimum ionising, nuclear interaction after an exponential length ≈ 1 m that
//!   leaves a proton), neutral pions decaying at once to γγ (isotropic in the π⁰ frame, boosted),
//!   each photon converting after an exponential distance of mean 9/7 X₀ — the gap that tells a
//!   π⁰ shower from an electron's.
//!
//! The inelasticity y is Beta(1.2, 2.5)-distributed for CC and Beta(1.5, 2.0) for NC; the lepton
//! leaves with a transverse momentum drawn from an exponential of mean 0.3 GeV.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma, Normal, Poisson};

use super::geometry::DetectorConfig;

/// Muon, charged-pion, neutral-pion, proton and electron masses, GeV.
const M_MU: f64 = 0.10566;
const M_PI: f64 = 0.13957;
const M_PI0: f64 = 0.13498;
const M_P: f64 = 0.93827;

/// Step of the tracked particles, cm.
const STEP_CM: f64 = 2.0;

/// One energy deposit: position (cm), energy (MeV), and the local stopping power (MeV/cm) that
/// sets its Birks saturation.
#[derive(Debug, Clone, Copy)]
pub struct Deposit {
    /// Position, cm.
    pub position: [f64; 3],
    /// Deposited energy, MeV.
    pub energy_mev: f64,
    /// dE/dx at the deposit, MeV/cm.
    pub dedx_mev_per_cm: f64,
}

/// The three event classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interaction {
    /// Charged-current νμ: a long muon track + hadronic activity.
    NumuCc = 0,
    /// Charged-current νe: an electromagnetic shower + hadronic activity.
    NueCc = 1,
    /// Neutral current: hadronic activity only (π⁰ → γγ showers included).
    Nc = 2,
}

impl Interaction {
    /// All classes, in label order.
    pub const ALL: [Interaction; 3] = [Interaction::NumuCc, Interaction::NueCc, Interaction::Nc];

    /// The class label 0, 1, 2.
    pub fn label(self) -> usize {
        self as usize
    }

    /// The class of a label.
    pub fn from_label(label: usize) -> Option<Self> {
        Self::ALL.get(label).copied()
    }

    /// Short name: `numu_cc`, `nue_cc`, `nc`.
    pub fn name(self) -> &'static str {
        match self {
            Interaction::NumuCc => "numu_cc",
            Interaction::NueCc => "nue_cc",
            Interaction::Nc => "nc",
        }
    }
}

/// Generator-level truth of one interaction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Truth {
    /// The class.
    pub interaction: Interaction,
    /// Neutrino energy, GeV.
    pub neutrino_energy_gev: f64,
    /// Charged-lepton energy (0 for NC), GeV.
    pub lepton_energy_gev: f64,
    /// Energy given to the hadronic system, GeV.
    pub hadronic_energy_gev: f64,
    /// Interaction vertex, cm.
    pub vertex_cm: [f64; 3],
}

/// The neutrino energy spectrum: a Gamma distribution (shape, scale in GeV) clipped to
/// [min, max], standing in for NOvA's off-axis flux × cross-section peaked near 2 GeV.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum {
    /// Gamma shape.
    pub shape: f64,
    /// Gamma scale, GeV.
    pub scale_gev: f64,
    /// Lowest energy, GeV.
    pub min_gev: f64,
    /// Highest energy, GeV.
    pub max_gev: f64,
}

impl Default for Spectrum {
    fn default() -> Self {
        // Mean 2.1 GeV, mode 1.75 GeV.
        Self {
            shape: 6.0,
            scale_gev: 0.35,
            min_gev: 0.5,
            max_gev: 5.0,
        }
    }
}

fn unit(v: [f64; 3]) -> [f64; 3] {
    let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt().max(1e-12);
    [v[0] / n, v[1] / n, v[2] / n]
}

/// Two unit vectors perpendicular to `d` (and to each other).
fn perpendiculars(d: [f64; 3]) -> ([f64; 3], [f64; 3]) {
    let a = if d[0].abs() < 0.9 {
        [1.0, 0.0, 0.0]
    } else {
        [0.0, 1.0, 0.0]
    };
    let u = unit([
        d[1] * a[2] - d[2] * a[1],
        d[2] * a[0] - d[0] * a[2],
        d[0] * a[1] - d[1] * a[0],
    ]);
    let w = [
        d[1] * u[2] - d[2] * u[1],
        d[2] * u[0] - d[0] * u[2],
        d[0] * u[1] - d[1] * u[0],
    ];
    (u, w)
}

/// `d` turned by polar angle θ (cos θ given) and azimuth φ about itself.
fn rotate(d: [f64; 3], cos_theta: f64, phi: f64) -> [f64; 3] {
    let sin_theta = (1.0 - cos_theta * cos_theta).max(0.0).sqrt();
    let (u, w) = perpendiculars(d);
    let (s, c) = phi.sin_cos();
    unit([
        d[0] * cos_theta + sin_theta * (c * u[0] + s * w[0]),
        d[1] * cos_theta + sin_theta * (c * u[1] + s * w[1]),
        d[2] * cos_theta + sin_theta * (c * u[2] + s * w[2]),
    ])
}

fn add(p: [f64; 3], d: [f64; 3], s: f64) -> [f64; 3] {
    [p[0] + s * d[0], p[1] + s * d[1], p[2] + s * d[2]]
}

/// Steps particles through the detector, handing every deposit to a sink.
pub struct Stepper<'a, F: FnMut(Deposit)> {
    /// The detector.
    pub detector: &'a DetectorConfig,
    /// The random generator of this event.
    pub rng: &'a mut ChaCha8Rng,
    /// Where deposits go.
    pub sink: F,
}

impl<F: FnMut(Deposit)> Stepper<'_, F> {
    fn deposit(&mut self, position: [f64; 3], energy_mev: f64, dedx_mev_per_cm: f64) {
        if energy_mev > 0.0 {
            (self.sink)(Deposit {
                position,
                energy_mev,
                dedx_mev_per_cm,
            });
        }
    }

    /// Highland scattering angle θ₀ of a step of `step_cm` for momentum `p` (GeV), β ≈ 1.
    fn highland(&self, p_gev: f64, step_cm: f64) -> f64 {
        let x = step_cm / self.detector.radiation_length_cm;
        0.0136 / p_gev.max(1e-3) * x.sqrt() * (1.0 + 0.038 * x.ln())
    }

    fn scatter(&mut self, d: [f64; 3], theta0: f64) -> [f64; 3] {
        let normal = Normal::new(0.0, 1.0).expect("unit normal");
        let tx = theta0 * normal.sample(self.rng);
        let ty = theta0 * normal.sample(self.rng);
        let theta = tx.hypot(ty);
        rotate(d, theta.cos(), ty.atan2(tx))
    }

    /// A minimum-ionising charged particle of mass `mass` and kinetic energy `kinetic_gev`;
    /// with `interaction_length_cm`, it may interact (returns where and with what kinetic energy).
    pub fn mip_track(
        &mut self,
        start: [f64; 3],
        dir: [f64; 3],
        mass: f64,
        kinetic_gev: f64,
        interaction_length_cm: Option<f64>,
    ) -> Option<([f64; 3], [f64; 3], f64)> {
        let dedx = self.detector.mip_dedx_mev_per_cm;
        let interact_at = interaction_length_cm.map(|l| {
            Exp::new(1.0 / l)
                .expect("positive interaction length")
                .sample(self.rng)
        });
        // Landau-like fluctuations of the energy lost per step.
        let loss = Gamma::new(4.0, dedx * STEP_CM / 4.0).expect("positive loss");
        let (mut p, mut d, mut t, mut travelled) = (start, dir, kinetic_gev * 1e3, 0.0);
        while t > 0.0 && self.detector.contains(p) {
            if interact_at.is_some_and(|l| travelled >= l) {
                return Some((p, d, t * 1e-3));
            }
            let mut e = loss.sample(self.rng);
            // Below ~ 2 mass units of kinetic energy the particle slows and ionises more.
            let slow = 1.0 + (0.3 * mass * 1e3 / t.max(1.0)).min(3.0);
            e *= slow;
            let e = e.min(t);
            self.deposit(add(p, d, 0.5 * STEP_CM), e, e / STEP_CM);
            t -= e;
            p = add(p, d, STEP_CM);
            travelled += STEP_CM;
            let total = t * 1e-3 + mass;
            let momentum = (total * total - mass * mass).max(1e-9).sqrt();
            let theta0 = self.highland(momentum, STEP_CM);
            d = self.scatter(d, theta0);
        }
        None
    }

    /// A proton of kinetic energy `kinetic_gev`, ranging out with a Bragg peak.
    pub fn proton(&mut self, start: [f64; 3], dir: [f64; 3], kinetic_gev: f64) {
        // CSDA range in the mixture, cm, and its inverse (Bragg–Kleeman).
        let range = |t_mev: f64| 0.0022 * t_mev.powf(1.77);
        let energy = |r_cm: f64| (r_cm.max(0.0) / 0.0022).powf(1.0 / 1.77);
        let step: f64 = 1.0;
        let mut residual = range(kinetic_gev * 1e3);
        let (mut p, mut d) = (start, dir);
        while residual > 0.0 && self.detector.contains(p) {
            let s = step.min(residual);
            let e = energy(residual) - energy(residual - s);
            self.deposit(add(p, d, 0.5 * s), e, e / s);
            residual -= s;
            p = add(p, d, s);
            let t = energy(residual) * 1e-3;
            let momentum = (t * (t + 2.0 * M_P)).max(1e-9).sqrt();
            let theta0 = self.highland(momentum, s) * (t + M_P) / momentum.max(1e-3);
            d = self.scatter(d, theta0.min(0.3));
        }
    }

    /// An electromagnetic shower of energy `energy_gev` starting at `start` along `dir`;
    /// `photon` shifts the shower maximum by one radiation length.
    pub fn em_shower(&mut self, start: [f64; 3], dir: [f64; 3], energy_gev: f64, photon: bool) {
        let det = self.detector;
        let ec = det.critical_energy_gev;
        let b = 0.5;
        let t_max = ((energy_gev / ec).ln() + if photon { 0.5 } else { -0.5 }).max(0.2);
        // Shower-to-shower fluctuation of the profile.
        let normal = Normal::new(0.0, 1.0).expect("unit normal");
        let a = (b * t_max * (1.0 + 0.1 * normal.sample(self.rng)) + 1.0).max(1.05);
        let depth = Gamma::new(a, 1.0 / b).expect("positive shape");
        let spots = ((energy_gev / 0.004) as usize).clamp(8, 1500);
        let e_spot = energy_gev * 1e3 / spots as f64;
        let (u, w) = perpendiculars(dir);
        let core = Exp::new(1.0 / (0.2 * det.moliere_radius_cm)).expect("positive");
        let halo = Exp::new(1.0 / det.moliere_radius_cm).expect("positive");
        for _ in 0..spots {
            let t = depth.sample(self.rng) * det.radiation_length_cm;
            let r = if self.rng.random::<f64>() < 0.85 {
                core.sample(self.rng)
            } else {
                halo.sample(self.rng)
            };
            let phi = self.rng.random::<f64>() * std::f64::consts::TAU;
            let (s, c) = phi.sin_cos();
            let p = add(add(add(start, dir, t), u, r * c), w, r * s);
            self.deposit(p, e_spot, det.mip_dedx_mev_per_cm);
        }
    }

    /// A photon: converts after an exponential distance of mean 9/7 X₀, then showers.
    pub fn photon(&mut self, start: [f64; 3], dir: [f64; 3], energy_gev: f64) {
        let mean = 9.0 / 7.0 * self.detector.radiation_length_cm;
        let d = Exp::new(1.0 / mean).expect("positive").sample(self.rng);
        let at = add(start, dir, d);
        if self.detector.contains(at) {
            self.em_shower(at, dir, energy_gev, true);
        }
    }

    /// A π⁰ of kinetic energy `kinetic_gev` decaying at once to two photons.
    pub fn pi0(&mut self, start: [f64; 3], dir: [f64; 3], kinetic_gev: f64) {
        let e = kinetic_gev + M_PI0;
        let p = (e * e - M_PI0 * M_PI0).max(0.0).sqrt();
        let (beta, gamma) = (p / e, e / M_PI0);
        let cos_star = 2.0 * self.rng.random::<f64>() - 1.0;
        let phi = self.rng.random::<f64>() * std::f64::consts::TAU;
        let sin_star = (1.0 - cos_star * cos_star).sqrt();
        let half = 0.5 * M_PI0;
        for sign in [1.0, -1.0] {
            // Rest-frame photon (longitudinal, transverse) → lab.
            let (pl, pt) = (sign * half * cos_star, sign * half * sin_star);
            let el = gamma * (half + beta * pl);
            let pll = gamma * (pl + beta * half);
            let cos_lab = (pll / el).clamp(-1.0, 1.0);
            let phi_lab = if pt >= 0.0 {
                phi
            } else {
                phi + std::f64::consts::PI
            };
            let d = rotate(dir, cos_lab, phi_lab);
            self.photon(start, d, el);
        }
    }

    /// The hadronic system of `energy_gev` from `vertex`: its particles share the energy with
    /// exponential weights and leave forward-peaked about the beam axis.
    pub fn hadronic_system(&mut self, vertex: [f64; 3], energy_gev: f64) {
        if energy_gev < 0.01 {
            return;
        }
        let n = 1 + Poisson::new(1.2 * energy_gev)
            .expect("positive mean")
            .sample(self.rng) as usize;
        let weights: Vec<f64> = (0..n)
            .map(|_| -self.rng.random::<f64>().max(1e-12).ln())
            .collect();
        let total: f64 = weights.iter().sum();
        for w in weights {
            let share = energy_gev * w / total;
            let cos_theta = (1.0 - 1.5 * self.rng.random::<f64>().powi(2)).clamp(-1.0, 1.0);
            let phi = self.rng.random::<f64>() * std::f64::consts::TAU;
            let dir = rotate([0.0, 0.0, 1.0], cos_theta, phi);
            let kind = self.rng.random::<f64>();
            if kind < 0.4 {
                self.proton(vertex, dir, share);
            } else if kind < 0.72 {
                let t = (share - M_PI).max(0.0);
                if let Some((at, d, left)) = self.mip_track(
                    vertex,
                    dir,
                    M_PI,
                    t,
                    Some(self.detector.pion_interaction_length_cm),
                ) {
                    // Nuclear interaction: a proton takes part of the energy, neutrons the rest.
                    let cos_theta = 2.0 * self.rng.random::<f64>() - 1.0;
                    let phi = self.rng.random::<f64>() * std::f64::consts::TAU;
                    let d2 = rotate(d, cos_theta, phi);
                    let frac = 0.2 + 0.4 * self.rng.random::<f64>();
                    self.proton(at, d2, frac * left);
                }
            } else {
                self.pi0(vertex, dir, (share - M_PI0).max(0.0));
            }
        }
    }
}

/// Draws one interaction of class `interaction` and steps all its particles.
pub fn interact<F: FnMut(Deposit)>(
    interaction: Interaction,
    spectrum: &Spectrum,
    stepper: &mut Stepper<'_, F>,
) -> Truth {
    let det = stepper.detector;
    let rng = &mut *stepper.rng;
    let energy = Gamma::new(spectrum.shape, spectrum.scale_gev)
        .expect("positive spectrum")
        .sample(rng)
        .clamp(spectrum.min_gev, spectrum.max_gev);
    let half = 0.5 * det.width_cm() - 30.0;
    let vertex = [
        rng.random_range(-half..half),
        rng.random_range(-half..half),
        rng.random_range(20.0..0.3 * det.depth_cm()),
    ];
    let (a, b) = match interaction {
        Interaction::Nc => (1.5, 2.0),
        _ => (1.2, 2.5),
    };
    let y: f64 = Beta::new(a, b).expect("positive").sample(rng);
    let hadronic = y * energy;
    let mut lepton_energy = 0.0;
    if interaction != Interaction::Nc {
        lepton_energy = (1.0 - y) * energy;
        let pt = Exp::new(1.0 / 0.3).expect("positive").sample(rng);
        let cos_theta = (lepton_energy / lepton_energy.hypot(pt)).clamp(-1.0, 1.0);
        let phi = rng.random::<f64>() * std::f64::consts::TAU;
        let dir = rotate([0.0, 0.0, 1.0], cos_theta, phi);
        if interaction == Interaction::NumuCc {
            let t = (lepton_energy - M_MU).max(0.0);
            stepper.mip_track(vertex, dir, M_MU, t, None);
        } else {
            stepper.em_shower(vertex, dir, lepton_energy, false);
        }
    }
    stepper.hadronic_system(vertex, hadronic);
    Truth {
        interaction,
        neutrino_energy_gev: energy,
        lepton_energy_gev: lepton_energy,
        hadronic_energy_gev: hadronic,
        vertex_cm: vertex,
    }
}
