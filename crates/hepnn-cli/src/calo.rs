//! `hepnn simulate calo`: electron or photon showers of the reference Monte Carlo of
//! `hepnn_sim::calo` in the CaloChallenge dataset-2 calorimeter, written in the challenge layout
//! (`showers.npz` or, with `--file showers.h5`, HDF5: `incident_energies` N × 1 MeV, `showers` N × 6,480 MeV), with the rate, the
//! mean sampling fraction and shower maximum in `summary.json`, and the mean longitudinal and
//! radial profiles as PNG plots.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use hepnn_core::io::calo::{CaloBinning, write_showers};
use hepnn_nn::plot::{LinePlot, Series};
use hepnn_sim::calo::voxelise::RADIAL_PROFILE_BIN_MM;
use hepnn_sim::calo::{
    CaloSimConfig, EnergySpectrum, IncidentParticle, containment_fraction, shower_maximum_x0,
    simulate_showers,
};

use crate::Common;
use crate::summary::{Summary, prepare_out};

/// Options of `hepnn simulate calo`.
#[derive(Debug, Clone, Args)]
pub struct SimulateCaloOptions {
    /// Incident particle: e- or gamma.
    #[arg(long, default_value = "e-")]
    pub particle: IncidentParticle,
    /// Incident energies, GeV: fixed:E or log-uniform:MIN:MAX.
    #[arg(long, default_value = "log-uniform:1:500")]
    pub energy: EnergySpectrum,
    /// Number of showers.
    #[arg(long, default_value_t = 100)]
    pub showers: usize,
    /// e± kinetic-energy cut, MeV.
    #[arg(long, default_value_t = 1.0)]
    pub electron_cut: f64,
    /// Photon energy cut (and bremsstrahlung threshold), MeV.
    #[arg(long, default_value_t = 0.1)]
    pub photon_cut: f64,
    /// Binning XML to check the built-in dataset-2 binning against (e.g.
    /// ../shared/data/calochallenge/binning_dataset_2.xml); only that binning is simulated.
    #[arg(long)]
    pub binning: Option<PathBuf>,
    /// File name of the showers under --out: `.npz` (numpy) or `.h5`/`.hdf5` (HDF5, the
    /// challenge's own format).
    #[arg(long, default_value = "showers.npz")]
    pub file: String,
    /// Generate the showers with the fast simulation (the GAN) instead of the Monte Carlo.
    #[arg(long)]
    pub fast: bool,
    /// With --fast: the model folder (default: the shipped generator, models/calo/gan).
    #[arg(long, requires = "fast")]
    pub model: Option<PathBuf>,
    /// With --fast: the model kind, gan or diffusion (diffusion needs --model).
    #[arg(long, value_enum, default_value = "gan", requires = "fast")]
    pub kind: crate::calo_gan::CaloModelKind,
    /// With --fast --kind diffusion: DDIM steps (0: DDPM over all the model's steps).
    #[arg(long, default_value_t = 20)]
    pub ddim_steps: usize,
}

/// Simulates the showers, writes them and the plots, and reports.
pub fn simulate(common: &Common, o: &SimulateCaloOptions) -> anyhow::Result<Summary> {
    if o.fast {
        anyhow::ensure!(
            o.particle == IncidentParticle::Electron,
            "the fast simulation is trained on electrons only"
        );
        return crate::calo_gan::simulate_fast(
            common,
            (o.kind, o.model.as_deref(), o.ddim_steps),
            &o.energy,
            o.showers,
            &o.file,
        );
    }
    prepare_out(&common.out)?;
    anyhow::ensure!(o.showers > 0, "--showers must be at least 1");
    let config = CaloSimConfig {
        electron_cut_mev: o.electron_cut,
        photon_cut_mev: o.photon_cut,
        ..CaloSimConfig::default()
    };
    if let Some(path) = &o.binning {
        let binning = CaloBinning::read_xml(path)
            .with_context(|| format!("reading the binning {}", path.display()))?;
        anyhow::ensure!(
            binning == config.geometry.binning,
            "{} is not the dataset-2 binning, the only one the reference geometry has",
            path.display()
        );
    }
    let energies = o.energy.sample_mev(o.showers, common.seed);
    let start = Instant::now();
    let showers = simulate_showers(&config, o.particle, &energies, common.seed)?;
    let seconds = start.elapsed().as_secs_f64();
    let path = common.out.join(&o.file);
    write_showers(&path, &showers.to_challenge())
        .with_context(|| format!("writing {}", path.display()))?;

    let g = &config.geometry;
    let depths = g.layer_depths_x0();
    let layer_profile = showers.mean_layer_profile();
    let radial_profile = showers.mean_radial_profile();
    let rm = g.effective_moliere_radius_mm();
    let fractions: Vec<f64> = showers
        .tallies
        .iter()
        .zip(&energies)
        .map(|(t, e)| t.silicon_mev / e)
        .collect();
    let mean_fraction = fractions.iter().sum::<f64>() / fractions.len() as f64;
    let in_voxels = showers
        .tallies
        .iter()
        .map(|t| t.voxels_mev.iter().map(|&v| f64::from(v)).sum::<f64>())
        .sum::<f64>()
        / showers
            .tallies
            .iter()
            .map(|t| t.silicon_mev)
            .sum::<f64>()
            .max(1e-300);

    LinePlot::new(
        format!("Mean longitudinal profile, {} showers", o.showers),
        "depth of the layer's silicon (X0)",
        "silicon energy per layer (MeV)",
    )
    .with(Series::markers(
        "simulated",
        depths
            .iter()
            .copied()
            .zip(layer_profile.iter().copied())
            .collect(),
    ))
    .save_png(&common.out.join("longitudinal_profile.png"))
    .context("plotting longitudinal_profile.png")?;
    let radial_points: Vec<(f64, f64)> = radial_profile
        .iter()
        .enumerate()
        .take(radial_profile.len() - 1)
        .filter(|(i, _)| (*i as f64 * RADIAL_PROFILE_BIN_MM) < 60.0)
        .map(|(i, e)| ((i as f64 + 0.5) * RADIAL_PROFILE_BIN_MM, e.max(1e-6)))
        .collect();
    LinePlot::new(
        format!("Mean radial profile (R_M = {rm:.1} mm)"),
        "distance from the axis (mm)",
        format!("silicon energy per {RADIAL_PROFILE_BIN_MM} mm ring (MeV)"),
    )
    .with(Series::line("simulated", radial_points))
    .log_y()
    .save_png(&common.out.join("radial_profile.png"))
    .context("plotting radial_profile.png")?;

    let mut s = Summary::new();
    s.set("showers", o.showers);
    s.set("particle", format!("{:?}", o.particle));
    s.set("file", path.display().to_string());
    s.set(
        "detector",
        format!(
            "{} layers × {} pairs of {} mm W + {} mm Si ({:.2} X0), {} voxels; X0_eff {:.2} mm, \
             R_M {:.2} mm, E_c {:.2} MeV",
            g.layers(),
            g.pairs_per_layer,
            g.absorber_mm,
            g.sensor_mm,
            g.depth_x0(),
            g.binning.num_voxels(),
            10.0 * g.effective_x0_g_cm2() / g.mean_density_g_cm3(),
            rm,
            g.effective_critical_energy_mev()
        ),
    );
    s.set("electron_cut_mev", config.electron_cut_mev);
    s.set("photon_cut_mev", config.photon_cut_mev);
    s.set("simulation_seconds", seconds);
    s.set("showers_per_second", o.showers as f64 / seconds.max(1e-9));
    s.set(
        "threads",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    s.set(
        "mean_incident_energy_gev",
        energies.iter().sum::<f64>() / 1000.0 / energies.len() as f64,
    );
    s.set("mean_silicon_over_incident", mean_fraction);
    s.set("voxel_fraction_of_silicon_energy", in_voxels);
    s.set("t_max_x0", shower_maximum_x0(g, &layer_profile));
    s.set(
        "containment_within_moliere_radius",
        containment_fraction(&radial_profile, rm),
    );
    s.set(
        "mean_particles_per_shower",
        showers
            .tallies
            .iter()
            .map(|t| t.particles as f64)
            .sum::<f64>()
            / o.showers as f64,
    );
    s.report(&common.out, "hepnn simulate calo")?;
    Ok(s)
}
