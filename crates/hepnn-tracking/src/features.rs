//! The typed bundle the GNN stages pass along (as ACTS's GNN plugin does): the hits of one event
//! as node features, the candidate edges with their edge features, and — for training and
//! evaluation — the edge labels; plus the η/φ region split that keeps large graphs trainable.
//!
//! Node features (one row per hit, scaled to order one, as Exa.TrkX):
//!
//! ```text
//! x_i = (r/1000 mm, φ/π, z/1000 mm)
//! ```
//!
//! Edge features of an edge inner i → outer j (module-map doublet quantities, GNN4ITk):
//!
//! ```text
//! e_ij = (Δr/100 mm, 10·Δφ, Δz/100 mm, 10·Δη, φ-slope = Δφ/Δr · 1000 mm)
//! ```
//!
//! with Δφ wrapped into (−π, π]. A label is 1 when the two hits are a true consecutive pair of one
//! particle ([`crate::graph::true_consecutive_pairs`]), in either direction.

use std::f64::consts::PI;

use burn::prelude::*;
use hepnn_core::Event;
use hepnn_nn::gnn::Graph;

use crate::TrackingError;
use crate::graph::{EdgeIndex, true_consecutive_pairs};

/// Node features per hit.
pub const NODE_FEATURES: usize = 3;
/// Edge features per edge.
pub const EDGE_FEATURES: usize = 5;

fn wrap(dphi: f64) -> f64 {
    let mut d = dphi;
    while d > PI {
        d -= 2.0 * PI;
    }
    while d <= -PI {
        d += 2.0 * PI;
    }
    d
}

fn eta(r: f64, z: f64) -> f64 {
    z.atan2(r).tan().asinh()
}

/// One event's graph on the host: hits as nodes, candidate edges, their features and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct EventGraph {
    /// Number of hits (nodes), N.
    pub num_hits: usize,
    /// Node features, row-major `[N, NODE_FEATURES]`.
    pub node_features: Vec<f32>,
    /// Candidate edges (inner → outer hit indices), E of them.
    pub edges: EdgeIndex,
    /// Edge features, row-major `[E, EDGE_FEATURES]`.
    pub edge_features: Vec<f32>,
    /// Edge labels (true consecutive pair), when the event has truth.
    pub labels: Option<Vec<bool>>,
    /// pT (GeV) of the particle of each true edge (0 for false edges), when the event has truth:
    /// training can target the tracks above a pT cut (acorn's "target tracks").
    pub label_pt: Option<Vec<f32>>,
    /// Number of true consecutive pairs of the particle of each true edge (0 for false edges),
    /// when the event has truth: training can weight short tracks.
    pub label_track_edges: Option<Vec<u16>>,
    /// φ of every hit (rad), for the region split.
    pub hit_phi: Vec<f64>,
    /// η of every hit, for the region split.
    pub hit_eta: Vec<f64>,
}

impl EventGraph {
    /// Features (and, where the event has truth, labels) of `edges` on the hits of `event`.
    ///
    /// # Errors
    /// [`TrackingError::Config`] when an edge names a hit index beyond the event's hits; as
    /// [`true_consecutive_pairs`] for inconsistent truth.
    pub fn new(event: &Event, edges: EdgeIndex) -> Result<Self, TrackingError> {
        let n = event.hits.len();
        if let Some(&bad) = edges
            .sources
            .iter()
            .chain(&edges.targets)
            .find(|&&h| h >= n)
        {
            return Err(TrackingError::Config {
                name: "edges",
                reason: format!("hit index {bad} beyond the event's {n} hits"),
            });
        }
        let cyl: Vec<[f64; 3]> = event.hits.iter().map(|h| [h.r(), h.phi(), h.z]).collect();
        let node_features = cyl
            .iter()
            .flat_map(|&[r, phi, z]| [(r / 1000.0) as f32, (phi / PI) as f32, (z / 1000.0) as f32])
            .collect();
        let hit_eta: Vec<f64> = cyl.iter().map(|&[r, _, z]| eta(r, z)).collect();
        let mut edge_features = Vec::with_capacity(edges.len() * EDGE_FEATURES);
        for (&i, &j) in edges.sources.iter().zip(&edges.targets) {
            let [ri, pi, zi] = cyl[i];
            let [rj, pj, zj] = cyl[j];
            let dr = rj - ri;
            let dphi = wrap(pj - pi);
            let slope = if dr.abs() > 1e-6 { dphi / dr } else { 0.0 };
            edge_features.extend([
                (dr / 100.0) as f32,
                (10.0 * dphi) as f32,
                ((zj - zi) / 100.0) as f32,
                (10.0 * (hit_eta[j] - hit_eta[i])) as f32,
                (slope * 1000.0) as f32,
            ]);
        }
        let (labels, label_pt, label_track_edges) = if event.has_truth() {
            let key = |a: usize, b: usize| (a.min(b), a.max(b));
            let pt_of: std::collections::HashMap<_, f64> = event
                .particles
                .iter()
                .map(|p| (p.particle_id, p.pt()))
                .collect();
            let true_pairs = true_consecutive_pairs(event)?;
            let mut pairs_of: std::collections::HashMap<_, u16> = std::collections::HashMap::new();
            for p in &true_pairs {
                let count = pairs_of.entry(p.particle).or_default();
                *count = count.saturating_add(1);
            }
            let pairs: std::collections::HashMap<(usize, usize), (f64, u16)> = true_pairs
                .iter()
                .map(|p| {
                    let pt = pt_of.get(&p.particle).copied().unwrap_or(0.0);
                    (key(p.inner, p.outer), (pt, pairs_of[&p.particle]))
                })
                .collect();
            let found: Vec<Option<(f64, u16)>> = edges
                .sources
                .iter()
                .zip(&edges.targets)
                .map(|(&a, &b)| pairs.get(&key(a, b)).copied())
                .collect();
            (
                Some(found.iter().map(Option::is_some).collect()),
                Some(
                    found
                        .iter()
                        .map(|f| f.map_or(0.0, |f| f.0) as f32)
                        .collect(),
                ),
                Some(found.iter().map(|f| f.map_or(0, |f| f.1)).collect()),
            )
        } else {
            (None, None, None)
        };
        Ok(Self {
            num_hits: n,
            node_features,
            edges,
            edge_features,
            labels,
            label_pt,
            label_track_edges,
            hit_phi: cyl.iter().map(|c| c[1]).collect(),
            hit_eta,
        })
    }

    /// Number of candidate edges, E.
    pub fn num_edges(&self) -> usize {
        self.edges.len()
    }

    /// The whole graph on `device`.
    ///
    /// # Errors
    /// As [`Graph::from_host`].
    pub fn to_device(&self, device: &Device) -> Result<Graph, TrackingError> {
        Ok(Graph::from_host(
            &self.node_features,
            self.num_hits,
            &self.edges.sources,
            &self.edges.targets,
            Some((&self.edge_features, EDGE_FEATURES)),
            None,
            device,
        )?)
    }

    /// Splits the graph into `phi_sectors × eta_bins` overlapping regions for training (graphs
    /// too large for memory are split, never dropped). Every edge belongs to the *core* of
    /// exactly one region, the one holding its inner hit's (φ, η); a region's graph also carries
    /// the edges whose inner hit lies within `overlap` of the region (Δφ in rad, Δη), so that
    /// message passing near the border sees its neighbours; only core edges enter the loss.
    /// Regions without a core edge are left out.
    pub fn regions(&self, phi_sectors: usize, eta_bins: usize, overlap: f64) -> Vec<Region> {
        let phi_sectors = phi_sectors.max(1);
        let eta_bins = eta_bins.max(1);
        let (eta_lo, eta_hi) = (-4.0, 4.0);
        let width_phi = 2.0 * PI / phi_sectors as f64;
        let width_eta = (eta_hi - eta_lo) / eta_bins as f64;
        let cell = |h: usize| {
            let p = ((self.hit_phi[h] + PI) / width_phi).floor() as isize;
            let e = ((self.hit_eta[h] - eta_lo) / width_eta).floor() as isize;
            (
                p.clamp(0, phi_sectors as isize - 1) as usize,
                e.clamp(0, eta_bins as isize - 1) as usize,
            )
        };
        let near = |h: usize, (p, e): (usize, usize)| {
            let centre_phi = -PI + (p as f64 + 0.5) * width_phi;
            let dphi = wrap(self.hit_phi[h] - centre_phi).abs();
            let centre_eta = eta_lo + (e as f64 + 0.5) * width_eta;
            let deta = (self.hit_eta[h] - centre_eta).abs();
            let eta_inside = if e == 0 || e == eta_bins - 1 {
                // The outer bins reach to ±∞ in η.
                let below = e == 0 && self.hit_eta[h] < centre_eta;
                let above = e == eta_bins - 1 && self.hit_eta[h] > centre_eta;
                below || above || deta <= 0.5 * width_eta + overlap
            } else {
                deta <= 0.5 * width_eta + overlap
            };
            dphi <= 0.5 * width_phi + overlap && eta_inside
        };
        let mut regions = Vec::new();
        for p in 0..phi_sectors {
            for e in 0..eta_bins {
                let mut edges = Vec::new();
                let mut core = Vec::new();
                for (k, &s) in self.edges.sources.iter().enumerate() {
                    if cell(s) == (p, e) {
                        edges.push(k);
                        core.push(true);
                    } else if near(s, (p, e)) {
                        edges.push(k);
                        core.push(false);
                    }
                }
                if core.iter().any(|&c| c) {
                    regions.push(self.subgraph(&edges, core));
                }
            }
        }
        regions
    }

    fn subgraph(&self, edge_ids: &[usize], core: Vec<bool>) -> Region {
        let mut node_of = vec![usize::MAX; self.num_hits];
        let mut hits = Vec::new();
        let mut sources = Vec::with_capacity(edge_ids.len());
        let mut targets = Vec::with_capacity(edge_ids.len());
        for &k in edge_ids {
            for (hit, list) in [
                (self.edges.sources[k], &mut sources),
                (self.edges.targets[k], &mut targets),
            ] {
                if node_of[hit] == usize::MAX {
                    node_of[hit] = hits.len();
                    hits.push(hit);
                }
                list.push(node_of[hit]);
            }
        }
        let node_features = hits
            .iter()
            .flat_map(|&h| {
                self.node_features[h * NODE_FEATURES..(h + 1) * NODE_FEATURES]
                    .iter()
                    .copied()
            })
            .collect();
        let edge_features = edge_ids
            .iter()
            .flat_map(|&k| {
                self.edge_features[k * EDGE_FEATURES..(k + 1) * EDGE_FEATURES]
                    .iter()
                    .copied()
            })
            .collect();
        let labels = self
            .labels
            .as_ref()
            .map(|l| edge_ids.iter().map(|&k| l[k]).collect());
        let label_pt = self
            .label_pt
            .as_ref()
            .map(|l| edge_ids.iter().map(|&k| l[k]).collect());
        let label_track_edges = self
            .label_track_edges
            .as_ref()
            .map(|l| edge_ids.iter().map(|&k| l[k]).collect());
        Region {
            graph: EventGraph {
                num_hits: hits.len(),
                node_features,
                edges: EdgeIndex { sources, targets },
                edge_features,
                labels,
                label_pt,
                label_track_edges,
                hit_phi: hits.iter().map(|&h| self.hit_phi[h]).collect(),
                hit_eta: hits.iter().map(|&h| self.hit_eta[h]).collect(),
            },
            edge_ids: edge_ids.to_vec(),
            core,
        }
    }
}

/// One training region of an [`EventGraph`] (see [`EventGraph::regions`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// The region's graph (its own node numbering).
    pub graph: EventGraph,
    /// Index of each of its edges in the event's edge list.
    pub edge_ids: Vec<usize>,
    /// Whether each edge is a core edge of this region (enters the loss).
    pub core: Vec<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use hepnn_core::event::{Hit, HitId};

    fn hit(id: u64, x: f64, y: f64, z: f64) -> Hit {
        Hit {
            hit_id: HitId(id),
            x,
            y,
            z,
            volume_id: 8,
            layer_id: 2,
            module_id: 1,
        }
    }

    fn event(hits: Vec<Hit>) -> Event {
        Event {
            event_id: 1,
            hits,
            ..Event::default()
        }
    }

    #[test]
    fn edge_features_are_the_doublet_quantities() {
        // Inner hit at r = 100 mm, φ = 0, z = 0; outer at r = 200 mm, φ = 0.01 rad, z = 50 mm.
        let e = event(vec![
            hit(1, 100.0, 0.0, 0.0),
            hit(2, 200.0 * 0.01f64.cos(), 200.0 * 0.01f64.sin(), 50.0),
        ]);
        let g = EventGraph::new(
            &e,
            EdgeIndex {
                sources: vec![0],
                targets: vec![1],
            },
        )
        .unwrap();
        let f = &g.edge_features;
        assert!((f[0] - 1.0).abs() < 1e-6, "Δr/100 = {}", f[0]);
        assert!((f[1] - 0.1).abs() < 1e-6, "10Δφ = {}", f[1]);
        assert!((f[2] - 0.5).abs() < 1e-6, "Δz/100 = {}", f[2]);
        let deta = (50.0f64 / 200.0).asinh() - 0.0;
        assert!((f[3] as f64 - 10.0 * deta).abs() < 1e-5, "10Δη = {}", f[3]);
        assert!((f[4] - 0.1).abs() < 1e-6, "φ-slope = {}", f[4]);
        assert!(g.labels.is_none(), "no truth, no labels");
        assert_eq!(&g.node_features[..3], &[0.1, 0.0, 0.0]);
    }

    #[test]
    fn labels_carry_the_particles_pt_and_track_length() {
        use hepnn_core::event::{Particle, ParticleId, TruthLink};
        // Particle 1 (pT 2 GeV): hits 1–4 along the x axis; particle 2 (pT 0.5 GeV): hits 5–6;
        // one layer per 30 mm of radius.
        let on_layer = |h: Hit, layer: u32| Hit {
            layer_id: layer,
            ..h
        };
        let hits: Vec<Hit> = (1..=4)
            .map(|k| on_layer(hit(k, 30.0 * k as f64, 0.0, 0.0), 2 * k as u32))
            .chain(
                (5..=6)
                    .map(|k| on_layer(hit(k, 0.0, 30.0 * (k - 4) as f64, 0.0), 2 * (k - 4) as u32)),
            )
            .collect();
        let link = |h: &Hit, p: u64| TruthLink {
            hit_id: h.hit_id,
            particle_id: ParticleId(p),
            tx: h.x,
            ty: h.y,
            tz: h.z,
            tpx: 0.0,
            tpy: 0.0,
            tpz: 0.0,
            weight: 0.0,
        };
        let particle = |id: u64, px: f64, py: f64| Particle {
            particle_id: ParticleId(id),
            particle_type: None,
            vx: 0.0,
            vy: 0.0,
            vz: 0.0,
            px,
            py,
            pz: 0.0,
            q: 1,
            nhits: 0,
        };
        let e = Event {
            event_id: 1,
            truth: hits
                .iter()
                .map(|h| link(h, if h.hit_id.0 <= 4 { 1 } else { 2 }))
                .collect(),
            particles: vec![particle(1, 2.0, 0.0), particle(2, 0.0, 0.5)],
            hits,
            ..Event::default()
        };
        // Particle 1's three pairs, particle 2's one, and a false edge.
        let g = EventGraph::new(
            &e,
            EdgeIndex {
                sources: vec![0, 1, 2, 4, 0],
                targets: vec![1, 2, 3, 5, 4],
            },
        )
        .unwrap();
        assert_eq!(g.labels, Some(vec![true, true, true, true, false]));
        assert_eq!(g.label_pt, Some(vec![2.0, 2.0, 2.0, 0.5, 0.0]));
        assert_eq!(g.label_track_edges, Some(vec![3, 3, 3, 1, 0]));
    }

    #[test]
    fn every_edge_is_core_in_exactly_one_region() {
        // Hits around the circle at three η values; edges between neighbours.
        let mut hits = Vec::new();
        for k in 0..40u64 {
            let phi = -PI + (k as f64 + 0.5) * 2.0 * PI / 40.0;
            let z = [(-300.0), 0.0, 300.0][(k % 3) as usize];
            hits.push(hit(k, 100.0 * phi.cos(), 100.0 * phi.sin(), z));
        }
        let n = hits.len();
        let edges = EdgeIndex {
            sources: (0..n).collect(),
            targets: (0..n).map(|i| (i + 1) % n).collect(),
        };
        let g = EventGraph::new(&event(hits), edges).unwrap();
        let regions = g.regions(4, 2, 0.2);
        let mut core_count = vec![0; n];
        let mut seen = vec![0; n];
        for r in &regions {
            assert_eq!(r.graph.num_edges(), r.edge_ids.len());
            for (&k, &c) in r.edge_ids.iter().zip(&r.core) {
                seen[k] += 1;
                if c {
                    core_count[k] += 1;
                }
            }
            // Features travel with the edges.
            for (local, &k) in r.edge_ids.iter().enumerate() {
                assert_eq!(
                    r.graph.edge_features[local * EDGE_FEATURES..(local + 1) * EDGE_FEATURES],
                    g.edge_features[k * EDGE_FEATURES..(k + 1) * EDGE_FEATURES]
                );
            }
        }
        assert!(core_count.iter().all(|&c| c == 1), "{core_count:?}");
        assert!(seen.iter().any(|&s| s > 1), "overlap copies border edges");
    }

    #[test]
    fn out_of_range_edge_is_refused() {
        let e = event(vec![hit(1, 100.0, 0.0, 0.0)]);
        let err = EventGraph::new(
            &e,
            EdgeIndex {
                sources: vec![0],
                targets: vec![3],
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("hit index 3"), "{err}");
    }
}
