//! `hepnn train edges` / `hepnn evaluate edges`: the interaction-network edge classifier on the
//! labelled TrackML hit graphs (DeZoort et al., arXiv:2103.16701).

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::config::Config;
use burn::module::Module;
use burn::optim::AdamConfig;
use clap::Args;
use hepnn_nn::gnn::interaction::{EdgeClassifier, EdgeClassifierConfig};
use hepnn_nn::plot::{LinePlot, Series};
use hepnn_nn::train::{TrainConfig, Trainer};
use hepnn_tracking::gnn::{EdgeTask, load_events, scores};
use hepnn_tracking::metrics::edge_metrics;

use crate::Common;
use crate::summary::{Summary, prepare_out};

/// Options of `hepnn train edges`.
#[derive(Debug, Clone, Args)]
pub struct TrainEdgesOptions {
    /// Folder of hit graphs (`event*_g*.npz`).
    #[arg(long, default_value = "../shared/data/hitgraphs/heptrkx_plus_2GeV")]
    pub data: PathBuf,
    /// Training events, first-last.
    #[arg(long, default_value = "1000-1059")]
    pub train_events: String,
    /// Validation events, first-last.
    #[arg(long, default_value = "1060-1069")]
    pub valid_events: String,
    /// Training epochs.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Graphs per optimizer step.
    #[arg(long, default_value_t = 1)]
    pub batch_graphs: usize,
    /// Hidden width of every network.
    #[arg(long, default_value_t = 64)]
    pub hidden: usize,
    /// Message-passing iterations.
    #[arg(long, default_value_t = 8)]
    pub iterations: usize,
    /// Initial learning rate (cosine-annealed to zero over the run).
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    /// Score cut for efficiency and purity.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// Continue from the last checkpoint in OUT/edge_classifier.
    #[arg(long)]
    pub resume: bool,
}

/// Options of `hepnn evaluate edges`.
#[derive(Debug, Clone, Args)]
pub struct EvaluateEdgesOptions {
    /// The trained model folder (OUT/edge_classifier of `hepnn train edges`).
    #[arg(long)]
    pub model: PathBuf,
    /// Folder of hit graphs.
    #[arg(long, default_value = "../shared/data/hitgraphs/heptrkx_plus_2GeV")]
    pub data: PathBuf,
    /// Test events, first-last.
    #[arg(long, default_value = "1070-1079")]
    pub events: String,
    /// Score cut for efficiency and purity.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
}

fn parse_range(s: &str, option: &str) -> anyhow::Result<(u64, u64)> {
    let parsed = s
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
    match parsed {
        Some((a, b)) if a <= b => Ok((a, b)),
        _ => anyhow::bail!("{option} {s:?}: expected FIRST-LAST event numbers, e.g. 1000-1059"),
    }
}

/// Trains the edge classifier; writes `OUT/edge_classifier/{config.json, model.bpk, checkpoint/,
/// metrics.csv, training.png}` and `OUT/summary.json` (validation figures).
pub fn train(common: &Common, o: &TrainEdgesOptions) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    let device = crate::device::parse(&common.device)?.autodiff();
    let (t0, t1) = parse_range(&o.train_events, "--train-events")?;
    let (v0, v1) = parse_range(&o.valid_events, "--valid-events")?;
    let train = load_events(&o.data, t0, t1, &device).context("loading training graphs")?;
    let valid = load_events(&o.data, v0, v1, &device).context("loading validation graphs")?;
    device.seed(common.seed);
    let config = EdgeClassifierConfig::new(3, 4)
        .with_d_hidden(o.hidden)
        .with_iterations(o.iterations);
    let model = config.init(&device);
    let model_dir = common.out.join("edge_classifier");
    std::fs::create_dir_all(&model_dir)
        .with_context(|| format!("creating {}", model_dir.display()))?;
    let train_config =
        TrainConfig::cosine(o.epochs, o.batch_graphs, o.lr, common.seed, train.len());
    let task = EdgeTask {
        train: &train,
        valid: &valid,
        threshold: o.threshold,
    };
    let start = std::time::Instant::now();
    let outcome = Trainer::new(train_config, &model_dir)?.fit(
        &task,
        model,
        AdamConfig::new().init(),
        &device,
        o.resume,
    )?;
    let seconds = start.elapsed().as_secs_f64();
    save_model(&model_dir, &config, &outcome.model)?;

    let (s, y) = scores(&outcome.model, &valid);
    let m = edge_metrics(&s, &y, o.threshold);
    let mut summary = Summary::new();
    summary.set("train_graphs", train.len());
    summary.set("valid_graphs", valid.len());
    summary.set("epochs", outcome.history.len());
    summary.set("param_count", outcome.model.num_params());
    summary.set("train_seconds", seconds);
    summary.set(
        "final_train_loss",
        outcome.history.last().map_or(f64::NAN, |r| r.train_loss),
    );
    summary.set("threshold", m.threshold);
    summary.set("edge_efficiency", m.efficiency);
    summary.set("edge_purity", m.purity);
    summary.set("auc", m.auc);
    summary.report(
        &common.out,
        "Edge classifier (interaction network), validation events",
    )?;
    Ok(summary)
}

fn save_model(
    dir: &Path,
    config: &EdgeClassifierConfig,
    model: &EdgeClassifier,
) -> anyhow::Result<()> {
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
pub fn load_model(dir: &Path, device: &burn::prelude::Device) -> anyhow::Result<EdgeClassifier> {
    let config_path = dir.join("config.json");
    let config = EdgeClassifierConfig::load(&config_path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", config_path.display()))?;
    let weights = dir.join("model.bpk");
    config
        .init(device)
        .try_load_file(&weights)
        .map_err(|e| anyhow::anyhow!("{}: {e:?}", weights.display()))
}

/// Evaluates a trained edge classifier on the test events; writes `OUT/summary.json` (with
/// `edge_efficiency`, `edge_purity`, `auc`) and `OUT/edge_scores.png` (efficiency and purity vs
/// the cut).
pub fn evaluate(common: &Common, o: &EvaluateEdgesOptions) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    let device = crate::device::parse(&common.device)?;
    let (a, b) = parse_range(&o.events, "--events")?;
    let model = load_model(&o.model, &device)?;
    let graphs = load_events(&o.data, a, b, &device).context("loading test graphs")?;
    let start = std::time::Instant::now();
    let (s, y) = scores(&model, &graphs);
    let ms_per_graph = start.elapsed().as_secs_f64() * 1e3 / graphs.len() as f64;
    let m = edge_metrics(&s, &y, o.threshold);
    let cuts: Vec<f64> = (1..20).map(|i| f64::from(i) / 20.0).collect();
    let curve: Vec<_> = cuts.iter().map(|&c| edge_metrics(&s, &y, c)).collect();
    LinePlot::new(
        "Edge classifier on the test graphs",
        "score cut",
        "fraction",
    )
    .with(Series::line(
        "efficiency",
        curve.iter().map(|m| (m.threshold, m.efficiency)).collect(),
    ))
    .with(Series::line(
        "purity",
        curve.iter().map(|m| (m.threshold, m.purity)).collect(),
    ))
    .save_png(&common.out.join("edge_scores.png"))?;
    let mut summary = Summary::new();
    summary.set("test_graphs", graphs.len());
    summary.set("test_edges", m.edges);
    summary.set("test_true_edges", m.true_edges);
    summary.set("threshold", m.threshold);
    summary.set("edge_efficiency", m.efficiency);
    summary.set("edge_purity", m.purity);
    summary.set("auc", m.auc);
    summary.set("inference_ms_per_graph", ms_per_graph);
    summary.report(
        &common.out,
        "Edge classifier (interaction network), test events",
    )?;
    Ok(summary)
}
