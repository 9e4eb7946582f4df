//! Track building: from the scored edges of a hit graph to track candidates, one per set of hits.
//!
//! Two methods, both reading the edges with `score ≥ score_cut`:
//!
//! - [`connected_components`]: every connected component of the kept edges is one candidate (the
//!   Exa.TrkX baseline, arXiv:2103.06995). Cheap, but two tracks joined by one wrong edge or one
//!   shared hit become one candidate.
//! - [`walkthrough`]: GNN4ITk's "CC and walk" (ATLAS ITk GNN tracking, CTD 2023 proceedings,
//!   Torres et al., CTD 2023, doi:10.5281/zenodo.15178159; acorn's `CCandWalk`): components that are simple paths are kept as they
//!   are, and components with junctions are walked, see [`walkthrough`] for the steps.
//!
//! Candidates are disjoint: a hit is in at most one candidate, and hits in no candidate are
//! unassigned. Candidates with fewer than `min_hits` hits are dropped (their hits unassigned).
//!
//! ```
//! use hepnn_tracking::building::{BuildingConfig, ScoredGraph, TrackBuilder};
//! // Two 3-hit tracks 0→1→2 and 3→4→5; the edge 1→4 (score 0.3) joins them.
//! let graph = ScoredGraph::new(6, &[0, 1, 3, 4, 1], &[1, 2, 4, 5, 4], &[0.9, 0.9, 0.8, 0.8, 0.3])?;
//! let radius = [30.0, 70.0, 110.0, 30.0, 70.0, 110.0];
//! let builder = TrackBuilder::new(BuildingConfig { score_cut: 0.2, walk_score_cut: 0.5, min_hits: 3 })?;
//! assert_eq!(builder.connected_components(&graph).len(), 1);
//! let tracks = builder.walkthrough(&graph, &radius)?;
//! assert_eq!(tracks.len(), 2);
//! assert_eq!(tracks[0].hits, [0, 1, 2]);
//! # Ok::<(), hepnn_tracking::building::BuildingError>(())
//! ```

mod components;
pub mod fit;
mod walk;

pub use components::connected_components;
pub use fit::{FitFilter, FitFilterCounts};
pub use walk::walkthrough;

use serde::{Deserialize, Serialize};

/// What can go wrong when building tracks: a bad configuration or an inconsistent graph.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BuildingError {
    /// A score cut outside [0, 1] (or not a number).
    #[error("{name} must be in [0, 1], got {value}")]
    BadScoreCut {
        /// Which cut.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// `min_hits` of 0 would make empty candidates.
    #[error("min_hits must be at least 1, got 0")]
    ZeroMinHits,
    /// The edge arrays differ in length.
    #[error("edge arrays differ in length: {sources} sources, {targets} targets, {scores} scores")]
    EdgeLengths {
        /// Number of sources.
        sources: usize,
        /// Number of targets.
        targets: usize,
        /// Number of scores.
        scores: usize,
    },
    /// An edge names a hit index outside `0..num_hits`.
    #[error("edge {edge} names hit {hit}, but the graph has {num_hits} hits")]
    HitOutOfRange {
        /// Position of the edge.
        edge: usize,
        /// The hit index it names.
        hit: usize,
        /// Number of hits of the graph.
        num_hits: usize,
    },
    /// A score that is not a number.
    #[error("edge {edge} has score {score}, expected a number in [0, 1]")]
    BadScore {
        /// Position of the edge.
        edge: usize,
        /// The score.
        score: f64,
    },
    /// The per-hit ordering keys do not cover the hits.
    #[error("expected {expected} hit ordering keys (one per hit), got {got}")]
    OrderLength {
        /// Number of hits.
        expected: usize,
        /// Number of keys given.
        got: usize,
    },
}

/// One track candidate: the indices of its hits (into the event's hit list), ordered inner → outer
/// by the walk (the walkthrough) or by index (connected components).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackCandidate {
    /// Hit indices.
    pub hits: Vec<usize>,
}

/// Settings of track building.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildingConfig {
    /// Edges with `score ≥ score_cut` are kept for the connected components (default 0.5).
    pub score_cut: f64,
    /// Inside components with junctions, the walk follows only edges with `score ≥ walk_score_cut`
    /// (default 0.5; GNN4ITk uses a looser CC cut and a tighter walk cut).
    pub walk_score_cut: f64,
    /// Candidates with fewer hits are dropped (default 3).
    pub min_hits: usize,
}

impl Default for BuildingConfig {
    fn default() -> Self {
        Self {
            score_cut: 0.5,
            walk_score_cut: 0.5,
            min_hits: 3,
        }
    }
}

/// A validated [`BuildingConfig`], ready to build tracks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackBuilder {
    config: BuildingConfig,
}

impl TrackBuilder {
    /// Checks the configuration: both cuts in [0, 1], `min_hits ≥ 1`.
    pub fn new(config: BuildingConfig) -> Result<Self, BuildingError> {
        for (name, value) in [
            ("score_cut", config.score_cut),
            ("walk_score_cut", config.walk_score_cut),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(BuildingError::BadScoreCut { name, value });
            }
        }
        if config.min_hits == 0 {
            return Err(BuildingError::ZeroMinHits);
        }
        Ok(Self { config })
    }

    /// The configuration.
    pub fn config(&self) -> BuildingConfig {
        self.config
    }

    /// Candidates from the connected components of the kept edges; see [`connected_components`].
    pub fn connected_components(&self, graph: &ScoredGraph<'_>) -> Vec<TrackCandidate> {
        connected_components(graph, self.config.score_cut, self.config.min_hits)
    }

    /// Candidates from CC and walk; see [`walkthrough`]. `hit_order` is a position of every hit
    /// along tracks from the interaction point (the transverse radius r in mm, or the distance
    /// from the origin √(r² + z²) in mm), which directs the edges inner → outer.
    pub fn walkthrough(
        &self,
        graph: &ScoredGraph<'_>,
        hit_order: &[f64],
    ) -> Result<Vec<TrackCandidate>, BuildingError> {
        walkthrough(graph, hit_order, &self.config)
    }
}

/// A hit graph with a score per edge, checked: `E` edges `sources[e] – targets[e]` between hit
/// indices `< num_hits`, with `scores[e]` a number (in [0, 1] for a classifier's output).
///
/// # Shapes
/// `sources`, `targets`, `scores`: (E,).
#[derive(Debug, Clone, Copy)]
pub struct ScoredGraph<'a> {
    num_hits: usize,
    sources: &'a [usize],
    targets: &'a [usize],
    scores: &'a [f64],
}

impl<'a> ScoredGraph<'a> {
    /// Checks lengths, hit indices and scores (NaN is refused).
    pub fn new(
        num_hits: usize,
        sources: &'a [usize],
        targets: &'a [usize],
        scores: &'a [f64],
    ) -> Result<Self, BuildingError> {
        if sources.len() != targets.len() || sources.len() != scores.len() {
            return Err(BuildingError::EdgeLengths {
                sources: sources.len(),
                targets: targets.len(),
                scores: scores.len(),
            });
        }
        for (edge, (&source, &target)) in sources.iter().zip(targets).enumerate() {
            for hit in [source, target] {
                if hit >= num_hits {
                    return Err(BuildingError::HitOutOfRange {
                        edge,
                        hit,
                        num_hits,
                    });
                }
            }
        }
        if let Some((edge, &score)) = scores.iter().enumerate().find(|(_, s)| s.is_nan()) {
            return Err(BuildingError::BadScore { edge, score });
        }
        Ok(Self {
            num_hits,
            sources,
            targets,
            scores,
        })
    }

    /// Number of hits (nodes).
    pub fn num_hits(&self) -> usize {
        self.num_hits
    }

    /// Number of edges.
    pub fn num_edges(&self) -> usize {
        self.sources.len()
    }

    /// The edges with `score ≥ cut`, as `(source, target, score)`, self-loops left out.
    pub fn kept_edges(&self, cut: f64) -> impl Iterator<Item = (usize, usize, f64)> + '_ {
        self.sources
            .iter()
            .zip(self.targets)
            .zip(self.scores)
            .filter(move |&((s, t), &score)| score >= cut && s != t)
            .map(|((&s, &t), &score)| (s, t, score))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_inputs_are_refused() {
        assert_eq!(
            ScoredGraph::new(3, &[0, 1], &[1], &[0.5, 0.5]).unwrap_err(),
            BuildingError::EdgeLengths {
                sources: 2,
                targets: 1,
                scores: 2
            }
        );
        assert_eq!(
            ScoredGraph::new(3, &[0], &[3], &[0.5]).unwrap_err(),
            BuildingError::HitOutOfRange {
                edge: 0,
                hit: 3,
                num_hits: 3
            }
        );
        assert!(matches!(
            ScoredGraph::new(3, &[0], &[1], &[f64::NAN]),
            Err(BuildingError::BadScore { edge: 0, .. })
        ));
        let bad_cut = BuildingConfig {
            walk_score_cut: 1.5,
            ..BuildingConfig::default()
        };
        assert!(matches!(
            TrackBuilder::new(bad_cut),
            Err(BuildingError::BadScoreCut {
                name: "walk_score_cut",
                ..
            })
        ));
        let zero = BuildingConfig {
            min_hits: 0,
            ..BuildingConfig::default()
        };
        assert_eq!(TrackBuilder::new(zero), Err(BuildingError::ZeroMinHits));
    }

    #[test]
    fn kept_edges_drop_low_scores_and_self_loops() {
        let graph =
            ScoredGraph::new(3, &[0, 1, 2], &[1, 1, 0], &[0.9, 0.9, 0.1]).expect("a valid graph");
        let kept: Vec<_> = graph.kept_edges(0.5).collect();
        assert_eq!(kept, [(0, 1, 0.9)]);
        assert_eq!((graph.num_hits(), graph.num_edges()), (3, 3));
    }
}
