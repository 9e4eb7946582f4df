//! Graph construction: from the hits of an event to candidate edges (hit pairs) for the edge
//! classifier.
//!
//! One method so far, the *module map* of GNN4ITk (Biscarat et al., arXiv:2103.00916; ATLAS
//! ITk module-map graph construction): [`module_map`]. This file holds what every method shares:
//! the edge list ([`EdgeIndex`]), the truth it is judged against ([`true_consecutive_pairs`]) and
//! the figures of merit ([`graph_metrics`]):
//!
//! ```text
//! edge efficiency = |true consecutive pairs ∩ candidate edges| / |true consecutive pairs|
//! purity          = |true consecutive pairs ∩ candidate edges| / |candidate edges|
//! ```
//!
//! # True consecutive pairs
//! The hits of one particle are ordered by the distance of their true position (`tx, ty, tz`)
//! from the particle's production vertex (`vx, vy, vz`; the origin where the particle is not in
//! the event's particle list). Successive hits on one (volume, layer) — double hits where
//! modules of a layer overlap — form one *layer group*; every hit of group k is paired with every
//! hit of group k + 1 (inner → outer), and hits of one group are never paired with each other.
//! So a track with an overlap double hit has two true edges into and out of that layer, as in
//! the layer-wise truth of Exa.TrkX/acorn.

pub mod module_map;

use std::collections::{HashMap, HashSet};

use hepnn_core::{Event, HitId, ParticleId};

use crate::TrackingError;

pub use module_map::{Doublet, LearnConfig, ModuleMap, ModuleMapConfig, PairCuts};

/// Candidate edges of one event as two parallel lists of hit indices (positions in
/// `Event::hits`), `edge_index = [sources, targets]`, shape (2, |E|); the source is the inner
/// hit (earlier along the track), the target the outer one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdgeIndex {
    /// Index of the inner hit of each edge.
    pub sources: Vec<usize>,
    /// Index of the outer hit of each edge.
    pub targets: Vec<usize>,
}

impl EdgeIndex {
    /// Number of edges |E|.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Whether there is no edge.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

/// One true consecutive hit pair (see the module docs): hit indices into `Event::hits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TruePair {
    /// Index of the inner hit (closer to the production vertex).
    pub inner: usize,
    /// Index of the outer hit.
    pub outer: usize,
    /// The particle that left both hits.
    pub particle: ParticleId,
}

/// The true consecutive hit pairs of an event (definition in the module docs), particle by
/// particle in increasing particle id, inner to outer.
///
/// # Errors
/// [`TrackingError::NoTruth`] for an event without truth; [`TrackingError::UnknownHit`] when the truth
/// names a hit id that `Event::hits` lacks.
pub fn true_consecutive_pairs(event: &Event) -> Result<Vec<TruePair>, TrackingError> {
    if !event.has_truth() {
        return Err(TrackingError::NoTruth {
            event_id: event.event_id,
        });
    }
    let index_of: HashMap<HitId, usize> = event
        .hits
        .iter()
        .enumerate()
        .map(|(i, h)| (h.hit_id, i))
        .collect();
    let vertex_of: HashMap<ParticleId, [f64; 3]> = event
        .particles
        .iter()
        .map(|p| (p.particle_id, [p.vx, p.vy, p.vz]))
        .collect();
    // (distance from vertex, hit index) per particle.
    let mut tracks: HashMap<ParticleId, Vec<(f64, usize)>> = HashMap::new();
    for link in event.truth.iter().filter(|l| !l.particle_id.is_noise()) {
        let &hit = index_of
            .get(&link.hit_id)
            .ok_or(TrackingError::UnknownHit {
                event_id: event.event_id,
                hit_id: link.hit_id,
            })?;
        let [vx, vy, vz] = vertex_of
            .get(&link.particle_id)
            .copied()
            .unwrap_or([0.0; 3]);
        let distance =
            ((link.tx - vx).powi(2) + (link.ty - vy).powi(2) + (link.tz - vz).powi(2)).sqrt();
        tracks
            .entry(link.particle_id)
            .or_default()
            .push((distance, hit));
    }
    let mut particles: Vec<ParticleId> = tracks.keys().copied().collect();
    particles.sort_unstable();
    let mut pairs = Vec::new();
    for particle in particles {
        let track = tracks.get_mut(&particle).expect("key taken from the map");
        track.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let layer = |i: usize| (event.hits[i].volume_id, event.hits[i].layer_id);
        // Layer groups: runs of successive hits on one (volume, layer).
        let mut groups: Vec<&[(f64, usize)]> = Vec::new();
        let mut start = 0;
        for k in 1..=track.len() {
            if k == track.len() || layer(track[k].1) != layer(track[start].1) {
                groups.push(&track[start..k]);
                start = k;
            }
        }
        for window in groups.windows(2) {
            for &(_, inner) in window[0] {
                for &(_, outer) in window[1] {
                    pairs.push(TruePair {
                        inner,
                        outer,
                        particle,
                    });
                }
            }
        }
    }
    Ok(pairs)
}

/// Edge efficiency and purity of a candidate graph against the true consecutive pairs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GraphMetrics {
    /// Candidate edges |E|.
    pub edges: usize,
    /// True consecutive pairs of the selected particles.
    pub true_pairs: usize,
    /// Those of them present among the candidate edges (either direction).
    pub true_pairs_found: usize,
    /// Candidate edges that are true consecutive pairs of any particle.
    pub true_edges: usize,
    /// `true_pairs_found / true_pairs` (1 when there is no true pair).
    pub efficiency: f64,
    /// `true_edges / edges` (0 when there is no edge).
    pub purity: f64,
}

/// Judges `edges` against the true consecutive pairs of `event`: the efficiency counts the pairs
/// of particles with pT > `pt_min` (GeV) (all particles, noise excluded, for `pt_min` ≤ 0;
/// particles absent from the particle list count only then); the purity counts every true
/// consecutive pair. An edge matches a pair whatever its direction.
///
/// # Errors
/// As [`true_consecutive_pairs`].
pub fn graph_metrics(
    event: &Event,
    edges: &EdgeIndex,
    pt_min: f64,
) -> Result<GraphMetrics, TrackingError> {
    let pairs = true_consecutive_pairs(event)?;
    let pt_of: HashMap<ParticleId, f64> = event
        .particles
        .iter()
        .map(|p| (p.particle_id, p.pt()))
        .collect();
    let key = |a: usize, b: usize| (a.min(b), a.max(b));
    let candidate: HashSet<(usize, usize)> = edges
        .sources
        .iter()
        .zip(&edges.targets)
        .map(|(&a, &b)| key(a, b))
        .collect();
    let all_true: HashSet<(usize, usize)> = pairs.iter().map(|p| key(p.inner, p.outer)).collect();
    let selected: HashSet<(usize, usize)> = pairs
        .iter()
        .filter(|p| pt_min <= 0.0 || pt_of.get(&p.particle).is_some_and(|&pt| pt > pt_min))
        .map(|p| key(p.inner, p.outer))
        .collect();
    let true_pairs_found = selected.iter().filter(|k| candidate.contains(k)).count();
    let true_edges = edges
        .sources
        .iter()
        .zip(&edges.targets)
        .filter(|&(&a, &b)| all_true.contains(&key(a, b)))
        .count();
    Ok(GraphMetrics {
        edges: edges.len(),
        true_pairs: selected.len(),
        true_pairs_found,
        true_edges,
        efficiency: if selected.is_empty() {
            1.0
        } else {
            true_pairs_found as f64 / selected.len() as f64
        },
        purity: if edges.is_empty() {
            0.0
        } else {
            true_edges as f64 / edges.len() as f64
        },
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use hepnn_core::{Hit, Particle, TruthLink};

    /// A hit on (volume, layer, module) at cylindrical (r, φ, z).
    pub(crate) fn hit(id: u64, key: (u32, u32, u32), r: f64, phi: f64, z: f64) -> Hit {
        Hit {
            hit_id: HitId(id),
            x: r * phi.cos(),
            y: r * phi.sin(),
            z,
            volume_id: key.0,
            layer_id: key.1,
            module_id: key.2,
        }
    }

    /// A truth link placing the true position at the hit.
    pub(crate) fn link(hit: &Hit, particle: u64) -> TruthLink {
        TruthLink {
            hit_id: hit.hit_id,
            particle_id: ParticleId(particle),
            tx: hit.x,
            ty: hit.y,
            tz: hit.z,
            tpx: 0.0,
            tpy: 0.0,
            tpz: 0.0,
            weight: 0.0,
        }
    }

    /// A particle from the origin with transverse momentum `pt` (GeV).
    pub(crate) fn particle(id: u64, pt: f64) -> Particle {
        Particle {
            particle_id: ParticleId(id),
            particle_type: None,
            vx: 0.0,
            vy: 0.0,
            vz: 0.0,
            px: pt,
            py: 0.0,
            pz: 0.0,
            q: 1,
            nhits: 0,
        }
    }

    #[test]
    fn overlap_double_hits_form_one_layer_group() {
        // Particle 1: layer 2 (one hit), layer 4 (two hits, overlapping modules), layer 6.
        // Truth order is scrambled; the ordering is by distance from the vertex.
        let hits = vec![
            hit(1, (8, 6, 1), 100.0, 0.0, 0.0),
            hit(2, (8, 2, 1), 30.0, 0.0, 0.0),
            hit(3, (8, 4, 2), 71.0, 0.0, 0.0),
            hit(4, (8, 4, 1), 70.0, 0.0, 0.0),
            hit(5, (8, 2, 7), 30.0, 1.0, 0.0),
        ];
        let truth = vec![
            link(&hits[0], 1),
            link(&hits[1], 1),
            link(&hits[2], 1),
            link(&hits[3], 1),
            link(&hits[4], 0),
        ];
        let event = Event {
            event_id: 3,
            hits,
            particles: vec![particle(1, 2.0)],
            truth,
            ..Event::default()
        };
        let pairs: Vec<(usize, usize)> = true_consecutive_pairs(&event)
            .expect("truth present")
            .iter()
            .map(|p| (p.inner, p.outer))
            .collect();
        // Hit indices: 1 = layer 2; 3, 2 = layer 4 (r 70, 71); 0 = layer 6.
        assert_eq!(pairs, vec![(1, 3), (1, 2), (3, 0), (2, 0)]);

        let edges = EdgeIndex {
            sources: vec![1, 3, 4],
            targets: vec![3, 0, 0],
        };
        let m = graph_metrics(&event, &edges, 1.0).expect("truth present");
        assert_eq!((m.true_pairs, m.true_pairs_found, m.true_edges), (4, 2, 2));
        assert_eq!(m.efficiency, 0.5);
        assert!((m.purity - 2.0 / 3.0).abs() < 1e-15);
        // pT cut above the particle: no selected pair, efficiency 1 by convention.
        let m = graph_metrics(&event, &edges, 5.0).expect("truth present");
        assert_eq!((m.true_pairs, m.efficiency), (0, 1.0));
    }

    #[test]
    fn events_without_truth_or_with_unknown_hits_are_errors() {
        let event = Event {
            event_id: 9,
            hits: vec![hit(1, (8, 2, 1), 30.0, 0.0, 0.0)],
            ..Event::default()
        };
        assert!(matches!(
            true_consecutive_pairs(&event),
            Err(TrackingError::NoTruth { event_id: 9 })
        ));
        let mut bad = link(&event.hits[0], 1);
        bad.hit_id = HitId(42);
        let event = Event {
            truth: vec![bad],
            ..event
        };
        let err = true_consecutive_pairs(&event).expect_err("hit 42 is unknown");
        assert!(err.to_string().contains("hit 42"), "{err}");
    }
}
