//! `hepnn examples diffusion`: a diffusion model learns two moons; DDPM (all T steps) and DDIM
//! (fewer steps) samples against held-out data by energy distance; a scatter plot.
//!
//! `hepnn examples calo-diffusion`: the conditional shower diffusion model of
//! `hepnn_calo::diffusion` trained on reference showers, sampled with DDPM and DDIM, with
//! showers/s.

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use clap::Args;
use hepnn_calo::diffusion::{CaloDiffusionConfig, train_calo_diffusion};
use hepnn_calo::validation::{LAYER_FEATURES, ValidationConfig, validate};
use hepnn_nn::diffusion::moons::{self, MoonsConfig, energy_distance, from_tensor, two_moons};
use hepnn_nn::diffusion::{SampleOptions, Sampler};
use hepnn_nn::plot::{LinePlot, Series};
use hepnn_sim::calo::{CaloSimConfig, EnergySpectrum, IncidentParticle, simulate_showers};

use crate::Common;
use crate::summary::{Summary, prepare_out};

/// Options of `hepnn examples diffusion`.
#[derive(Debug, Clone, Args)]
pub struct DiffusionArgs {
    /// Training epochs.
    #[arg(long, default_value_t = 40)]
    pub epochs: usize,
    /// DDIM steps.
    #[arg(long, default_value_t = 20)]
    pub ddim_steps: usize,
}

/// Runs the two-moons example; writes `moons.png`, `training/` and `summary.json`.
pub fn run(common: &Common, args: &DiffusionArgs) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    let device = crate::device::parse(&common.device)?;
    let config = MoonsConfig {
        epochs: args.epochs,
        ..MoonsConfig::default()
    };
    let start = Instant::now();
    let (diffusion, model) =
        moons::train(&config, &common.out.join("training"), common.seed, &device)?;
    let mut s = Summary::new();
    s.set("train_seconds", start.elapsed().as_secs_f64());
    let (held_out, _) = two_moons(1_000, config.noise, common.seed ^ 0x4E1D);
    let (other, _) = two_moons(1_000, config.noise, common.seed ^ 0x07E5);
    device.seed(common.seed);
    let noise = from_tensor(Tensor::<2>::random(
        [1_000, 2],
        Distribution::Normal(0.0, 1.0),
        &device,
    ));
    let start = Instant::now();
    let ddpm = from_tensor(diffusion.sample(
        &model,
        1_000,
        2,
        None,
        &SampleOptions::ddpm(common.seed),
        &device,
    ));
    let ddpm_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let ddim = from_tensor(diffusion.sample(
        &model,
        1_000,
        2,
        None,
        &SampleOptions::ddim(args.ddim_steps, common.seed),
        &device,
    ));
    let ddim_seconds = start.elapsed().as_secs_f64();
    s.set("diffusion_steps", config.steps as f64);
    s.set("ddim_steps", args.ddim_steps as f64);
    s.set(
        "energy_distance_data_vs_data",
        energy_distance(&held_out, &other),
    );
    s.set("energy_distance_noise", energy_distance(&noise, &held_out));
    s.set("energy_distance_ddpm", energy_distance(&ddpm, &held_out));
    s.set("energy_distance_ddim", energy_distance(&ddim, &held_out));
    s.set("samples_per_second_ddpm", 1_000.0 / ddpm_seconds);
    s.set("samples_per_second_ddim", 1_000.0 / ddim_seconds);
    let pts = |p: &[[f64; 2]]| p.iter().map(|q| (q[0], q[1])).collect::<Vec<_>>();
    LinePlot::new("Two moons: data and diffusion samples", "x", "y")
        .with(Series::markers("held-out data", pts(&held_out)))
        .with(Series::markers(
            format!("DDPM ({} steps)", config.steps),
            pts(&ddpm),
        ))
        .with(Series::markers(
            format!("DDIM ({} steps)", args.ddim_steps),
            pts(&ddim),
        ))
        .save_png(&common.out.join("moons.png"))?;
    s.report(
        &common.out,
        "Diffusion on two moons (energy distance to held-out data)",
    )?;
    Ok(s)
}

/// Options of `hepnn examples calo-diffusion`.
#[derive(Debug, Clone, Args)]
pub struct CaloDiffusionArgs {
    /// Training showers (electrons, log-uniform energies).
    #[arg(long, default_value_t = 1_000)]
    pub showers: usize,
    /// Incident energies, GeV: fixed:E or log-uniform:MIN:MAX.
    #[arg(long, default_value = "log-uniform:2:20")]
    pub energy: EnergySpectrum,
    /// Training epochs.
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    /// Diffusion steps T (DDPM samples with all of them).
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// DDIM steps.
    #[arg(long, default_value_t = 20)]
    pub ddim_steps: usize,
    /// Showers generated with each sampler (timing and comparison).
    #[arg(long, default_value_t = 200)]
    pub generate: usize,
    /// Skip the validation's classifier test (features and separation powers only).
    #[arg(long)]
    pub no_classifier: bool,
    /// Continue from the last checkpoint under OUT/training.
    #[arg(long)]
    pub resume: bool,
}

/// Trains the shower diffusion model, samples DDPM and DDIM showers, writes
/// `reference.npz`, `ddpm.npz`, `ddim.npz`, `profile.png`, the model and `summary.json`.
pub fn run_calo(common: &Common, args: &CaloDiffusionArgs) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    let device = crate::device::parse(&common.device)?;
    let sim = CaloSimConfig::default();
    let n = args.showers + args.generate;
    let energies = args.energy.sample_mev(n, common.seed);
    let start = Instant::now();
    let all =
        simulate_showers(&sim, IncidentParticle::Electron, &energies, common.seed)?.to_challenge();
    let sim_rate = n as f64 / start.elapsed().as_secs_f64();
    let voxels = all.voxels;
    let split = args.showers * voxels;
    let train = hepnn_core::io::calo::CaloShowers {
        incident_energies_mev: all.incident_energies_mev[..args.showers].to_vec(),
        showers_mev: all.showers_mev[..split].to_vec(),
        voxels,
    };
    let reference = hepnn_core::io::calo::CaloShowers {
        incident_energies_mev: all.incident_energies_mev[args.showers..].to_vec(),
        showers_mev: all.showers_mev[split..].to_vec(),
        voxels,
    };
    let config = CaloDiffusionConfig {
        steps: args.steps,
        epochs: args.epochs,
        ..CaloDiffusionConfig::default()
    };
    let start = Instant::now();
    let model = train_calo_diffusion(
        &train,
        &config,
        &common.out.join("training"),
        common.seed,
        args.resume,
        &device,
    )?;
    let mut s = Summary::new();
    s.set("train_showers", args.showers as f64);
    s.set("train_seconds", start.elapsed().as_secs_f64());
    s.set("showers_per_second_reference", sim_rate);
    hepnn_core::io::calo::write_showers_npz(common.out.join("reference.npz"), &reference)?;
    let layers = sim.geometry.binning.layers.len();
    let profile = |sh: &hepnn_core::io::calo::CaloShowers| -> Vec<(f64, f64)> {
        let per = voxels / layers;
        let mut p = vec![0.0; layers];
        for row in sh.showers_mev.chunks(voxels) {
            for (l, v) in p.iter_mut().enumerate() {
                *v += row[l * per..(l + 1) * per]
                    .iter()
                    .map(|&x| f64::from(x))
                    .sum::<f64>();
            }
        }
        p.iter()
            .enumerate()
            .map(|(l, v)| (l as f64, v / sh.len().max(1) as f64))
            .collect()
    };
    let ratio = |sh: &hepnn_core::io::calo::CaloShowers| -> f64 {
        sh.showers_mev
            .chunks(voxels)
            .zip(&sh.incident_energies_mev)
            .map(|(r, e)| r.iter().map(|&x| f64::from(x)).sum::<f64>() / f64::from(*e))
            .sum::<f64>()
            / sh.len().max(1) as f64
    };
    s.set("e_total_over_e_inc_reference", ratio(&reference));
    let mut plot = LinePlot::new("Mean energy per layer", "layer", "MeV")
        .with(Series::line("reference", profile(&reference)));
    for (name, sampler) in [
        ("ddpm", Sampler::Ddpm),
        (
            "ddim",
            Sampler::Ddim {
                steps: args.ddim_steps,
                eta: 0.0,
            },
        ),
    ] {
        let start = Instant::now();
        let generated = model.sample(
            &reference.incident_energies_mev,
            sampler,
            common.seed ^ 0x6E,
            &device,
        );
        s.set(
            format!("showers_per_second_{name}"),
            reference.len() as f64 / start.elapsed().as_secs_f64(),
        );
        s.set(format!("e_total_over_e_inc_{name}"), ratio(&generated));
        plot = plot.with(Series::line(name.to_uppercase(), profile(&generated)));
        hepnn_core::io::calo::write_showers_npz(
            common.out.join(format!("{name}.npz")),
            &generated,
        )?;
        let mut vconfig = ValidationConfig::default();
        if args.no_classifier {
            vconfig.classifier = None;
        }
        let report = validate(
            &reference,
            &generated,
            &sim.geometry.binning,
            &vconfig,
            &common.out.join(format!("features_{name}")),
            common.seed,
        )?;
        if let Some(c) = &report.classifier {
            s.set(format!("auc_{name}"), c.auc);
            s.set(format!("jsd_{name}"), c.jsd);
        }
        for kind in std::iter::once("etot_over_einc").chain(LAYER_FEATURES) {
            if let Some(sep) = report.mean_separation(kind) {
                s.set(format!("separation_{kind}_{name}"), sep);
            }
        }
        let json = serde_json::to_vec_pretty(&report.separation_power)?;
        hepnn_nn::plot::atomic_write(&common.out.join(format!("separation_{name}.json")), &json)?;
    }
    plot.save_png(&common.out.join("profile.png"))?;
    s.report(&common.out, "Calorimeter shower diffusion (DDPM and DDIM)")?;
    Ok(s)
}
