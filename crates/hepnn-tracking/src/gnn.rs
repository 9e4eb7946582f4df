//! The edge classifier on labelled hit graphs: an interaction network (DeZoort et al.,
//! arXiv:2103.16701; Exa.TrkX, arXiv:2103.06995) that scores each candidate hit pair, trained with
//! the binary cross-entropy
//!
//! ```text
//! L = −(1/E) Σ_k [ y_k log σ(z_k) + (1 − y_k) log(1 − σ(z_k)) ]
//! ```
//!
//! through hepnn-nn's training loop (checkpoints, resume, NaN guard, metrics.csv).

use std::path::{Path, PathBuf};

use burn::nn::loss::BinaryCrossEntropyLossConfig;
use burn::prelude::*;
use hepnn_core::io::hitgraph::{HitGraph, read_hitgraph};
use hepnn_nn::gnn::Graph;
use hepnn_nn::gnn::interaction::EdgeClassifier;
use hepnn_nn::train::TrainTask;

use crate::TrackingError;
use crate::features::{EventGraph, Region};
use crate::metrics::{EdgeMetrics, edge_metrics};

/// A hit graph on the device, with its edge labels.
#[derive(Debug, Clone)]
pub struct LabelledGraph {
    /// The graph (x: r/1000, φ/π, z/1000; edge_attr: Δr, Δφ, Δz, ΔR).
    pub graph: Graph,
    /// Edge labels (1 = true segment), `[E]`.
    pub labels: Tensor<1, Int>,
    /// The labels on the host.
    pub labels_host: Vec<bool>,
}

impl LabelledGraph {
    /// Moves a hit graph to `device`.
    pub fn from_hitgraph(g: &HitGraph, device: &Device) -> Result<Self, TrackingError> {
        let x: Vec<f32> = g.x.iter().flatten().copied().collect();
        let e: Vec<f32> = g.edge_attr.iter().flatten().copied().collect();
        let graph = Graph::from_host(
            &x,
            g.x.len(),
            &g.sources,
            &g.targets,
            Some((&e, 4)),
            None,
            device,
        )?;
        let labels_host: Vec<bool> = g.y.iter().map(|&y| y > 0.5).collect();
        let ints: Vec<i64> = labels_host.iter().map(|&y| i64::from(y)).collect();
        Ok(Self {
            graph,
            labels: Tensor::<1, Int>::from_ints(ints.as_slice(), device),
            labels_host,
        })
    }
}

/// Reads the graphs of events `first..=last` from `dir` (files `event{N:09}_g*.npz`), sorted.
pub fn load_events(
    dir: &Path,
    first: u64,
    last: u64,
    device: &Device,
) -> Result<Vec<LabelledGraph>, TrackingError> {
    let entries = std::fs::read_dir(dir).map_err(|source| hepnn_core::CoreError::Io {
        path: dir.to_path_buf(),
        action: "list",
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("event"))
                .and_then(|n| n.get(..9))
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|id| (first..=last).contains(&id))
                && p.extension().is_some_and(|x| x == "npz")
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(TrackingError::NoGraphs {
            dir: dir.to_path_buf(),
            first,
            last,
        });
    }
    paths
        .iter()
        .map(|p| LabelledGraph::from_hitgraph(&read_hitgraph(p)?, device))
        .collect()
}

/// Edge classification as a [`TrainTask`]: items are graphs, a batch is their union.
pub struct EdgeTask<'a> {
    /// Training graphs.
    pub train: &'a [LabelledGraph],
    /// Validation graphs (figures after each epoch).
    pub valid: &'a [LabelledGraph],
    /// Score cut for the validation efficiency and purity.
    pub threshold: f64,
}

impl TrainTask for EdgeTask<'_> {
    type Model = EdgeClassifier;

    fn num_items(&self) -> usize {
        self.train.len()
    }

    fn loss(&self, model: &EdgeClassifier, batch: &[usize]) -> Tensor<1> {
        let graphs: Vec<Graph> = batch.iter().map(|&i| self.train[i].graph.clone()).collect();
        let labels: Vec<Tensor<1, Int>> = batch
            .iter()
            .map(|&i| self.train[i].labels.clone())
            .collect();
        let graph = Graph::batch(&graphs).expect("hit graphs share their feature widths");
        let logits = model.forward(&graph);
        BinaryCrossEntropyLossConfig::new()
            .with_logits(true)
            .init(&logits.device())
            .forward(logits, Tensor::cat(labels, 0))
    }

    fn validate(&self, model: &EdgeClassifier) -> Vec<(String, f64)> {
        if self.valid.is_empty() {
            return Vec::new();
        }
        let m = evaluate(model, self.valid, self.threshold);
        vec![
            ("valid_efficiency".into(), m.efficiency),
            ("valid_purity".into(), m.purity),
            ("valid_auc".into(), m.auc),
        ]
    }
}

/// Edge scores σ(z) of every graph, concatenated, with the labels.
pub fn scores(model: &EdgeClassifier, graphs: &[LabelledGraph]) -> (Vec<f64>, Vec<bool>) {
    let mut all_scores = Vec::new();
    let mut all_labels = Vec::new();
    for g in graphs {
        let z = model.forward(&g.graph);
        let s: Vec<f64> = burn::tensor::activation::sigmoid(z)
            .into_data()
            .convert::<f64>()
            .try_to_vec::<f64>()
            .expect("f64 scores");
        all_scores.extend(s);
        all_labels.extend(&g.labels_host);
    }
    (all_scores, all_labels)
}

/// Efficiency, purity and AUC over `graphs` at `threshold`.
pub fn evaluate(model: &EdgeClassifier, graphs: &[LabelledGraph], threshold: f64) -> EdgeMetrics {
    let (s, y) = scores(model, graphs);
    edge_metrics(&s, &y, threshold)
}

/// One training region on the device: its graph, and the labels and loss weights of its core
/// edges.
#[derive(Debug, Clone)]
pub struct RegionItem {
    /// The region's graph.
    pub graph: Graph,
    /// Indices of the core edges (the ones in the loss), `[C]`.
    pub core: Tensor<1, Int>,
    /// Labels of the core edges as 0/1 floats, `[C]`.
    pub labels: Tensor<1>,
    /// Loss weight of each core edge, `[C]` (see [`RegionItem::new`]).
    pub weights: Tensor<1>,
}

impl RegionItem {
    /// Moves one region of a labelled event graph to `device` with the loss weights of
    /// `weighting` ([`EdgeWeighting::weight`]); `None` when it has no labels or no edge with a
    /// weight.
    ///
    /// # Errors
    /// As [`EventGraph::to_device`].
    pub fn new(
        region: &Region,
        weighting: &EdgeWeighting,
        device: &Device,
    ) -> Result<Option<Self>, TrackingError> {
        let g = &region.graph;
        let (Some(labels), Some(label_pt), Some(track_edges)) =
            (&g.labels, &g.label_pt, &g.label_track_edges)
        else {
            return Ok(None);
        };
        let core: Vec<i64> = (0..region.core.len())
            .filter(|&k| region.core[k])
            .map(|k| k as i64)
            .collect();
        let y: Vec<f32> = core
            .iter()
            .map(|&k| f32::from(u8::from(labels[k as usize])))
            .collect();
        let w: Vec<f32> = core
            .iter()
            .map(|&k| {
                let k = k as usize;
                weighting.weight(labels[k], f64::from(label_pt[k]), track_edges[k])
            })
            .collect();
        if core.is_empty() || w.iter().all(|&w| w == 0.0) {
            return Ok(None);
        }
        Ok(Some(Self {
            graph: region.graph.to_device(device)?,
            core: Tensor::<1, Int>::from_ints(core.as_slice(), device),
            labels: Tensor::<1>::from_floats(y.as_slice(), device),
            weights: Tensor::<1>::from_floats(w.as_slice(), device),
        }))
    }
}

/// Loss weights of the edges (acorn's target-track weighting, plus stiff and short tracks).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EdgeWeighting {
    /// True edges of particles at or below this pT (GeV) weigh 0 (0 = every particle).
    pub target_pt_min: f64,
    /// Weight of a target true edge.
    pub positive_weight: f64,
    /// Power p of the stiff-track factor clamp(pT / 1 GeV, 1, 10)^p (0 = off).
    pub pt_weight_power: f64,
    /// Factor of the true edges of short tracks (1 = off).
    pub short_track_weight: f64,
    /// A track with at most this many true edges is short.
    pub short_track_edges: u16,
}

impl EdgeWeighting {
    /// The loss weight of one edge: a false edge 1; a true edge of a particle at or below
    /// `target_pt_min` 0 — neither pushed up nor down, so the network learns the tracks the
    /// chain is meant to find; else
    ///
    /// ```text
    /// positive_weight · clamp(pT / 1 GeV, 1, 10)^pt_weight_power · (short_track_weight if the
    /// particle has ≤ short_track_edges true edges, else 1)
    /// ```
    ///
    /// Stiff tracks are rare among the training edges (the spectrum falls steeply), and short
    /// ones (particles absorbed or leaving after two or three layers) are both rare and hard —
    /// a doublet without continuation looks like a fake; the factors count each of them more.
    pub fn weight(&self, label: bool, pt: f64, track_edges: u16) -> f32 {
        match (label, pt > self.target_pt_min) {
            (false, _) => 1.0,
            (true, true) => {
                let short = if track_edges <= self.short_track_edges {
                    self.short_track_weight
                } else {
                    1.0
                };
                (self.positive_weight * pt.clamp(1.0, 10.0).powf(self.pt_weight_power) * short)
                    as f32
            }
            (true, false) => 0.0,
        }
    }
}

/// The weighted binary cross-entropy on logits z with labels y ∈ {0, 1} and weights w:
///
/// ```text
/// L = −Σ_k w_k [ y_k log σ(z_k) + (1 − y_k) log σ(−z_k) ] / Σ_k w_k
/// ```
pub fn weighted_bce(logits: Tensor<1>, labels: Tensor<1>, weights: Tensor<1>) -> Tensor<1> {
    use burn::tensor::activation::log_sigmoid;
    let pos = log_sigmoid(logits.clone()) * labels.clone();
    let neg = log_sigmoid(logits.neg()) * (labels.neg() + 1.0);
    let total = weights.clone().sum();
    ((pos + neg) * weights).sum().neg() / total
}

/// Edge classification on the η/φ regions of simulated events, as a [`TrainTask`]: items are
/// regions, the loss counts each region's core edges once (so every edge of every training event
/// is learned, none dropped), validation runs the whole validation events.
pub struct RegionTask<'a> {
    /// Training regions.
    pub train: &'a [RegionItem],
    /// Validation events (whole graphs, run without autodiff).
    pub valid: &'a [EventGraph],
    /// Score cut for the validation efficiency and purity.
    pub threshold: f64,
}

impl TrainTask for RegionTask<'_> {
    type Model = EdgeClassifier;

    fn num_items(&self) -> usize {
        self.train.len()
    }

    fn loss(&self, model: &EdgeClassifier, batch: &[usize]) -> Tensor<1> {
        let losses: Vec<Tensor<1>> = batch
            .iter()
            .map(|&i| {
                let item = &self.train[i];
                let logits = model.forward(&item.graph).select(0, item.core.clone());
                weighted_bce(logits, item.labels.clone(), item.weights.clone())
            })
            .collect();
        let n = losses.len() as f64;
        Tensor::cat(losses, 0).sum() / n
    }

    fn validate(&self, model: &EdgeClassifier) -> Vec<(String, f64)> {
        if self.valid.is_empty() {
            return Vec::new();
        }
        let model = model.valid();
        let device = model
            .devices()
            .first()
            .cloned()
            .expect("a model has a device");
        let mut all_scores = Vec::new();
        let mut all_labels = Vec::new();
        for g in self.valid {
            let Some(labels) = &g.labels else { continue };
            let Ok(graph) = g.to_device(&device) else {
                continue;
            };
            let z = model.forward(&graph);
            all_scores.extend(
                burn::tensor::activation::sigmoid(z)
                    .into_data()
                    .convert::<f64>()
                    .try_to_vec::<f64>()
                    .expect("f64 scores"),
            );
            all_labels.extend(labels);
        }
        let m = edge_metrics(&all_scores, &all_labels, self.threshold);
        vec![
            ("valid_efficiency".into(), m.efficiency),
            ("valid_purity".into(), m.purity),
            ("valid_auc".into(), m.auc),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::EdgeWeighting;

    #[test]
    fn edge_weights_follow_the_target_pt_and_length_settings() {
        let w = |target_pt_min, positive_weight, pt_weight_power| EdgeWeighting {
            target_pt_min,
            positive_weight,
            pt_weight_power,
            short_track_weight: 1.0,
            short_track_edges: 3,
        };
        // False edges weigh 1 whatever the settings.
        assert_eq!(w(0.0, 2.0, 1.0).weight(false, 5.0, 0), 1.0);
        // Without the pT power every target true edge weighs positive_weight.
        assert_eq!(w(0.0, 2.0, 0.0).weight(true, 0.3, 9), 2.0);
        assert_eq!(w(0.0, 2.0, 0.0).weight(true, 30.0, 9), 2.0);
        // Softer than the target cut: 0.
        assert_eq!(w(0.9, 2.0, 1.0).weight(true, 0.5, 9), 0.0);
        // With p = 1: below 1 GeV as at 1 GeV, linear up to 10 GeV, capped above.
        assert_eq!(w(0.0, 2.0, 1.0).weight(true, 0.5, 9), 2.0);
        assert!((w(0.0, 2.0, 1.0).weight(true, 3.0, 9) - 6.0).abs() < 1e-6);
        assert!((w(0.0, 2.0, 1.0).weight(true, 50.0, 9) - 20.0).abs() < 1e-5);
        assert!((w(0.0, 1.0, 0.5).weight(true, 4.0, 9) - 2.0).abs() < 1e-6);
        // Short tracks: the factor applies up to short_track_edges true edges, to true
        // target edges only.
        let short = EdgeWeighting {
            short_track_weight: 4.0,
            ..w(0.9, 2.0, 0.0)
        };
        assert_eq!(short.weight(true, 2.0, 3), 8.0);
        assert_eq!(short.weight(true, 2.0, 4), 2.0);
        assert_eq!(short.weight(true, 0.5, 2), 0.0);
        assert_eq!(short.weight(false, 2.0, 0), 1.0);
    }
}
