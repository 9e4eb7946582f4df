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
//! voxel_i / E_inc = f · softmax(ℓ)_i,   f = f̄ · softplus(a) / ln 2
//! ```
//!
//! so every deposit is ≥ 0, the shape sums to one, and E_total/E_inc = f is a single output
//! (f = f̄, the reference's mean E_total/E_inc, at a = 0) — the GAN only has to learn the
//! distribution of one number to get E_total/E_inc right. Deposits below
//! [`CaloGanConfig::threshold_fraction`] × E_inc are set to 0 after generation (the reference
//! has exact zeros; a softmax has none), a threshold fitted after training so that the mean
//! sparsity matches the reference's.
//!
//! # Discriminator (critic)
//! An MLP with LeakyReLU(0.2) sees the voxels / E_inc (times one common scale), the 45 layer
//! energies / E_inc (scaled), E_total/E_inc relative to f̄ and c.
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
use burn::tensor::activation::{softmax, softplus};
use hepnn_core::io::calo::{CaloBinning, CaloShowers};
use hepnn_nn::NnError;
use hepnn_nn::mlp::{Mlp, MlpConfig};
use hepnn_nn::neuron::Activation;
use hepnn_nn::plot::atomic_write;
use hepnn_nn::train::{TrainConfig, TrainTask, Trainer};
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
    /// The critic's scale of E_total/E_inc / f̄ − 1.
    #[config(default = 1.0)]
    pub energy_scale: f64,
    /// Generated deposits below this × E_inc are set to 0.
    #[config(default = 0.0)]
    pub threshold_fraction: f64,
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
        }
        let std = |s: f64, ss: f64, n: f64| (ss / n - (s / n).powi(2)).max(1e-30).sqrt();
        let mean_fraction = fractions.iter().sum::<f64>() / fractions.len() as f64;
        let rel: Vec<f64> = fractions.iter().map(|f| f / mean_fraction - 1.0).collect();
        let rel_std = (rel.iter().map(|r| r * r).sum::<f64>() / rel.len() as f64)
            .sqrt()
            .max(1e-6);
        Ok(CaloGanConfig::new(binning.num_voxels(), offsets)
            .with_loss(loss)
            .with_mean_energy_fraction(mean_fraction)
            .with_voxel_scale(1.0 / std(sv, svv, nv))
            .with_layer_scale(1.0 / std(sl, sll, nl))
            .with_energy_scale(1.0 / rel_std))
    }

    /// Builds the generator and the critic (burn's default initialisation; seed the device
    /// first for reproducible weights).
    pub fn init(&self, device: &Device) -> CaloGan {
        let mut g_sizes = vec![self.latent + 1];
        g_sizes.extend(&self.generator_hidden);
        g_sizes.push(self.voxels + 1);
        let layers = self.layer_offsets.len().saturating_sub(1);
        let mut d_sizes = vec![self.voxels + layers + 2];
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
            },
            critic: Critic {
                mlp: MlpConfig::new(d_sizes).with_activation(leaky).init(device),
                membership: Tensor::<1>::from_floats(membership.as_slice(), device)
                    .reshape([self.voxels, layers]),
                voxel_scale: self.voxel_scale,
                layer_scale: self.layer_scale,
                energy_scale: self.energy_scale,
                mean_energy_fraction: self.mean_energy_fraction,
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
}

impl Generator {
    /// voxel / E_inc = f̄ · softplus(a)/ln 2 · softmax(ℓ) for the noise `z` and condition `c`.
    ///
    /// # Shapes
    /// - z: `[batch, latent]`, c: `[batch, 1]`
    /// - output: `[batch, voxels]`
    pub fn forward(&self, z: Tensor<2>, c: Tensor<2>) -> Tensor<2> {
        let out = self.mlp.forward(Tensor::cat(vec![z, c], 1));
        let [batch, _] = out.dims();
        let logits = out.clone().slice([0..batch, 0..self.voxels]);
        let a = out.slice([0..batch, self.voxels..self.voxels + 1]);
        let f = softplus(a, 1.0) * (self.mean_energy_fraction / std::f64::consts::LN_2);
        softmax(logits, 1) * f
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
    /// Scale of E_total / E_inc / f̄ − 1.
    #[module(skip)]
    pub energy_scale: f64,
    /// f̄.
    #[module(skip)]
    pub mean_energy_fraction: f64,
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
        let energy = (total / self.mean_energy_fraction - 1.0) * self.energy_scale;
        Tensor::cat(
            vec![x * self.voxel_scale, layers * self.layer_scale, energy, c],
            1,
        )
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

/// ln(1 + eˣ), stable.
fn softplus_stable(x: Tensor<2>) -> Tensor<2> {
    x.clone().clamp_min(0.0) + (x.abs().neg().exp() + 1.0).log()
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
    let fake = gan.generator.sample(c.clone());
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
            let l_g = softplus_stable(fake_for_g.neg()).mean();
            (l_d, l_g)
        }
        GanLoss::WganLp => {
            let [batch, width] = real_in.dims();
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
            let _ = width;
            let drift = d_real.clone().powf_scalar(2.0).mean() * 1e-3;
            let l_d = d_fake.mean() - d_real.mean() + penalty * config.lipschitz_weight + drift;
            let l_g = fake_for_g.neg().mean();
            (l_d, l_g)
        }
    }
}

/// Training showers prepared for the GAN: voxel / E_inc and the conditions.
pub struct GanTask {
    config: CaloGanConfig,
    fractions: Vec<f32>,
    conditions: Vec<f32>,
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
            config,
            fractions,
            conditions: showers
                .incident_energies_mev
                .iter()
                .map(|&e| condition(e))
                .collect(),
            voxels: showers.voxels,
            train: (0..n - held_out).collect(),
            held_out: (n - held_out..n).collect(),
            device,
        })
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
        let (l_d, l_g) = adversarial_losses(model, &self.config, x, c);
        l_d + l_g
    }

    fn validate(&self, model: &CaloGan) -> Vec<(String, f64)> {
        let (x, c) = self.batch(&self.held_out);
        let (l_d, l_g) = adversarial_losses(model, &self.config, x, c.clone());
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
/// of `batch_size`, applying the config's threshold; the device's random generator gives the
/// noise (seed it first).
pub fn generate(
    generator: &Generator,
    config: &CaloGanConfig,
    incident_energies_mev: &[f32],
    batch_size: usize,
    device: &Device,
) -> CaloShowers {
    let mut showers_mev = Vec::with_capacity(incident_energies_mev.len() * config.voxels);
    for chunk in incident_energies_mev.chunks(batch_size.max(1)) {
        let c: Vec<f32> = chunk.iter().map(|&e| condition(e)).collect();
        let c = Tensor::from_data(TensorData::new(c, [chunk.len(), 1]), device);
        let x = generator.sample(c);
        let values = x
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 data after convert");
        let threshold = config.threshold_fraction as f32;
        for (row, &e) in values.chunks(config.voxels).zip(chunk) {
            showers_mev.extend(row.iter().map(|&v| if v < threshold { 0.0 } else { v * e }));
        }
    }
    CaloShowers {
        incident_energies_mev: incident_energies_mev.to_vec(),
        showers_mev,
        voxels: config.voxels,
    }
}

/// The threshold (fraction of E_inc) at which generated showers have the reference's mean
/// sparsity (fraction of voxels > 0), by bisection on log scale.
pub fn fit_threshold(reference: &CaloShowers, generated_fractions: &[Vec<f32>]) -> f64 {
    let total = reference.showers_mev.len().max(1) as f64;
    let target = reference.showers_mev.iter().filter(|&&v| v > 0.0).count() as f64 / total;
    let n_gen = generated_fractions
        .iter()
        .map(Vec::len)
        .sum::<usize>()
        .max(1) as f64;
    let sparsity = |t: f64| {
        generated_fractions
            .iter()
            .flat_map(|row| row.iter())
            .filter(|&&v| f64::from(v) >= t)
            .count() as f64
            / n_gen
    };
    let (mut lo, mut hi) = (-14f64, 0f64);
    for _ in 0..50 {
        let mid = 0.5 * (lo + hi);
        if sparsity(10f64.powf(mid)) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    10f64.powf(0.5 * (lo + hi))
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
    let config: CaloGanConfig = serde_json::from_slice(&text).map_err(|e| NnError::Checkpoint {
        path: path.clone(),
        message: e.to_string(),
    })?;
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
/// `metrics.csv` with `d_loss` and `g_loss`, `training.png`), fits the sparsity threshold on
/// the training showers, and returns the final config (threshold set) and model.
pub fn train_gan(
    config: CaloGanConfig,
    showers: &CaloShowers,
    train: TrainConfig,
    learning_rate_beta1: f32,
    out_dir: &Path,
    resume: bool,
) -> Result<(CaloGanConfig, CaloGan, Vec<hepnn_nn::train::EpochRecord>), CaloError> {
    let device = Device::flex();
    device.seed(train.seed);
    let ad = device.clone().autodiff();
    let model = config.init(&ad);
    let held_out = (showers.len() / 10).clamp(1, 500);
    let task = GanTask::new(config.clone(), showers, held_out, ad.clone())?;
    let optimizer = AdamConfig::new()
        .with_beta_1(learning_rate_beta1)
        .with_beta_2(0.999)
        .init();
    let trainer = Trainer::new(train.clone(), out_dir)?;
    let outcome = trainer.fit(&task, model, optimizer, &ad, resume)?;
    ad.seed(train.seed ^ 0x7A12_E5);
    let fractions = generate_fractions(
        &outcome.model.generator,
        &showers.incident_energies_mev,
        &ad,
    );
    let threshold = fit_threshold(showers, &fractions);
    Ok((
        config.with_threshold_fraction(threshold),
        outcome.model,
        outcome.history,
    ))
}

#[cfg(test)]
mod tests;
