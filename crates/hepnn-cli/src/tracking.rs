//! `hepnn train tracking`, `hepnn reconstruct`, `hepnn evaluate tracking`: the GNN tracking chain
//! (module map → interaction network → CC and walk) on simulated or TrackML events, driven by one
//! TOML config ([`hepnn_tracking::pipeline::TrackingConfig`], defaults built in).
//!
//! A trained model is a folder: `tracking.toml` (the config it was trained with),
//! `module_map.json`, `edge_classifier.{json,bpk}`; `hepnn reconstruct --model DIR` needs nothing
//! else.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use burn::optim::AdamConfig;
use burn::prelude::*;
use clap::Args;
use hepnn_core::Event;
use hepnn_nn::plot::{LinePlot, Series};
use hepnn_nn::train::{TrainConfig, Trainer};
use hepnn_sim::tracker::generator::generate;
use hepnn_sim::tracker::geometry::Detector;
use hepnn_sim::tracker::simulation::{event_seed, simulate_event};
use hepnn_tracking::building::TrackCandidate;
use hepnn_tracking::features::EventGraph;
use hepnn_tracking::gnn::{RegionItem, RegionTask};
use hepnn_tracking::graph::{ModuleMap, graph_metrics};
use hepnn_tracking::metrics::{
    BinVariable, EfficiencyBin, ParticleSelection, TrackTruth, binned_efficiency, edge_metrics,
    track_metrics,
};
use hepnn_tracking::pipeline::{
    CkfFinder, GnnStage, ModuleMapStage, Pipeline, Reconstruction, Stage, TrackFinder,
    TrackingConfig, files, load_pipeline, save_classifier,
};
use rayon::prelude::*;

use crate::Common;
use crate::summary::{Summary, prepare_out};

/// Options of `hepnn train tracking`.
#[derive(Debug, Clone, Args)]
pub struct TrainTrackingOptions {
    /// TOML configuration (`configs/tracking.toml`); the built-in defaults when absent.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Continue from the last checkpoint in OUT/model/checkpoint.
    #[arg(long)]
    pub resume: bool,
}

/// Options shared by `hepnn reconstruct` and `hepnn evaluate tracking`.
#[derive(Debug, Clone, Args)]
pub struct ReconstructOptions {
    /// Trained model folder (OUT/model of `hepnn train tracking`).
    #[arg(long, default_value = "models/tracking")]
    pub model: PathBuf,
    /// Folder of TrackML events (`event*-hits.csv[.gz]`, with truth for evaluation); the
    /// config's simulated test events when absent.
    #[arg(long)]
    pub events: Option<PathBuf>,
    /// Only these event prefixes of --events (comma-separated, e.g. event000000001).
    #[arg(long)]
    pub only: Option<String>,
    /// Stop after this stage: graph, classification or building (GNN chain only).
    #[arg(long, default_value = "building")]
    pub stop_after: String,
    /// Track finder: gnn (the model's chain), ckf (the classical seeding + combinatorial Kalman
    /// filter baseline), or both (evaluate only: the two on identical events, side by side).
    #[arg(long, default_value = "gnn")]
    pub method: String,
    /// TrackML detectors.csv for the CKF and the simulated test events; default: the model
    /// config's `events.detector`, else the built-in TrackML layout. Real TrackML events need
    /// their own geometry (e.g. ../shared/data/trackml/detectors.csv).
    #[arg(long)]
    pub detector: Option<PathBuf>,
}

/// The detector of `--detector`, else of the config's `events.detector`, else the built-in one.
fn detector_for(o: &ReconstructOptions, config: &TrackingConfig) -> anyhow::Result<Detector> {
    match &o.detector {
        Some(path) => {
            Detector::read(path).with_context(|| format!("--detector {}", path.display()))
        }
        None => Ok(config.events.detector()?),
    }
}

/// The events of a config, simulated with the built-in generator (⟨μ⟩ from the config) and the
/// TrackML detector, in parallel: ids `first..first + count`.
pub fn simulate_events(
    detector: &Detector,
    events: &hepnn_tracking::pipeline::EventsConfig,
    first: u64,
    count: u64,
) -> Vec<Event> {
    let seed = events.seed;
    let generator = events.generator(events.pileup);
    let sim = events.sim_config();
    (first..first + count)
        .into_par_iter()
        .map(|id| {
            let particles =
                generate(&generator, event_seed(seed, id)).expect("default generator is valid");
            simulate_event(detector, &sim, id, &particles, seed)
        })
        .collect()
}

/// Learns the module map of `config` from its own simulated events: particles passing the learn
/// cuts only, no noise (the same map as whole events, at a fraction of the cost).
pub fn learn_module_map(config: &TrackingConfig, detector: &Detector) -> anyhow::Result<ModuleMap> {
    let g = &config.graph;
    let generator = config.events.generator(g.learn_pileup);
    let mut sim = config.events.sim_config();
    sim.noise.hits_per_module = 0.0;
    let seed = config.events.seed;
    let learn = g.learn_config();
    let events: Vec<Event> = (0..g.learn_events)
        .into_par_iter()
        .map(|k| {
            let id = 1_000_000 + k;
            let mut particles =
                generate(&generator, event_seed(seed, id)).expect("default generator is valid");
            particles.retain(|p| p.pt() > learn.pt_min && p.vertex_r() <= learn.vertex_r_max);
            simulate_event(detector, &sim, id, &particles, seed)
        })
        .collect();
    Ok(ModuleMap::learn(&events, &learn)?)
}

fn load_config(path: Option<&Path>) -> anyhow::Result<TrackingConfig> {
    match path {
        Some(p) => Ok(TrackingConfig::load(p)?),
        None => Ok(TrackingConfig::default()),
    }
}

/// Trains the tracking chain of `config` into `OUT/model` and returns the summary.
pub fn train(common: &Common, o: &TrainTrackingOptions) -> anyhow::Result<Summary> {
    let config = load_config(o.config.as_deref())?;
    train_with(common, &config, o.resume)
}

/// [`train`] with a config in hand.
pub fn train_with(
    common: &Common,
    config: &TrackingConfig,
    resume: bool,
) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    let model_dir = common.out.join("model");
    std::fs::create_dir_all(&model_dir)
        .with_context(|| format!("creating {}", model_dir.display()))?;
    hepnn_nn::plot::atomic_write(&model_dir.join(files::CONFIG), config.to_toml().as_bytes())?;
    let detector = config.events.detector()?;
    let mut summary = Summary::new();

    let start = Instant::now();
    let map_path = model_dir.join(files::MODULE_MAP);
    let map = if resume && map_path.exists() {
        ModuleMap::load(&map_path)?
    } else {
        eprintln!(
            "learning the module map from {} simulated events (μ = {})",
            config.graph.learn_events, config.graph.learn_pileup
        );
        let map = learn_module_map(config, &detector)?;
        map.save(&map_path)?;
        map
    };
    summary.set("module_map_pairs", map.pair_count());
    summary.set("module_map_seconds", start.elapsed().as_secs_f64());

    let start = Instant::now();
    let e = &config.events;
    eprintln!(
        "simulating {} training and {} validation events (μ = {})",
        e.train, e.valid, e.pileup
    );
    let train_events = simulate_events(&detector, e, 100_000, e.train);
    let valid_events = simulate_events(&detector, e, 200_000, e.valid);
    let map_config = config.graph.module_map_config();
    let graphs = |events: &[Event]| -> anyhow::Result<Vec<EventGraph>> {
        events
            .par_iter()
            .map(|ev| Ok(EventGraph::new(ev, map.build_graph(ev, &map_config)?)?))
            .collect()
    };
    let train_graphs = graphs(&train_events)?;
    let valid_graphs = graphs(&valid_events)?;
    drop(train_events);
    drop(valid_events);
    summary.set(
        "simulation_and_graph_seconds",
        start.elapsed().as_secs_f64(),
    );
    let edges: usize = train_graphs.iter().map(EventGraph::num_edges).sum();
    let true_edges: usize = train_graphs
        .iter()
        .flat_map(|g| g.labels.iter().flatten())
        .filter(|&&y| y)
        .count();
    summary.set("train_events", train_graphs.len());
    summary.set(
        "train_edges_per_event",
        edges as f64 / train_graphs.len().max(1) as f64,
    );
    summary.set(
        "train_true_edge_fraction",
        true_edges as f64 / edges.max(1) as f64,
    );

    let device = crate::device::parse(&common.device)?.autodiff();
    device.seed(common.seed);
    let t = &config.training;
    let weighting = t.weighting();
    let mut regions = Vec::new();
    for g in &train_graphs {
        for r in g.regions(t.phi_sectors, t.eta_bins, t.overlap) {
            regions.extend(RegionItem::new(&r, &weighting, &device)?);
        }
    }
    drop(train_graphs);
    summary.set("train_regions", regions.len());
    let model_config = config.classifier.model_config();
    let model = model_config.init(&device);
    let train_config =
        TrainConfig::cosine(t.epochs, 1, t.learning_rate, common.seed, regions.len());
    let task = RegionTask {
        train: &regions,
        valid: &valid_graphs,
        threshold: config.evaluation.edge_score_cut,
    };
    eprintln!(
        "training the edge classifier: {} regions × {} epochs",
        regions.len(),
        t.epochs
    );
    let start = Instant::now();
    let outcome = Trainer::new(train_config, &model_dir)?.fit(
        &task,
        model,
        AdamConfig::new().init(),
        &device,
        resume,
    )?;
    summary.set("train_seconds", start.elapsed().as_secs_f64());
    save_classifier(&model_dir, &model_config, &outcome.model)?;
    summary.set("param_count", outcome.model.num_params());
    summary.set("epochs", outcome.history.len());
    summary.set_last_epoch(&outcome.history, "");
    summary.set("model_dir", model_dir.display().to_string());
    summary.report(
        &common.out,
        "Tracking: module map + interaction network, trained",
    )?;
    Ok(summary)
}

/// Opens a trained model folder. A folder without `module_map.json` (the shipped model: the map
/// is 26 MB of JSON) gets its map learned from the config's own simulated events — the same
/// map, bit for bit, as at training time, since the simulation is seeded — once, cached in the
/// model folder (or in `out` when the folder is read-only).
pub fn open_model(
    model_dir: &Path,
    out: &Path,
    device: &Device,
) -> anyhow::Result<(TrackingConfig, Pipeline)> {
    let context = || format!("loading the tracking model `{}`", model_dir.display());
    let map_path = model_dir.join(files::MODULE_MAP);
    if map_path.exists() {
        return load_pipeline(model_dir, device).with_context(context);
    }
    let config = TrackingConfig::load(&model_dir.join(files::CONFIG)).with_context(context)?;
    let cached = out.join(files::MODULE_MAP);
    let map = if cached.exists() {
        ModuleMap::load(&cached)?
    } else {
        eprintln!(
            "`{}` has no module map: learning it once from {} simulated events (μ = {}, seed {})",
            model_dir.display(),
            config.graph.learn_events,
            config.graph.learn_pileup,
            config.events.seed
        );
        let map = learn_module_map(&config, &config.events.detector()?)?;
        if map.save(&map_path).is_err() {
            map.save(&cached)?;
        }
        map
    };
    let pipeline = pipeline_from(&config, map, model_dir, device).with_context(context)?;
    Ok((config, pipeline))
}

fn parse_stage(s: &str) -> anyhow::Result<Stage> {
    match s {
        "graph" => Ok(Stage::Graph),
        "classification" => Ok(Stage::Classification),
        "building" => Ok(Stage::Building),
        other => bail!("--stop-after {other}: expected graph, classification or building"),
    }
}

/// The events to run on: the TrackML events of `--events` (all, or `--only`), else the
/// config's simulated test events.
fn input_events(o: &ReconstructOptions, config: &TrackingConfig) -> anyhow::Result<Vec<Event>> {
    match &o.events {
        Some(dir) => {
            let prefixes = match &o.only {
                Some(list) => list.split(',').map(|s| s.trim().to_string()).collect(),
                None => hepnn_core::io::list_events(dir)?,
            };
            if prefixes.is_empty() {
                bail!(
                    "no TrackML event (event*-hits.csv[.gz]) in `{}`",
                    dir.display()
                );
            }
            prefixes
                .iter()
                .map(|p| {
                    hepnn_core::io::read_event(dir, p)
                        .with_context(|| format!("reading {p} from {}", dir.display()))
                })
                .collect()
        }
        None => {
            let e = &config.events;
            eprintln!("simulating {} test events (μ = {})", e.test, e.pileup);
            Ok(simulate_events(&detector_for(o, config)?, e, 1, e.test))
        }
    }
}

/// One reconstructed event.
struct Done {
    event: Event,
    graph: Option<EventGraph>,
    scores: Option<Vec<f64>>,
    tracks: Vec<TrackCandidate>,
    seconds: Vec<(&'static str, f64)>,
    counts: hepnn_tracking::pipeline::StageCounts,
}

fn run_finder(finder: &dyn TrackFinder, events: Vec<Event>) -> anyhow::Result<Vec<Done>> {
    run_each(events, |event| finder.find(event))
}

/// Reconstructs every event with `reconstruct`, keeping each event beside its output.
fn run_each(
    events: Vec<Event>,
    reconstruct: impl Fn(&Event) -> Result<Reconstruction, hepnn_tracking::TrackingError>,
) -> anyhow::Result<Vec<Done>> {
    let mut done = Vec::with_capacity(events.len());
    for event in events {
        let r = reconstruct(&event)
            .with_context(|| format!("reconstructing event {}", event.event_id))?;
        done.push(Done {
            event,
            graph: r.graph,
            scores: r.scores,
            tracks: r.tracks,
            seconds: r.seconds,
            counts: r.counts,
        });
    }
    Ok(done)
}

/// Writes the TrackML submission `event_id,hit_id,track_id` of every event (hits in no
/// candidate get track 0), atomically.
fn write_submission(path: &Path, done: &[Done]) -> anyhow::Result<()> {
    let mut text = String::from("event_id,hit_id,track_id\n");
    for d in done {
        let mut track_of = vec![0usize; d.event.hits.len()];
        for (k, t) in d.tracks.iter().enumerate() {
            for &h in &t.hits {
                if track_of[h] == 0 {
                    track_of[h] = k + 1;
                }
            }
        }
        for (hit, track) in d.event.hits.iter().zip(track_of) {
            writeln!(text, "{},{},{}", d.event.event_id, hit.hit_id.0, track)?;
        }
    }
    hepnn_nn::plot::atomic_write(path, text.as_bytes())?;
    Ok(())
}

/// Per-stage seconds per event (and their total) and the stages' counts, summed over the events
/// in order of first appearance.
fn timing_summary(summary: &mut Summary, done: &[Done]) {
    fn add<T: Copy + std::ops::AddAssign>(
        totals: &mut Vec<(&'static str, T)>,
        name: &'static str,
        v: T,
    ) {
        match totals.iter_mut().find(|(n, _)| *n == name) {
            Some(t) => t.1 += v,
            None => totals.push((name, v)),
        }
    }
    let (mut seconds, mut counts) = (Vec::new(), Vec::new());
    for d in done {
        for &(name, s) in &d.seconds {
            add(&mut seconds, name, s);
        }
        for &(name, c) in &d.counts {
            add(&mut counts, name, c);
        }
    }
    let n = done.len().max(1) as f64;
    let mut total = 0.0;
    for (name, s) in seconds {
        summary.set(format!("seconds_per_event_{name}"), s / n);
        total += s / n;
    }
    summary.set("seconds_per_event", total);
    for (name, c) in counts {
        summary.set(name, c);
    }
}

/// `hepnn reconstruct`: runs the chain on the events and writes `OUT/submission.csv`
/// (`event_id,hit_id,track_id`) and `OUT/summary.json` (timings per stage).
pub fn reconstruct(common: &Common, o: &ReconstructOptions) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    match o.method.as_str() {
        "gnn" => {}
        "ckf" => {
            let config = config_of_model(&o.model)?;
            let finder = CkfFinder::new(detector_for(o, &config)?)?;
            let done = run_finder(&finder, input_events(o, &config)?)?;
            let mut summary = Summary::new();
            summary.set("method", "ckf");
            summary.set("events", done.len());
            timing_summary(&mut summary, &done);
            let tracks: usize = done.iter().map(|d| d.tracks.len()).sum();
            summary.set("tracks_per_event", tracks as f64 / done.len().max(1) as f64);
            write_submission(&common.out.join("submission.csv"), &done)?;
            summary.set("submission", "submission.csv");
            summary.report(&common.out, "Tracking: reconstruction (CKF)")?;
            return Ok(summary);
        }
        other => bail!("--method {other}: expected gnn or ckf"),
    }
    let device = crate::device::parse(&common.device)?;
    let (config, pipeline) = open_model(&o.model, &common.out, &device)?;
    let stop = parse_stage(&o.stop_after)?;
    let events = input_events(o, &config)?;
    let mut summary = Summary::new();
    summary.set("events", events.len());
    let done = run_each(events, |event| pipeline.run_until(event, stop))?;
    timing_summary(&mut summary, &done);
    let edges: usize = done
        .iter()
        .filter_map(|d| d.graph.as_ref())
        .map(EventGraph::num_edges)
        .sum();
    summary.set("edges_per_event", edges as f64 / done.len().max(1) as f64);
    if stop == Stage::Building {
        let tracks: usize = done.iter().map(|d| d.tracks.len()).sum();
        summary.set("tracks_per_event", tracks as f64 / done.len().max(1) as f64);
        write_submission(&common.out.join("submission.csv"), &done)?;
        summary.set("submission", "submission.csv");
    } else {
        write_edges(&common.out, &done)?;
        summary.set("edges_file", "edges_<event>.csv");
    }
    summary.report(&common.out, "Tracking: reconstruction")?;
    Ok(summary)
}

/// The graph (and scores) of each event when the chain stops early: `edges_<event>.csv` with
/// `hit_id_inner,hit_id_outer[,score]`.
fn write_edges(out: &Path, done: &[Done]) -> anyhow::Result<()> {
    for d in done {
        let Some(g) = &d.graph else { continue };
        let mut text = String::from("hit_id_inner,hit_id_outer");
        text.push_str(if d.scores.is_some() { ",score\n" } else { "\n" });
        for (k, (&s, &t)) in g.edges.sources.iter().zip(&g.edges.targets).enumerate() {
            write!(
                text,
                "{},{}",
                d.event.hits[s].hit_id.0, d.event.hits[t].hit_id.0
            )?;
            if let Some(scores) = &d.scores {
                write!(text, ",{:.6}", scores[k])?;
            }
            text.push('\n');
        }
        let name = format!(
            "edges_{}.csv",
            hepnn_core::io::event_prefix(d.event.event_id)
        );
        hepnn_nn::plot::atomic_write(&out.join(name), text.as_bytes())?;
    }
    Ok(())
}

/// The figures of a reconstruction against the truth, summed over events.
pub struct TrackingFigures {
    /// The summary (efficiency, fake and duplicate rates, TrackML score, edge figures, timings).
    pub summary: Summary,
    /// Efficiency vs pT (pT > 0), summed over events.
    pub vs_pt: Vec<EfficiencyBin>,
    /// Efficiency vs η (pT > pt_min).
    pub vs_eta: Vec<EfficiencyBin>,
}

/// pT bin edges (GeV) of the efficiency plots.
pub const PT_EDGES: [f64; 11] = [0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 100.0];

fn add_bins(total: &mut Vec<EfficiencyBin>, bins: Vec<EfficiencyBin>) {
    if total.is_empty() {
        *total = bins;
        return;
    }
    for (t, b) in total.iter_mut().zip(bins) {
        t.reconstructable += b.reconstructable;
        t.matched += b.matched;
    }
}

fn finish_bins(bins: &mut [EfficiencyBin]) {
    for b in bins {
        b.efficiency = (b.reconstructable > 0).then(|| b.matched as f64 / b.reconstructable as f64);
    }
}

fn figures(done: &[Done], config: &TrackingConfig) -> anyhow::Result<TrackingFigures> {
    let selection = ParticleSelection {
        min_pt: config.evaluation.pt_min,
        min_hits: config.evaluation.min_hits,
        ..ParticleSelection::default()
    };
    let all_pt = ParticleSelection {
        min_pt: 0.0,
        ..selection
    };
    let eta_edges: Vec<f64> = (0..=16).map(|k| -4.0 + 0.5 * f64::from(k)).collect();
    let (mut reco, mut matched, mut cands, mut fakes, mut dups) = (0, 0, 0, 0, 0);
    let mut score = 0.0;
    let (mut vs_pt, mut vs_eta) = (Vec::new(), Vec::new());
    let (mut all_scores, mut all_labels) = (Vec::new(), Vec::new());
    let (mut graph_found, mut graph_pairs) = (0usize, 0usize);
    for d in done {
        if !d.event.has_truth() {
            bail!(
                "event {} has no truth: evaluation needs event*-truth.csv (use `hepnn reconstruct` \
                 for events without truth)",
                d.event.event_id
            );
        }
        let truth = TrackTruth::from_event(&d.event)?;
        let m = track_metrics(&d.tracks, &truth, &selection)?;
        reco += m.reconstructable;
        matched += m.matched_reconstructable;
        cands += m.candidates;
        fakes += m.fakes;
        dups += m.duplicates;
        score += m.trackml_score / truth.total_weight().max(1e-12);
        add_bins(
            &mut vs_pt,
            binned_efficiency(&d.tracks, &truth, &all_pt, BinVariable::Pt, &PT_EDGES)?,
        );
        add_bins(
            &mut vs_eta,
            binned_efficiency(&d.tracks, &truth, &selection, BinVariable::Eta, &eta_edges)?,
        );
        if let (Some(g), Some(s)) = (&d.graph, &d.scores)
            && let Some(labels) = &g.labels
        {
            all_scores.extend(s);
            all_labels.extend(labels);
            let gm = graph_metrics(&d.event, &g.edges, config.evaluation.pt_min)?;
            graph_found += gm.true_pairs_found;
            graph_pairs += gm.true_pairs;
        }
    }
    finish_bins(&mut vs_pt);
    finish_bins(&mut vs_eta);
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let mut s = Summary::new();
    s.set("events", done.len());
    s.set("pt_min", selection.min_pt);
    s.set("reconstructable_particles", reco);
    s.set("track_candidates", cands);
    s.set("track_efficiency", ratio(matched, reco));
    s.set("fake_rate", ratio(fakes, cands));
    s.set("duplicate_rate", ratio(dups, cands));
    s.set("trackml_score", score / done.len().max(1) as f64);
    if !all_scores.is_empty() {
        let em = edge_metrics(&all_scores, &all_labels, config.evaluation.edge_score_cut);
        s.set("edge_efficiency", em.efficiency);
        s.set("edge_purity", em.purity);
        s.set("edge_auc", em.auc);
        s.set(
            "graph_edge_efficiency_pt_min",
            ratio(graph_found, graph_pairs),
        );
        s.set(
            "edges_per_event",
            all_scores.len() as f64 / done.len().max(1) as f64,
        );
    }
    timing_summary(&mut s, done);
    Ok(TrackingFigures {
        summary: s,
        vs_pt,
        vs_eta,
    })
}

/// The (bin centre, efficiency) points of the non-empty bins; geometric centres for `log` bins.
fn efficiency_points(bins: &[EfficiencyBin], log: bool) -> Vec<(f64, f64)> {
    bins.iter()
        .filter_map(|b| {
            let centre = if log {
                (b.low * b.high).sqrt()
            } else {
                0.5 * (b.low + b.high)
            };
            b.efficiency.map(|e| (centre, e))
        })
        .collect()
}

/// Draws efficiency vs pT and vs η (`efficiency_vs_pt.png`, `efficiency_vs_eta.png`), one marker
/// series per `(label, figures)`, the titles ending in `title_suffix`.
pub fn plot_efficiency(
    out: &Path,
    curves: &[(&str, &TrackingFigures)],
    title_suffix: &str,
) -> anyhow::Result<()> {
    let mut vs_pt = LinePlot::new(
        format!("Track efficiency vs pT{title_suffix}"),
        "pT (GeV), bin centre",
        "efficiency",
    );
    let mut vs_eta = LinePlot::new(
        format!("Track efficiency vs η (pT > 1 GeV){title_suffix}"),
        "η",
        "efficiency",
    );
    for &(label, f) in curves {
        vs_pt = vs_pt.with(Series::markers(label, efficiency_points(&f.vs_pt, true)));
        vs_eta = vs_eta.with(Series::markers(label, efficiency_points(&f.vs_eta, false)));
    }
    vs_pt.save_png(&out.join("efficiency_vs_pt.png"))?;
    vs_eta.save_png(&out.join("efficiency_vs_eta.png"))?;
    Ok(())
}

/// Draws the x-y view of an event: hits of particles above 1 GeV as grey dots and each
/// reconstructed candidate as a line through its hits (`event_display.png`).
pub fn event_display(out: &Path, event: &Event, tracks: &[TrackCandidate]) -> anyhow::Result<()> {
    let pt_of: HashMap<u64, f64> = event
        .particles
        .iter()
        .map(|p| (p.particle_id.0, p.pt()))
        .collect();
    let truth: HashMap<u64, u64> = event
        .truth
        .iter()
        .map(|l| (l.hit_id.0, l.particle_id.0))
        .collect();
    let hits: Vec<(f64, f64)> = event
        .hits
        .iter()
        .filter(|h| {
            truth
                .get(&h.hit_id.0)
                .and_then(|p| pt_of.get(p))
                .is_some_and(|&pt| pt > 1.0)
        })
        .map(|h| (h.x, h.y))
        .collect();
    let mut plot = LinePlot::new(
        format!(
            "event {}: hits of pT > 1 GeV particles, {} track candidates",
            event.event_id,
            tracks.len()
        ),
        "x (mm)",
        "y (mm)",
    )
    .with(Series::markers("hits (pT > 1 GeV)", hits));
    // One series of all candidates, each a polyline; NaN breaks are not supported, so draw the
    // longest 150 candidates as their own unlabeled series.
    let mut sorted: Vec<&TrackCandidate> = tracks.iter().collect();
    sorted.sort_by_key(|t| std::cmp::Reverse(t.hits.len()));
    for (k, t) in sorted.iter().take(150).enumerate() {
        let mut pts: Vec<(f64, f64, f64)> = t
            .hits
            .iter()
            .map(|&h| {
                let hit = &event.hits[h];
                (hit.r().hypot(hit.z), hit.x, hit.y)
            })
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let label = if k == 0 { "track candidates" } else { "" };
        plot = plot.with(Series::line(
            label,
            pts.iter().map(|p| (p.1, p.2)).collect(),
        ));
    }
    plot.save_png(&out.join("event_display.png"))?;
    Ok(())
}

/// `hepnn evaluate tracking`: reconstructs the events (with truth) and writes `summary.json`
/// (`track_efficiency`, `fake_rate`, `duplicate_rate`, `trackml_score`, `edge_efficiency`,
/// `edge_purity`, `seconds_per_event_*`), the efficiency plots and an event display.
pub fn evaluate(common: &Common, o: &ReconstructOptions) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    match o.method.as_str() {
        "gnn" => {
            let device = crate::device::parse(&common.device)?;
            let (config, pipeline) = open_model(&o.model, &common.out, &device)?;
            let events = input_events(o, &config)?;
            evaluate_with(common, &config, &pipeline, events, "hepnn GNN")
        }
        "ckf" => {
            let config = config_of_model(&o.model)?;
            let events = input_events(o, &config)?;
            evaluate_with(
                common,
                &config,
                &CkfFinder::new(detector_for(o, &config)?)?,
                events,
                "CKF",
            )
        }
        "both" => compare(common, o),
        other => bail!("--method {other}: expected gnn, ckf or both"),
    }
}

/// The config of a model folder, or the defaults where there is none (the CKF needs no model).
fn config_of_model(dir: &Path) -> anyhow::Result<TrackingConfig> {
    let path = dir.join(files::CONFIG);
    if path.exists() {
        Ok(TrackingConfig::load(&path)?)
    } else {
        Ok(TrackingConfig::default())
    }
}

/// GNN chain and CKF on identical events: `summary.json` with `gnn_*` and `ckf_*` figures,
/// `comparison.md` (a table), and both curves on `efficiency_vs_pt.png` / `_eta.png`.
fn compare(common: &Common, o: &ReconstructOptions) -> anyhow::Result<Summary> {
    let device = crate::device::parse(&common.device)?;
    let (config, pipeline) = open_model(&o.model, &common.out, &device)?;
    let events = input_events(o, &config)?;
    let gnn_done = run_finder(&pipeline, events.clone())?;
    let gnn = figures(&gnn_done, &config)?;
    let ckf_done = run_finder(&CkfFinder::new(detector_for(o, &config)?)?, events)?;
    let ckf = figures(&ckf_done, &config)?;
    let mut summary = Summary::new();
    summary.extend_prefixed("gnn_", &gnn.summary);
    summary.extend_prefixed("ckf_", &ckf.summary);
    plot_efficiency(
        &common.out,
        &[
            ("GNN (module map + IN + CC/walk)", &gnn),
            ("CKF (seeds + Kalman filter)", &ckf),
        ],
        ", identical events",
    )?;
    let mut md = String::from("| figure | GNN | CKF |\n|---|---:|---:|\n");
    for key in [
        "track_efficiency",
        "fake_rate",
        "duplicate_rate",
        "trackml_score",
        "track_candidates",
        "seconds_per_event",
    ] {
        let v = |s: &Summary| s.get(key).map_or_else(|| "—".into(), |v| v.to_string());
        writeln!(md, "| {key} | {} | {} |", v(&gnn.summary), v(&ckf.summary))?;
    }
    hepnn_nn::plot::atomic_write(&common.out.join("comparison.md"), md.as_bytes())?;
    summary.report(&common.out, "Tracking: GNN vs CKF on identical events")?;
    Ok(summary)
}

/// [`evaluate`] with a pipeline and events in hand.
pub fn evaluate_with(
    common: &Common,
    config: &TrackingConfig,
    finder: &dyn TrackFinder,
    events: Vec<Event>,
    label: &str,
) -> anyhow::Result<Summary> {
    let done = run_finder(finder, events)?;
    let f = figures(&done, config)?;
    plot_efficiency(&common.out, &[(label, &f)], "")?;
    if let Some(d) = done.first() {
        event_display(&common.out, &d.event, &d.tracks)?;
    }
    write_submission(&common.out.join("submission.csv"), &done)?;
    let mut summary = f.summary;
    summary.set("method", finder.method());
    summary.report(&common.out, "Tracking: evaluation")?;
    Ok(summary)
}

/// A pipeline from parts in hand (used by `demo` right after training).
pub fn pipeline_from(
    config: &TrackingConfig,
    map: ModuleMap,
    model_dir: &Path,
    device: &Device,
) -> anyhow::Result<Pipeline> {
    Ok(Pipeline {
        graph: Box::new(ModuleMapStage {
            map,
            config: config.graph.module_map_config(),
        }),
        classifier: Box::new(GnnStage {
            model: hepnn_tracking::pipeline::load_classifier(model_dir, device)?,
            device: device.clone(),
        }),
        building: config.building.boxed(|| config.events.detector())?,
    })
}

/// The demo's tracking config (`configs/tracking-demo.toml`, embedded).
pub const DEMO_CONFIG: &str = include_str!("../../../configs/tracking-demo.toml");

/// The tracking chain of `hepnn demo`: simulate, learn the module map, train the interaction
/// network, reconstruct the held-out events; everything under `OUT/tracking/`.
pub fn demo(common: &Common) -> anyhow::Result<Summary> {
    let config = TrackingConfig::from_toml(DEMO_CONFIG).context("the embedded demo config")?;
    let sub = Common {
        out: common.out.join("tracking"),
        ..common.clone()
    };
    let trained = train_with(&sub, &config, false)?;
    let device = crate::device::parse(&common.device)?;
    let model_dir = sub.out.join("model");
    let map = ModuleMap::load(&model_dir.join(files::MODULE_MAP))?;
    let pipeline = pipeline_from(&config, map, &model_dir, &device)?;
    let e = &config.events;
    let events = simulate_events(&config.events.detector()?, e, 1, e.test);
    let mut summary = evaluate_with(&sub, &config, &pipeline, events, "hepnn GNN (demo model)")?;
    for key in [
        "train_seconds",
        "train_regions",
        "module_map_pairs",
        "param_count",
    ] {
        if let Some(v) = trained.get(key) {
            summary.set(format!("tracking_{key}"), v.clone());
        }
    }
    summary.set("tracking_pileup", e.pileup);
    Ok(summary)
}
