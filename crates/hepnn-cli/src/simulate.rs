//! `hepnn simulate`: TrackML-like events from the tracker simulation of `hepnn-sim`.
//!
//! Particles come from the built-in pile-up generator (`--pileup MU`) or from real TrackML
//! particles files (`--particles DIR`); the detector from `--detector detectors.csv` or the
//! built-in TrackML layout. Events run in parallel (rayon), each written atomically as
//! `event<id>-{hits,particles,truth}.csv[.gz]` into `--out`. Where the particles folder also holds
//! the real hits of an event, the real and simulated hit counts per layer are compared (table,
//! `layers_real_vs_simulated.png`, and `summary.json`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use hepnn_core::io::{Compression, event_prefix, find_event_file, trackml::EventFile};
use hepnn_nn::plot::{LinePlot, Series};
use hepnn_sim::tracker::generator::SecondaryModel;
use hepnn_sim::tracker::{
    Detector, GeneratorConfig, ParticleSource, RunConfig, SimConfig, run_events,
};

use crate::Common;
use crate::summary::{Summary, prepare_out};

/// Options of `hepnn simulate`.
#[derive(Debug, Clone, Args)]
pub struct SimulateOptions {
    /// Number of events.
    #[arg(long, default_value_t = 1)]
    pub events: usize,
    /// Mean number of pile-up vertices ⟨μ⟩ of the built-in generator (ignored with --particles).
    #[arg(long, default_value_t = 200.0)]
    pub pileup: f64,
    /// TrackML detectors.csv to simulate; the built-in TrackML layout when absent.
    #[arg(long)]
    pub detector: Option<PathBuf>,
    /// Folder of TrackML event*-particles.csv[.gz] files to simulate instead of generating.
    #[arg(long)]
    pub particles: Option<PathBuf>,
    /// Id of the first generated event.
    #[arg(long, default_value_t = 1)]
    pub first_event: u64,
    /// Write gzipped CSV files (.csv.gz).
    #[arg(long)]
    pub gzip: bool,
    /// Probability that a module crossing gives no hit.
    #[arg(long, default_value_t = 0.0)]
    pub inefficiency: f64,
    /// Mean number of noise hits per module and event (TrackML: 0.933).
    #[arg(long, default_value_t = 0.933)]
    pub noise_per_module: f64,
    /// Probability of absorption (nuclear interaction) per layer crossed at normal incidence.
    #[arg(long, default_value_t = hepnn_sim::tracker::propagation::ABSORPTION_PER_LAYER)]
    pub absorption_per_layer: f64,
    /// Momentum-dependent absorption b (GeV²): the probability per layer is
    /// absorption_per_layer + b/p².
    #[arg(long, default_value_t = hepnn_sim::tracker::propagation::ABSORPTION_SOFT_GEV2)]
    pub absorption_soft: f64,
    /// Loopers stop after this many loops in the transverse plane (ACTS loop protection: 0.5).
    #[arg(long, default_value_t = 0.75)]
    pub max_loops: f64,
    /// Draw the first event: x-y and r-z views of the hits of particles above
    /// --display-min-pt, coloured by sub-detector (event<id>_xy.png, event<id>_rz.png).
    #[arg(long)]
    pub display: bool,
    /// Smallest true pT (GeV) of the hits drawn by --display.
    #[arg(long, default_value_t = 1.0)]
    pub display_min_pt: f64,
    /// The built-in generator's secondaries (ignored with --particles).
    #[arg(long, value_enum, default_value = "two-component")]
    pub secondaries: SecondariesArg,
}

/// The generator's model of secondaries (`hepnn_sim::tracker::generator::SecondaryModel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SecondariesArg {
    /// Broad plus collimated secondaries, fitted to the TrackML particles files (the default).
    TwoComponent,
    /// The earlier model: stiff secondaries in random directions (what `models/tracking-real`
    /// was trained on).
    Isotropic,
}

/// Runs the simulation and returns its summary (also printed and written to summary.json).
pub fn run(common: &Common, options: &SimulateOptions) -> anyhow::Result<Summary> {
    let detector = match &options.detector {
        Some(path) => Detector::read(path)
            .with_context(|| format!("reading the detector {}", path.display()))?,
        None => Detector::trackml_default(),
    };
    let source = match &options.particles {
        Some(dir) => ParticleSource::files_in(dir)
            .with_context(|| format!("listing particles files in {}", dir.display()))?,
        None => {
            let base = match options.secondaries {
                SecondariesArg::TwoComponent => GeneratorConfig::default(),
                SecondariesArg::Isotropic => SecondaryModel::isotropic_config(),
            };
            ParticleSource::Generator(Box::new(GeneratorConfig {
                pileup: options.pileup,
                ..base
            }))
        }
    };
    let mut config = SimConfig::default();
    config.digitisation.inefficiency = options.inefficiency;
    config.noise.hits_per_module = options.noise_per_module;
    config.propagation.absorption_per_layer = options.absorption_per_layer;
    config.propagation.absorption_soft_gev2 = options.absorption_soft;
    config.propagation.max_turn = options.max_loops * std::f64::consts::TAU;
    prepare_out(&common.out)?;
    let run = RunConfig {
        events: options.events,
        first_event: options.first_event,
        seed: common.seed,
        out: common.out.clone(),
        compression: if options.gzip {
            Compression::Gzip
        } else {
            Compression::Plain
        },
    };
    let bar = indicatif::ProgressBar::new(options.events as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "simulate [{bar:30}] {pos}/{len} events {per_sec} ETA {eta}",
        )
        .expect("the template is valid")
        .progress_chars("=> "),
    );
    let start = Instant::now();
    let stats = run_events(&detector, &config, &source, &run, &|_| bar.inc(1))
        .with_context(|| format!("simulating into {}", common.out.display()))?;
    let wall = start.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let n = stats.len().max(1) as f64;
    let hits: usize = stats.iter().map(|s| s.hits).sum();
    let noise: usize = stats.iter().map(|s| s.noise_hits).sum();
    let particles: usize = stats.iter().map(|s| s.particles).sum();
    let mut summary = Summary::new();
    summary.set("events", stats.len());
    summary.set(
        "detector",
        options
            .detector
            .as_ref()
            .map_or("built-in TrackML layout".to_string(), |p| {
                p.display().to_string()
            }),
    );
    summary.set("modules", detector.module_count());
    summary.set(
        "particles_source",
        options
            .particles
            .as_ref()
            .map_or(format!("generator, pileup {}", options.pileup), |p| {
                p.display().to_string()
            }),
    );
    if options.particles.is_none() {
        summary.set(
            "secondaries",
            match options.secondaries {
                SecondariesArg::TwoComponent => "two_component",
                SecondariesArg::Isotropic => "isotropic",
            },
        );
    }
    summary.set("hits_per_event", hits as f64 / n);
    summary.set("particles_per_event", particles as f64 / n);
    summary.set(
        "noise_fraction",
        if hits > 0 {
            noise as f64 / hits as f64
        } else {
            0.0
        },
    );
    summary.set("seconds_per_event", wall / n);
    summary.set("events_per_second", n / wall.max(1e-9));
    summary.set(
        "cpu_seconds_per_event",
        stats.iter().map(|s| s.seconds).sum::<f64>() / n,
    );
    summary.set(
        "simulation_seconds_per_event",
        stats.iter().map(|s| s.simulation_seconds).sum::<f64>() / n,
    );
    summary.set("threads", cpu_threads());
    if let Some(dir) = &options.particles {
        compare_with_real(dir, &common.out, &stats, &mut summary)?;
    }
    if options.display
        && let Some(first) = stats.first()
    {
        let files = draw_event(&common.out, first.event_id, options.display_min_pt)?;
        summary.set("display", files);
    }
    summary.report(&common.out, "hepnn simulate")?;
    Ok(summary)
}

fn cpu_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Hits per (volume, layer) of the hits file of `prefix` in `dir`, if there is one.
fn layer_counts(dir: &Path, prefix: &str) -> anyhow::Result<Option<BTreeMap<(u32, u32), usize>>> {
    let Some(path) = find_event_file(dir, prefix, EventFile::Hits)? else {
        return Ok(None);
    };
    let hits = hepnn_core::io::read_hits(&path)?;
    let mut counts = BTreeMap::new();
    for hit in &hits {
        *counts.entry((hit.volume_id, hit.layer_id)).or_insert(0) += 1;
    }
    Ok(Some(counts))
}

/// Real hits, prefix, real and simulated (layer index, hits) points of one compared event.
type PlottedEvent = (usize, String, Vec<(f64, f64)>, Vec<(f64, f64)>);

/// Real vs simulated hits per layer for every event whose real hits are in `particles_dir`.
fn compare_with_real(
    particles_dir: &Path,
    out: &Path,
    stats: &[hepnn_sim::tracker::EventStats],
    summary: &mut Summary,
) -> anyhow::Result<()> {
    // The largest compared event is plotted.
    let mut plotted: Option<PlottedEvent> = None;
    let mut table = String::new();
    for event in stats {
        let prefix = event_prefix(event.event_id);
        let Some(real) = layer_counts(particles_dir, &prefix)? else {
            continue;
        };
        let simulated = layer_counts(out, &prefix)?.unwrap_or_default();
        table.push_str(&format!(
            "{prefix}: hits per layer, real vs simulated\nvolume layer   real    sim  ratio\n"
        ));
        let mut per_volume: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
        let (mut real_points, mut sim_points) = (Vec::new(), Vec::new());
        let layers: std::collections::BTreeSet<(u32, u32)> =
            real.keys().chain(simulated.keys()).copied().collect();
        for (index, &(volume, layer)) in layers.iter().enumerate() {
            let n_real = real.get(&(volume, layer)).copied().unwrap_or(0);
            let n_sim = simulated.get(&(volume, layer)).copied().unwrap_or(0);
            table.push_str(&format!(
                "{volume:>6} {layer:>5} {n_real:>6} {n_sim:>6} {:>6.3}\n",
                n_sim as f64 / n_real.max(1) as f64
            ));
            let entry = per_volume.entry(volume).or_default();
            entry.0 += n_real;
            entry.1 += n_sim;
            real_points.push((index as f64, n_real as f64));
            sim_points.push((index as f64, n_sim as f64));
        }
        let (total_real, total_sim) = per_volume
            .values()
            .fold((0, 0), |(a, b), &(r, s)| (a + r, b + s));
        for (volume, (n_real, n_sim)) in &per_volume {
            summary.set(
                format!("{prefix}_volume{volume}_sim_over_real"),
                *n_sim as f64 / (*n_real).max(1) as f64,
            );
        }
        summary.set(format!("{prefix}_real_hits"), total_real);
        summary.set(format!("{prefix}_simulated_hits"), total_sim);
        summary.set(
            format!("{prefix}_sim_over_real"),
            total_sim as f64 / total_real.max(1) as f64,
        );
        if plotted.as_ref().is_none_or(|p| p.0 < total_real) {
            plotted = Some((total_real, prefix, real_points, sim_points));
        }
    }
    let Some((_, prefix, real_points, sim_points)) = plotted else {
        return Ok(());
    };
    eprint!("{table}");
    LinePlot::new(
        format!("Hits per layer, {prefix}: real TrackML vs hepnn simulate"),
        "layer index (volumes 7, 8, 9, 12, 13, 14, 16, 17, 18; layers in order)",
        "hits",
    )
    .with(Series::markers("real", real_points))
    .with(Series::markers("simulated", sim_points))
    .save_png(&out.join("layers_real_vs_simulated.png"))
    .context("plotting layers_real_vs_simulated.png")?;
    Ok(())
}

/// Sub-detector of a TrackML volume, for colouring.
fn subdetector(volume_id: u32) -> &'static str {
    match volume_id {
        7..=9 => "pixels",
        12..=14 => "short strips",
        16..=18 => "long strips",
        _ => "other",
    }
}

/// Draws the x-y and r-z views of event `event_id` in `out`: the hits whose true pT exceeds
/// `min_pt` (noise left out), one colour per sub-detector. Returns the file names.
fn draw_event(out: &Path, event_id: u64, min_pt: f64) -> anyhow::Result<String> {
    let prefix = event_prefix(event_id);
    let event = hepnn_core::io::read_event(out, &prefix)
        .with_context(|| format!("reading back {prefix} for the display"))?;
    let mut xy: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    let mut rz: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for (hit, truth) in event.hits.iter().zip(&event.truth) {
        if truth.particle_id.is_noise() || truth.tpx.hypot(truth.tpy) < min_pt {
            continue;
        }
        let group = subdetector(hit.volume_id);
        xy.entry(group).or_default().push((hit.x, hit.y));
        let signed_r = if hit.y >= 0.0 { hit.r() } else { -hit.r() };
        rz.entry(group).or_default().push((hit.z, signed_r));
    }
    if xy.is_empty() {
        return Ok(String::new());
    }
    let title = format!("{prefix}: hits of particles with pT > {min_pt} GeV");
    let mut names = Vec::new();
    for (view, points, x_label, y_label) in [
        ("xy", xy, "x (mm)", "y (mm)"),
        ("rz", rz, "z (mm)", "r (mm), signed by y"),
    ] {
        let mut plot = LinePlot::new(format!("{title} ({view})"), x_label, y_label);
        for (group, group_points) in points {
            plot = plot.with(Series::markers(group, group_points));
        }
        let name = format!("{prefix}_{view}.png");
        plot.save_png(&out.join(&name))
            .with_context(|| format!("plotting {name}"))?;
        names.push(name);
    }
    Ok(names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn common(out: &Path, seed: u64) -> Common {
        Common {
            seed,
            out: out.to_path_buf(),
            device: "cpu".into(),
        }
    }

    fn options() -> SimulateOptions {
        SimulateOptions {
            events: 2,
            pileup: 5.0,
            detector: None,
            particles: None,
            first_event: 1,
            gzip: true,
            inefficiency: 0.0,
            noise_per_module: 0.05,
            absorption_per_layer: hepnn_sim::tracker::propagation::ABSORPTION_PER_LAYER,
            absorption_soft: hepnn_sim::tracker::propagation::ABSORPTION_SOFT_GEV2,
            max_loops: 0.75,
            display: true,
            display_min_pt: 0.5,
            secondaries: SecondariesArg::TwoComponent,
        }
    }

    #[test]
    fn simulate_writes_events_summary_and_display() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let summary = run(&common(dir.path(), 3), &options()).expect("runs");
        assert_eq!(summary.get("events"), Some(&serde_json::json!(2)));
        let hits = summary
            .get("hits_per_event")
            .and_then(|v| v.as_f64())
            .expect("a number");
        assert!(hits > 500.0, "{hits}");
        for name in [
            "summary.json",
            "event000000001-hits.csv.gz",
            "event000000002-truth.csv.gz",
            "event000000001_xy.png",
            "event000000001_rz.png",
        ] {
            assert!(dir.path().join(name).is_file(), "{name}");
        }
        let event = hepnn_core::io::read_event(dir.path(), "event000000002").expect("reads");
        assert_eq!(event.hits.len(), event.truth.len());
    }

    #[test]
    fn real_hits_beside_the_particles_are_compared_per_layer() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let input = dir.path().join("input");
        let out = dir.path().join("out");
        std::fs::create_dir(&input).expect("writable");
        // One stiff central track and a "real" hits file holding one hit per barrel layer.
        std::fs::write(
            input.join("event000000042-particles.csv"),
            "particle_id,vx,vy,vz,px,py,pz,q,nhits\n7,0,0,0,5,1,0.5,1,10\n",
        )
        .expect("writable");
        let mut real = String::from("hit_id,x,y,z,volume_id,layer_id,module_id\n");
        for (i, (volume, layer)) in [(8, 2), (8, 4), (13, 2), (17, 2)].iter().enumerate() {
            real.push_str(&format!("{},1,1,1,{volume},{layer},1\n", i + 1));
        }
        std::fs::write(input.join("event000000042-hits.csv"), real).expect("writable");
        let options = SimulateOptions {
            events: 1,
            particles: Some(input),
            gzip: false,
            noise_per_module: 0.0,
            display: false,
            ..options()
        };
        let summary = run(&common(&out, 1), &options).expect("runs");
        assert_eq!(
            summary.get("event000000042_real_hits"),
            Some(&serde_json::json!(4))
        );
        // The track crosses up to 10 barrel layers, some twice (module overlaps).
        let simulated = summary
            .get("event000000042_simulated_hits")
            .and_then(|v| v.as_u64())
            .expect("a count");
        assert!((1..=20).contains(&simulated), "{simulated}");
        assert!(out.join("layers_real_vs_simulated.png").is_file());
    }
}
