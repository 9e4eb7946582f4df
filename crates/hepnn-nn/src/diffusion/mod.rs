//! Denoising diffusion models: a network learns to remove Gaussian noise added step by step, and
//! generates data by denoising pure noise.
//!
//! Course slide "modèles de diffusion". Papers: DDPM, Ho, Jain & Abbeel 2020
//! (arXiv:2006.11239); DDIM, Song, Meng & Ermon 2021 (arXiv:2010.02502); cosine schedule,
//! Nichol & Dhariwal 2021 (arXiv:2102.09672); classifier-free guidance, Ho & Salimans 2022
//! (arXiv:2207.12598).
//!
//! - Forward process ([`Diffusion::q_sample`]): x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε, ε ~ N(0, I).
//! - Training ([`Diffusion::loss`], Ho et al. Algorithm 1): t ~ U{1…T}, loss
//!   ‖ε − ε̂_θ(x_t, t, c)‖² averaged over the batch and the dimensions.
//! - DDPM ancestral sampling (Ho et al. Algorithm 2, σ_t² = β̃_t):
//!   x_{t−1} = (x_t − β_t/√(1 − ᾱ_t) ε̂)/√α_t + σ_t z, from x_T ~ N(0, I).
//! - DDIM (Song et al. eq. 12) on a sub-sequence τ of time steps:
//!   x̂₀ = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t,
//!   x_{τ'} = √ᾱ_{τ'} x̂₀ + √(1 − ᾱ_{τ'} − σ²) ε̂ + σ z,
//!   σ = η √((1 − ᾱ_{τ'})/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_{τ'}); η = 0 is deterministic.
//! - Conditioning ([`Conditioning`]): the condition c (e.g. the incident energy) is an input
//!   of the denoiser ("direct"), or, for classifier-free guidance, it is dropped (replaced by
//!   zeros, with a flag) with probability p during training and the sampler mixes
//!   ε̂ = (1 + w) ε̂(x, t, c) − w ε̂(x, t, ∅).
//!
//! The denoiser is any module implementing [`Denoiser`]; [`MlpDenoiser`] serves vector data.
//! [`moons`] holds the 2-D example (two moons) and the energy distance used to test samples.

pub mod denoiser;
pub mod moons;
pub mod schedule;

use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

pub use denoiser::{Denoiser, MlpDenoiser, MlpDenoiserConfig, timestep_embedding};
pub use schedule::{NoiseSchedule, ScheduleKind};

use crate::{NnError, Result};

/// How the condition c reaches the denoiser.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Conditioning {
    /// No condition.
    None,
    /// c is an input of the denoiser, always.
    Direct,
    /// Classifier-free guidance: during training c is replaced by ∅ (zeros, flag 0) with
    /// probability `drop_probability`; the denoiser sees [c·k, k] with k ∈ {0, 1}.
    ClassifierFree {
        /// Probability p of dropping the condition in a training item (Ho & Salimans use 0.1–0.2).
        drop_probability: f64,
    },
}

impl Conditioning {
    /// The condition width the denoiser must accept for a condition of `condition_dim`
    /// values: 0, `condition_dim`, or `condition_dim + 1` (the keep flag).
    pub fn input_dim(&self, condition_dim: usize) -> usize {
        match self {
            Conditioning::None => 0,
            Conditioning::Direct => condition_dim,
            Conditioning::ClassifierFree { .. } => condition_dim + 1,
        }
    }
}

/// Which reverse process generates samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Sampler {
    /// DDPM ancestral sampling over all T steps (σ_t² = β̃_t).
    Ddpm,
    /// DDIM over `steps` evenly spaced time steps, with stochasticity `eta` (0: deterministic,
    /// 1: DDPM-like).
    Ddim {
        /// Number of denoising steps (≤ T).
        steps: usize,
        /// η.
        eta: f64,
    },
}

/// How to sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleOptions {
    /// DDPM or DDIM.
    pub sampler: Sampler,
    /// Classifier-free guidance weight w (0: the conditional model alone; −1: the
    /// unconditional one). Ignored unless the conditioning is classifier-free.
    pub guidance: f64,
    /// Clamp the predicted x̂₀ to ±`clip` at every step (None: no clamp).
    pub clip: Option<f64>,
    /// Seed of the initial noise and of every step's noise.
    pub seed: u64,
}

impl SampleOptions {
    /// DDPM, no guidance, no clipping.
    pub fn ddpm(seed: u64) -> Self {
        Self {
            sampler: Sampler::Ddpm,
            guidance: 0.0,
            clip: None,
            seed,
        }
    }

    /// Deterministic DDIM with `steps` steps, no guidance, no clipping.
    pub fn ddim(steps: usize, seed: u64) -> Self {
        Self {
            sampler: Sampler::Ddim { steps, eta: 0.0 },
            ..Self::ddpm(seed)
        }
    }
}

/// A diffusion process: the schedule and the conditioning; trains and samples any
/// [`Denoiser`].
#[derive(Debug, Clone)]
pub struct Diffusion {
    /// β_t, ᾱ_t.
    pub schedule: NoiseSchedule,
    /// How the condition enters.
    pub conditioning: Conditioning,
}

impl Diffusion {
    /// A process with `schedule` and `conditioning`.
    pub fn new(schedule: NoiseSchedule, conditioning: Conditioning) -> Result<Self> {
        if let Conditioning::ClassifierFree { drop_probability } = conditioning
            && !(0.0..1.0).contains(&drop_probability)
        {
            return Err(NnError::InvalidConfig {
                field: "drop_probability",
                value: drop_probability.to_string(),
                expected: "in [0, 1)".into(),
            });
        }
        Ok(Self {
            schedule,
            conditioning,
        })
    }

    fn table(&self, values: impl Iterator<Item = f64>, device: &Device) -> Tensor<1> {
        let v: Vec<f32> = values.map(|x| x as f32).collect();
        Tensor::<1>::from_floats(v.as_slice(), device)
    }

    /// x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε for a per-item time step.
    ///
    /// # Shapes
    /// - `x0`, `noise`: `[batch, dim]`; `t`: `[batch]` integer steps in 1 … T
    /// - output: `[batch, dim]`
    pub fn q_sample(&self, x0: Tensor<2>, t: Tensor<1, Int>, noise: Tensor<2>) -> Tensor<2> {
        let device = x0.device();
        let batch = x0.dims()[0];
        let index = t.sub_scalar(1);
        let sqrt_ab = self
            .table(self.schedule.alpha_bars.iter().map(|a| a.sqrt()), &device)
            .select(0, index.clone())
            .reshape([batch, 1]);
        let sqrt_1m = self
            .table(
                self.schedule.alpha_bars.iter().map(|a| (1.0 - a).sqrt()),
                &device,
            )
            .select(0, index)
            .reshape([batch, 1]);
        x0.mul(sqrt_ab) + noise.mul(sqrt_1m)
    }

    /// The condition input the denoiser sees during training (classifier-free: c dropped with
    /// probability p, the keep flag appended; direct: c; none: `None`).
    fn training_condition(&self, condition: Option<Tensor<2>>) -> Option<Tensor<2>> {
        match (self.conditioning, condition) {
            (Conditioning::None, _) | (_, None) => None,
            (Conditioning::Direct, c) => c,
            (Conditioning::ClassifierFree { drop_probability }, Some(c)) => {
                let batch = c.dims()[0];
                let keep = Tensor::<2>::random(
                    [batch, 1],
                    Distribution::Bernoulli(1.0 - drop_probability),
                    &c.device(),
                );
                Some(Tensor::cat(vec![c.mul(keep.clone()), keep], 1))
            }
        }
    }

    /// The ε-prediction loss of Ho et al. (Algorithm 1) on a batch: t ~ U{1…T}, ε ~ N(0, I),
    /// mean over batch and dimensions of (ε − ε̂_θ(x_t, t, c))². The random draws use the
    /// device's generator (seeded by the [`Trainer`](crate::train::Trainer) every epoch).
    ///
    /// # Shapes
    /// - `x0`: `[batch, dim]`; `condition`: `[batch, condition_dim]`
    /// - output: `[1]`
    pub fn loss<M: Denoiser>(
        &self,
        model: &M,
        x0: Tensor<2>,
        condition: Option<Tensor<2>>,
    ) -> Tensor<1> {
        let device = x0.device();
        let [batch, dim] = x0.dims();
        let big_t = self.schedule.steps();
        let t = Tensor::<1>::random([batch], Distribution::Uniform(0.0, big_t as f64), &device)
            .floor()
            .clamp(0.0, (big_t - 1) as f64)
            .add_scalar(1.0);
        let noise = Tensor::<2>::random([batch, dim], Distribution::Normal(0.0, 1.0), &device);
        let x_t = self.q_sample(x0, t.clone().int(), noise.clone());
        let predicted = model.predict_noise(
            x_t,
            t.reshape([batch, 1]),
            self.training_condition(condition),
        );
        (predicted - noise).powi_scalar(2).mean()
    }

    /// ε̂ at step t for the whole batch, with classifier-free guidance when configured.
    fn guided_noise<M: Denoiser>(
        &self,
        model: &M,
        x: Tensor<2>,
        t: usize,
        condition: &Option<Tensor<2>>,
        guidance: f64,
    ) -> Tensor<2> {
        let device = x.device();
        let batch = x.dims()[0];
        let t_in = Tensor::<2>::full([batch, 1], t as f32, &device);
        match (self.conditioning, condition) {
            (Conditioning::None, _) | (_, None) => model.predict_noise(x, t_in, None),
            (Conditioning::Direct, Some(c)) => model.predict_noise(x, t_in, Some(c.clone())),
            (Conditioning::ClassifierFree { .. }, Some(c)) => {
                let ones = Tensor::<2>::ones([batch, 1], &device);
                let cond = Tensor::cat(vec![c.clone(), ones], 1);
                if guidance == 0.0 {
                    return model.predict_noise(x, t_in, Some(cond));
                }
                let null = cond.zeros_like();
                let both = model.predict_noise(
                    Tensor::cat(vec![x.clone(), x], 0),
                    Tensor::cat(vec![t_in.clone(), t_in], 0),
                    Some(Tensor::cat(vec![cond, null], 0)),
                );
                let eps_c = both.clone().narrow(0, 0, batch);
                let eps_u = both.narrow(0, batch, batch);
                eps_c.mul_scalar((1.0 + guidance) as f32) - eps_u.mul_scalar(guidance as f32)
            }
        }
    }

    /// Generates `n` samples of dimension `dim` (condition rows: one per sample).
    ///
    /// # Shapes
    /// - `condition`: `[n, condition_dim]` (the raw condition, without the keep flag)
    /// - output: `[n, dim]`
    pub fn sample<M: Denoiser>(
        &self,
        model: &M,
        n: usize,
        dim: usize,
        condition: Option<Tensor<2>>,
        options: &SampleOptions,
        device: &Device,
    ) -> Tensor<2> {
        device.seed(options.seed);
        let mut x = Tensor::<2>::random([n, dim], Distribution::Normal(0.0, 1.0), device);
        let steps: Vec<usize> = match options.sampler {
            Sampler::Ddpm => (1..=self.schedule.steps()).rev().collect(),
            Sampler::Ddim { steps, .. } => self.schedule.ddim_steps(steps),
        };
        let eta = match options.sampler {
            Sampler::Ddpm => None,
            Sampler::Ddim { eta, .. } => Some(eta),
        };
        for (i, &t) in steps.iter().enumerate() {
            let prev = steps.get(i + 1).copied().unwrap_or(0);
            let eps = self.guided_noise(model, x.clone(), t, &condition, options.guidance);
            let ab_t = self.schedule.alpha_bar(t);
            let ab_prev = self.schedule.alpha_bar(prev);
            let x0 = (x.clone() - eps.clone().mul_scalar((1.0 - ab_t).sqrt() as f32))
                .div_scalar(ab_t.sqrt() as f32);
            let x0 = match options.clip {
                Some(c) => x0.clamp(-c, c),
                None => x0,
            };
            let (coef_x0, coef_eps, sigma) = match eta {
                // DDPM: the posterior mean μ̃(x_t, x̂₀) (Ho et al. eq. 7) and σ_t² = β̃_t.
                None => {
                    let beta = self.schedule.beta(t);
                    let sigma2 = if prev == 0 {
                        0.0
                    } else {
                        self.schedule.posterior_variance(t)
                    };
                    let c0 = ab_prev.sqrt() * beta / (1.0 - ab_t);
                    let ct = (1.0 - beta).sqrt() * (1.0 - ab_prev) / (1.0 - ab_t);
                    // μ̃ = c0 x̂₀ + ct x_t; written as coefficients of x̂₀ and of x_t below.
                    x = x0.clone().mul_scalar(c0 as f32) + x.mul_scalar(ct as f32);
                    (None, 0.0, sigma2.sqrt())
                }
                Some(eta) => {
                    let sigma = if prev == 0 {
                        0.0
                    } else {
                        eta * ((1.0 - ab_prev) / (1.0 - ab_t)).sqrt()
                            * (1.0 - ab_t / ab_prev).sqrt()
                    };
                    let c_eps = (1.0 - ab_prev - sigma * sigma).max(0.0).sqrt();
                    (Some(ab_prev.sqrt()), c_eps, sigma)
                }
            };
            if let Some(c0) = coef_x0 {
                x = x0.mul_scalar(c0 as f32) + eps.mul_scalar(coef_eps as f32);
            }
            if sigma > 0.0 {
                x = x + Tensor::<2>::random([n, dim], Distribution::Normal(0.0, sigma), device);
            }
        }
        x
    }
}

#[cfg(test)]
mod tests;
