//! `hepnn simulate neutrino`, `hepnn train neutrino`, `hepnn evaluate neutrino`: the two-view CNN
//! event classifier (NOvA CVN, arXiv:1604.01444) on events of hepnn-sim's NOvA-like detector, and
//! the cut-based νe selection it is measured against.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use burn::config::Config;
use burn::module::Module;
use burn::optim::AdamConfig;
use burn::prelude::Device;
use clap::Args;
use hepnn_neutrino::baseline::{self, features};
use hepnn_neutrino::data::EventSet;
use hepnn_neutrino::metrics::{
    CLASS_NAMES, CLASS_TITLES, classify, efficiency_at_purity, plot_confusion, plot_roc, roc,
    selection_curve,
};
use hepnn_neutrino::model::{TwoViewCnn, TwoViewCnnConfig};
use hepnn_neutrino::task::{NeutrinoTask, class_scores};
use hepnn_nn::cnn::image::{Palette, save_image_png};
use hepnn_nn::plot::{LinePlot, Series};
use hepnn_nn::train::{TrainConfig, Trainer};
use hepnn_sim::neutrino::io::{read_events, write_events};
use hepnn_sim::neutrino::{Interaction, SimulationConfig, simulate_events};
use serde_json::json;

use crate::Common;
use crate::summary::{Summary, prepare_out};

/// First event index of the validation sample (disjoint from training's 0…).
const VALID_FIRST: u64 = 5_000_000;

/// Options of `hepnn simulate neutrino`.
#[derive(Debug, Clone, Args)]
pub struct SimulateNeutrinoOptions {
    /// Number of events (νμ CC, νe CC, NC in turn).
    #[arg(long, default_value_t = 3000)]
    pub events: usize,
    /// Index of the first event (events with other indices are independent).
    #[arg(long, default_value_t = 0)]
    pub first_index: u64,
    /// File name of the events under --out.
    #[arg(long, default_value = "events.npz")]
    pub file: String,
}

/// Options of `hepnn train neutrino`.
#[derive(Debug, Clone, Args)]
pub struct TrainNeutrinoOptions {
    /// Training events simulated on the fly (ignored with --train-file).
    #[arg(long, default_value_t = 9000)]
    pub train_events: usize,
    /// Training events from a file of `hepnn simulate neutrino` instead.
    #[arg(long)]
    pub train_file: Option<PathBuf>,
    /// Validation events (simulated, indices from 5,000,000).
    #[arg(long, default_value_t = 1500)]
    pub valid_events: usize,
    /// Training epochs.
    #[arg(long, default_value_t = 6)]
    pub epochs: usize,
    /// Events per optimizer step.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Initial learning rate (Adam, cosine-annealed to 1 % over the run).
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    /// Channels of each tower's convolution blocks, comma-separated.
    #[arg(long, default_value = "8,16,32")]
    pub channels: String,
    /// Hidden units of the merged MLP.
    #[arg(long, default_value_t = 64)]
    pub hidden: usize,
    /// Continue from the last checkpoint in OUT/neutrino_cnn.
    #[arg(long)]
    pub resume: bool,
}

/// Options of `hepnn evaluate neutrino`.
#[derive(Debug, Clone, Args)]
pub struct EvaluateNeutrinoOptions {
    /// The trained model folder (OUT/neutrino_cnn of `hepnn train neutrino`).
    #[arg(long)]
    pub model: PathBuf,
    /// Test events simulated on the fly (ignored with --test-file).
    #[arg(long, default_value_t = 3000)]
    pub test_events: usize,
    /// Index of the first simulated test event (training uses 0…, validation 5,000,000…).
    #[arg(long, default_value_t = 10_000_000)]
    pub test_first_index: u64,
    /// Test events from a file of `hepnn simulate neutrino` instead.
    #[arg(long)]
    pub test_file: Option<PathBuf>,
    /// Purity required of the νe CC selections (CNN and cuts) when comparing efficiencies.
    #[arg(long, default_value_t = 0.8)]
    pub purity: f64,
}

fn simulated(n: usize, seed: u64, first: u64) -> EventSet {
    let config = SimulationConfig::default();
    EventSet {
        events: simulate_events(&config, n, seed, first),
        planes: config.detector.planes_per_view(),
        cells: config.detector.cells,
    }
}

fn from_file(path: &Path) -> anyhow::Result<EventSet> {
    let (events, planes, cells) =
        read_events(path).with_context(|| format!("reading events {}", path.display()))?;
    Ok(EventSet {
        events,
        planes,
        cells,
    })
}

/// Draws one view (beam left to right) as a heat map.
fn draw_view(
    path: &Path,
    title: &str,
    view: &[f32],
    planes: usize,
    cells: usize,
) -> anyhow::Result<()> {
    let mut t = vec![0.0f32; view.len()];
    for p in 0..planes {
        for c in 0..cells {
            t[c * planes + p] = view[p * cells + c];
        }
    }
    save_image_png(path, title, &t, cells, planes, 8, Palette::Heat)?;
    Ok(())
}

/// Simulates events into `OUT/<file>`, draws the first event of each class
/// (`event_<class>_{xz,yz}.png`), and reports the rate.
pub fn simulate(common: &Common, o: &SimulateNeutrinoOptions) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    let config = SimulationConfig::default();
    let (planes, cells) = (config.detector.planes_per_view(), config.detector.cells);
    let start = Instant::now();
    let events = simulate_events(&config, o.events, common.seed, o.first_index);
    let seconds = start.elapsed().as_secs_f64();
    let path = common.out.join(&o.file);
    let write_start = Instant::now();
    write_events(&path, &events, planes, cells)
        .with_context(|| format!("writing {}", path.display()))?;
    let write_seconds = write_start.elapsed().as_secs_f64();
    let mut drawn = Vec::new();
    for class in Interaction::ALL {
        if let Some(e) = events.iter().find(|e| e.truth.interaction == class) {
            for (view, pixels) in [("xz", &e.xz), ("yz", &e.yz)] {
                let name = format!("event_{}_{view}.png", class.name());
                let title = format!(
                    "{}, E_ν = {:.2} GeV, {} view (MeV per cell)",
                    CLASS_TITLES[class.label()],
                    e.truth.neutrino_energy_gev,
                    view.to_uppercase()
                );
                draw_view(&common.out.join(&name), &title, pixels, planes, cells)?;
                drawn.push(name);
            }
        }
    }
    let d = &config.detector;
    let mut s = Summary::new();
    s.set("events", events.len());
    s.set("file", path.display().to_string());
    s.set(
        "detector",
        format!(
            "{} planes ({} per view) × {} cells, cells {} × {} cm, {:.2} m × {:.2} m × {:.2} m, \
             liquid scintillator in PVC, X0 {} cm, Molière radius {} cm",
            d.planes,
            d.planes_per_view(),
            d.cells,
            d.cell_width_cm,
            d.plane_depth_cm,
            d.width_cm() / 100.0,
            d.width_cm() / 100.0,
            d.depth_cm() / 100.0,
            d.radiation_length_cm,
            d.moliere_radius_cm
        ),
    );
    s.set("simulation_seconds", seconds);
    s.set("events_per_second", events.len() as f64 / seconds.max(1e-9));
    s.set("write_seconds", write_seconds);
    s.set(
        "threads",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    s.set(
        "mean_hits_per_event",
        events
            .iter()
            .map(|e| e.xz.iter().chain(&e.yz).filter(|&&v| v > 0.0).count())
            .sum::<usize>() as f64
            / events.len().max(1) as f64,
    );
    s.set("displays", drawn.join(", "));
    s.report(&common.out, "hepnn simulate neutrino")?;
    Ok(s)
}

fn parse_channels(s: &str) -> anyhow::Result<Vec<usize>> {
    let channels: Result<Vec<usize>, _> = s.split(',').map(|c| c.trim().parse()).collect();
    match channels {
        Ok(c) if !c.is_empty() && c.iter().all(|&n| n > 0) => Ok(c),
        _ => anyhow::bail!(
            "--channels {s:?}: expected positive integers separated by commas, e.g. 8,16,32"
        ),
    }
}

/// Trains the classifier; writes `OUT/neutrino_cnn/{config.json, model.bpk, checkpoint/,
/// metrics.csv, training.png}` and `OUT/summary.json`.
pub fn train(common: &Common, o: &TrainNeutrinoOptions) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    let channels = parse_channels(&o.channels)?;
    let device = crate::device::parse(&common.device)?.autodiff();
    let sim_start = Instant::now();
    let train = match &o.train_file {
        Some(path) => from_file(path)?,
        None => simulated(o.train_events, common.seed, 0),
    };
    let valid = simulated(o.valid_events, common.seed, VALID_FIRST);
    let sim_seconds = sim_start.elapsed().as_secs_f64();
    if train.is_empty() {
        anyhow::bail!("no training events (--train-events 0 or an empty --train-file)");
    }
    if (train.planes, train.cells) != (valid.planes, valid.cells) {
        anyhow::bail!(
            "training events are {} × {}, the detector's views {} × {}",
            train.planes,
            train.cells,
            valid.planes,
            valid.cells
        );
    }
    device.seed(common.seed);
    let config = TwoViewCnnConfig::new()
        .with_planes(train.planes)
        .with_cells(train.cells)
        .with_channels(channels)
        .with_hidden(o.hidden);
    let model = config.init(&device);
    let model_dir = common.out.join("neutrino_cnn");
    std::fs::create_dir_all(&model_dir)
        .with_context(|| format!("creating {}", model_dir.display()))?;
    let train_config = TrainConfig::cosine(o.epochs, o.batch, o.lr, common.seed, train.len());
    let task = NeutrinoTask {
        train: &train,
        valid: &valid,
        device: device.clone(),
    };
    let start = Instant::now();
    let outcome = Trainer::new(train_config, &model_dir)?.fit(
        &task,
        model,
        AdamConfig::new().init(),
        &device,
        o.resume,
    )?;
    let seconds = start.elapsed().as_secs_f64();
    save_model(&model_dir, &config, &outcome.model)?;
    let mut s = Summary::new();
    s.set("train_events", train.len());
    s.set("valid_events", valid.len());
    s.set("simulation_seconds", sim_seconds);
    s.set("epochs", outcome.history.len());
    s.set("param_count", outcome.model.num_params());
    s.set("train_seconds", seconds);
    s.set(
        "train_events_per_second",
        (train.len() * outcome.epochs_run) as f64 / seconds.max(1e-9),
    );
    s.set_last_epoch(&outcome.history, "");
    s.set("model", model_dir.display().to_string());
    s.report(
        &common.out,
        "Two-view CNN (νμ CC / νe CC / NC), validation events",
    )?;
    Ok(s)
}

fn save_model(dir: &Path, config: &TwoViewCnnConfig, model: &TwoViewCnn) -> anyhow::Result<()> {
    let json = serde_json::to_vec_pretty(config).context("serialising the model config")?;
    hepnn_nn::plot::atomic_write(&dir.join("config.json"), &json)?;
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("serialising the weights: {e:?}"))?;
    hepnn_nn::plot::atomic_write(&dir.join("model.bpk"), &bytes)?;
    Ok(())
}

/// Loads a model folder written by [`train`].
pub fn load_model(dir: &Path, device: &Device) -> anyhow::Result<TwoViewCnn> {
    let config_path = dir.join("config.json");
    let config = TwoViewCnnConfig::load(&config_path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", config_path.display()))?;
    let weights = dir.join("model.bpk");
    config
        .init(device)
        .try_load_file(&weights)
        .map_err(|e| anyhow::anyhow!("{}: {e:?}", weights.display()))
}

/// Evaluates a trained classifier and the cut baseline on held-out events; writes
/// `OUT/summary.json` (`efficiency` and `purity` per class, the νe CC selections at equal
/// purity), `confusion.png`, `roc.png`, `nue_efficiency_vs_purity.png`.
pub fn evaluate(common: &Common, o: &EvaluateNeutrinoOptions) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    let device = crate::device::parse(&common.device)?;
    let model = load_model(&o.model, &device)?;
    let test = match &o.test_file {
        Some(path) => from_file(path)?,
        None => simulated(o.test_events, common.seed, o.test_first_index),
    };
    if test.is_empty() {
        anyhow::bail!("no test events");
    }
    let start = Instant::now();
    let scores = class_scores(&model, &test, &device);
    let ms_per_event = start.elapsed().as_secs_f64() * 1e3 / test.len() as f64;
    let labels = test.labels();
    let m = classify(&scores, &labels);

    let mut s = Summary::new();
    s.set("test_events", test.len());
    s.set("accuracy", m.accuracy);
    let per_class =
        |v: [f64; 3]| json!({ CLASS_NAMES[0]: v[0], CLASS_NAMES[1]: v[1], CLASS_NAMES[2]: v[2] });
    s.set("efficiency", per_class(m.efficiency));
    s.set("purity", per_class(m.purity));
    s.set("confusion_matrix", json!(m.confusion));

    // ROC per class, one against the rest.
    let mut curves = Vec::new();
    let mut aucs = [0.0; 3];
    for k in 0..3 {
        let score: Vec<f64> = scores.iter().map(|r| r[k]).collect();
        let signal: Vec<bool> = labels.iter().map(|&l| l == k).collect();
        let (points, auc) = roc(&score, &signal);
        aucs[k] = auc;
        curves.push((format!("{} (AUC {auc:.3})", CLASS_TITLES[k]), points));
    }
    s.set("auc", per_class(aucs));
    plot_roc(
        &common.out.join("roc.png"),
        "Two-view CNN: ROC of each class against the others",
        &curves,
    )?;
    plot_confusion(
        &common.out.join("confusion.png"),
        "Two-view CNN, test events (rows: true class)",
        &m.confusion,
    )?;

    // νe CC selections at equal purity: the CNN's νe probability vs the cuts.
    let nue_score: Vec<f64> = scores.iter().map(|r| r[1]).collect();
    let is_nue: Vec<bool> = labels.iter().map(|&l| l == 1).collect();
    let cnn_curve = selection_curve(&nue_score, &is_nue);
    let feats: Vec<_> = test
        .events
        .iter()
        .map(|e| features(e, test.planes, test.cells))
        .collect();
    let scan = baseline::scan(&feats, &labels);
    let cut_envelope = baseline::envelope(&scan);
    let best_cut = scan
        .iter()
        .filter(|(_, p)| p.purity >= o.purity)
        .max_by(|a, b| a.1.efficiency.total_cmp(&b.1.efficiency));
    let cnn_at = efficiency_at_purity(&cnn_curve, o.purity);
    let key = format!("{:.2}", o.purity);
    s.set("purity_required", o.purity);
    match cnn_at {
        Some(p) => {
            s.set(format!("cnn_nue_efficiency_at_purity_{key}"), p.efficiency);
            s.set(format!("cnn_nue_purity_at_purity_{key}"), p.purity);
            s.set("cnn_nue_score_cut", p.threshold);
        }
        None => s.set(format!("cnn_nue_efficiency_at_purity_{key}"), 0.0),
    }
    match best_cut {
        Some((cuts, p)) => {
            s.set(format!("cuts_nue_efficiency_at_purity_{key}"), p.efficiency);
            s.set(format!("cuts_nue_purity_at_purity_{key}"), p.purity);
            s.set(
                "cuts",
                format!(
                    "length ≤ {:.0} plane pairs, width ≥ {:.2} cells, cluster fraction ≥ {:.2}, energy ≥ {:.2} GeV",
                    cuts.max_length_planes,
                    cuts.min_width_cells,
                    cuts.min_cluster_fraction,
                    cuts.min_energy_gev
                ),
            );
        }
        None => s.set(format!("cuts_nue_efficiency_at_purity_{key}"), 0.0),
    }
    // The CNN at the purity the cuts actually reached, for an exact equal-purity comparison.
    if let Some((_, p)) = best_cut
        && let Some(c) = efficiency_at_purity(&cnn_curve, p.purity)
    {
        s.set("cnn_nue_efficiency_at_cuts_purity", c.efficiency);
    }
    LinePlot::new(
        "νe CC selection on test events: efficiency vs purity",
        "purity",
        "efficiency",
    )
    .with(Series::line(
        "two-view CNN (cut on p(νe))",
        cnn_curve
            .iter()
            .filter(|p| p.efficiency > 0.02)
            .map(|p| (p.purity, p.efficiency))
            .collect(),
    ))
    .with(Series::line("cuts (best of the grid)", cut_envelope))
    .save_png(&common.out.join("nue_efficiency_vs_purity.png"))?;
    s.set("inference_ms_per_event", ms_per_event);
    s.set(
        "plots",
        "confusion.png, roc.png, nue_efficiency_vs_purity.png",
    );
    s.report(&common.out, "Two-view CNN and cut baseline, test events")?;
    Ok(s)
}
