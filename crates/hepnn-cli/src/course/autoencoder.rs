//! `hepnn examples autoencoder`: autoencoders on reference calorimeter showers — a 2-D latent
//! map coloured by incident energy, denoising of electronic noise, anomaly detection by
//! reconstruction error (`hepnn_calo::anomaly`).

use clap::Args;
use hepnn_calo::anomaly::{AeStudyConfig, run_studies};

use crate::Common;
use crate::summary::{Summary, prepare_out};

/// Options of `hepnn examples autoencoder`.
#[derive(Debug, Clone, Args)]
pub struct AutoencoderArgs {
    /// Training showers (electrons).
    #[arg(long, default_value_t = 1_500)]
    pub showers: usize,
    /// Held-out showers (electrons, and as many photons).
    #[arg(long, default_value_t = 300)]
    pub test_showers: usize,
    /// Training epochs of each autoencoder.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Electronic noise σ per voxel, MeV.
    #[arg(long, default_value_t = 0.1)]
    pub noise_mev: f64,
}

/// Runs the studies; writes `latent_map.png`, `anomaly_roc.png`, `anomaly_scores.png`,
/// the training folders and `summary.json`.
pub fn run(common: &Common, args: &AutoencoderArgs) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    let device = crate::device::parse(&common.device)?;
    let config = AeStudyConfig {
        train_showers: args.showers,
        test_showers: args.test_showers,
        epochs: args.epochs,
        noise_mev: args.noise_mev,
        ..AeStudyConfig::default()
    };
    let mut s = Summary::new();
    for (name, value) in run_studies(&config, &common.out, common.seed, &device)? {
        s.set(name, value);
    }
    s.report(&common.out, "Autoencoders on calorimeter showers")?;
    Ok(s)
}
