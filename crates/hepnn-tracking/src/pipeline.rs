//! The reconstruction chain as stages (ARCHITECTURE.md, "Pipelines are stages"; ACTS's GNN plugin
//! `Stages.hpp`, acorn): each stage has one job and one typed input and output,
//!
//! ```text
//! GraphConstruction : Event                    → EdgeIndex      (candidate hit pairs)
//! EdgeClassification: EventGraph               → scores ∈ [0,1] (one per edge)
//! TrackBuilding     : EventGraph, scores       → Vec<TrackCandidate>
//! ```
//!
//! A [`Pipeline`] holds boxed stages chosen by a TOML [`TrackingConfig`] (`kind` tags,
//! unknown fields refused), times each stage, and can stop after any stage
//! ([`Pipeline::run_until`]). One config drives `hepnn train tracking`, `hepnn reconstruct` and
//! `hepnn evaluate tracking`; every field has a built-in default ([`TrackingConfig::default`]).
//! Any other track finder (the Kalman filter of the classical baseline) plugs in as a
//! [`TrackFinder`].

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::config::Config;
use burn::module::Module;
use burn::prelude::*;
use hepnn_core::Event;
use hepnn_nn::gnn::aggregate::Aggregation;
use hepnn_nn::gnn::interaction::{EdgeClassifier, EdgeClassifierConfig};
use serde::{Deserialize, Serialize};

use crate::TrackingError;
use crate::building::{BuildingConfig, ScoredGraph, TrackBuilder, TrackCandidate};
use crate::features::{EDGE_FEATURES, EventGraph, NODE_FEATURES};
use crate::graph::{EdgeIndex, LearnConfig, ModuleMap, ModuleMapConfig};

/// Stage 1: candidate edges of an event.
pub trait GraphConstruction: Send + Sync {
    /// A short name for timings and logs.
    fn name(&self) -> &'static str;
    /// The candidate edges (inner → outer).
    ///
    /// # Errors
    /// Stage-specific.
    fn construct(&self, event: &Event) -> Result<EdgeIndex, TrackingError>;
}

/// Stage 2: a score in [0, 1] per candidate edge.
pub trait EdgeClassification {
    /// A short name for timings and logs.
    fn name(&self) -> &'static str;
    /// One score per edge of `graph`.
    ///
    /// # Errors
    /// Stage-specific.
    fn classify(&self, graph: &EventGraph) -> Result<Vec<f64>, TrackingError>;
}

/// Stage 3: track candidates from a scored graph.
pub trait TrackBuilding: Send + Sync {
    /// A short name for timings and logs.
    fn name(&self) -> &'static str;
    /// The candidates.
    ///
    /// # Errors
    /// Stage-specific.
    fn build(
        &self,
        event: &Event,
        graph: &EventGraph,
        scores: &[f64],
    ) -> Result<Vec<TrackCandidate>, TrackingError>;

    /// The candidates and named counts of what the stage did (the track fit's kept, cleaned
    /// and dropped candidates); the default counts nothing.
    ///
    /// # Errors
    /// As [`TrackBuilding::build`].
    fn build_counted(
        &self,
        event: &Event,
        graph: &EventGraph,
        scores: &[f64],
    ) -> Result<(Vec<TrackCandidate>, StageCounts), TrackingError> {
        Ok((self.build(event, graph, scores)?, Vec::new()))
    }
}

/// Named counts of what a stage did to one event, e.g. `("fit_dropped", 12)`.
pub type StageCounts = Vec<(&'static str, usize)>;

/// Any complete track finder, event in, candidates out, with its per-stage timings.
pub trait TrackFinder {
    /// A short name of the method ("gnn", "ckf").
    fn method(&self) -> &'static str;
    /// Reconstructs one event.
    ///
    /// # Errors
    /// Stage-specific.
    fn find(&self, event: &Event) -> Result<Reconstruction, TrackingError>;
}

/// The stages of a [`Pipeline`], in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Graph construction.
    Graph,
    /// Edge classification.
    Classification,
    /// Track building.
    Building,
}

impl Stage {
    /// The stage's name in timings and summaries.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Graph => "graph_construction",
            Stage::Classification => "edge_classification",
            Stage::Building => "track_building",
        }
    }
}

/// What a pipeline produced for one event (up to the stage it ran to).
#[derive(Debug, Clone, Default)]
pub struct Reconstruction {
    /// The graph with features (after graph construction).
    pub graph: Option<EventGraph>,
    /// Edge scores (after classification).
    pub scores: Option<Vec<f64>>,
    /// Track candidates (after building).
    pub tracks: Vec<TrackCandidate>,
    /// Wall-clock seconds per stage, in order.
    pub seconds: Vec<(&'static str, f64)>,
    /// Named counts of what the stages did (the evaluation sums them over the events).
    pub counts: StageCounts,
}

/// Graph construction → edge classification → track building, each stage boxed.
pub struct Pipeline {
    /// Stage 1.
    pub graph: Box<dyn GraphConstruction>,
    /// Stage 2.
    pub classifier: Box<dyn EdgeClassification>,
    /// Stage 3.
    pub building: Box<dyn TrackBuilding>,
}

impl Pipeline {
    /// Runs the stages up to and including `last`, timing each.
    ///
    /// # Errors
    /// The first stage error.
    pub fn run_until(&self, event: &Event, last: Stage) -> Result<Reconstruction, TrackingError> {
        let mut out = Reconstruction::default();
        let start = Instant::now();
        let edges = self.graph.construct(event)?;
        let graph = EventGraph::new(event, edges)?;
        out.seconds
            .push((Stage::Graph.name(), start.elapsed().as_secs_f64()));
        if last == Stage::Graph {
            out.graph = Some(graph);
            return Ok(out);
        }
        let start = Instant::now();
        let scores = self.classifier.classify(&graph)?;
        out.seconds
            .push((Stage::Classification.name(), start.elapsed().as_secs_f64()));
        if last == Stage::Classification {
            out.graph = Some(graph);
            out.scores = Some(scores);
            return Ok(out);
        }
        let start = Instant::now();
        (out.tracks, out.counts) = self.building.build_counted(event, &graph, &scores)?;
        out.seconds
            .push((Stage::Building.name(), start.elapsed().as_secs_f64()));
        out.graph = Some(graph);
        out.scores = Some(scores);
        Ok(out)
    }
}

impl TrackFinder for Pipeline {
    fn method(&self) -> &'static str {
        "gnn"
    }

    fn find(&self, event: &Event) -> Result<Reconstruction, TrackingError> {
        self.run_until(event, Stage::Building)
    }
}

// ---------------------------------------------------------------------------------------------
// Stages
// ---------------------------------------------------------------------------------------------

/// Module-map graph construction as a stage ([`crate::graph::module_map`]).
pub struct ModuleMapStage {
    /// The learned map.
    pub map: ModuleMap,
    /// How it is applied.
    pub config: ModuleMapConfig,
}

impl GraphConstruction for ModuleMapStage {
    fn name(&self) -> &'static str {
        "module_map"
    }

    fn construct(&self, event: &Event) -> Result<EdgeIndex, TrackingError> {
        self.map.build_graph(event, &self.config)
    }
}

/// The interaction-network edge classifier as a stage (inference, no autodiff).
pub struct GnnStage {
    /// The trained model (on a plain device).
    pub model: EdgeClassifier,
    /// Where it runs.
    pub device: Device,
}

impl EdgeClassification for GnnStage {
    fn name(&self) -> &'static str {
        "interaction_network"
    }

    fn classify(&self, graph: &EventGraph) -> Result<Vec<f64>, TrackingError> {
        if graph.num_edges() == 0 {
            return Ok(Vec::new());
        }
        let g = graph.to_device(&self.device)?;
        let logits = self.model.forward(&g);
        Ok(burn::tensor::activation::sigmoid(logits)
            .into_data()
            .convert::<f64>()
            .try_to_vec::<f64>()
            .expect("scores convert to f64"))
    }
}

/// Connected components plus walkthrough (GNN4ITk's "CC and walk") as a stage.
pub struct CcWalkStage {
    /// The validated settings.
    pub builder: TrackBuilder,
    /// Walk through junctions (false: plain connected components).
    pub walk: bool,
}

impl TrackBuilding for CcWalkStage {
    fn name(&self) -> &'static str {
        if self.walk {
            "cc_walk"
        } else {
            "connected_components"
        }
    }

    fn build(
        &self,
        event: &Event,
        graph: &EventGraph,
        scores: &[f64],
    ) -> Result<Vec<TrackCandidate>, TrackingError> {
        let scored = ScoredGraph::new(
            graph.num_hits,
            &graph.edges.sources,
            &graph.edges.targets,
            scores,
        )
        .map_err(building_error)?;
        if self.walk {
            // Position along the track: the distance from the origin.
            let order: Vec<f64> = event.hits.iter().map(|h| h.r().hypot(h.z)).collect();
            self.builder
                .walkthrough(&scored, &order)
                .map_err(building_error)
        } else {
            Ok(self.builder.connected_components(&scored))
        }
    }
}

/// Building followed by the track fit ([`crate::building::fit`]): candidates that do not lie on
/// a helix are cleaned of outlier hits or dropped.
pub struct FittedBuilding {
    /// The building stage.
    pub building: CcWalkStage,
    /// The fit and its cut.
    pub filter: crate::building::FitFilter,
}

impl TrackBuilding for FittedBuilding {
    fn name(&self) -> &'static str {
        if self.building.walk {
            "cc_walk_fit"
        } else {
            "connected_components_fit"
        }
    }

    fn build(
        &self,
        event: &Event,
        graph: &EventGraph,
        scores: &[f64],
    ) -> Result<Vec<TrackCandidate>, TrackingError> {
        Ok(self.build_counted(event, graph, scores)?.0)
    }

    fn build_counted(
        &self,
        event: &Event,
        graph: &EventGraph,
        scores: &[f64],
    ) -> Result<(Vec<TrackCandidate>, StageCounts), TrackingError> {
        let candidates = self.building.build(event, graph, scores)?;
        let (kept, c) = self.filter.filter(event, candidates)?;
        let counts = vec![
            ("fit_kept", c.kept),
            ("fit_cleaned", c.cleaned),
            ("fit_dropped", c.dropped),
        ];
        Ok((kept, counts))
    }
}

fn building_error(e: crate::building::BuildingError) -> TrackingError {
    TrackingError::Config {
        name: "building",
        reason: e.to_string(),
    }
}

/// The classical baseline as a [`TrackFinder`]: seeding → combinatorial Kalman filter → fit
/// ([`crate::kalman`]), timed per stage like the GNN chain.
pub struct CkfFinder {
    /// The configured finder.
    pub ckf: crate::kalman::Ckf,
}

impl CkfFinder {
    /// The CKF with its default settings on the built-in TrackML detector.
    ///
    /// # Errors
    /// [`TrackingError::Kalman`] for an invalid default configuration (a defect).
    pub fn trackml_default() -> Result<Self, TrackingError> {
        Self::new(hepnn_sim::tracker::geometry::Detector::trackml_default())
    }

    /// The CKF with its default settings on `detector`.
    ///
    /// # Errors
    /// [`TrackingError::Kalman`] for an invalid default configuration (a defect).
    pub fn new(detector: hepnn_sim::tracker::geometry::Detector) -> Result<Self, TrackingError> {
        let geometry = crate::kalman::TrackingGeometry::new(detector);
        Ok(Self {
            ckf: crate::kalman::Ckf::new(geometry, crate::kalman::CkfConfig::default())?,
        })
    }
}

impl TrackFinder for CkfFinder {
    fn method(&self) -> &'static str {
        "ckf"
    }

    fn find(&self, event: &Event) -> Result<Reconstruction, TrackingError> {
        let output = self.ckf.find(event)?;
        let s = &output.summary;
        Ok(Reconstruction {
            graph: None,
            scores: None,
            tracks: output.candidates(),
            seconds: vec![
                ("ckf_seeding", s.seeding_ms / 1e3),
                ("ckf_finding", s.finding_ms / 1e3),
                ("ckf_fit", s.fit_ms / 1e3),
            ],
            counts: vec![
                ("ckf_seeds", s.seeds),
                ("ckf_seeds_secondary", s.seeds_secondary),
                ("ckf_tracks_secondary", s.tracks_secondary),
                ("ckf_tracks_three_hit", s.tracks_short),
                ("ckf_tracks_two_layers", s.tracks_two_layers),
            ],
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// The whole tracking configuration, one TOML file (see `configs/tracking.toml` in the
/// repository for a commented copy of the defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TrackingConfig {
    /// Which events to train and test on.
    pub events: EventsConfig,
    /// Stage 1.
    pub graph: GraphConfig,
    /// Stage 2.
    pub classifier: ClassifierConfig,
    /// Training of stage 2.
    pub training: TrainingConfig,
    /// Stage 3.
    pub building: BuildingStageConfig,
    /// How candidates are judged.
    pub evaluation: EvaluationConfig,
}

/// Simulated events (the built-in generator and tracker simulation, read by the CLI).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Mean pile-up ⟨μ⟩ of the training and test events.
    pub pileup: f64,
    /// Seed of the generator and the simulation.
    pub seed: u64,
    /// Training events (numbered from 100000).
    pub train: u64,
    /// Validation events (numbered from 200000).
    pub valid: u64,
    /// Test events (numbered from 1).
    pub test: u64,
    /// Beam-spot length σ_z (mm) of the generated events and of the module map's learning
    /// events: 5.76 fits the full TrackML events 1000–1008; the throughput-phase
    /// event000000001 has σ_z ≈ 49 mm, and a map learned at 5.76 mm misses its doublets
    /// (their z0 lies outside the learned ranges).
    pub beam_sigma_z: f64,
    /// TrackML `detectors.csv` of the detector to simulate, learn the module map on and fit
    /// tracks in (absent: the built-in TrackML layout). Real TrackML hits must be reconstructed
    /// in the geometry they were recorded in: on event000000001 the built-in layout's modules
    /// sit up to millimetres from the real ones (truth-hit fits χ²/ndf 31 against 4.1 with
    /// detectors.csv). A relative path is relative to the working directory.
    pub detector: Option<std::path::PathBuf>,
    /// The magnetic field of the simulated events: `uniform` (2 T everywhere, default) or
    /// `solenoid` (TrackML's field, which falls off towards the end-caps; see
    /// `hepnn_sim::tracker::Solenoid`). Real TrackML events need `solenoid`.
    pub field: FieldKind,
    /// The generator's secondaries: `two_component` (default; broad plus collimated, fitted to
    /// the TrackML files) or `isotropic` (the earlier model: stiff secondaries in random
    /// directions; the generator `models/tracking-real` was trained on). See
    /// `hepnn_sim::tracker::generator::SecondaryModel`.
    pub secondaries: SecondaryKind,
    /// Absorption probability per layer crossed at high momentum
    /// (`hepnn_sim::tracker::PropagationConfig::absorption_per_layer`; default 0.011, fitted to
    /// the TrackML particles files' hit counts per pT bin). Models trained before 26 Nov 2026
    /// (session 8) pin the earlier single value, 0.025.
    pub absorption_per_layer: f64,
    /// Momentum-dependent part b of the absorption, a + b/p² (GeV²; default 0.003; earlier
    /// models 0).
    pub absorption_soft: f64,
}

/// The generator's model of secondaries ([`EventsConfig::secondaries`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondaryKind {
    /// Broad and collimated secondaries (the default).
    #[default]
    TwoComponent,
    /// The earlier isotropic model.
    Isotropic,
}

/// The simulated magnetic field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// 2 T everywhere.
    #[default]
    Uniform,
    /// The finite solenoid fitted to TrackML ([`hepnn_sim::tracker::Solenoid::TRACKML`]).
    Solenoid,
}

impl EventsConfig {
    /// The generator of these events at pile-up `pileup` (the events' own ⟨μ⟩, or the module
    /// map's learning pile-up), with their beam-spot length and model of secondaries.
    pub fn generator(&self, pileup: f64) -> hepnn_sim::tracker::GeneratorConfig {
        use hepnn_sim::tracker::generator::SecondaryModel;
        let base = match self.secondaries {
            SecondaryKind::TwoComponent => hepnn_sim::tracker::GeneratorConfig::default(),
            SecondaryKind::Isotropic => SecondaryModel::isotropic_config(),
        };
        hepnn_sim::tracker::GeneratorConfig {
            pileup,
            sigma_z: self.beam_sigma_z,
            ..base
        }
    }

    /// The simulation settings of these events (field and absorption from this config, noise
    /// and everything else at the defaults).
    pub fn sim_config(&self) -> hepnn_sim::tracker::SimConfig {
        let mut sim = hepnn_sim::tracker::SimConfig::default();
        sim.propagation.absorption_per_layer = self.absorption_per_layer;
        sim.propagation.absorption_soft_gev2 = self.absorption_soft;
        if self.field == FieldKind::Solenoid {
            sim.propagation.solenoid = Some(hepnn_sim::tracker::Solenoid::TRACKML);
        }
        sim
    }
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            pileup: 200.0,
            seed: 7,
            train: 3,
            valid: 1,
            test: 2,
            beam_sigma_z: 5.76,
            detector: None,
            field: FieldKind::Uniform,
            secondaries: SecondaryKind::TwoComponent,
            absorption_per_layer: hepnn_sim::tracker::propagation::ABSORPTION_PER_LAYER,
            absorption_soft: hepnn_sim::tracker::propagation::ABSORPTION_SOFT_GEV2,
        }
    }
}

impl EventsConfig {
    /// The detector: `detector` read from its `detectors.csv`, or the built-in TrackML layout.
    ///
    /// # Errors
    /// [`TrackingError::Core`]-wrapped read errors of the file (missing, malformed).
    pub fn detector(&self) -> Result<hepnn_sim::tracker::geometry::Detector, TrackingError> {
        match &self.detector {
            Some(path) => Ok(hepnn_sim::tracker::geometry::Detector::read(path)?),
            None => Ok(hepnn_sim::tracker::geometry::Detector::trackml_default()),
        }
    }
}

/// Graph-construction methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GraphKind {
    /// The module map (GNN4ITk).
    #[default]
    ModuleMap,
}

/// Stage 1 settings: the module map, learned from simulated events of particles passing the
/// cuts, applied with widened ranges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphConfig {
    /// The method.
    pub kind: GraphKind,
    /// Events the map is learned from (particles passing the cuts only, no noise).
    pub learn_events: u64,
    /// Pile-up of those events.
    pub learn_pileup: f64,
    /// Only particles with pT above this (GeV) are learned.
    pub learn_pt_min: f64,
    /// Only particles produced within this distance of the beam line (mm) are learned.
    pub learn_vertex_r_max: f64,
    /// Widening factor of the ranges (≥ 0).
    pub tolerance: f64,
    /// Margins of Δφ (rad), Δz (mm), z0 (mm), φ-slope (rad/mm).
    pub margins: [f64; 4],
    /// Pairs seen fewer times are not used.
    pub min_count: u64,
}

impl Default for GraphConfig {
    fn default() -> Self {
        let m = ModuleMapConfig::default();
        Self {
            kind: GraphKind::ModuleMap,
            learn_events: 1000,
            learn_pileup: 200.0,
            learn_pt_min: 0.9,
            learn_vertex_r_max: 10.0,
            tolerance: m.tolerance,
            margins: m.margins,
            min_count: m.min_count,
        }
    }
}

impl GraphConfig {
    /// How the map is applied.
    pub fn module_map_config(&self) -> ModuleMapConfig {
        ModuleMapConfig {
            tolerance: self.tolerance,
            margins: self.margins,
            min_count: self.min_count,
        }
    }

    /// How the map is learned.
    pub fn learn_config(&self) -> LearnConfig {
        LearnConfig {
            pt_min: self.learn_pt_min,
            vertex_r_max: self.learn_vertex_r_max,
        }
    }
}

/// Edge classifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassifierKind {
    /// The interaction network (DeZoort et al., arXiv:2103.16701).
    #[default]
    InteractionNetwork,
}

/// Stage 2 settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifierConfig {
    /// The model.
    pub kind: ClassifierKind,
    /// Hidden width of every network.
    pub hidden: usize,
    /// Message-passing iterations.
    pub iterations: usize,
    /// One step's weights shared by all iterations.
    pub shared_weights: bool,
    /// Aggregation ⊕ of the messages at each node: sum, mean or max.
    pub aggregation: Aggregation,
    /// LayerNorm in every hidden layer (as Exa.TrkX).
    pub layer_norm: bool,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        Self {
            kind: ClassifierKind::InteractionNetwork,
            hidden: 64,
            iterations: 8,
            shared_weights: true,
            aggregation: Aggregation::Mean,
            layer_norm: false,
        }
    }
}

impl ClassifierConfig {
    /// The burn model configuration.
    pub fn model_config(&self) -> EdgeClassifierConfig {
        EdgeClassifierConfig::new(NODE_FEATURES, EDGE_FEATURES)
            .with_d_hidden(self.hidden)
            .with_iterations(self.iterations)
            .with_shared_weights(self.shared_weights)
            .with_aggregation(self.aggregation)
            .with_layer_norm(self.layer_norm)
    }
}

/// Training of the edge classifier on region graphs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    /// Passes over the training regions.
    pub epochs: usize,
    /// Initial learning rate (cosine-annealed to 1% over the run).
    pub learning_rate: f64,
    /// Regions in φ per event.
    pub phi_sectors: usize,
    /// Regions in η per event.
    pub eta_bins: usize,
    /// Overlap of the regions (rad in φ, units of η).
    pub overlap: f64,
    /// Weight of the true edges of target particles in the loss (≥ 1 counters the fake-edge
    /// majority).
    pub positive_weight: f64,
    /// Target particles: true edges of particles with pT above this (GeV) are learned as true;
    /// those of softer particles get weight 0 (acorn's target-track weighting; 0 = all).
    pub target_pt_min: f64,
    /// p ≥ 0: the weight of a target true edge is multiplied by clamp(pT / 1 GeV, 1, 10)^p, so
    /// that the rare stiff tracks count more (0 = off).
    pub pt_weight_power: f64,
    /// Factor of the weight of the true edges of short tracks (1 = off): particles absorbed or
    /// leaving after two or three layers, which the classifier otherwise scores low.
    pub short_track_weight: f64,
    /// A particle with at most this many true consecutive hit pairs is a short track.
    pub short_track_edges: u16,
}

impl TrainingConfig {
    /// The loss weights of the training edges.
    pub fn weighting(&self) -> crate::gnn::EdgeWeighting {
        crate::gnn::EdgeWeighting {
            target_pt_min: self.target_pt_min,
            positive_weight: self.positive_weight,
            pt_weight_power: self.pt_weight_power,
            short_track_weight: self.short_track_weight,
            short_track_edges: self.short_track_edges,
        }
    }
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            learning_rate: 1e-3,
            phi_sectors: 8,
            eta_bins: 2,
            overlap: 0.05,
            positive_weight: 2.0,
            target_pt_min: 0.0,
            pt_weight_power: 0.0,
            short_track_weight: 1.0,
            short_track_edges: 3,
        }
    }
}

/// Track-building methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildingKind {
    /// Connected components and walkthrough (GNN4ITk).
    #[default]
    CcWalk,
    /// Connected components only.
    ConnectedComponents,
}

/// Stage 3 settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BuildingStageConfig {
    /// The method.
    pub kind: BuildingKind,
    /// Score cut of the connected components.
    pub score_cut: f64,
    /// Score cut of the walk inside components with junctions (cc_walk only).
    pub walk_score_cut: f64,
    /// Fewest hits of a candidate.
    pub min_hits: usize,
    /// Track fit after building: candidates with χ²/ndf above this are cleaned or dropped
    /// ([`crate::building::fit`]); 0 = no fit.
    pub fit_chi2_max: f64,
    /// Most outlier hits the fit removes from one candidate.
    pub fit_max_outliers: usize,
}

impl Default for BuildingStageConfig {
    fn default() -> Self {
        Self {
            kind: BuildingKind::CcWalk,
            score_cut: 0.7,
            walk_score_cut: 0.7,
            min_hits: 3,
            fit_chi2_max: 0.0,
            fit_max_outliers: 1,
        }
    }
}

impl BuildingStageConfig {
    /// The stage, settings checked.
    ///
    /// # Errors
    /// [`TrackingError::Config`] for cuts outside [0, 1], `min_hits` = 0 or a negative or
    /// non-finite `fit_chi2_max`.
    pub fn stage(&self) -> Result<CcWalkStage, TrackingError> {
        if !(self.fit_chi2_max.is_finite() && self.fit_chi2_max >= 0.0) {
            return Err(TrackingError::Config {
                name: "building.fit_chi2_max",
                reason: format!("must be ≥ 0 (0 = no fit), got {}", self.fit_chi2_max),
            });
        }
        let config = BuildingConfig {
            score_cut: self.score_cut,
            walk_score_cut: self.walk_score_cut,
            min_hits: self.min_hits,
        };
        Ok(CcWalkStage {
            builder: TrackBuilder::new(config).map_err(building_error)?,
            walk: self.kind == BuildingKind::CcWalk,
        })
    }

    /// The stage with the track fit when `fit_chi2_max` > 0, on `detector`.
    ///
    /// # Errors
    /// As [`Self::stage`], and `detector`'s error when the fit needs it.
    pub fn boxed(
        &self,
        detector: impl FnOnce() -> Result<hepnn_sim::tracker::geometry::Detector, TrackingError>,
    ) -> Result<Box<dyn TrackBuilding>, TrackingError> {
        let stage = self.stage()?;
        if self.fit_chi2_max == 0.0 {
            return Ok(Box::new(stage));
        }
        let filter = crate::building::FitFilter {
            geometry: crate::kalman::TrackingGeometry::new(detector()?),
            fitter: crate::kalman::KalmanFitter::default(),
            chi2_max: self.fit_chi2_max,
            max_outliers: self.fit_max_outliers,
            min_hits: self.min_hits,
        };
        Ok(Box::new(FittedBuilding {
            building: stage,
            filter,
        }))
    }
}

/// Which particles count for the efficiency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvaluationConfig {
    /// pT cut (GeV).
    pub pt_min: f64,
    /// Fewest hits of a particle.
    pub min_hits: usize,
    /// Score cut for the edge efficiency and purity.
    pub edge_score_cut: f64,
}

impl Default for EvaluationConfig {
    fn default() -> Self {
        Self {
            pt_min: 1.0,
            min_hits: 3,
            edge_score_cut: 0.5,
        }
    }
}

impl TrackingConfig {
    /// Reads and checks a TOML file; unknown fields and bad values are named.
    ///
    /// # Errors
    /// [`TrackingError::Io`] when unreadable, [`TrackingError::Toml`] when malformed,
    /// [`TrackingError::Config`] for a value out of range.
    pub fn load(path: &Path) -> Result<Self, TrackingError> {
        let text = std::fs::read_to_string(path).map_err(|source| TrackingError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            TrackingError::Toml { source, .. } => TrackingError::Toml {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        })
    }

    /// Parses and checks TOML text.
    ///
    /// # Errors
    /// As [`TrackingConfig::load`].
    pub fn from_toml(text: &str) -> Result<Self, TrackingError> {
        let config: TrackingConfig =
            toml::from_str(text).map_err(|source| TrackingError::Toml {
                path: PathBuf::from("<text>"),
                source: Box::new(source),
            })?;
        config.validate()?;
        Ok(config)
    }

    /// The config as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("the config serialises")
    }

    /// Checks every value once, before any work.
    ///
    /// # Errors
    /// [`TrackingError::Config`] naming the first bad value.
    pub fn validate(&self) -> Result<(), TrackingError> {
        let bad = |name: &'static str, reason: String| Err(TrackingError::Config { name, reason });
        if !(self.events.pileup.is_finite() && self.events.pileup >= 0.0) {
            return bad(
                "events.pileup",
                format!("must be ≥ 0, got {}", self.events.pileup),
            );
        }
        if !(self.events.beam_sigma_z.is_finite() && self.events.beam_sigma_z > 0.0) {
            return bad(
                "events.beam_sigma_z",
                format!("must be > 0, got {}", self.events.beam_sigma_z),
            );
        }
        if self.events.train == 0 {
            return bad("events.train", "need at least one training event".into());
        }
        for (name, value) in [
            (
                "events.absorption_per_layer",
                self.events.absorption_per_layer,
            ),
            ("events.absorption_soft", self.events.absorption_soft),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return bad(name, format!("must be in [0, 1], got {value}"));
            }
        }
        self.graph.module_map_config().validate()?;
        if self.graph.learn_events == 0 {
            return bad("graph.learn_events", "need at least one event".into());
        }
        let (hidden, iterations) = (self.classifier.hidden, self.classifier.iterations);
        if hidden == 0 || iterations == 0 {
            return bad(
                "classifier",
                format!("hidden and iterations must be ≥ 1, got {hidden} and {iterations}"),
            );
        }
        let t = &self.training;
        if t.epochs == 0 {
            return bad("training.epochs", "must be ≥ 1".into());
        }
        if !(t.learning_rate.is_finite() && t.learning_rate > 0.0) {
            return bad(
                "training.learning_rate",
                format!("must be > 0, got {}", t.learning_rate),
            );
        }
        if t.phi_sectors == 0 || t.eta_bins == 0 {
            return bad("training", "phi_sectors and eta_bins must be ≥ 1".into());
        }
        if !(t.overlap.is_finite() && t.overlap >= 0.0) {
            return bad(
                "training.overlap",
                format!("must be ≥ 0, got {}", t.overlap),
            );
        }
        if !(t.positive_weight.is_finite() && t.positive_weight > 0.0) {
            return bad(
                "training.positive_weight",
                format!("must be > 0, got {}", t.positive_weight),
            );
        }
        if !(t.short_track_weight.is_finite() && (0.0..=100.0).contains(&t.short_track_weight)) {
            return bad(
                "training.short_track_weight",
                format!("must be in 0..=100, got {}", t.short_track_weight),
            );
        }
        if !(t.pt_weight_power.is_finite() && (0.0..=4.0).contains(&t.pt_weight_power)) {
            return bad(
                "training.pt_weight_power",
                format!("must be in 0..=4, got {}", t.pt_weight_power),
            );
        }
        if !(t.target_pt_min.is_finite() && t.target_pt_min >= 0.0) {
            return bad(
                "training.target_pt_min",
                format!("must be ≥ 0, got {}", t.target_pt_min),
            );
        }
        self.building.stage()?;
        let cut = self.evaluation.edge_score_cut;
        if !(0.0..=1.0).contains(&cut) {
            return bad(
                "evaluation.edge_score_cut",
                format!("must be in [0, 1], got {cut}"),
            );
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The trained model folder
// ---------------------------------------------------------------------------------------------

/// File names inside a tracking model folder.
pub mod files {
    /// The configuration the model was trained with.
    pub const CONFIG: &str = "tracking.toml";
    /// The learned module map.
    pub const MODULE_MAP: &str = "module_map.json";
    /// The edge classifier's burn configuration.
    pub const CLASSIFIER_CONFIG: &str = "edge_classifier.json";
    /// The edge classifier's weights (burn record).
    pub const CLASSIFIER_WEIGHTS: &str = "edge_classifier.bpk";
}

/// Writes the classifier's configuration and weights into `dir` (atomically).
///
/// # Errors
/// [`TrackingError::Nn`] when a write fails.
pub fn save_classifier(
    dir: &Path,
    config: &EdgeClassifierConfig,
    model: &EdgeClassifier,
) -> Result<(), TrackingError> {
    let json = serde_json::to_vec_pretty(config).expect("the model config serialises");
    hepnn_nn::plot::atomic_write(&dir.join(files::CLASSIFIER_CONFIG), &json)?;
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| TrackingError::Config {
            name: "weights",
            reason: format!("cannot serialise: {e:?}"),
        })?;
    hepnn_nn::plot::atomic_write(&dir.join(files::CLASSIFIER_WEIGHTS), &bytes)?;
    Ok(())
}

/// Reads the classifier of a model folder onto `device`.
///
/// # Errors
/// [`TrackingError::Invalid`] naming the file that is missing or unreadable.
pub fn load_classifier(dir: &Path, device: &Device) -> Result<EdgeClassifier, TrackingError> {
    let config_path = dir.join(files::CLASSIFIER_CONFIG);
    let config = EdgeClassifierConfig::load(&config_path).map_err(|e| TrackingError::Invalid {
        path: config_path.clone(),
        reason: e.to_string(),
    })?;
    let weights = dir.join(files::CLASSIFIER_WEIGHTS);
    config
        .init(device)
        .try_load_file(&weights)
        .map_err(|e| TrackingError::Invalid {
            path: weights,
            reason: format!("{e:?}"),
        })
}

/// The GNN pipeline of a trained model folder: its config, module map and classifier.
///
/// # Errors
/// As [`TrackingConfig::load`], [`ModuleMap::load`] and [`load_classifier`].
pub fn load_pipeline(
    dir: &Path,
    device: &Device,
) -> Result<(TrackingConfig, Pipeline), TrackingError> {
    let config = TrackingConfig::load(&dir.join(files::CONFIG))?;
    let map = ModuleMap::load(&dir.join(files::MODULE_MAP))?;
    let model = load_classifier(dir, device)?;
    let pipeline = Pipeline {
        graph: Box::new(ModuleMapStage {
            map,
            config: config.graph.module_map_config(),
        }),
        classifier: Box::new(GnnStage {
            model,
            device: device.clone(),
        }),
        building: config.building.boxed(|| config.events.detector())?,
    };
    Ok((config, pipeline))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_toml() {
        let config = TrackingConfig::default();
        let text = config.to_toml();
        assert_eq!(TrackingConfig::from_toml(&text).unwrap(), config);
        // An empty file is the defaults.
        assert_eq!(TrackingConfig::from_toml("").unwrap(), config);
    }

    #[test]
    fn the_repository_config_is_the_defaults() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/tracking.toml");
        assert_eq!(
            TrackingConfig::load(&path).unwrap(),
            TrackingConfig::default()
        );
    }

    #[test]
    fn unknown_fields_and_bad_values_are_named() {
        let err = TrackingConfig::from_toml("[training]\nepoch = 3\n").unwrap_err();
        assert!(err.to_string().contains("epoch"), "{err}");
        let err = TrackingConfig::from_toml("[graph]\nkind = \"metric\"\n").unwrap_err();
        assert!(err.to_string().contains("metric"), "{err}");
        let err = TrackingConfig::from_toml("[training]\nlearning_rate = -1.0\n").unwrap_err();
        assert!(err.to_string().contains("training.learning_rate"), "{err}");
        let err = TrackingConfig::from_toml("[building]\nkind = \"cc_walk\"\nscore_cut = 1.5\n")
            .unwrap_err();
        assert!(err.to_string().contains("1.5"), "{err}");
        let err = TrackingConfig::from_toml("[events]\nabsorption_soft = -0.1\n").unwrap_err();
        assert!(err.to_string().contains("events.absorption_soft"), "{err}");
        let err = TrackingConfig::from_toml("[building]\nfit_chi2_max = -2.0\n").unwrap_err();
        assert!(err.to_string().contains("building.fit_chi2_max"), "{err}");
    }

    #[test]
    fn the_real_event_config_asks_for_the_real_geometry_and_field() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../configs/tracking-real.toml");
        let config = TrackingConfig::load(&path).unwrap();
        assert_eq!(config.events.field, FieldKind::Solenoid);
        assert_eq!(config.events.beam_sigma_z, 50.0);
        assert!(config.events.detector.is_some());
        assert!(config.events.sim_config().propagation.solenoid.is_some());
    }

    #[test]
    fn the_detector_comes_from_its_file_or_is_built_in() {
        let config = TrackingConfig::from_toml("[events]\ndetector = \"no/such/detectors.csv\"\n")
            .expect("a path parses");
        let err = config.events.detector().expect_err("missing file");
        assert!(err.to_string().contains("no/such/detectors.csv"), "{err}");
        let text = config.to_toml();
        assert_eq!(
            TrackingConfig::from_toml(&text).expect("round trip"),
            config
        );
        let built_in = TrackingConfig::default()
            .events
            .detector()
            .expect("built in");
        assert!(
            built_in.layers.len() > 40,
            "{} layers",
            built_in.layers.len()
        );
        let real = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/trackml/detectors.csv");
        if real.is_file() {
            let config = TrackingConfig {
                events: EventsConfig {
                    detector: Some(real),
                    ..EventsConfig::default()
                },
                ..TrackingConfig::default()
            };
            let detector = config.events.detector().expect("the real detector");
            assert_eq!(detector.layers.len(), built_in.layers.len());
        } else {
            eprintln!("skipped the detectors.csv part: no ../shared/data");
        }
    }
}
