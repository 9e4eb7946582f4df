//! Validation of generated showers as the Fast Calorimeter Simulation Challenge 2022 does it
//! (Krause et al., "CaloChallenge 2022: A Community Challenge for Fast Calorimeter Simulation",
//! arXiv:2410.21611, section 3; course slide "simulation rapide: GAN").
//!
//! Three measures, each comparing a `reference` sample with a `generated` one:
//!
//! 1. **High-level features** ([`high_level_features`]) per shower: E_total/E_inc, and per layer ℓ
//!    the energy E_ℓ, the centres of energy ⟨x⟩_ℓ, ⟨y⟩_ℓ, ⟨r⟩_ℓ and widths
//!    σ_ℓ = √(⟨x²⟩ − ⟨x⟩²) (x = r cos α ≈ η, y = r sin α ≈ φ, with r and α the voxel's bin
//!    centres), and the sparsity (fraction of the layer's voxels with a deposit > 0). A layer
//!    without energy has centre and width 0, as in the challenge code.
//! 2. **Separation power** ([`separation_power`]) of each feature's histograms,
//!    S = ½ Σᵢ (h₁ᵢ − h₂ᵢ)² / (h₁ᵢ + h₂ᵢ) with Σ h = 1 and the binning taken from the reference
//!    ([`HistBinning::from_reference`]); 0 for identical histograms, 1 for disjoint ones.
//! 3. **Low-level classifier test** ([`classifier_test`]): an MLP with two hidden layers of 512
//!    and LeakyReLU sees log₁₀ E_inc and the voxels / E_inc of reference (label 1) and generated
//!    (label 0) showers, split 60/20/20 into train / validation / test; Adam with early stopping
//!    on the validation loss. On the test part it reports the ROC AUC and the challenge's
//!    JSD = (ln 2 − BCE)/ln 2 of the classifier output calibrated by isotonic regression on the
//!    validation part (0: indistinguishable, 1: perfectly separated).
//!
//! [`validate`] runs all three and draws one PNG per feature (reference vs generated).
//!
//! ```
//! use hepnn_calo::validation::separation_power;
//! assert_eq!(separation_power(&[0.5, 0.5], &[0.5, 0.5]), 0.0);
//! assert!((separation_power(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-12);
//! ```

use std::path::{Path, PathBuf};

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use hepnn_core::io::calo::{CaloBinning, CaloShowers};
use hepnn_nn::mlp::{Mlp, MlpConfig};
use hepnn_nn::neuron::Activation;
use hepnn_nn::plot::{LinePlot, Series};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::CaloError;

/// The high-level features of a set of showers, feature-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// Feature names: `etot_over_einc`, then per layer ℓ `e_layer_ℓ` (MeV), `center_x_layer_ℓ`,
    /// `center_y_layer_ℓ`, `center_r_layer_ℓ`, `width_x_layer_ℓ`, `width_y_layer_ℓ`,
    /// `width_r_layer_ℓ` (mm) and `sparsity_layer_ℓ`.
    pub names: Vec<String>,
    /// `values[f][i]`: feature `f` of shower `i`.
    pub values: Vec<Vec<f64>>,
}

impl Features {
    /// The values of the feature called `name`.
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|k| self.values[k].as_slice())
    }
}

/// The names of the per-layer features, in the order [`high_level_features`] writes them.
pub const LAYER_FEATURES: [&str; 8] = [
    "e_layer",
    "center_x_layer",
    "center_y_layer",
    "center_r_layer",
    "width_x_layer",
    "width_y_layer",
    "width_r_layer",
    "sparsity_layer",
];

/// The voxel centres of a layer: (x, y, r) in mm, in the layer's voxel order (radial fastest).
fn voxel_centres(layer: &hepnn_core::io::calo::BinningLayer) -> Vec<(f64, f64, f64)> {
    let mut centres = Vec::with_capacity(layer.n_voxels());
    for a in 0..layer.n_alpha {
        // α bins span (−π, π]; a single bin carries no angle, its centre sits on the axis.
        let alpha =
            -std::f64::consts::PI + (a as f64 + 0.5) * std::f64::consts::TAU / layer.n_alpha as f64;
        for r in 0..layer.n_radial() {
            let r_mid = 0.5 * (layer.r_edges_mm[r] + layer.r_edges_mm[r + 1]);
            let (x, y) = if layer.n_alpha == 1 {
                (0.0, 0.0)
            } else {
                (r_mid * alpha.cos(), r_mid * alpha.sin())
            };
            centres.push((x, y, r_mid));
        }
    }
    centres
}

/// Computes the challenge's high-level features of every shower (see the module doc).
///
/// # Errors
/// When the showers' voxel count differs from the binning's.
pub fn high_level_features(
    showers: &CaloShowers,
    binning: &CaloBinning,
) -> Result<Features, CaloError> {
    if showers.voxels != binning.num_voxels() {
        return Err(CaloError::Showers(format!(
            "{} voxels per shower, the binning has {}",
            showers.voxels,
            binning.num_voxels()
        )));
    }
    let n = showers.len();
    let layers = binning.layers.len();
    let mut names = vec!["etot_over_einc".to_string()];
    for l in 0..layers {
        for f in LAYER_FEATURES {
            names.push(format!("{f}_{l}"));
        }
    }
    let mut values = vec![Vec::with_capacity(n); names.len()];
    let offsets = binning.layer_offsets();
    let centres: Vec<Vec<(f64, f64, f64)>> = binning.layers.iter().map(voxel_centres).collect();
    for i in 0..n {
        let shower = showers.shower(i);
        let e_inc = f64::from(showers.incident_energies_mev[i]);
        let total: f64 = shower.iter().map(|&v| f64::from(v)).sum();
        values[0].push(if e_inc > 0.0 { total / e_inc } else { 0.0 });
        for l in 0..layers {
            let voxels = &shower[offsets[l]..offsets[l + 1]];
            let (mut e, mut sx, mut sy, mut sr, mut sxx, mut syy, mut srr, mut hit) =
                (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0usize);
            for (&v, &(x, y, r)) in voxels.iter().zip(&centres[l]) {
                let v = f64::from(v);
                if v > 0.0 {
                    hit += 1;
                }
                e += v;
                sx += v * x;
                sy += v * y;
                sr += v * r;
                sxx += v * x * x;
                syy += v * y * y;
                srr += v * r * r;
            }
            let base = 1 + l * LAYER_FEATURES.len();
            let moments = |s: f64, ss: f64| {
                if e > 0.0 {
                    let mean = s / e;
                    (mean, (ss / e - mean * mean).max(0.0).sqrt())
                } else {
                    (0.0, 0.0)
                }
            };
            let (cx, wx) = moments(sx, sxx);
            let (cy, wy) = moments(sy, syy);
            let (cr, wr) = moments(sr, srr);
            let row = [
                e,
                cx,
                cy,
                cr,
                wx,
                wy,
                wr,
                hit as f64 / voxels.len().max(1) as f64,
            ];
            for (k, value) in row.into_iter().enumerate() {
                values[base + k].push(value);
            }
        }
    }
    Ok(Features { names, values })
}

/// Histogram bin edges shared by the reference and the generated sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistBinning {
    /// Increasing bin edges; values outside go into the first or last bin.
    pub edges: Vec<f64>,
    /// Whether the edges are spaced logarithmically (energies spanning decades).
    pub log: bool,
}

impl HistBinning {
    /// `bins` bins over the reference values' range, linear (between the 0.1 % and 99.9 %
    /// quantiles when there are ≥ 100 values), or with `log` logarithmic between the smallest
    /// positive and the largest value (energies; values ≤ 0 fall in the first bin).
    pub fn from_reference(reference: &[f64], bins: usize, log: bool) -> HistBinning {
        let bins = bins.max(1);
        let finite = reference.iter().copied().filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if !lo.is_finite() {
            return HistBinning {
                edges: (0..=bins).map(|i| i as f64 / bins as f64).collect(),
                log: false,
            };
        }
        let min_positive = reference
            .iter()
            .copied()
            .filter(|&v| v > 0.0 && v.is_finite())
            .fold(f64::INFINITY, f64::min);
        if log && min_positive.is_finite() && hi > min_positive {
            let (a, b) = (min_positive.log10(), hi.log10());
            return HistBinning {
                edges: (0..=bins)
                    .map(|i| 10f64.powf(a + (b - a) * i as f64 / bins as f64))
                    .collect(),
                log: true,
            };
        }
        // Linear bins span the reference's 0.1 %–99.9 % quantiles (a few outliers would
        // otherwise stretch the range and hide the bulk in a few bins); the rest is clamped.
        let mut sorted: Vec<f64> = reference
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        sorted.sort_by(f64::total_cmp);
        let quantile = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
        let (lo, hi) = if sorted.len() >= 100 {
            (quantile(0.001), quantile(0.999))
        } else {
            (lo, hi)
        };
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, hi + 0.5)
        };
        HistBinning {
            edges: (0..=bins)
                .map(|i| lo + (hi - lo) * i as f64 / bins as f64)
                .collect(),
            log: false,
        }
    }

    /// The normalised histogram (Σ = 1) of `values`; out-of-range values are clamped into the
    /// first or last bin, non-finite ones into the last.
    pub fn histogram(&self, values: &[f64]) -> Vec<f64> {
        let bins = self.edges.len().saturating_sub(1).max(1);
        let mut counts = vec![0.0; bins];
        for &v in values {
            let bin = if !v.is_finite() {
                bins - 1
            } else {
                self.edges
                    .partition_point(|&e| e <= v)
                    .saturating_sub(1)
                    .min(bins - 1)
            };
            counts[bin] += 1.0;
        }
        let total: f64 = counts.iter().sum();
        if total > 0.0 {
            counts.iter_mut().for_each(|c| *c /= total);
        }
        counts
    }
}

/// The separation power ½ Σᵢ (h₁ᵢ − h₂ᵢ)² / (h₁ᵢ + h₂ᵢ) of two normalised histograms on the
/// same bins (bins empty in both are skipped): 0 when identical, 1 when disjoint.
pub fn separation_power(h1: &[f64], h2: &[f64]) -> f64 {
    0.5 * h1
        .iter()
        .zip(h2)
        .filter(|(a, b)| *a + *b > 0.0)
        .map(|(a, b)| (a - b).powi(2) / (a + b))
        .sum::<f64>()
}

/// The separation power of one feature, reference vs generated, on `bins` bins from the
/// reference (logarithmic with `log`).
pub fn feature_separation_power(
    reference: &[f64],
    generated: &[f64],
    bins: usize,
    log: bool,
) -> f64 {
    let binning = HistBinning::from_reference(reference, bins, log);
    separation_power(&binning.histogram(reference), &binning.histogram(generated))
}

/// Settings of the low-level classifier test.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Hidden-layer widths (the challenge: two of 512).
    pub hidden: Vec<usize>,
    /// Negative slope of the LeakyReLU.
    pub leaky_slope: f64,
    /// Maximum number of epochs.
    pub epochs: usize,
    /// Stop after this many epochs without a better validation loss (the best model is kept).
    pub patience: usize,
    /// Showers per Adam step.
    pub batch_size: usize,
    /// Adam learning rate (the challenge: 2·10⁻⁴).
    pub learning_rate: f64,
    /// Use at most this many showers of each sample (the first ones).
    pub max_showers: usize,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        Self {
            hidden: vec![512, 512],
            leaky_slope: 0.01,
            epochs: 30,
            patience: 4,
            batch_size: 128,
            learning_rate: 2e-4,
            max_showers: 20_000,
        }
    }
}

/// The result of [`classifier_test`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassifierReport {
    /// ROC AUC of the classifier on the test part (0.5: indistinguishable).
    pub auc: f64,
    /// The challenge's JSD = (ln 2 − BCE)/ln 2 of the calibrated output on the test part, ≥ 0.
    pub jsd: f64,
    /// Binary cross-entropy of the raw classifier on the test part.
    pub test_bce: f64,
    /// Epochs trained (including the patience epochs after the best one).
    pub epochs: usize,
    /// The epoch whose weights were kept (best validation loss).
    pub best_epoch: usize,
    /// Showers in the train / validation / test parts (both samples together).
    pub split: [usize; 3],
}

/// One labelled shower row: log₁₀(E_inc / GeV) followed by voxels / E_inc.
fn classifier_rows(showers: &CaloShowers, take: usize) -> Vec<Vec<f32>> {
    (0..showers.len().min(take))
        .map(|i| {
            let e = showers.incident_energies_mev[i].max(1e-6);
            let mut row = Vec::with_capacity(showers.voxels + 1);
            row.push((e / 1000.0).log10());
            row.extend(showers.shower(i).iter().map(|&v| v / e));
            row
        })
        .collect()
}

/// Splits indices 0..n 60/20/20 after a seeded shuffle.
fn split_602020(n: usize, rng: &mut ChaCha8Rng) -> [Vec<usize>; 3] {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let n_train = n * 6 / 10;
    let n_valid = n * 2 / 10;
    [
        order[..n_train].to_vec(),
        order[n_train..n_train + n_valid].to_vec(),
        order[n_train + n_valid..].to_vec(),
    ]
}

/// Mean binary cross-entropy of logits `z` against labels `y`: softplus(z) − y·z, written
/// stably as max(z, 0) − y·z + ln(1 + e^{−|z|}).
fn bce_with_logits(z: Tensor<2>, y: Tensor<2>) -> Tensor<1> {
    let stable = z.clone().clamp_min(0.0) - z.clone() * y + (z.abs().neg().exp() + 1.0).log();
    stable.mean()
}

/// The ROC AUC of scores for positives vs negatives (Mann–Whitney U with mid-ranks for ties).
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = mid;
        }
        i = j + 1;
    }
    let n_pos = labels.iter().filter(|&&l| l).count() as f64;
    let n_neg = labels.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return 0.5;
    }
    let rank_sum: f64 = ranks
        .iter()
        .zip(labels)
        .filter(|(_, l)| **l)
        .map(|(r, _)| r)
        .sum();
    (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

/// Isotonic regression of labels on scores (pool-adjacent-violators): returns the sorted score
/// thresholds and the calibrated probability of each block, as scikit-learn's
/// `IsotonicRegression(out_of_bounds="clip")` that the challenge uses.
fn isotonic_fit(scores: &[f64], labels: &[bool]) -> Vec<(f64, f64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Blocks: (first score, last score, sum of labels, count).
    let mut blocks: Vec<(f64, f64, f64, f64)> = Vec::new();
    for &k in &order {
        blocks.push((scores[k], scores[k], f64::from(u8::from(labels[k])), 1.0));
        while blocks.len() > 1 {
            let b = blocks[blocks.len() - 1];
            let a = blocks[blocks.len() - 2];
            if a.2 / a.3 >= b.2 / b.3 {
                blocks.pop();
                let last = blocks.len() - 1;
                blocks[last] = (a.0, b.1, a.2 + b.2, a.3 + b.3);
            } else {
                break;
            }
        }
    }
    // One knot at the middle of each block; interpolation between knots.
    blocks
        .iter()
        .map(|b| (0.5 * (b.0 + b.1), b.2 / b.3))
        .collect()
}

/// Evaluates the isotonic calibration at `score` (linear between knots, clipped outside).
fn isotonic_predict(knots: &[(f64, f64)], score: f64) -> f64 {
    match knots.partition_point(|k| k.0 <= score) {
        0 => knots.first().map_or(0.5, |k| k.1),
        i if i == knots.len() => knots[i - 1].1,
        i => {
            let (a, b) = (knots[i - 1], knots[i]);
            let t = (score - a.0) / (b.0 - a.0).max(1e-300);
            a.1 + t * (b.1 - a.1)
        }
    }
}

/// Trains the low-level classifier to tell `reference` (label 1) from `generated` (label 0)
/// showers and reports its AUC and JSD on the held-out test part (see the module doc).
///
/// log₁₀ E_inc is standardised and all voxel columns are divided by one common scale, both from
/// the training part (a linear map: it changes nothing the MLP can learn, only how fast Adam
/// gets there).
///
/// # Errors
/// When the samples have different voxel counts or fewer than 10 showers each.
pub fn classifier_test(
    reference: &CaloShowers,
    generated: &CaloShowers,
    config: &ClassifierConfig,
    seed: u64,
) -> Result<ClassifierReport, CaloError> {
    if reference.voxels != generated.voxels {
        return Err(CaloError::Showers(format!(
            "reference has {} voxels per shower, generated {}",
            reference.voxels, generated.voxels
        )));
    }
    if reference.len().min(config.max_showers) < 10 || generated.len().min(config.max_showers) < 10
    {
        return Err(CaloError::Showers(
            "the classifier test needs at least 10 showers of each sample".into(),
        ));
    }
    let mut rows = classifier_rows(reference, config.max_showers);
    let n_ref = rows.len();
    rows.extend(classifier_rows(generated, config.max_showers));
    let labels: Vec<bool> = (0..rows.len()).map(|i| i < n_ref).collect();
    let width = reference.voxels + 1;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Split each sample 60/20/20 so that both are in every part in the same proportion.
    let ref_split = split_602020(n_ref, &mut rng);
    let gen_split = split_602020(rows.len() - n_ref, &mut rng);
    let part = |k: usize| -> Vec<usize> {
        let mut p = ref_split[k].clone();
        p.extend(gen_split[k].iter().map(|i| i + n_ref));
        p
    };
    let (train, valid, test) = (part(0), part(1), part(2));

    // Column 0 (log₁₀ E_inc) standardised; the voxel columns all divided by one scale, the
    // standard deviation of every voxel value of the training part, so that their relative sizes
    // stay those the challenge's classifier sees.
    let (mut s0, mut s00, mut sv, mut svv, mut count) = (0f64, 0f64, 0f64, 0f64, 0f64);
    for &i in &train {
        let e = f64::from(rows[i][0]);
        s0 += e;
        s00 += e * e;
        for &v in &rows[i][1..] {
            sv += f64::from(v);
            svv += f64::from(v) * f64::from(v);
            count += 1.0;
        }
    }
    let n_train = train.len() as f64;
    let e_mean = s0 / n_train;
    let e_scale = 1.0 / (s00 / n_train - e_mean * e_mean).max(1e-12).sqrt();
    let v_scale = 1.0 / (svv / count - (sv / count).powi(2)).max(1e-24).sqrt();
    let standardised: Vec<Vec<f32>> = rows
        .iter()
        .map(|row| {
            let mut out = Vec::with_capacity(row.len());
            out.push(((f64::from(row[0]) - e_mean) * e_scale) as f32);
            out.extend(row[1..].iter().map(|&v| (f64::from(v) * v_scale) as f32));
            out
        })
        .collect();
    drop(rows);

    let device = Device::flex();
    device.seed(seed);
    let ad = device.clone().autodiff();
    let batch = |idx: &[usize], dev: &Device| -> (Tensor<2>, Tensor<2>) {
        let mut x = Vec::with_capacity(idx.len() * width);
        for &i in idx {
            x.extend_from_slice(&standardised[i]);
        }
        let y: Vec<f32> = idx
            .iter()
            .map(|&i| f32::from(u8::from(labels[i])))
            .collect();
        (
            Tensor::from_data(TensorData::new(x, [idx.len(), width]), dev),
            Tensor::from_data(TensorData::new(y, [idx.len(), 1]), dev),
        )
    };
    let logits = |model: &Mlp, idx: &[usize]| -> Vec<f64> {
        let mut out = Vec::with_capacity(idx.len());
        for chunk in idx.chunks(1024) {
            let (x, _) = batch(chunk, &ad);
            let z = model.forward(x).detach().into_data().convert::<f32>();
            out.extend(
                z.try_to_vec::<f32>()
                    .expect("f32 data after convert")
                    .into_iter()
                    .map(f64::from),
            );
        }
        out
    };
    let mean_bce = |z: &[f64], idx: &[usize]| -> f64 {
        z.iter()
            .zip(idx)
            .map(|(&z, &i)| {
                let y = f64::from(u8::from(labels[i]));
                z.max(0.0) - y * z + (-z.abs()).exp().ln_1p()
            })
            .sum::<f64>()
            / idx.len().max(1) as f64
    };

    let mut sizes = vec![width];
    sizes.extend(&config.hidden);
    sizes.push(1);
    let mut model = MlpConfig::new(sizes)
        .with_activation(Activation::LeakyRelu {
            slope: config.leaky_slope,
        })
        .init(&ad);
    let mut optimizer = AdamConfig::new().init();
    let mut best = (f64::INFINITY, 0usize, model.clone());
    let mut epochs = 0;
    let mut shuffle_rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_C1A5);
    for epoch in 1..=config.epochs.max(1) {
        epochs = epoch;
        let mut order = train.clone();
        order.shuffle(&mut shuffle_rng);
        for chunk in order.chunks(config.batch_size.max(1)) {
            let (x, y) = batch(chunk, &ad);
            let loss = bce_with_logits(model.forward(x), y);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(config.learning_rate, model, grads);
        }
        let valid_loss = mean_bce(&logits(&model, &valid), &valid);
        if valid_loss < best.0 {
            best = (valid_loss, epoch, model.clone());
        } else if epoch - best.1 >= config.patience.max(1) {
            break;
        }
    }
    let (_, best_epoch, model) = best;
    let valid_z = logits(&model, &valid);
    let test_z = logits(&model, &test);
    let test_labels: Vec<bool> = test.iter().map(|&i| labels[i]).collect();
    let auc = roc_auc(&test_z, &test_labels);
    let test_bce = mean_bce(&test_z, &test);
    // Calibrate on the validation part, as the challenge does, then the JSD on the test part.
    let prob = |z: f64| 1.0 / (1.0 + (-z).exp());
    let knots = isotonic_fit(
        &valid_z.iter().map(|&z| prob(z)).collect::<Vec<_>>(),
        &valid.iter().map(|&i| labels[i]).collect::<Vec<_>>(),
    );
    let eps = 1e-7;
    let calibrated_bce = test_z
        .iter()
        .zip(&test_labels)
        .map(|(&z, &y)| {
            let p = isotonic_predict(&knots, prob(z)).clamp(eps, 1.0 - eps);
            if y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum::<f64>()
        / test_z.len().max(1) as f64;
    let ln2 = std::f64::consts::LN_2;
    Ok(ClassifierReport {
        auc,
        jsd: ((ln2 - calibrated_bce) / ln2).max(0.0),
        test_bce,
        epochs,
        best_epoch,
        split: [train.len(), valid.len(), test.len()],
    })
}

/// Settings of [`validate`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationConfig {
    /// Histogram bins per feature.
    pub bins: usize,
    /// The classifier test's settings; `None` skips it.
    pub classifier: Option<ClassifierConfig>,
    /// Draw one PNG per feature under `plot_dir`.
    pub plots: bool,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        Self {
            bins: 50,
            classifier: Some(ClassifierConfig::default()),
            plots: true,
        }
    }
}

/// Everything [`validate`] measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValidationReport {
    /// Separation power of every high-level feature, in [`Features::names`] order.
    pub separation_power: Vec<(String, f64)>,
    /// Mean E_total/E_inc of the reference and of the generated showers.
    pub mean_etot_over_einc: [f64; 2],
    /// The classifier test, when run.
    pub classifier: Option<ClassifierReport>,
    /// The feature plots written.
    pub plots: Vec<PathBuf>,
}

impl ValidationReport {
    /// The separation power of the feature called `name`.
    pub fn separation(&self, name: &str) -> Option<f64> {
        self.separation_power
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| *s)
    }

    /// The mean separation power over all features of one kind (`e_layer`, `width_r_layer`,
    /// …; `etot_over_einc` is its own kind).
    pub fn mean_separation(&self, kind: &str) -> Option<f64> {
        let values: Vec<f64> = self
            .separation_power
            .iter()
            .filter(|(n, _)| feature_kind(n) == kind)
            .map(|(_, s)| *s)
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    }
}

/// The kind of a feature name: the name without its `_ℓ` layer suffix.
pub fn feature_kind(name: &str) -> &str {
    match name.rsplit_once('_') {
        Some((kind, layer)) if layer.chars().all(|c| c.is_ascii_digit()) => kind,
        _ => name,
    }
}

fn step_points(edges: &[f64], h: &[f64]) -> Vec<(f64, f64)> {
    let mut points = Vec::with_capacity(2 * h.len());
    for (i, &v) in h.iter().enumerate() {
        points.push((edges[i], v));
        points.push((edges[i + 1], v));
    }
    points
}

/// Whether a feature is histogrammed on logarithmic bins: the layer energies, which span
/// decades.
pub fn log_binned(name: &str) -> bool {
    feature_kind(name) == "e_layer"
}

/// Draws the reference and generated histograms of one feature as a PNG and returns their
/// separation power.
pub fn plot_feature(
    path: &Path,
    name: &str,
    reference: &[f64],
    generated: &[f64],
    bins: usize,
) -> Result<f64, CaloError> {
    let binning = HistBinning::from_reference(reference, bins, log_binned(name));
    let (h1, h2) = (binning.histogram(reference), binning.histogram(generated));
    let sep = separation_power(&h1, &h2);
    let (edges, x_label) = if binning.log {
        (
            binning.edges.iter().map(|e| e.log10()).collect::<Vec<_>>(),
            format!("log10 {name}"),
        )
    } else {
        (binning.edges.clone(), name.to_string())
    };
    LinePlot::new(
        format!("{name}: separation power {sep:.4}"),
        x_label,
        "fraction of showers",
    )
    .with(Series::line("reference", step_points(&edges, &h1)))
    .with(Series::line("generated", step_points(&edges, &h2)))
    .save_png(path)?;
    Ok(sep)
}

/// Runs the whole validation: features, separation powers, plots under `plot_dir` (one
/// `<feature>.png` each, when `config.plots`) and the classifier test.
///
/// # Errors
/// When the samples do not fit the binning, or a plot cannot be written.
pub fn validate(
    reference: &CaloShowers,
    generated: &CaloShowers,
    binning: &CaloBinning,
    config: &ValidationConfig,
    plot_dir: &Path,
    seed: u64,
) -> Result<ValidationReport, CaloError> {
    let f_ref = high_level_features(reference, binning)?;
    let f_gen = high_level_features(generated, binning)?;
    let mut separation = Vec::with_capacity(f_ref.names.len());
    let mut plots = Vec::new();
    if config.plots {
        std::fs::create_dir_all(plot_dir).map_err(|e| hepnn_nn::NnError::io(plot_dir, e))?;
    }
    for (k, name) in f_ref.names.iter().enumerate() {
        let sep = if config.plots {
            let path = plot_dir.join(format!("{name}.png"));
            let sep = plot_feature(&path, name, &f_ref.values[k], &f_gen.values[k], config.bins)?;
            plots.push(path);
            sep
        } else {
            feature_separation_power(
                &f_ref.values[k],
                &f_gen.values[k],
                config.bins,
                log_binned(name),
            )
        };
        separation.push((name.clone(), sep));
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let classifier = match &config.classifier {
        Some(c) => Some(classifier_test(reference, generated, c, seed)?),
        None => None,
    };
    Ok(ValidationReport {
        separation_power: separation,
        mean_etot_over_einc: [mean(&f_ref.values[0]), mean(&f_gen.values[0])],
        classifier,
        plots,
    })
}

#[cfg(test)]
mod tests;
