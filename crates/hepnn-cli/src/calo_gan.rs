//! Fast calorimeter simulation: `hepnn train calo`, `hepnn evaluate calo` and
//! `hepnn simulate calo --fast`, with hepnn-calo's conditional GAN or its diffusion model
//! ([`CaloModelKind`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use burn::prelude::*;
use clap::{Args, ValueEnum};

use hepnn_calo::diffusion::{CaloDiffusion, CaloDiffusionConfig, train_calo_diffusion};
use hepnn_calo::gan::{
    CaloGanConfig, GanLoss, Generator, generate, load_generator, save_generator, train_gan,
};
use hepnn_calo::validation::{ClassifierConfig, LAYER_FEATURES, ValidationConfig, validate};
use hepnn_core::io::calo::{CaloShowers, read_showers, write_showers};
use hepnn_nn::diffusion::Sampler;
use hepnn_nn::train::TrainConfig;
use hepnn_sim::calo::{CaloSimConfig, EnergySpectrum, IncidentParticle, simulate_showers};

use crate::Common;
use crate::summary::{Summary, prepare_out};

/// The fast-simulation model kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CaloModelKind {
    /// The conditional GAN (hepnn_calo::gan).
    Gan,
    /// The diffusion model (hepnn_calo::diffusion; no shipped one: give --model DIR).
    Diffusion,
}

/// A loaded fast-simulation model.
enum FastModel {
    Gan(Box<(CaloGanConfig, Generator)>),
    Diffusion(Box<CaloDiffusion>, Sampler),
}

impl FastModel {
    /// Loads `kind` from `model` (the GAN: default the shipped generator); the diffusion model
    /// samples with DDIM in `ddim_steps` steps, or DDPM over all its steps when 0.
    fn load(
        kind: CaloModelKind,
        model: Option<&Path>,
        ddim_steps: usize,
        device: &Device,
    ) -> anyhow::Result<Self> {
        match kind {
            CaloModelKind::Gan => Ok(FastModel::Gan(Box::new(load_gan(model, device)?))),
            CaloModelKind::Diffusion => {
                let dir = model.context(
                    "the diffusion model has no shipped default: give --model DIR (from `hepnn train calo --model diffusion`)",
                )?;
                let diffusion = CaloDiffusion::load(dir, device).with_context(|| {
                    format!("loading the diffusion model from {}", dir.display())
                })?;
                let sampler = if ddim_steps == 0 {
                    Sampler::Ddpm
                } else {
                    Sampler::Ddim {
                        steps: ddim_steps,
                        eta: 0.0,
                    }
                };
                Ok(FastModel::Diffusion(Box::new(diffusion), sampler))
            }
        }
    }

    /// Showers for `energies` (MeV), `batch` at a time.
    fn generate(&self, energies: &[f32], batch: usize, seed: u64, device: &Device) -> CaloShowers {
        match self {
            FastModel::Gan(gan) => generate(&gan.1, &gan.0, energies, batch, seed, device),
            FastModel::Diffusion(model, sampler) => {
                let mut out = CaloShowers {
                    incident_energies_mev: Vec::with_capacity(energies.len()),
                    showers_mev: Vec::new(),
                    voxels: 0,
                };
                for (i, chunk) in energies.chunks(batch.max(1)).enumerate() {
                    let part = model.sample(chunk, *sampler, seed.wrapping_add(i as u64), device);
                    out.voxels = part.voxels;
                    out.incident_energies_mev.extend(part.incident_energies_mev);
                    out.showers_mev.extend(part.showers_mev);
                }
                out
            }
        }
    }
}

/// The GAN's adversarial loss on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GanLossArg {
    /// Minimax BCE with the non-saturating generator loss.
    Bce,
    /// Wasserstein critic with a Lipschitz penalty (finite-difference form, see hepnn_calo::gan).
    WganGp,
}

/// Where the shipped generator lives in the repository.
pub const SHIPPED_GAN: &str = "models/calo/gan";

/// The shipped generator's folder: `models/calo/gan` under the working directory, else the one
/// of the source tree this binary was built from.
pub fn shipped_gan_dir() -> PathBuf {
    let here = PathBuf::from(SHIPPED_GAN);
    if here.join("config.json").exists() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(SHIPPED_GAN)
}

/// Options of `hepnn train calo`.
#[derive(Debug, Clone, Args)]
pub struct TrainCaloOptions {
    /// Which model.
    #[arg(long, value_enum, default_value = "gan")]
    pub model: CaloModelKind,
    /// The GAN's adversarial loss.
    #[arg(long, value_enum, default_value = "bce")]
    pub loss: GanLossArg,
    /// Training showers (challenge layout .npz); without it, --simulate showers of the reference
    /// Monte Carlo (electrons log-uniform 1–500 GeV, seeded) are made first.
    #[arg(long)]
    pub showers: Option<PathBuf>,
    /// Number of reference showers to simulate when --showers is not given.
    #[arg(long, default_value_t = 500)]
    pub simulate: usize,
    /// Epochs.
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    /// Showers per step.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-4)]
    pub lr: f64,
    /// Continue from the last checkpoint under --out.
    #[arg(long)]
    pub resume: bool,
    /// GAN: the critic sees the generated showers quantised (as `simulate calo --fast` makes
    /// them), the generator's gradient passing straight through.
    #[arg(long)]
    pub quanta_in_training: bool,
    /// GAN: the generator gives each layer's share of the energy and the shape inside each
    /// layer (two softmaxes) instead of one softmax over all voxels.
    #[arg(long)]
    pub layer_factorised: bool,
    /// GAN: the voxel logits get a fixed term b·c, the slope in the condition c of the training
    /// showers' log mean shape, so the generator starts from the mean shape at each energy.
    #[arg(long)]
    pub energy_dependent_shape: bool,
    /// GAN: the critic also sees each shower's depth (energy-weighted mean layer) and spread.
    #[arg(long)]
    pub critic_depth: bool,
}

/// Options of `hepnn evaluate calo`.
#[derive(Debug, Clone, Args)]
pub struct EvaluateCaloOptions {
    /// Model folder (GAN: config.json + generator.bpk, default the shipped generator;
    /// diffusion: the --out of `hepnn train calo --model diffusion`).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Which model kind the folder holds.
    #[arg(long, value_enum, default_value = "gan")]
    pub kind: CaloModelKind,
    /// Diffusion model: DDIM steps (0: DDPM over all the model's steps). The figures keep the
    /// GAN's names (`showers_per_second_gan`, …) for either kind.
    #[arg(long, default_value_t = 20)]
    pub ddim_steps: usize,
    /// Held-out reference showers (.npz).
    #[arg(long)]
    pub reference: PathBuf,
    /// Reference showers at 50 GeV simulated to time the reference Monte Carlo.
    #[arg(long, default_value_t = 20)]
    pub speed_showers: usize,
    /// Maximum classifier epochs (early stopping on the validation part).
    #[arg(long, default_value_t = 30)]
    pub classifier_epochs: usize,
    /// Skip the per-feature plots.
    #[arg(long)]
    pub no_plots: bool,
}

fn load_gan(model: Option<&Path>, device: &Device) -> anyhow::Result<(CaloGanConfig, Generator)> {
    let dir = model.map_or_else(shipped_gan_dir, Path::to_path_buf);
    load_generator(&dir, device).with_context(|| {
        format!(
            "loading the generator from {} (train one with `hepnn train calo --model gan`)",
            dir.display()
        )
    })
}

fn reference_showers(energies_mev: &[f64], seed: u64) -> anyhow::Result<(CaloShowers, f64)> {
    let start = Instant::now();
    let showers = simulate_showers(
        &CaloSimConfig::default(),
        IncidentParticle::Electron,
        energies_mev,
        seed,
    )?;
    Ok((showers.to_challenge(), start.elapsed().as_secs_f64()))
}

/// Trains the GAN and writes the model folder under --out (config.json, generator.bpk,
/// metrics.csv, training.png, checkpoint/).
pub fn train(common: &Common, o: &TrainCaloOptions) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    let showers = match &o.showers {
        Some(path) => read_showers(path).with_context(|| format!("reading {}", path.display()))?,
        None => {
            anyhow::ensure!(o.simulate > 0, "--simulate must be at least 1");
            let energies =
                EnergySpectrum::LogUniform(1.0, 500.0).sample_mev(o.simulate, common.seed);
            reference_showers(&energies, common.seed)?.0
        }
    };
    if o.model == CaloModelKind::Diffusion {
        let config = CaloDiffusionConfig {
            epochs: o.epochs,
            batch_size: o.batch_size,
            ..CaloDiffusionConfig::default()
        };
        let device = Device::flex();
        device.seed(common.seed);
        let start = Instant::now();
        train_calo_diffusion(
            &showers,
            &config,
            &common.out,
            common.seed,
            o.resume,
            &device,
        )?;
        let mut s = Summary::new();
        s.set("model_kind", "diffusion");
        s.set("showers", showers.len());
        s.set("epochs", o.epochs);
        s.set("diffusion_steps", config.steps);
        s.set("training_seconds", start.elapsed().as_secs_f64());
        s.set("model", common.out.display().to_string());
        s.report(&common.out, "hepnn train calo")?;
        return Ok(s);
    }
    let binning = CaloSimConfig::default().geometry.binning;
    let loss = match o.loss {
        GanLossArg::Bce => GanLoss::Bce,
        GanLossArg::WganGp => GanLoss::WganLp,
    };
    let config = CaloGanConfig::from_showers(&binning, &showers, loss)?
        .with_quanta_in_training(o.quanta_in_training)
        .with_layer_factorised(o.layer_factorised)
        .with_energy_dependent_shape(o.energy_dependent_shape)
        .with_critic_depth(o.critic_depth);
    let train_config = TrainConfig::new(o.epochs, o.batch_size, o.lr, common.seed);
    // Adam β₁ = 0.5, the usual GAN setting (DCGAN, WGAN-GP).
    let beta1 = 0.5;
    let start = Instant::now();
    let (config, model, history) =
        train_gan(config, &showers, train_config, beta1, &common.out, o.resume)?;
    save_generator(&common.out, &config, &model.generator)?;
    let mut s = Summary::new();
    s.set("showers", showers.len());
    s.set("loss", format!("{loss:?}"));
    s.set("epochs", o.epochs);
    s.set("training_seconds", start.elapsed().as_secs_f64());
    s.set(
        "mean_energy_fraction_reference",
        config.mean_energy_fraction,
    );
    s.set("threshold_mev", config.threshold_mev);
    s.set("quantum_mev", config.quantum_mev);
    s.set("training_quantum_mev", config.training_quantum_mev);
    s.set_last_epoch(&history, "final_");
    s.set("model", common.out.display().to_string());
    s.report(&common.out, "hepnn train calo")?;
    Ok(s)
}

/// Generates showers with the GAN for the reference's energies and validates them against the
/// reference; times the reference Monte Carlo and the GAN at 50 GeV.
pub fn evaluate(common: &Common, o: &EvaluateCaloOptions) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    let device = Device::flex();
    let model = FastModel::load(o.kind, o.model.as_deref(), o.ddim_steps, &device)?;
    let reference =
        read_showers(&o.reference).with_context(|| format!("reading {}", o.reference.display()))?;
    device.seed(common.seed);
    let generated = model.generate(&reference.incident_energies_mev, 1000, common.seed, &device);
    write_showers(common.out.join("generated.npz"), &generated)?;
    let binning = CaloSimConfig::default().geometry.binning;
    let validation_config = ValidationConfig {
        bins: 50,
        classifier: Some(ClassifierConfig {
            epochs: o.classifier_epochs,
            ..ClassifierConfig::default()
        }),
        plots: !o.no_plots,
    };
    let report = validate(
        &reference,
        &generated,
        &binning,
        &validation_config,
        &common.out.join("features"),
        common.seed,
    )?;

    // Speed at 50 GeV electrons, both measured here.
    let n_ref = o.speed_showers.max(1);
    let (_, ref_seconds) = reference_showers(&vec![50_000.0; n_ref], common.seed)?;
    let ref_rate = n_ref as f64 / ref_seconds.max(1e-9);
    let e50 = vec![50_000f32; 1000];
    // The diffusion model is ~100× slower than the GAN: time it on fewer showers.
    let (n_big, n_one) = match o.kind {
        CaloModelKind::Gan => (1000, 200),
        CaloModelKind::Diffusion => (200, 10),
    };
    let _ = model.generate(&e50[..10], 10, common.seed, &device); // warm-up
    let start = Instant::now();
    let _ = model.generate(&e50[..n_big], n_big, common.seed, &device);
    let gan_rate_1000 = n_big as f64 / start.elapsed().as_secs_f64().max(1e-9);
    let start = Instant::now();
    let _ = model.generate(&e50[..n_one], 1, common.seed, &device);
    let gan_rate_1 = n_one as f64 / start.elapsed().as_secs_f64().max(1e-9);

    let mut s = Summary::new();
    s.set(
        "model_kind",
        match o.kind {
            CaloModelKind::Gan => "gan",
            CaloModelKind::Diffusion => "diffusion",
        },
    );
    if o.kind == CaloModelKind::Diffusion {
        s.set("ddim_steps", o.ddim_steps);
    }
    s.set("reference_showers", reference.len());
    if let Some(c) = &report.classifier {
        s.set("auc", c.auc);
        s.set("jsd", c.jsd);
        s.set("classifier_best_epoch", c.best_epoch);
    }
    s.set(
        "separation_power_etot_over_einc",
        report.separation("etot_over_einc").unwrap_or(f64::NAN),
    );
    for kind in LAYER_FEATURES {
        s.set(
            format!("separation_power_mean_{kind}"),
            report.mean_separation(kind).unwrap_or(f64::NAN),
        );
    }
    s.set(
        "separation_power",
        serde_json::Value::Object(
            report
                .separation_power
                .iter()
                .map(|(n, v)| (n.clone(), serde_json::json!(v)))
                .collect(),
        ),
    );
    s.set(
        "mean_etot_over_einc_reference",
        report.mean_etot_over_einc[0],
    );
    s.set("mean_etot_over_einc_gan", report.mean_etot_over_einc[1]);
    s.set("showers_per_second_reference", ref_rate);
    s.set("showers_per_second_gan", gan_rate_1000);
    s.set("showers_per_second_gan_batch_1", gan_rate_1);
    s.set("speedup", gan_rate_1000 / ref_rate);
    s.set("speedup_batch_1", gan_rate_1 / ref_rate);
    s.set(
        "threads",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    s.report(&common.out, "hepnn evaluate calo")?;
    Ok(s)
}

/// `hepnn simulate calo --fast`: showers from the generator, in the reference's file layout.
pub fn simulate_fast(
    common: &Common,
    (kind, model, ddim_steps): (CaloModelKind, Option<&Path>, usize),
    energy: &EnergySpectrum,
    n: usize,
    file: &str,
) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    anyhow::ensure!(n > 0, "--showers must be at least 1");
    let device = Device::flex();
    let fast = FastModel::load(kind, model, ddim_steps, &device)?;
    let energies: Vec<f32> = energy
        .sample_mev(n, common.seed)
        .into_iter()
        .map(|e| e as f32)
        .collect();
    device.seed(common.seed);
    let start = Instant::now();
    let showers = fast.generate(&energies, 1000, common.seed, &device);
    let seconds = start.elapsed().as_secs_f64();
    let path = common.out.join(file);
    write_showers(&path, &showers).with_context(|| format!("writing {}", path.display()))?;
    let fractions: Vec<f64> = (0..showers.len())
        .map(|i| {
            showers.shower(i).iter().map(|&v| f64::from(v)).sum::<f64>()
                / f64::from(showers.incident_energies_mev[i])
        })
        .collect();
    let mut s = Summary::new();
    s.set("showers", n);
    s.set("model", "gan");
    s.set("file", path.display().to_string());
    s.set("simulation_seconds", seconds);
    s.set("showers_per_second", n as f64 / seconds.max(1e-9));
    s.set(
        "mean_etot_over_einc",
        fractions.iter().sum::<f64>() / fractions.len() as f64,
    );
    s.report(&common.out, "hepnn simulate calo --fast")?;
    Ok(s)
}
