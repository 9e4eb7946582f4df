//! A conditional GAN for calorimeter showers (Goodfellow et al., arXiv:1406.2661; conditioned
//! as Mirza & Osindero, arXiv:1411.1784; for showers as CaloGAN, Paganini et al.,
//! arXiv:1705.02355, and ATLAS FastCaloGAN, Comput Softw Big Sci 6 (2022) 7; course slide
//! "simulation rapide: GAN").
//!
//! # Generator
//! Noise z ~ N(0, 1)^latent and the condition c = (log₁₀(E_inc / GeV) − 1.35) / 0.8 (≈ [−1, 1]
//! over 1–500 GeV) go through an MLP whose V + 1 outputs are split into voxel logits ℓ and one
//! energy unit a:
//!
//! ```text
//! voxel_i / E_inc = f · softmax(ℓ)_i,   f = f̄ · exp(σ(E) · (z₀ + a)),   σ(E) = k / √(E_inc/GeV)
//! ```
//!
//! so every deposit is ≥ 0, the shape sums to one, and E_total/E_inc = f is a single output
//! (f̄: the reference's mean E_total/E_inc, σ(E): its relative spread, a sampling-calorimeter
//! resolution k/√E fitted to the training showers; z₀, the first noise component, makes the
//! generator start from that Gaussian response and the MLP's a learns the corrections) — the
//! GAN only has to learn the distribution of one number to get E_total/E_inc right. The voxel logits' output bias starts at ln p̄ᵢ, the
//! reference's mean shower shape ([`CaloGan::start_from_mean_shape`]), so the generator begins
//! from the mean shower instead of a uniform spray over 6,480 voxels. The softmax has no exact
//! zeros, the reference has ~85 % of them: after generation each expected deposit is turned into
//! discrete quanta ([`sparsity::quantise`], N ~ Poisson(v/q) crossings of q·Gamma deposits, q =
//! [`CaloGanConfig::quantum_mev`]), or, for generators trained before 26 Nov, cut at
//! [`CaloGanConfig::threshold_mev`] ([`sparsity::apply_threshold`]); q is fitted after training
//! ([`sparsity::fit_quantum`]) so that the mean sparsity matches the reference's, and each
//! shower keeps its total f.
//!
//! The adversarial signal on this one number is weak beside 6,480 voxels, so the generator loss
//! also gets an energy-matching term (weight [`CaloGanConfig::energy_matching_weight`]): the
//! squared 1-D Wasserstein-2 distance between the batch's generated and real pulls
//! (f/f̄ − 1)/σ(E), i.e. the mean squared difference of their sorted values — an auxiliary
//! constraint on the total energy in the spirit of CaloGAN's energy term.
//!
//! # Discriminator (critic)
//! An MLP with LeakyReLU(0.2) sees the voxels / E_inc (times one common scale), the 45 layer
//! energies / E_inc (scaled), the pull (E_total/E_inc / f̄ − 1) / σ(E) and c.
//!
//! # Losses ([`GanLoss`])
//! - `Bce`, the course's minimax loss with the non-saturating generator loss:
//!   L_D = −E[log D(x)] − E[log(1 − D(G(z)))], L_G = −E[log D(G(z))], D = σ(critic).
//! - `WganLp`, Wasserstein loss as FastCaloGAN (Arjovsky et al., arXiv:1701.07875):
//!   L_D = E[D(G(z))] − E[D(x)] + λ·LP + 10⁻³·E[D(x)²], L_G = −E[D(G(z))]. FastCaloGAN uses the
//!   gradient penalty (Gulrajani et al., arXiv:1704.00028), E[(‖∇D(x̂)‖ − 1)²] at x̂ between real
//!   and generated showers. Its gradient needs a double backward, which burn 0.22's autodiff
//!   does not provide (a gradient is not itself a tracked tensor), so the penalty here is the
//!   finite-difference one-sided Lipschitz penalty (Petzka et al., arXiv:1709.08894, "LP", with
//!   the gradient norm replaced by a secant along the real–generated line, the direction in
//!   which the optimal critic's gradient points): for t₁, t₂ ~ U(0, 1),
//!   x̂ₖ = x_gen + tₖ (x_real − x_gen), LP = E[max(0, |D(x̂₁) − D(x̂₂)| / ‖x̂₁ − x̂₂‖ − 1)²].
//!
//! # Training with the foundation's Trainer
//! [`CaloGan`] holds both networks; [`GanTask::loss`] returns L_D + L_G where L_D sees the
//! generated showers detached (no gradient to G) and L_G goes through a copy of the critic
//! whose parameters are detached (no gradient to D). The sum's gradient is thus
//! ∂L_D/∂θ_D for the critic and ∂L_G/∂θ_G for the generator, and one Adam step updates both at
//! once (simultaneous gradient descent; Adam's per-parameter scaling makes it the same as two
//! Adam optimizers with one learning rate). `validate` reports both losses on held-out showers.

use std::path::Path;

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::softmax;
use hepnn_core::io::calo::{CaloBinning, CaloShowers};
use hepnn_nn::NnError;
use hepnn_nn::mlp::{Mlp, MlpConfig};
use hepnn_nn::neuron::Activation;
use hepnn_nn::plot::atomic_write;
use hepnn_nn::train::{TrainConfig, TrainTask, Trainer};
use rand::SeedableRng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::CaloError;

/// The adversarial loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GanLoss {
    /// Minimax binary cross-entropy with the non-saturating generator loss.
    Bce,
    /// Wasserstein critic with the finite-difference Lipschitz penalty.
    WganLp,
}

/// The condition c of an incident energy in MeV: (log₁₀(E/GeV) − 1.35) / 0.8.
pub fn condition(incident_energy_mev: f32) -> f32 {
    ((incident_energy_mev.max(1e-3) / 1000.0).log10() - 1.35) / 0.8
}

/// σ(E) = k / √(E/GeV) from the condition c (E/GeV = 10^(0.8c + 1.35)).
///
/// # Shapes
/// - c: `[batch, 1]`, output: `[batch, 1]`
pub fn relative_resolution(c: Tensor<2>, k: f64) -> Tensor<2> {
    ((c * 0.8 + 1.35) * (-0.5 * std::f64::consts::LN_10)).exp() * k
}

/// Configuration of a [`CaloGan`].
#[derive(Config, Debug)]
pub struct CaloGanConfig {
    /// Voxels per shower (dataset 2: 6,480).
    pub voxels: usize,
    /// Index of the first voxel of each layer and the total (`layers + 1` values).
    pub layer_offsets: Vec<usize>,
    /// Noise dimension.
    #[config(default = 32)]
    pub latent: usize,
    /// Generator hidden widths.
    #[config(default = "vec![256, 256, 128]")]
    pub generator_hidden: Vec<usize>,
    /// Critic hidden widths.
    #[config(default = "vec![256, 128]")]
    pub critic_hidden: Vec<usize>,
    /// The adversarial loss.
    #[config(default = "GanLoss::Bce")]
    pub loss: GanLoss,
    /// λ of the Lipschitz penalty (WganLp only).
    #[config(default = 10.0)]
    pub lipschitz_weight: f64,
    /// f̄: the reference's mean E_total/E_inc (the energy output's scale).
    #[config(default = 0.03)]
    pub mean_energy_fraction: f64,
    /// The critic's scale of voxel / E_inc (1 / standard deviation over the training voxels).
    #[config(default = 1.0)]
    pub voxel_scale: f64,
    /// The critic's scale of layer energy / E_inc.
    #[config(default = 1.0)]
    pub layer_scale: f64,
    /// k: the reference's relative spread of E_total/E_inc is k / √(E_inc/GeV).
    #[config(default = 0.15)]
    pub resolution: f64,
    /// Weight of the generator's energy-matching term (0: the plain adversarial loss).
    #[config(default = 1.0)]
    pub energy_matching_weight: f64,
    /// Generated deposits below this many MeV are set to 0 (when `quantum_mev` is 0).
    #[config(default = 0.0)]
    pub threshold_mev: f64,
    /// q: generated deposits become Poisson(v/q) quanta of q MeV on average (0: off, the
    /// threshold is used); see [`sparsity`].
    #[config(default = 0.0)]
    pub quantum_mev: f64,
    /// a: each quantum deposits q·Gamma(a, 1/a) (1: exponential).
    #[config(default = 1.0)]
    pub quantum_shape: f64,
    /// q used while training (0: the critic sees the smooth output): the critic then sees the
    /// generated showers quantised, and the generator's gradient passes the quantisation
    /// straight through (Bengio et al., arXiv:1308.3432). Set by [`train_gan`] from the
    /// untrained generator when [`CaloGanConfig::quanta_in_training`] is on.
    #[config(default = 0.0)]
    pub training_quantum_mev: f64,
    /// Whether [`train_gan`] trains against quantised showers (see `training_quantum_mev`).
    #[config(default = false)]
    pub quanta_in_training: bool,
    /// Layer-factorised output: the generator gives the layers' shares of the energy (one
    /// softmax over the layers) and each layer's shape (a softmax inside every layer) instead
    /// of one softmax over all voxels. Needs layers of equal size.
    #[config(default = false)]
    pub layer_factorised: bool,
    /// Whether [`train_gan`] fits `condition_slope` (when it is empty) before training.
    #[config(default = false)]
    pub energy_dependent_shape: bool,
    /// Per-voxel slope b of the log mean shape in the condition: the voxel logits get b·c added
    /// (a constant, fitted on the training showers by [`mean_shape_in_energy`]), so the
    /// generator starts from the mean shape *at each energy* (deeper showers at higher energy).
    /// Empty: no such term (generators trained before 26 Nov, session 7).
    #[config(default = "Vec::new()")]
    pub condition_slope: Vec<f64>,
    /// The critic also sees the shower depth (energy-weighted mean layer index) and its
    /// spread, the longitudinal figures the generator gets least right.
    #[config(default = false)]
    pub critic_depth: bool,
}

impl CaloGanConfig {
    /// A configuration for showers of `binning` whose critic scales come from `showers`.
    ///
    /// # Errors
    /// When the showers are empty or do not fit the binning.
    pub fn from_showers(
        binning: &CaloBinning,
        showers: &CaloShowers,
        loss: GanLoss,
    ) -> Result<Self, CaloError> {
        if showers.voxels != binning.num_voxels() || showers.is_empty() {
            return Err(CaloError::Showers(format!(
                "{} showers of {} voxels for a binning of {}",
                showers.len(),
                showers.voxels,
                binning.num_voxels()
            )));
        }
        let offsets = binning.layer_offsets();
        let (mut sv, mut svv, mut nv) = (0f64, 0f64, 0f64);
        let (mut sl, mut sll, mut nl) = (0f64, 0f64, 0f64);
        let mut fractions = Vec::with_capacity(showers.len());
        let mut energies_gev = Vec::with_capacity(showers.len());
        for i in 0..showers.len() {
            let e = f64::from(showers.incident_energies_mev[i].max(1e-6));
            let row = showers.shower(i);
            for &v in row {
                let x = f64::from(v) / e;
                sv += x;
                svv += x * x;
                nv += 1.0;
            }
            for w in offsets.windows(2) {
                let x = row[w[0]..w[1]].iter().map(|&v| f64::from(v)).sum::<f64>() / e;
                sl += x;
                sll += x * x;
                nl += 1.0;
            }
            fractions.push(row.iter().map(|&v| f64::from(v)).sum::<f64>() / e);
            energies_gev.push(e / 1000.0);
        }
        let std = |s: f64, ss: f64, n: f64| (ss / n - (s / n).powi(2)).max(1e-30).sqrt();
        let mean_fraction = fractions.iter().sum::<f64>() / fractions.len() as f64;
        // k² = mean of (f/f̄ − 1)² · E/GeV: the k/√E resolution's least-squares scale.
        let k = (fractions
            .iter()
            .zip(&energies_gev)
            .map(|(f, e)| (f / mean_fraction - 1.0).powi(2) * e)
            .sum::<f64>()
            / fractions.len() as f64)
            .sqrt()
            .max(1e-6);
        Ok(CaloGanConfig::new(binning.num_voxels(), offsets)
            .with_loss(loss)
            .with_mean_energy_fraction(mean_fraction)
            .with_voxel_scale(1.0 / std(sv, svv, nv))
            .with_layer_scale(1.0 / std(sl, sll, nl))
            .with_resolution(k))
    }

    /// Checks the settings that generation relies on: q ≥ 0 and a > 0 (finite), the condition
    /// slope empty or one value per voxel, equal layers for the layer-factorised output.
    ///
    /// # Errors
    /// [`CaloError::Showers`] naming the setting.
    pub fn validate(&self) -> Result<(), CaloError> {
        let bad = |what: String| Err(CaloError::Showers(format!("GAN config: {what}")));
        if !(self.quantum_mev.is_finite() && self.quantum_mev >= 0.0) {
            return bad(format!("quantum_mev must be ≥ 0, got {}", self.quantum_mev));
        }
        if !(self.quantum_shape.is_finite() && self.quantum_shape > 0.0) {
            return bad(format!(
                "quantum_shape must be > 0, got {}",
                self.quantum_shape
            ));
        }
        if !self.condition_slope.is_empty() && self.condition_slope.len() != self.voxels {
            return bad(format!(
                "condition_slope has {} values for {} voxels",
                self.condition_slope.len(),
                self.voxels
            ));
        }
        if self.layer_factorised {
            let sizes: Vec<usize> = self.layer_offsets.windows(2).map(|w| w[1] - w[0]).collect();
            if sizes.is_empty() || sizes.iter().any(|&n| n != sizes[0]) {
                return bad(format!(
                    "the layer-factorised generator needs layers of equal size, got {sizes:?}"
                ));
            }
        }
        Ok(())
    }

    /// Builds the generator and the critic (burn's default initialisation; seed the device
    /// first for reproducible weights).
    pub fn init(&self, device: &Device) -> CaloGan {
        let layers = self.layer_offsets.len().saturating_sub(1);
        let mut g_sizes = vec![self.latent + 1];
        g_sizes.extend(&self.generator_hidden);
        g_sizes.push(self.voxels + 1 + if self.layer_factorised { layers } else { 0 });
        let mut d_sizes = vec![self.voxels + layers + 2 + if self.critic_depth { 2 } else { 0 }];
        d_sizes.extend(&self.critic_hidden);
        d_sizes.push(1);
        let leaky = Activation::LeakyRelu { slope: 0.2 };
        let mut membership = vec![0f32; self.voxels * layers];
        for (l, w) in self.layer_offsets.windows(2).enumerate() {
            for v in w[0]..w[1].min(self.voxels) {
                membership[v * layers + l] = 1.0;
            }
        }
        CaloGan {
            generator: Generator {
                mlp: MlpConfig::new(g_sizes).with_activation(leaky).init(device),
                latent: self.latent,
                voxels: self.voxels,
                mean_energy_fraction: self.mean_energy_fraction,
                resolution: self.resolution,
                factorised_layers: if self.layer_factorised { layers } else { 0 },
                condition_slope: (self.condition_slope.len() == self.voxels).then(|| {
                    let slope: Vec<f32> = self.condition_slope.iter().map(|&b| b as f32).collect();
                    Tensor::<1>::from_floats(slope.as_slice(), device).reshape([1, self.voxels])
                }),
            },
            critic: Critic {
                mlp: MlpConfig::new(d_sizes).with_activation(leaky).init(device),
                membership: Tensor::<1>::from_floats(membership.as_slice(), device)
                    .reshape([self.voxels, layers]),
                voxel_scale: self.voxel_scale,
                layer_scale: self.layer_scale,
                resolution: self.resolution,
                mean_energy_fraction: self.mean_energy_fraction,
                depth_features: self.critic_depth,
            },
        }
    }
}

/// The generator: noise and condition → voxels / E_inc.
#[derive(Module, Debug)]
pub struct Generator {
    /// The MLP: `[latent + 1] → hidden → [voxels + 1]`.
    pub mlp: Mlp,
    /// Noise dimension.
    #[module(skip)]
    pub latent: usize,
    /// Voxels per shower.
    #[module(skip)]
    pub voxels: usize,
    /// f̄.
    #[module(skip)]
    pub mean_energy_fraction: f64,
    /// k of the reference's relative spread of E_total/E_inc, k / √(E_inc/GeV).
    #[module(skip)]
    pub resolution: f64,
    /// Number of layers of the layer-factorised output (0: one softmax over all voxels).
    #[module(skip)]
    pub factorised_layers: usize,
    /// b of [`CaloGanConfig::condition_slope`] as `[1, voxels]` (a constant, not trained).
    #[module(skip)]
    pub condition_slope: Option<Tensor<2>>,
}

impl Generator {
    /// voxel / E_inc = f̄ · exp(σ(E)·(z₀ + a)) · softmax(ℓ), σ(E) = k/√(E/GeV), for the noise
    /// `z` and condition `c` (ℓ and a: the MLP's outputs).
    ///
    /// # Shapes
    /// - z: `[batch, latent]`, c: `[batch, 1]`
    /// - output: `[batch, voxels]`
    pub fn forward(&self, z: Tensor<2>, c: Tensor<2>) -> Tensor<2> {
        let c_in = c.clone();
        let [batch, _] = z.dims();
        let z0 = z.clone().slice([0..batch, 0..1]);
        let out = self.mlp.forward(Tensor::cat(vec![z, c], 1));
        let mut logits = out.clone().slice([0..batch, 0..self.voxels]);
        if let Some(slope) = &self.condition_slope {
            logits = logits + c_in.clone() * slope.clone();
        }
        let a = out.clone().slice([0..batch, self.voxels..self.voxels + 1]) + z0;
        let f = (a * relative_resolution(c_in, self.resolution)).exp() * self.mean_energy_fraction;
        let layers = self.factorised_layers;
        if layers == 0 {
            return softmax(logits, 1) * f;
        }
        // Energy share of each layer × shape inside the layer.
        let shares = softmax(
            out.slice([0..batch, self.voxels + 1..self.voxels + 1 + layers]),
            1,
        );
        let per_layer = self.voxels / layers;
        let shapes = softmax(logits.reshape([batch, layers, per_layer]), 2);
        (shapes * shares.unsqueeze_dim::<3>(2)).reshape([batch, self.voxels]) * f
    }

    /// Generated voxels / E_inc for conditions `c` (`[batch, 1]`), with fresh noise from the
    /// device's generator.
    pub fn sample(&self, c: Tensor<2>) -> Tensor<2> {
        let [batch, _] = c.dims();
        let z = Tensor::random(
            [batch, self.latent],
            Distribution::Normal(0.0, 1.0),
            &c.device(),
        );
        self.forward(z, c)
    }
}

/// The critic (discriminator).
#[derive(Module, Debug)]
pub struct Critic {
    /// The MLP: `[voxels + layers + 2] → hidden → [1]`.
    pub mlp: Mlp,
    /// Voxel → layer membership, `[voxels, layers]` (a constant, not trained).
    pub membership: Tensor<2>,
    /// Scale of voxel / E_inc.
    #[module(skip)]
    pub voxel_scale: f64,
    /// Scale of layer energy / E_inc.
    #[module(skip)]
    pub layer_scale: f64,
    /// k of σ(E) = k/√(E/GeV).
    #[module(skip)]
    pub resolution: f64,
    /// f̄.
    #[module(skip)]
    pub mean_energy_fraction: f64,
    /// Whether the features hold the shower depth and its spread ([`CaloGanConfig::critic_depth`]).
    #[module(skip)]
    pub depth_features: bool,
}

impl Critic {
    /// The critic's input features of showers `x` (voxel / E_inc) with condition `c`.
    ///
    /// # Shapes
    /// - x: `[batch, voxels]`, c: `[batch, 1]`
    /// - output: `[batch, voxels + layers + 2]`
    pub fn features(&self, x: Tensor<2>, c: Tensor<2>) -> Tensor<2> {
        let layers = x.clone().matmul(self.membership.clone().detach());
        let total = x.clone().sum_dim(1);
        let energy = (total.clone() / self.mean_energy_fraction - 1.0)
            / relative_resolution(c.clone(), self.resolution);
        let mut parts = vec![
            x * self.voxel_scale,
            layers.clone() * self.layer_scale,
            energy,
            c,
        ];
        if self.depth_features {
            // Depth d = Σ l·E_l / Σ E_l and spread √(Σ l²·E_l / Σ E_l − d²), in units of ~10 layers.
            let [_, n_layers] = layers.dims();
            let index = Tensor::<1, Int>::arange(0..n_layers as i64, &layers.device())
                .float()
                .reshape([1, n_layers]);
            let total = total.clamp_min(1e-12);
            let depth = (layers.clone() * index.clone()).sum_dim(1) / total.clone();
            let second = (layers * index.clone() * index).sum_dim(1) / total;
            let spread = (second - depth.clone().powf_scalar(2.0))
                .clamp_min(1e-6)
                .sqrt();
            parts.push((depth - 12.0) / 3.0);
            parts.push((spread - 4.0) / 2.0);
        }
        Tensor::cat(parts, 1)
    }

    /// The critic's score of input features (see [`Critic::features`]).
    ///
    /// # Shapes
    /// - features: `[batch, voxels + layers + 2]`
    /// - output: `[batch, 1]`
    pub fn score(&self, features: Tensor<2>) -> Tensor<2> {
        self.mlp.forward(features)
    }
}

/// The generator and the critic together (one module for the Trainer).
#[derive(Module, Debug)]
pub struct CaloGan {
    /// The generator.
    pub generator: Generator,
    /// The critic.
    pub critic: Critic,
}

/// Replaces every parameter by a detached copy under a new id: a critic through which
/// gradients reach the input but none of its own weights. (burn's `no_grad` on a clone would
/// also stop the original's parameters, which share their state with the clone.)
struct Frozen;

impl ModuleMapper for Frozen {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        Param::initialized(ParamId::new(), param.val().detach())
    }
}

impl CaloGan {
    /// Sets the generator's voxel-logit output bias to ln p̄ᵢ, p̄ the mean normalised shape
    /// (voxel / E_total) of `showers` (floored at 10⁻⁸ of the total) — or, with a condition
    /// slope, to the intercept aᵢ of [`mean_shape_in_energy`] — and its energy unit's bias to 0.
    pub fn start_from_mean_shape(mut self, showers: &CaloShowers) -> Self {
        let voxels = self.generator.voxels;
        let mean = mean_normalised_shape(showers, 0..showers.len(), voxels);
        let mut bias: Vec<f32> = if self.generator.condition_slope.is_some() {
            // The logits are a + b·c: the bias is the intercept a of the log mean shape.
            mean_shape_in_energy(showers, voxels)
                .0
                .iter()
                .map(|&a| a as f32)
                .collect()
        } else {
            mean.iter().map(|m| m.max(1e-8).ln() as f32).collect()
        };
        bias.push(0.0);
        // Layer-factorised: the layer logits start at ln of the mean layer shares (the voxel
        // logits' softmax inside each layer already gives the mean shape there).
        if let Some(per_layer) = voxels.checked_div(self.generator.factorised_layers) {
            bias.extend(
                mean.chunks(per_layer)
                    .map(|share| share.iter().sum::<f64>().max(1e-8).ln() as f32),
            );
        }
        if let Some(last) = self.generator.mlp.layers.last_mut() {
            let device = last.weight.device();
            last.bias = Some(Param::from_tensor(Tensor::<1>::from_floats(
                bias.as_slice(),
                &device,
            )));
        }
        self
    }
}

/// The mean over the showers `items` of the normalised shape voxel / E_total (each total
/// floored at 10⁻¹² MeV), `voxels` values.
fn mean_normalised_shape(
    showers: &CaloShowers,
    items: impl ExactSizeIterator<Item = usize>,
    voxels: usize,
) -> Vec<f64> {
    let n = items.len().max(1) as f64;
    let mut mean = vec![0f64; voxels];
    for i in items {
        let row = showers.shower(i);
        let total: f64 = row.iter().map(|&v| f64::from(v)).sum::<f64>().max(1e-12);
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v) / total;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    mean
}

/// The log mean shape as a straight line in the condition: showers sorted by c are cut into 8
/// groups of equal size; in each, the mean normalised shape p̄ (voxel / E_total, floored at
/// 10⁻⁸); per voxel the least-squares line ln p̄ = a + b·c over the groups. Returns (a, b),
/// `voxels` values each (b = 0 with fewer than two groups).
pub fn mean_shape_in_energy(showers: &CaloShowers, voxels: usize) -> (Vec<f64>, Vec<f64>) {
    let mut order: Vec<usize> = (0..showers.len()).collect();
    let c_of = |i: usize| f64::from(condition(showers.incident_energies_mev[i]));
    order.sort_by(|&i, &j| c_of(i).total_cmp(&c_of(j)));
    let groups = 8.min(showers.len()).max(1);
    let mut cs = Vec::with_capacity(groups);
    let mut logs: Vec<Vec<f64>> = Vec::with_capacity(groups);
    for g in 0..groups {
        let part = &order[g * order.len() / groups..(g + 1) * order.len() / groups];
        let mean = mean_normalised_shape(showers, part.iter().copied(), voxels);
        cs.push(part.iter().map(|&i| c_of(i)).sum::<f64>() / part.len().max(1) as f64);
        logs.push(mean.iter().map(|m| m.max(1e-8).ln()).collect());
    }
    let c_mean = cs.iter().sum::<f64>() / groups as f64;
    let c_var: f64 = cs.iter().map(|c| (c - c_mean).powi(2)).sum();
    let mut intercept = vec![0f64; voxels];
    let mut slope = vec![0f64; voxels];
    for v in 0..voxels {
        let y_mean = logs.iter().map(|l| l[v]).sum::<f64>() / groups as f64;
        let b = if c_var > 0.0 {
            cs.iter()
                .zip(&logs)
                .map(|(c, l)| (c - c_mean) * (l[v] - y_mean))
                .sum::<f64>()
                / c_var
        } else {
            0.0
        };
        slope[v] = b;
        intercept[v] = y_mean - b * c_mean;
    }
    (intercept, slope)
}

/// ln(1 + eˣ), stable.
fn softplus_stable(x: Tensor<2>) -> Tensor<2> {
    x.clone().clamp_min(0.0) + (x.abs().neg().exp() + 1.0).log()
}

/// The squared 1-D Wasserstein-2 distance between the generated and the (detached) real pulls
/// (E_total/E_inc / f̄ − 1)/σ(E) of a batch: mean of (sorted generated − sorted real)².
///
/// # Shapes
/// - real, fake: `[batch, voxels]`, c: `[batch, 1]`; output `[1]`
pub fn energy_matching(
    critic: &Critic,
    real: Tensor<2>,
    fake: Tensor<2>,
    c: Tensor<2>,
) -> Tensor<1> {
    let sigma = relative_resolution(c, critic.resolution);
    let pull = |x: Tensor<2>| (x.sum_dim(1) / critic.mean_energy_fraction - 1.0) / sigma.clone();
    let real_sorted = pull(real).detach().sort(0);
    let fake_pull = pull(fake);
    let order = fake_pull.clone().detach().argsort(0);
    let fake_sorted = fake_pull.gather(0, order);
    (fake_sorted - real_sorted).powf_scalar(2.0).mean()
}

/// The two losses of one batch: (L_D, L_G), scalars `[1]`.
///
/// L_D gets no gradient into the generator and L_G none into the critic (see the module doc).
pub fn adversarial_losses(
    gan: &CaloGan,
    config: &CaloGanConfig,
    real: Tensor<2>,
    c: Tensor<2>,
) -> (Tensor<1>, Tensor<1>) {
    adversarial_losses_with(gan, config, real, c, |fake| fake)
}

/// [`adversarial_losses`] with the generated showers passed through `sparsify` before the
/// critic sees them (the energy-matching term sees them as generated).
pub fn adversarial_losses_with(
    gan: &CaloGan,
    config: &CaloGanConfig,
    real: Tensor<2>,
    c: Tensor<2>,
    sparsify: impl Fn(Tensor<2>) -> Tensor<2>,
) -> (Tensor<1>, Tensor<1>) {
    let smooth = gan.generator.sample(c.clone());
    let energy_term = energy_matching(&gan.critic, real.clone(), smooth.clone(), c.clone())
        * config.energy_matching_weight;
    let fake = sparsify(smooth);
    let real_in = gan.critic.features(real, c.clone());
    let fake_in_detached = gan.critic.features(fake.clone().detach(), c.clone());
    let frozen = gan.critic.clone().map(&mut Frozen);
    let fake_for_g = frozen.score(frozen.features(fake, c));
    let d_real = gan.critic.score(real_in.clone());
    let d_fake = gan.critic.score(fake_in_detached.clone());
    match config.loss {
        GanLoss::Bce => {
            // −log σ(d) = softplus(−d); −log(1 − σ(d)) = softplus(d).
            let l_d = softplus_stable(d_real.neg()).mean() + softplus_stable(d_fake).mean();
            let l_g = softplus_stable(fake_for_g.neg()).mean() + energy_term;
            (l_d, l_g)
        }
        GanLoss::WganLp => {
            let [batch, _] = real_in.dims();
            let device = real_in.device();
            let diff = real_in.clone() - fake_in_detached.clone();
            let t1 = Tensor::<2>::random([batch, 1], Distribution::Uniform(0.0, 1.0), &device);
            let t2 = Tensor::<2>::random([batch, 1], Distribution::Uniform(0.0, 1.0), &device);
            let x1 = fake_in_detached.clone() + diff.clone() * t1.clone();
            let x2 = fake_in_detached + diff.clone() * t2.clone();
            let distance =
                (diff.powf_scalar(2.0).sum_dim(1).sqrt() * (t1 - t2).abs()).clamp_min(1e-6);
            let quotient = (gan.critic.score(x1) - gan.critic.score(x2)).abs() / distance;
            let penalty = (quotient - 1.0).clamp_min(0.0).powf_scalar(2.0).mean();
            let drift = d_real.clone().powf_scalar(2.0).mean() * 1e-3;
            let l_d = d_fake.mean() - d_real.mean() + penalty * config.lipschitz_weight + drift;
            let l_g = fake_for_g.neg().mean() + energy_term;
            (l_d, l_g)
        }
    }
}

/// Training showers prepared for the GAN: voxel / E_inc and the conditions.
pub struct GanTask {
    config: CaloGanConfig,
    /// The quanta's random numbers while training against quantised showers.
    quanta_rng: std::sync::Mutex<rand_chacha::ChaCha8Rng>,
    fractions: Vec<f32>,
    conditions: Vec<f32>,
    energies_mev: Vec<f32>,
    voxels: usize,
    train: Vec<usize>,
    held_out: Vec<usize>,
    device: Device,
}

impl GanTask {
    /// The task on `showers` (the last `held_out` of them kept for the validation losses), on
    /// the autodiff `device`.
    pub fn new(
        config: CaloGanConfig,
        showers: &CaloShowers,
        held_out: usize,
        device: Device,
    ) -> Result<Self, CaloError> {
        if showers.voxels != config.voxels || showers.len() <= held_out {
            return Err(CaloError::Showers(format!(
                "{} showers of {} voxels: the GAN needs {} voxels and more than {held_out} showers",
                showers.len(),
                showers.voxels,
                config.voxels
            )));
        }
        let mut fractions = Vec::with_capacity(showers.showers_mev.len());
        for i in 0..showers.len() {
            let e = showers.incident_energies_mev[i].max(1e-6);
            fractions.extend(showers.shower(i).iter().map(|&v| v / e));
        }
        let n = showers.len();
        Ok(Self {
            quanta_rng: std::sync::Mutex::new(rand_chacha::ChaCha8Rng::seed_from_u64(
                config.voxels as u64 ^ 0x0051_A27A,
            )),
            config,
            fractions,
            conditions: showers
                .incident_energies_mev
                .iter()
                .map(|&e| condition(e))
                .collect(),
            energies_mev: showers.incident_energies_mev.clone(),
            voxels: showers.voxels,
            train: (0..n - held_out).collect(),
            held_out: (n - held_out..n).collect(),
            device,
        })
    }

    /// The generated voxel / E_inc `fake` of the showers `items` quantised at the training q,
    /// with the gradient passed straight through: fake + (quantised − fake) detached. The
    /// identity when `training_quantum_mev` is 0.
    fn straight_through(&self, fake: Tensor<2>, items: &[usize]) -> Tensor<2> {
        let q = self.config.training_quantum_mev as f32;
        if q <= 0.0 {
            return fake;
        }
        let smooth = fake.clone().detach();
        let device = smooth.device();
        let dims = smooth.dims();
        let mut values = smooth
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 data after convert");
        let mut rng = self.quanta_rng.lock().unwrap_or_else(|e| e.into_inner());
        for (row, &i) in values.chunks_mut(self.voxels).zip(items) {
            let e = self.energies_mev[i].max(1e-6);
            row.iter_mut().for_each(|v| *v *= e);
            sparsity::quantise(row, q, self.config.quantum_shape, &mut *rng);
            row.iter_mut().for_each(|v| *v /= e);
        }
        let quantised = Tensor::<2>::from_data(TensorData::new(values, dims), &device);
        fake.clone() + (quantised - fake).detach()
    }

    /// Seeds the random numbers of the training quanta (see `training_quantum_mev`).
    pub fn with_quanta_seed(self, seed: u64) -> Self {
        Self {
            quanta_rng: std::sync::Mutex::new(rand_chacha::ChaCha8Rng::seed_from_u64(seed)),
            ..self
        }
    }

    fn batch(&self, items: &[usize]) -> (Tensor<2>, Tensor<2>) {
        let mut x = Vec::with_capacity(items.len() * self.voxels);
        for &i in items {
            x.extend_from_slice(&self.fractions[i * self.voxels..(i + 1) * self.voxels]);
        }
        let c: Vec<f32> = items.iter().map(|&i| self.conditions[i]).collect();
        (
            Tensor::from_data(TensorData::new(x, [items.len(), self.voxels]), &self.device),
            Tensor::from_data(TensorData::new(c, [items.len(), 1]), &self.device),
        )
    }
}

impl TrainTask for GanTask {
    type Model = CaloGan;

    fn num_items(&self) -> usize {
        self.train.len()
    }

    fn loss(&self, model: &CaloGan, batch: &[usize]) -> Tensor<1> {
        let items: Vec<usize> = batch.iter().map(|&k| self.train[k]).collect();
        let (x, c) = self.batch(&items);
        let (l_d, l_g) = adversarial_losses_with(model, &self.config, x, c, |fake| {
            self.straight_through(fake, &items)
        });
        l_d + l_g
    }

    fn validate(&self, model: &CaloGan) -> Vec<(String, f64)> {
        let (x, c) = self.batch(&self.held_out);
        let (l_d, l_g) = adversarial_losses_with(model, &self.config, x, c.clone(), |fake| {
            self.straight_through(fake, &self.held_out)
        });
        let fake = model.generator.sample(c).detach();
        let generated: Vec<f64> = fake
            .sum_dim(1)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap_or_default()
            .into_iter()
            .map(f64::from)
            .collect();
        let reference: Vec<f64> = self
            .held_out
            .iter()
            .map(|&i| {
                self.fractions[i * self.voxels..(i + 1) * self.voxels]
                    .iter()
                    .map(|&v| f64::from(v))
                    .sum()
            })
            .collect();
        let scalar = |t: Tensor<1>| f64::from(t.into_scalar::<f32>());
        vec![
            ("d_loss".into(), scalar(l_d)),
            ("g_loss".into(), scalar(l_g)),
            (
                "etot_separation_power".into(),
                crate::validation::feature_separation_power(&reference, &generated, 30, false),
            ),
        ]
    }
}

/// Generates showers for the incident energies (MeV) with `generator` on `device`, in batches
/// of `batch_size`, made sparse as the config says ([`sparsity`]: quanta when `quantum_mev` > 0,
/// else the threshold; each shower keeps its total). The device's random generator gives the
/// noise (seed it first), `seed` the quanta.
pub fn generate(
    generator: &Generator,
    config: &CaloGanConfig,
    incident_energies_mev: &[f32],
    batch_size: usize,
    seed: u64,
    device: &Device,
) -> CaloShowers {
    let mut showers_mev = Vec::with_capacity(incident_energies_mev.len() * config.voxels);
    let mut first_row = 0u64;
    for chunk in incident_energies_mev.chunks(batch_size.max(1)) {
        let c: Vec<f32> = chunk.iter().map(|&e| condition(e)).collect();
        let c = Tensor::from_data(TensorData::new(c, [chunk.len(), 1]), device);
        let mut values = generator
            .sample(c)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 data after convert");
        // Rows in parallel; row k draws its quanta from stream k of one ChaCha8 seed, so a
        // shower's quanta depend on the seed and its position only, not on the threads.
        values
            .par_chunks_mut(config.voxels)
            .zip(chunk)
            .enumerate()
            .for_each(|(k, (row, &e))| {
                row.iter_mut().for_each(|v| *v *= e);
                if config.quantum_mev > 0.0 {
                    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
                    rng.set_stream(first_row + k as u64);
                    let (q, a) = (config.quantum_mev as f32, config.quantum_shape);
                    sparsity::quantise(row, q, a, &mut rng);
                } else {
                    sparsity::apply_threshold(row, config.threshold_mev as f32);
                }
            });
        first_row += chunk.len() as u64;
        showers_mev.extend(values);
    }
    CaloShowers {
        incident_energies_mev: incident_energies_mev.to_vec(),
        showers_mev,
        voxels: config.voxels,
    }
}

/// The fraction of voxels > 0 of `showers`.
pub fn nonzero_fraction(showers: &CaloShowers) -> f64 {
    let total = showers.showers_mev.len().max(1) as f64;
    showers.showers_mev.iter().filter(|&&v| v > 0.0).count() as f64 / total
}

/// Writes a trained generator as a self-contained model folder: `config.json` (the
/// [`CaloGanConfig`]) and `generator.bpk` (burn's record of the generator's weights).
pub fn save_generator(
    dir: &Path,
    config: &CaloGanConfig,
    generator: &Generator,
) -> Result<(), CaloError> {
    std::fs::create_dir_all(dir).map_err(|e| NnError::io(dir, e))?;
    let json = serde_json::to_vec_pretty(config).expect("the config serialises");
    atomic_write(&dir.join("config.json"), &json)?;
    let bytes = generator
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| NnError::Checkpoint {
            path: dir.join("generator.bpk"),
            message: format!("{e:?}"),
        })?;
    atomic_write(&dir.join("generator.bpk"), &bytes)?;
    Ok(())
}

/// Loads a generator written by [`save_generator`] onto `device`.
pub fn load_generator(
    dir: &Path,
    device: &Device,
) -> Result<(CaloGanConfig, Generator), CaloError> {
    let path = dir.join("config.json");
    let text = std::fs::read(&path).map_err(|e| NnError::io(&path, e))?;
    let bad = |message: String| NnError::Checkpoint {
        path: path.clone(),
        message,
    };
    let mut fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    // Settings added after a model was written take their defaults (a generator written
    // before the quanta has `quantum_mev` 0: it keeps its threshold).
    let defaults =
        serde_json::to_value(CaloGanConfig::new(0, Vec::new())).expect("the config serialises");
    if let serde_json::Value::Object(defaults) = defaults {
        for (key, value) in defaults {
            fields.entry(key).or_insert(value);
        }
    }
    let config: CaloGanConfig = serde_json::from_value(serde_json::Value::Object(fields))
        .map_err(|e| bad(e.to_string()))?;
    config.validate().map_err(|e| bad(e.to_string()))?;
    let weights = dir.join("generator.bpk");
    let generator = config
        .init(device)
        .generator
        .try_load_file(&weights)
        .map_err(|e| NnError::Checkpoint {
            path: weights,
            message: format!("{e:?}"),
        })?;
    Ok((config, generator))
}

/// Voxel / E_inc of generated showers (no threshold) for the given incident energies.
pub fn generate_fractions(
    generator: &Generator,
    incident_energies_mev: &[f32],
    device: &Device,
) -> Vec<Vec<f32>> {
    let mut rows = Vec::with_capacity(incident_energies_mev.len());
    for chunk in incident_energies_mev.chunks(500) {
        let c: Vec<f32> = chunk.iter().map(|&e| condition(e)).collect();
        let c = Tensor::from_data(TensorData::new(c, [chunk.len(), 1]), device);
        let values = generator
            .sample(c)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 data after convert");
        rows.extend(values.chunks(generator.voxels).map(<[f32]>::to_vec));
    }
    rows
}

/// Trains a GAN on `showers` with the foundation's [`Trainer`] (checkpoints under `out_dir`,
/// `metrics.csv` with `d_loss` and `g_loss`, `training.png`), fits the quantum q of the
/// sparse output on the training showers, and returns the final config (q set) and model.
pub fn train_gan(
    config: CaloGanConfig,
    showers: &CaloShowers,
    train: TrainConfig,
    adam_beta1: f32,
    out_dir: &Path,
    resume: bool,
) -> Result<(CaloGanConfig, CaloGan, Vec<hepnn_nn::train::EpochRecord>), CaloError> {
    config.validate()?;
    let config = if config.energy_dependent_shape && config.condition_slope.is_empty() {
        let slope = mean_shape_in_energy(showers, config.voxels).1;
        config.with_condition_slope(slope)
    } else {
        config
    };
    let device = Device::flex();
    device.seed(train.seed);
    let ad = device.clone().autodiff();
    let model = config.init(&ad).start_from_mean_shape(showers);
    let target = nonzero_fraction(showers);
    let config = if config.quanta_in_training && config.training_quantum_mev <= 0.0 {
        let start = generate_fractions(&model.generator, &showers.incident_energies_mev, &ad);
        let q = sparsity::fit_quantum(target, &showers.incident_energies_mev, &start);
        config.with_training_quantum_mev(q)
    } else {
        config
    };
    let held_out = (showers.len() / 10).clamp(1, 500);
    let task = GanTask::new(config.clone(), showers, held_out, ad.clone())?
        .with_quanta_seed(train.seed ^ 0x0051_A27A);
    let optimizer = AdamConfig::new()
        .with_beta_1(adam_beta1)
        .with_beta_2(0.999)
        .init();
    let trainer = Trainer::new(train.clone(), out_dir)?;
    let outcome = trainer.fit(&task, model, optimizer, &ad, resume)?;
    ad.seed(train.seed ^ 0x007A_12E5);
    let fractions = generate_fractions(
        &outcome.model.generator,
        &showers.incident_energies_mev,
        &ad,
    );
    let quantum = sparsity::fit_quantum(target, &showers.incident_energies_mev, &fractions);
    Ok((
        config.with_threshold_mev(0.0).with_quantum_mev(quantum),
        outcome.model,
        outcome.history,
    ))
}

pub mod sparsity;

#[cfg(test)]
mod tests;
