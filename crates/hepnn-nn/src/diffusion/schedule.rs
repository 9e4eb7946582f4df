//! Noise schedules β₁ … β_T and the quantities every diffusion formula uses.
//!
//! Linear (Ho, Jain & Abbeel 2020, arXiv:2006.11239): β_t rises linearly from β₁ = 10⁻⁴ to
//! β_T = 0.02. Cosine (Nichol & Dhariwal 2021, arXiv:2102.09672, eq. 17):
//!
//! ```text
//! ᾱ_t = f(t)/f(0),   f(t) = cos²(π/2 · (t/T + s)/(1 + s)),   β_t = min(1 − ᾱ_t/ᾱ_{t−1}, 0.999)
//! ```
//!
//! With α_t = 1 − β_t and ᾱ_t = Π_{s≤t} α_s, the forward process has the closed form
//! q(x_t | x₀) = N(√ᾱ_t x₀, (1 − ᾱ_t) I).
//!
//! ```
//! use hepnn_nn::diffusion::{NoiseSchedule, ScheduleKind};
//! let s = NoiseSchedule::new(ScheduleKind::Linear { beta_start: 1e-4, beta_end: 0.02 }, 1000)?;
//! assert!((s.alpha_bar(1) - (1.0 - 1e-4)).abs() < 1e-12);
//! assert!(s.alpha_bar(1000) < 1e-4); // x_T is (almost) pure noise
//! # Ok::<(), hepnn_nn::NnError>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::{NnError, Result};

/// The shape of β_t.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduleKind {
    /// β_t linear from `beta_start` (t = 1) to `beta_end` (t = T) (Ho et al. use 10⁻⁴ → 0.02
    /// with T = 1000).
    Linear {
        /// β₁.
        beta_start: f64,
        /// β_T.
        beta_end: f64,
    },
    /// ᾱ_t = cos²(π/2 · (t/T + s)/(1 + s)) / cos²(π/2 · s/(1 + s)) (Nichol & Dhariwal use
    /// s = 0.008).
    Cosine {
        /// The small offset s that keeps β_t from vanishing near t = 0.
        s: f64,
    },
}

impl ScheduleKind {
    /// Ho et al.'s schedule scaled to `steps`: β from 10⁻⁴·1000/T to 0.02·1000/T, so that
    /// ᾱ_T stays ≈ e⁻¹⁰ whatever T.
    pub fn linear_scaled(steps: usize) -> Self {
        let scale = 1000.0 / steps.max(1) as f64;
        ScheduleKind::Linear {
            beta_start: 1e-4 * scale,
            beta_end: (0.02 * scale).min(0.999),
        }
    }

    /// The cosine schedule with Nichol & Dhariwal's s = 0.008.
    pub fn cosine() -> Self {
        ScheduleKind::Cosine { s: 0.008 }
    }
}

/// β_t, α_t and ᾱ_t for t = 1 … T (f64; index t − 1 in the vectors).
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseSchedule {
    /// The schedule's shape.
    pub kind: ScheduleKind,
    /// β_t, t = 1 … T.
    pub betas: Vec<f64>,
    /// ᾱ_t = Π_{s≤t}(1 − β_s), t = 1 … T.
    pub alpha_bars: Vec<f64>,
}

impl NoiseSchedule {
    /// The schedule of `kind` over `steps` = T steps.
    pub fn new(kind: ScheduleKind, steps: usize) -> Result<Self> {
        let bad = |field: &'static str, value: String, expected: &str| NnError::InvalidConfig {
            field,
            value,
            expected: expected.into(),
        };
        if steps == 0 {
            return Err(bad("steps", "0".into(), "at least 1 diffusion step"));
        }
        let betas: Vec<f64> = match kind {
            ScheduleKind::Linear {
                beta_start,
                beta_end,
            } => {
                if !(beta_start > 0.0 && beta_end >= beta_start && beta_end < 1.0) {
                    return Err(bad(
                        "linear schedule",
                        format!("{beta_start} → {beta_end}"),
                        "0 < beta_start ≤ beta_end < 1",
                    ));
                }
                (0..steps)
                    .map(|i| {
                        let f = if steps == 1 {
                            0.0
                        } else {
                            i as f64 / (steps - 1) as f64
                        };
                        beta_start + f * (beta_end - beta_start)
                    })
                    .collect()
            }
            ScheduleKind::Cosine { s } => {
                if !(s >= 0.0 && s.is_finite()) {
                    return Err(bad("cosine schedule s", s.to_string(), "s ≥ 0"));
                }
                let f = |t: f64| {
                    (std::f64::consts::FRAC_PI_2 * (t / steps as f64 + s) / (1.0 + s))
                        .cos()
                        .powi(2)
                };
                (1..=steps)
                    .map(|t| (1.0 - f(t as f64) / f(t as f64 - 1.0)).clamp(0.0, 0.999))
                    .collect()
            }
        };
        let mut product = 1.0;
        let alpha_bars = betas
            .iter()
            .map(|b| {
                product *= 1.0 - b;
                product
            })
            .collect();
        Ok(Self {
            kind,
            betas,
            alpha_bars,
        })
    }

    /// T, the number of steps.
    pub fn steps(&self) -> usize {
        self.betas.len()
    }

    /// β_t for t in 1 … T.
    pub fn beta(&self, t: usize) -> f64 {
        self.betas[t - 1]
    }

    /// ᾱ_t for t in 0 … T (ᾱ₀ = 1).
    pub fn alpha_bar(&self, t: usize) -> f64 {
        if t == 0 { 1.0 } else { self.alpha_bars[t - 1] }
    }

    /// The signal-to-noise ratio ᾱ_t / (1 − ᾱ_t).
    pub fn snr(&self, t: usize) -> f64 {
        let a = self.alpha_bar(t);
        a / (1.0 - a)
    }

    /// The variance of DDPM's reverse step, β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t) · β_t (Ho et al.
    /// eq. 7, the posterior variance of q(x_{t−1} | x_t, x₀)).
    pub fn posterior_variance(&self, t: usize) -> f64 {
        (1.0 - self.alpha_bar(t - 1)) / (1.0 - self.alpha_bar(t)) * self.beta(t)
    }

    /// `n` time steps for DDIM, evenly spaced and strictly decreasing: 1 + k·⌊T/n⌋ for
    /// k = n − 1 … 0 (the "leading" spacing of the diffusers library; `n` is capped at T). The
    /// first step is then T − ⌊T/n⌋ + 1 rather than T, where ᾱ of the cosine schedule is ≈ 0
    /// and x̂₀ = x_t/√ᾱ_t would amplify the noise prediction's error ~100×.
    pub fn ddim_steps(&self, n: usize) -> Vec<usize> {
        let big_t = self.steps();
        let n = n.clamp(1, big_t);
        let stride = big_t / n;
        (0..n).rev().map(|k| 1 + k * stride).collect()
    }
}
