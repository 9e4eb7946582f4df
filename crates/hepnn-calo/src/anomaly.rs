//! Autoencoders on calorimeter showers: a 2-D latent map, denoising, and anomaly detection by
//! reconstruction error.
//!
//! Course slide "auto-encodeurs" (dimension reduction, denoising, anomaly detection); the
//! networks are [`hepnn_nn::autoencoder`]. Showers come from the reference Monte Carlo
//! (`hepnn_sim::calo`, seeded) and enter as the features of [`crate::preprocess`].
//!
//! - Latent map: a VAE with a 2-D latent, trained on electron showers; its μ coloured by
//!   incident energy.
//! - Denoising: electronic noise (Gaussian, σ per voxel, read out with a zero threshold, so
//!   that noise adds energy) on every voxel in, the clean shower as target. Reported: the
//!   per-voxel RMS error (MeV) and the mean total-energy bias (MeV) of noisy and of denoised
//!   showers against the clean ones.
//! - Anomaly detection: an autoencoder trained on normal electron showers only; the score is
//!   the reconstruction error, as the plain mean squared error over voxels, as χ²/V with each
//!   voxel's squared residual divided by its mean on the training showers (a Gaussian noise
//!   model of the residuals, so that the sparse, always-fluctuating outer voxels do not drown
//!   the core), and as the largest such pull (the most anomalous cell). Anomalies are made from
//!   held-out electron showers — a dead layer (the layer with the most energy zeroed), a hot
//!   cell (one random voxel given 5 % of the shower's voxel energy), a late start (the shower
//!   moved 8 layers deeper, as a hadron-like shower that starts late) — plus genuine photon
//!   showers of the same energies. ROC AUC per type and score, and on the mixed sample of the
//!   three made-up types. Denoising is compared with the classical zero suppression at 3σ.

use std::path::Path;

use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::TensorData;
use hepnn_nn::autoencoder::{Autoencoder, AutoencoderConfig};
use hepnn_nn::plot::{LinePlot, Series};
use hepnn_nn::train::{TrainConfig, TrainTask, Trainer};
use hepnn_sim::calo::{CaloSimConfig, EnergySpectrum, IncidentParticle, simulate_showers};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::CaloError;
use crate::preprocess::{from_features_with, to_features_with};

/// Settings of the autoencoder studies.
#[derive(Debug, Clone, PartialEq)]
pub struct AeStudyConfig {
    /// Training showers (electrons).
    pub train_showers: usize,
    /// Held-out showers (electrons; as many photons).
    pub test_showers: usize,
    /// Incident energies, log-uniform between these, GeV.
    pub energy_gev: (f64, f64),
    /// Encoder hidden widths.
    pub hidden: Vec<usize>,
    /// Latent dimension of the anomaly autoencoder.
    pub latent: usize,
    /// Latent dimension of the denoising autoencoder (wider: it must pass each shower's
    /// fluctuations, not only its average shape).
    pub denoise_latent: usize,
    /// Training epochs of each autoencoder.
    pub epochs: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Learning rate (Adam, constant).
    pub learning_rate: f64,
    /// Electronic noise σ per voxel, MeV.
    pub noise_mev: f64,
    /// u₀ of the features x = ln(1 + E_v/(u₀E_inc)) ([`crate::preprocess`]); 10⁻⁴ keeps
    /// the sparse outer hits (random from shower to shower) from dominating the error.
    pub fraction_scale: f64,
}

impl Default for AeStudyConfig {
    fn default() -> Self {
        Self {
            train_showers: 1_500,
            test_showers: 300,
            energy_gev: (2.0, 20.0),
            hidden: vec![256],
            latent: 16,
            denoise_latent: 256,
            epochs: 20,
            batch_size: 50,
            learning_rate: 1e-3,
            noise_mev: 0.1,
            fraction_scale: 1e-4,
        }
    }
}

/// Training pairs (input, target) of an autoencoder, on the autodiff device.
struct AeTask {
    inputs: Tensor<2>,
    targets: Tensor<2>,
    beta: f64,
}

impl TrainTask for AeTask {
    type Model = Autoencoder;
    fn num_items(&self) -> usize {
        self.inputs.dims()[0]
    }
    fn loss(&self, model: &Autoencoder, batch: &[usize]) -> Tensor<1> {
        let index: Vec<i64> = batch.iter().map(|&i| i as i64).collect();
        let index = Tensor::<1, Int>::from_ints(index.as_slice(), &self.inputs.device());
        let x = self.inputs.clone().select(0, index.clone());
        let y = self.targets.clone().select(0, index);
        model.forward(x).loss(y, self.beta).0
    }
}

fn tensor(values: &[f32], cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), [values.len() / cols, cols]),
        device,
    )
}

fn read(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("a float tensor reads back as f32")
}

/// Trains an autoencoder on (inputs → targets) feature rows.
#[allow(clippy::too_many_arguments)]
fn train_ae(
    config: &AeStudyConfig,
    model_config: &AutoencoderConfig,
    inputs: &[f32],
    targets: &[f32],
    beta: f64,
    out_dir: &Path,
    seed: u64,
    device: &Device,
) -> Result<Autoencoder, CaloError> {
    let ad = device.clone().autodiff();
    ad.seed(seed);
    let voxels = model_config.inputs;
    let task = AeTask {
        inputs: tensor(inputs, voxels, &ad),
        targets: tensor(targets, voxels, &ad),
        beta,
    };
    let mut train = TrainConfig::new(config.epochs, config.batch_size, config.learning_rate, seed);
    train.progress = false;
    let outcome = Trainer::new(train, out_dir)?.fit(
        &task,
        model_config.init(&ad),
        AdamConfig::new().init(),
        &ad,
        false,
    )?;
    Ok(burn::module::Module::valid(&outcome.model))
}

/// The ROC AUC of scores (higher = more anomalous), through the validation's Mann–Whitney
/// [`crate::validation::roc_auc`].
pub fn roc_auc(normal: &[f64], anomalous: &[f64]) -> f64 {
    let scores: Vec<f64> = normal.iter().chain(anomalous).copied().collect();
    let labels: Vec<bool> = normal
        .iter()
        .map(|_| false)
        .chain(anomalous.iter().map(|_| true))
        .collect();
    crate::validation::roc_auc(&scores, &labels)
}

/// ROC points (false-positive rate, true-positive rate) over all thresholds.
pub fn roc_curve(normal: &[f64], anomalous: &[f64]) -> Vec<(f64, f64)> {
    let mut all: Vec<(f64, bool)> = normal
        .iter()
        .map(|&s| (s, false))
        .chain(anomalous.iter().map(|&s| (s, true)))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut points = vec![(0.0, 0.0)];
    for (_, is_anomaly) in all {
        if is_anomaly {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        points.push((
            fp / normal.len().max(1) as f64,
            tp / anomalous.len().max(1) as f64,
        ));
    }
    points
}

/// The anomaly types made from normal showers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anomaly {
    /// The layer with the most energy reads zero.
    DeadLayer,
    /// One random voxel gets 5 % of the shower's total voxel energy.
    HotCell,
    /// The shower moved this many layers deeper (late start).
    LateStart(usize),
}

/// Applies an anomaly to one shower (`voxels` = layers × per_layer MeV values).
pub fn apply_anomaly(shower: &mut [f32], per_layer: usize, anomaly: Anomaly, rng: &mut ChaCha8Rng) {
    let layers = shower.len() / per_layer;
    match anomaly {
        Anomaly::DeadLayer => {
            let hottest = (0..layers)
                .max_by(|&a, &b| {
                    let sa: f32 = shower[a * per_layer..(a + 1) * per_layer].iter().sum();
                    let sb: f32 = shower[b * per_layer..(b + 1) * per_layer].iter().sum();
                    sa.total_cmp(&sb)
                })
                .unwrap_or(0);
            shower[hottest * per_layer..(hottest + 1) * per_layer].fill(0.0);
        }
        Anomaly::HotCell => {
            let total: f32 = shower.iter().sum();
            let cell = rng.random_range(0..shower.len());
            shower[cell] += 0.05 * total;
        }
        Anomaly::LateStart(shift) => {
            let shift = shift.min(layers);
            shower.copy_within(0..(layers - shift) * per_layer, shift * per_layer);
            shower[..shift * per_layer].fill(0.0);
        }
    }
}

/// Per-voxel residuals x̂ − x of every row, `n × voxels`.
fn residuals(model: &Autoencoder, features: &[f32], voxels: usize, device: &Device) -> Vec<f32> {
    features
        .chunks(voxels * 200)
        .flat_map(|chunk| {
            let x = tensor(chunk, voxels, device);
            read(model.decode(model.encode(x.clone())) - x)
        })
        .collect()
}

/// The anomaly scores of each row from its residuals d_v = x̂_v − x_v: the plain mean squared
/// error Σ d_v² / V; χ²/V = Σ d_v²/σ_v² / V with σ_v² the voxel's mean d_v² on the training
/// showers; the largest voxel pull d_v²/σ_v² (the most anomalous cell); and the largest layer
/// pull (Σ_{v∈ℓ} d_v)²/σ_ℓ² (the most anomalous layer, σ_ℓ² from the training showers).
fn scores(residuals: &[f32], sigma2: &[f32], sigma2_layer: &[f32]) -> [Vec<f64>; 4] {
    let voxels = sigma2.len();
    let per_layer = voxels / sigma2_layer.len().max(1);
    let mut out = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for row in residuals.chunks(voxels) {
        let mse = row.iter().map(|&r| f64::from(r * r)).sum::<f64>() / voxels as f64;
        let pulls = row.iter().zip(sigma2).map(|(&r, &s)| f64::from(r * r / s));
        let (sum, max) = pulls.fold((0.0, 0.0f64), |(a, m), p| (a + p, m.max(p)));
        let layer_max = row
            .chunks(per_layer)
            .zip(sigma2_layer)
            .map(|(l, &s)| f64::from(l.iter().sum::<f32>().powi(2) / s))
            .fold(0.0f64, f64::max);
        out[0].push(mse);
        out[1].push(sum / voxels as f64);
        out[2].push(max);
        out[3].push(layer_max);
    }
    out
}

/// Adds a fifth score to the four of [`scores`]: max_k −ln p_k, with p_k the fraction of
/// training showers whose score k is at least as large (floored at 1/(n + 1)) — "anomalous by
/// any of the four measures", each calibrated on normal showers.
fn with_combined(four: [Vec<f64>; 4], training: &[Vec<f64>; 4]) -> [Vec<f64>; 5] {
    let sorted: Vec<Vec<f64>> = training
        .iter()
        .map(|t| {
            let mut v = t.clone();
            v.sort_by(f64::total_cmp);
            v
        })
        .collect();
    let combined = (0..four[0].len())
        .map(|i| {
            (0..4)
                .map(|k| {
                    let n = sorted[k].len();
                    let at_least = n - sorted[k].partition_point(|&x| x < four[k][i]);
                    -((at_least.max(1)) as f64 / (n + 1) as f64).ln()
                })
                .fold(0.0f64, f64::max)
        })
        .collect();
    let [a, b, c, d] = four;
    [a, b, c, d, combined]
}

/// Runs the three studies, writes `latent_map.png`, `anomaly_roc.png`, `anomaly_scores.png`
/// and the training outputs under `out_dir`, and returns the named figures.
pub fn run_studies(
    config: &AeStudyConfig,
    out_dir: &Path,
    seed: u64,
    device: &Device,
) -> Result<Vec<(String, f64)>, CaloError> {
    let sim = CaloSimConfig::default();
    let (lo, hi) = config.energy_gev;
    let spectrum = EnergySpectrum::LogUniform(lo, hi);
    let n_train = config.train_showers;
    let n_test = config.test_showers;
    let energies = spectrum.sample_mev(n_train + n_test, seed);
    let start = std::time::Instant::now();
    let electrons = simulate_showers(&sim, IncidentParticle::Electron, &energies, seed)
        .map_err(|e| CaloError::Showers(e.to_string()))?
        .to_challenge();
    let photons = simulate_showers(
        &sim,
        IncidentParticle::Photon,
        &energies[n_train..],
        seed ^ 0xF070,
    )
    .map_err(|e| CaloError::Showers(e.to_string()))?
    .to_challenge();
    let mut figures = vec![(
        "simulation_seconds".to_string(),
        start.elapsed().as_secs_f64(),
    )];
    let voxels = electrons.voxels;
    let u0 = config.fraction_scale;
    let per_layer = voxels / sim.geometry.binning.layers.len().max(1);
    let e_train = &electrons.incident_energies_mev[..n_train];
    let e_test = &electrons.incident_energies_mev[n_train..];
    let s_train = &electrons.showers_mev[..n_train * voxels];
    let s_test = &electrons.showers_mev[n_train * voxels..];
    let x_train = to_features_with(s_train, e_train, voxels, u0);
    let x_test = to_features_with(s_test, e_test, voxels, u0);

    // 1. Latent map: a VAE with a 2-D latent.
    let vae_config =
        AutoencoderConfig::new(voxels, config.hidden.clone(), 2).with_variational(true);
    let vae = train_ae(
        config,
        &vae_config,
        &x_train,
        &x_train,
        1.0,
        &out_dir.join("latent_vae"),
        seed,
        device,
    )?;
    let mu = read(vae.encode(tensor(&x_test, voxels, device)));
    let bins = [2.0, 4.0, 8.0, 12.0, 20.0];
    let mut map = LinePlot::new(
        "Showers in the VAE's 2-D latent space (test electrons)",
        "z₁",
        "z₂",
    );
    let edges: Vec<f64> = std::iter::once(lo)
        .chain(bins.iter().copied().filter(|&b| b > lo && b < hi))
        .chain(std::iter::once(hi))
        .collect();
    for w in edges.windows(2) {
        let points: Vec<(f64, f64)> = mu
            .chunks(2)
            .zip(e_test)
            .filter(|(_, e)| {
                let g = f64::from(**e) / 1000.0;
                g >= w[0] && g < w[1] + 1e-9
            })
            .map(|(z, _)| (f64::from(z[0]), f64::from(z[1])))
            .collect();
        if !points.is_empty() {
            map = map.with(Series::markers(
                format!("{:.0}–{:.0} GeV", w[0], w[1]),
                points,
            ));
        }
    }
    map.save_png(&out_dir.join("latent_map.png"))?;
    // How well the map orders energy: Spearman correlation of E with the best latent axis.
    let rank_corr = |axis: usize| {
        let z: Vec<f64> = mu.chunks(2).map(|p| f64::from(p[axis])).collect();
        let e: Vec<f64> = e_test.iter().map(|&x| f64::from(x)).collect();
        spearman(&z, &e).abs()
    };
    figures.push((
        "latent_energy_spearman".into(),
        rank_corr(0).max(rank_corr(1)),
    ));

    // 2. Denoising.
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xD0153);
    let sigma = config.noise_mev;
    let mut noisy = |clean: &[f32]| -> Vec<f32> {
        clean
            .iter()
            .map(|&v| {
                // Box–Muller: one standard normal from two uniforms.
                let (u1, u2): (f64, f64) = (rng.random(), rng.random());
                let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                (f64::from(v) + sigma * z).max(0.0) as f32
            })
            .collect()
    };
    let noisy_train = noisy(s_train);
    let noisy_test = noisy(s_test);
    let dn_hidden: Vec<usize> = config
        .hidden
        .iter()
        .map(|&h| h.max(2 * config.denoise_latent))
        .collect();
    let dn_config = AutoencoderConfig::new(voxels, dn_hidden, config.denoise_latent);
    let denoiser = train_ae(
        config,
        &dn_config,
        &to_features_with(&noisy_train, e_train, voxels, u0),
        &x_train,
        0.0,
        &out_dir.join("denoising_ae"),
        seed,
        device,
    )?;
    let xn_test = to_features_with(&noisy_test, e_test, voxels, u0);
    let denoised_features: Vec<f32> = xn_test
        .chunks(voxels * 200)
        .flat_map(|c| {
            let x = tensor(c, voxels, device);
            read(denoiser.forward(x).reconstruction)
        })
        .collect();
    let denoised = from_features_with(&denoised_features, e_test, voxels, u0);
    let rms = |a: &[f32]| {
        (a.iter()
            .zip(s_test)
            .map(|(x, y)| f64::from(x - y).powi(2))
            .sum::<f64>()
            / a.len() as f64)
            .sqrt()
    };
    let bias = |a: &[f32]| {
        a.chunks(voxels)
            .zip(s_test.chunks(voxels))
            .map(|(x, y)| f64::from(x.iter().sum::<f32>() - y.iter().sum::<f32>()))
            .sum::<f64>()
            / n_test as f64
    };
    let clean_total = s_test.iter().map(|&v| f64::from(v)).sum::<f64>() / n_test as f64;
    figures.push(("denoise_clean_mean_total_mev".into(), clean_total));
    figures.push(("denoise_rms_noisy_mev".into(), rms(&noisy_test)));
    figures.push(("denoise_rms_denoised_mev".into(), rms(&denoised)));
    figures.push(("denoise_total_bias_noisy_mev".into(), bias(&noisy_test)));
    figures.push(("denoise_total_bias_denoised_mev".into(), bias(&denoised)));
    // The classical baseline: zero suppression of the noisy voxels below 3σ.
    let suppressed: Vec<f32> = noisy_test
        .iter()
        .map(|&v| if f64::from(v) < 3.0 * sigma { 0.0 } else { v })
        .collect();
    figures.push(("denoise_rms_threshold3sigma_mev".into(), rms(&suppressed)));
    figures.push((
        "denoise_total_bias_threshold3sigma_mev".into(),
        bias(&suppressed),
    ));

    // 3. Anomaly detection.
    let ae_config = AutoencoderConfig::new(voxels, config.hidden.clone(), config.latent);
    let ae = train_ae(
        config,
        &ae_config,
        &x_train,
        &x_train,
        0.0,
        &out_dir.join("anomaly_ae"),
        seed,
        device,
    )?;
    let train_res = residuals(&ae, &x_train, voxels, device);
    let layers = voxels / per_layer;
    let mut sigma2 = vec![0f32; voxels];
    let mut sigma2_layer = vec![0f32; layers];
    for row in train_res.chunks(voxels) {
        for (s, &r) in sigma2.iter_mut().zip(row) {
            *s += r * r / n_train as f32;
        }
        for (s, l) in sigma2_layer.iter_mut().zip(row.chunks(per_layer)) {
            *s += l.iter().sum::<f32>().powi(2) / n_train as f32;
        }
    }
    for s in sigma2.iter_mut().chain(sigma2_layer.iter_mut()) {
        *s = s.max(0.01);
    }
    const SCORES: [&str; 5] = ["mse", "chi2", "max_pull", "max_layer_pull", "combined"];
    let train_scores = scores(&train_res, &sigma2, &sigma2_layer);
    let normal = with_combined(
        scores(
            &residuals(&ae, &x_test, voxels, device),
            &sigma2,
            &sigma2_layer,
        ),
        &train_scores,
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xA40);
    let mut roc = LinePlot::new(
        "Anomaly detection: ROC of the reconstruction error (χ²)",
        "false-positive rate (normal electrons)",
        "true-positive rate",
    );
    let mut mixed: [Vec<f64>; 5] = Default::default();
    let mut scores_plot = LinePlot::new(
        "Reconstruction χ²/V (fraction of showers per bin)",
        "log10 score",
        "fraction",
    )
    .with(Series::line("normal e⁻", histogram(&normal[1])));
    for (name, anomaly) in [
        ("dead_layer", Some(Anomaly::DeadLayer)),
        ("hot_cell", Some(Anomaly::HotCell)),
        ("late_start", Some(Anomaly::LateStart(8))),
        ("photon", None),
    ] {
        let showers: Vec<f32> = match anomaly {
            Some(a) => {
                let mut s = s_test.to_vec();
                for row in s.chunks_mut(voxels) {
                    apply_anomaly(row, per_layer, a, &mut rng);
                }
                s
            }
            None => photons.showers_mev.clone(),
        };
        let features = to_features_with(&showers, e_test, voxels, u0);
        let these = with_combined(
            scores(
                &residuals(&ae, &features, voxels, device),
                &sigma2,
                &sigma2_layer,
            ),
            &train_scores,
        );
        for (k, score) in SCORES.iter().enumerate() {
            figures.push((
                format!("anomaly_auc_{score}_{name}"),
                roc_auc(&normal[k], &these[k]),
            ));
        }
        let auc = roc_auc(&normal[1], &these[1]);
        roc = roc.with(Series::line(
            format!("{name} (AUC {auc:.3})"),
            roc_curve(&normal[1], &these[1]),
        ));
        scores_plot = scores_plot.with(Series::line(name.replace('_', " "), histogram(&these[1])));
        if anomaly.is_some() {
            for (m, t) in mixed.iter_mut().zip(&these) {
                m.extend(t);
            }
        }
    }
    for (k, score) in SCORES.iter().enumerate() {
        figures.push((
            format!("anomaly_auc_{score}_mixed"),
            roc_auc(&normal[k], &mixed[k]),
        ));
    }
    roc.save_png(&out_dir.join("anomaly_roc.png"))?;
    scores_plot.save_png(&out_dir.join("anomaly_scores.png"))?;
    Ok(figures)
}

fn histogram(scores: &[f64]) -> Vec<(f64, f64)> {
    let logs: Vec<f64> = scores.iter().map(|s| s.max(1e-12).log10()).collect();
    let (lo, hi) = logs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let bins = 30;
    let width = ((hi - lo) / bins as f64).max(1e-9);
    let mut counts = vec![0.0; bins];
    for x in &logs {
        counts[(((x - lo) / width) as usize).min(bins - 1)] += 1.0 / logs.len().max(1) as f64;
    }
    counts
        .iter()
        .enumerate()
        .map(|(i, &c)| (lo + (i as f64 + 0.5) * width, c))
        .collect()
}

fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut r = vec![0.0; values.len()];
    for (rank, &i) in order.iter().enumerate() {
        r[i] = rank as f64;
    }
    r
}

/// Spearman rank correlation.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let mean = (n - 1.0) / 2.0;
    let cov: f64 = ra
        .iter()
        .zip(&rb)
        .map(|(x, y)| (x - mean) * (y - mean))
        .sum();
    let var: f64 = ra.iter().map(|x| (x - mean).powi(2)).sum();
    cov / var.max(1e-12)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_and_anomalies_behave() {
        assert_eq!(roc_auc(&[0.0, 1.0], &[2.0, 3.0]), 1.0);
        assert_eq!(roc_auc(&[1.0], &[1.0]), 0.5);
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]) - 1.0).abs() < 1e-12);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut shower = vec![1.0f32, 1.0, 5.0, 5.0, 2.0, 2.0];
        apply_anomaly(&mut shower, 2, Anomaly::DeadLayer, &mut rng);
        assert_eq!(shower, [1.0, 1.0, 0.0, 0.0, 2.0, 2.0]);
        let mut shower = vec![1.0f32, 1.0, 5.0, 5.0, 2.0, 2.0];
        apply_anomaly(&mut shower, 2, Anomaly::LateStart(1), &mut rng);
        assert_eq!(shower, [0.0, 0.0, 1.0, 1.0, 5.0, 5.0]);
    }
}
