//! Edge-classification and track-reconstruction figures of merit.
//!
//! ```text
//! efficiency = TP / (TP + FN)      (true edges kept)
//! purity     = TP / (TP + FP)      (kept edges that are true)
//! AUC        = P(score of a random true edge > score of a random false edge)
//! ```
//!
//! The AUC is the Mann–Whitney statistic over the ranks of the scores (ties counted half).
//!
//! # Track metrics
//!
//! Matching, with `n(c, P)` the number of hits of candidate `c` made by particle `P`:
//!
//! ```text
//! majority particle of c : the P with n(c, P) > |c| / 2                (never noise, id 0)
//! c matched to P (TrackML): n(c, P) > |c| / 2  and  n(c, P) > nhits(P) / 2
//! efficiency     = reconstructable particles with a matched candidate / reconstructable particles
//! fake rate      = candidates with no majority particle / candidates
//! duplicate rate = Σ_P max(0, #candidates whose majority particle is P − 1) / candidates
//! unmatched rate = candidates matched (TrackML) to no particle / candidates
//! TrackML score  = Σ over matched candidates of the truth weights of their hits made by P
//! ```
//!
//! Fakes and duplicates use the candidate-side majority alone (the ATLAS convention): under the
//! two-sided TrackML rule, disjoint candidates can never be duplicates (only one can hold more
//! than half of a particle's hits), and a clean fragment would count as a fake. The two-sided
//! `unmatched rate` is reported beside them. `nhits(P)` counts the hits of `P` in the event's truth
//! (the hits present), not the `nhits` column of the particles file, which a subsampled event
//! does not match.

use std::collections::HashMap;

use hepnn_core::event::Event;
use serde::Serialize;

use crate::building::TrackCandidate;

/// Edge efficiency, purity and AUC at a score cut.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EdgeMetrics {
    /// The score cut (edges with score ≥ cut are kept).
    pub threshold: f64,
    /// TP / (TP + FN).
    pub efficiency: f64,
    /// TP / (TP + FP).
    pub purity: f64,
    /// Area under the ROC curve.
    pub auc: f64,
    /// Number of edges.
    pub edges: usize,
    /// Number of true edges.
    pub true_edges: usize,
}

/// Computes the metrics of `scores` (in [0, 1]) against `labels` (1 = true) at `threshold`.
pub fn edge_metrics(scores: &[f64], labels: &[bool], threshold: f64) -> EdgeMetrics {
    let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
    for (&s, &y) in scores.iter().zip(labels) {
        match (s >= threshold, y) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fneg += 1,
            (false, false) => {}
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    EdgeMetrics {
        threshold,
        efficiency: ratio(tp, tp + fneg),
        purity: ratio(tp, tp + fp),
        auc: auc(scores, labels),
        edges: scores.len(),
        true_edges: labels.iter().filter(|&&y| y).count(),
    }
}

/// ROC AUC by ranks (Mann–Whitney U / (n₊ n₋)); 0.5 when one class is empty.
pub fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut positives) = (0.0, 0usize);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mid_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            if labels[k] {
                rank_sum += mid_rank;
                positives += 1;
            }
        }
        i = j + 1;
    }
    let negatives = scores.len() - positives;
    if positives == 0 || negatives == 0 {
        return 0.5;
    }
    (rank_sum - (positives * (positives + 1)) as f64 / 2.0) / (positives as f64 * negatives as f64)
}

/// What can go wrong when scoring track candidates.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MetricsError {
    /// Per-hit particle ids and weights differ in length.
    #[error("{particles} per-hit particle ids but {weights} per-hit weights")]
    TruthLengths {
        /// Number of particle ids.
        particles: usize,
        /// Number of weights.
        weights: usize,
    },
    /// A hit of the event has no truth link.
    #[error("hit {hit_id} has no truth link")]
    MissingTruth {
        /// The hit id.
        hit_id: u64,
    },
    /// A candidate names a hit index outside the truth.
    #[error("candidate {candidate} names hit {hit}, but the truth has {num_hits} hits")]
    HitOutOfRange {
        /// Position of the candidate.
        candidate: usize,
        /// The hit index.
        hit: usize,
        /// Number of hits with truth.
        num_hits: usize,
    },
}

/// Transverse momentum and pseudorapidity of one generated particle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ParticleKinematics {
    /// Transverse momentum at the vertex (GeV).
    pub pt: f64,
    /// Pseudorapidity at the vertex.
    pub eta: f64,
}

/// The truth that scores track candidates, indexed by hit index (position in the event's hit
/// list): the particle of every hit (0 = noise), its TrackML weight, and the particles' kinematics.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackTruth {
    particle_of_hit: Vec<u64>,
    weight_of_hit: Vec<f64>,
    particles: HashMap<u64, ParticleKinematics>,
    hit_count: HashMap<u64, usize>,
}

impl TrackTruth {
    /// Checks that there is one weight per hit and counts the hits of every particle.
    pub fn new(
        particle_of_hit: Vec<u64>,
        weight_of_hit: Vec<f64>,
        particles: HashMap<u64, ParticleKinematics>,
    ) -> Result<Self, MetricsError> {
        if particle_of_hit.len() != weight_of_hit.len() {
            return Err(MetricsError::TruthLengths {
                particles: particle_of_hit.len(),
                weights: weight_of_hit.len(),
            });
        }
        let mut hit_count = HashMap::new();
        for &particle in particle_of_hit.iter().filter(|&&p| p != 0) {
            *hit_count.entry(particle).or_insert(0) += 1;
        }
        Ok(Self {
            particle_of_hit,
            weight_of_hit,
            particles,
            hit_count,
        })
    }

    /// The truth of an [`Event`], hit index = position in `event.hits`; every hit needs a truth link.
    pub fn from_event(event: &Event) -> Result<Self, MetricsError> {
        let links: HashMap<_, _> = event.truth.iter().map(|link| (link.hit_id, link)).collect();
        let mut particle_of_hit = Vec::with_capacity(event.hits.len());
        let mut weight_of_hit = Vec::with_capacity(event.hits.len());
        for hit in &event.hits {
            let link = links.get(&hit.hit_id).ok_or(MetricsError::MissingTruth {
                hit_id: hit.hit_id.0,
            })?;
            particle_of_hit.push(link.particle_id.0);
            weight_of_hit.push(link.weight);
        }
        let particles = event
            .particles
            .iter()
            .map(|p| {
                let kinematics = ParticleKinematics {
                    pt: p.pt(),
                    eta: p.eta(),
                };
                (p.particle_id.0, kinematics)
            })
            .collect();
        Self::new(particle_of_hit, weight_of_hit, particles)
    }

    /// Number of hits.
    pub fn num_hits(&self) -> usize {
        self.particle_of_hit.len()
    }

    /// The particle of every hit (0 = noise).
    pub fn particle_of_hit(&self) -> &[u64] {
        &self.particle_of_hit
    }

    /// Sum of the hit weights: 1 for a whole TrackML event, less for a subsampled one (divide a
    /// TrackML score by it to compare with whole events).
    pub fn total_weight(&self) -> f64 {
        self.weight_of_hit.iter().sum()
    }

    /// Number of hits of `particle` in the event.
    pub fn hit_count(&self, particle: u64) -> usize {
        self.hit_count.get(&particle).copied().unwrap_or(0)
    }

    /// The particles whose kinematics are known and that pass `selection`, in increasing id order.
    pub fn reconstructable(&self, selection: &ParticleSelection) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .particles
            .iter()
            .filter(|&(&id, kinematics)| {
                id != 0 && selection.selects(kinematics, self.hit_count(id))
            })
            .map(|(&id, _)| id)
            .collect();
        ids.sort_unstable();
        ids
    }
}

/// Which particles count for the efficiency ("reconstructable"): non-noise particles with
/// `pT > min_pt`, at least `min_hits` hits in the event and `|η| < max_abs_eta`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ParticleSelection {
    /// Transverse-momentum cut (GeV), strict (default 1).
    pub min_pt: f64,
    /// Fewest hits (default 3).
    pub min_hits: usize,
    /// Pseudorapidity cut, strict (default 4, the TrackML detector's reach).
    pub max_abs_eta: f64,
}

impl Default for ParticleSelection {
    fn default() -> Self {
        Self {
            min_pt: 1.0,
            min_hits: 3,
            max_abs_eta: 4.0,
        }
    }
}

impl ParticleSelection {
    /// Whether a particle with these kinematics and `hits` hits passes.
    pub fn selects(&self, kinematics: &ParticleKinematics, hits: usize) -> bool {
        kinematics.pt > self.min_pt
            && hits >= self.min_hits
            && kinematics.eta.abs() < self.max_abs_eta
    }
}

/// How one candidate matches the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CandidateMatch {
    /// The particle that made more than half of the candidate's hits (never noise), if any.
    pub majority_particle: Option<u64>,
    /// Hits of the candidate made by the majority particle (0 when none).
    pub majority_hits: usize,
    /// Whether the TrackML rule holds: the majority particle also has more than half of its hits
    /// in the candidate.
    pub matched: bool,
}

/// Matches every candidate to its majority particle (see the module's definitions).
pub fn match_candidates(
    candidates: &[TrackCandidate],
    truth: &TrackTruth,
) -> Result<Vec<CandidateMatch>, MetricsError> {
    let num_hits = truth.num_hits();
    candidates
        .iter()
        .enumerate()
        .map(|(candidate, track)| {
            let mut hits = track.hits.clone();
            hits.sort_unstable();
            hits.dedup();
            let mut counts: HashMap<u64, usize> = HashMap::new();
            for &hit in &hits {
                let particle =
                    *truth
                        .particle_of_hit
                        .get(hit)
                        .ok_or(MetricsError::HitOutOfRange {
                            candidate,
                            hit,
                            num_hits,
                        })?;
                *counts.entry(particle).or_insert(0) += 1;
            }
            let majority = counts
                .into_iter()
                .find(|&(particle, n)| particle != 0 && 2 * n > hits.len());
            Ok(match majority {
                Some((particle, n)) => CandidateMatch {
                    majority_particle: Some(particle),
                    majority_hits: n,
                    matched: 2 * n > truth.hit_count(particle),
                },
                None => CandidateMatch {
                    majority_particle: None,
                    majority_hits: 0,
                    matched: false,
                },
            })
        })
        .collect()
}

/// Track efficiency, fake, duplicate and unmatched rates and the TrackML score of a set of
/// candidates (definitions in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrackMetrics {
    /// Which particles count for the efficiency.
    pub selection: ParticleSelection,
    /// Number of candidates.
    pub candidates: usize,
    /// Number of reconstructable particles.
    pub reconstructable: usize,
    /// Reconstructable particles with a (TrackML-)matched candidate.
    pub matched_reconstructable: usize,
    /// `matched_reconstructable / reconstructable` (0 when none).
    pub efficiency: f64,
    /// Candidates with no majority particle.
    pub fakes: usize,
    /// `fakes / candidates` (0 when none).
    pub fake_rate: f64,
    /// Candidates beyond the first with the same majority particle.
    pub duplicates: usize,
    /// `duplicates / candidates` (0 when none).
    pub duplicate_rate: f64,
    /// Candidates matched by the TrackML rule to no particle.
    pub unmatched: usize,
    /// `unmatched / candidates` (0 when none).
    pub unmatched_rate: f64,
    /// The TrackML score (0 to 1 when the weights sum to 1).
    pub trackml_score: f64,
}

/// Scores `candidates` against `truth`, the efficiency over the particles `selection` picks.
pub fn track_metrics(
    candidates: &[TrackCandidate],
    truth: &TrackTruth,
    selection: &ParticleSelection,
) -> Result<TrackMetrics, MetricsError> {
    let matches = match_candidates(candidates, truth)?;
    let matched = matched_particles(&matches);
    let reconstructable = truth.reconstructable(selection);
    let matched_reconstructable = reconstructable
        .iter()
        .filter(|id| matched.contains_key(id))
        .count();
    let fakes = matches
        .iter()
        .filter(|m| m.majority_particle.is_none())
        .count();
    let mut per_particle: HashMap<u64, usize> = HashMap::new();
    for particle in matches.iter().filter_map(|m| m.majority_particle) {
        *per_particle.entry(particle).or_insert(0) += 1;
    }
    let duplicates = per_particle.values().map(|&k| k.saturating_sub(1)).sum();
    let unmatched = matches.iter().filter(|m| !m.matched).count();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    Ok(TrackMetrics {
        selection: *selection,
        candidates: candidates.len(),
        reconstructable: reconstructable.len(),
        matched_reconstructable,
        efficiency: ratio(matched_reconstructable, reconstructable.len()),
        fakes,
        fake_rate: ratio(fakes, candidates.len()),
        duplicates,
        duplicate_rate: ratio(duplicates, candidates.len()),
        unmatched,
        unmatched_rate: ratio(unmatched, candidates.len()),
        trackml_score: score_of(candidates, &matches, truth),
    })
}

/// The TrackML score: the sum of the truth weights of the hits that each matched candidate
/// shares with its particle (weights of an event sum to 1, so a perfect reconstruction scores 1).
pub fn trackml_score(
    candidates: &[TrackCandidate],
    truth: &TrackTruth,
) -> Result<f64, MetricsError> {
    let matches = match_candidates(candidates, truth)?;
    Ok(score_of(candidates, &matches, truth))
}

fn score_of(candidates: &[TrackCandidate], matches: &[CandidateMatch], truth: &TrackTruth) -> f64 {
    let mut score = 0.0;
    for (track, m) in candidates.iter().zip(matches) {
        if let (true, Some(particle)) = (m.matched, m.majority_particle) {
            let mut hits = track.hits.clone();
            hits.sort_unstable();
            hits.dedup();
            score += hits
                .iter()
                .filter(|&&hit| truth.particle_of_hit[hit] == particle)
                .map(|&hit| truth.weight_of_hit[hit])
                .sum::<f64>();
        }
    }
    score
}

/// Number of TrackML-matched candidates of every matched particle.
fn matched_particles(matches: &[CandidateMatch]) -> HashMap<u64, usize> {
    let mut matched = HashMap::new();
    for m in matches.iter().filter(|m| m.matched) {
        if let Some(particle) = m.majority_particle {
            *matched.entry(particle).or_insert(0) += 1;
        }
    }
    matched
}

/// The particle variable an efficiency is binned in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BinVariable {
    /// Transverse momentum (GeV).
    Pt,
    /// Pseudorapidity (signed).
    Eta,
}

/// Efficiency in one bin `[low, high)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EfficiencyBin {
    /// Lower edge (included).
    pub low: f64,
    /// Upper edge (excluded).
    pub high: f64,
    /// Reconstructable particles in the bin.
    pub reconstructable: usize,
    /// Of those, the ones with a matched candidate.
    pub matched: usize,
    /// `matched / reconstructable`, `None` for an empty bin.
    pub efficiency: Option<f64>,
}

/// Track efficiency in bins of `variable` with the given increasing `edges` (n + 1 edges make
/// n bins), over the particles `selection` picks (use `min_pt: 0.0` for an efficiency vs pT that
/// starts at 0). Particles outside the edges are left out.
pub fn binned_efficiency(
    candidates: &[TrackCandidate],
    truth: &TrackTruth,
    selection: &ParticleSelection,
    variable: BinVariable,
    edges: &[f64],
) -> Result<Vec<EfficiencyBin>, MetricsError> {
    let matched = matched_particles(&match_candidates(candidates, truth)?);
    let mut bins: Vec<EfficiencyBin> = edges
        .windows(2)
        .map(|w| EfficiencyBin {
            low: w[0],
            high: w[1],
            reconstructable: 0,
            matched: 0,
            efficiency: None,
        })
        .collect();
    for id in truth.reconstructable(selection) {
        let kinematics = &truth.particles[&id];
        let value = match variable {
            BinVariable::Pt => kinematics.pt,
            BinVariable::Eta => kinematics.eta,
        };
        if let Some(bin) = bins.iter_mut().find(|b| b.low <= value && value < b.high) {
            bin.reconstructable += 1;
            bin.matched += usize::from(matched.contains_key(&id));
        }
    }
    for bin in &mut bins {
        bin.efficiency =
            (bin.reconstructable > 0).then(|| bin.matched as f64 / bin.reconstructable as f64);
    }
    Ok(bins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        let scores = [0.9, 0.8, 0.4, 0.3, 0.6, 0.1];
        let labels = [true, true, true, false, false, false];
        let m = edge_metrics(&scores, &labels, 0.5);
        assert_eq!((m.efficiency, m.purity), (2.0 / 3.0, 2.0 / 3.0));
        // Pairs (true, false) ordered right: 0.9>all 3, 0.8>all 3, 0.4>0.3,0.1 → 8 of 9.
        assert!((m.auc - 8.0 / 9.0).abs() < 1e-12);
        assert_eq!(auc(&[0.5, 0.5], &[true, false]), 0.5);
    }
}

#[cfg(test)]
mod track_tests {
    use super::*;

    fn candidate(hits: &[usize]) -> TrackCandidate {
        TrackCandidate {
            hits: hits.to_vec(),
        }
    }

    /// Particle 1: hits 0–3, particle 2: hits 4–6, particle 3: hits 7–8 (pT 0.5), noise: 9.
    fn truth() -> TrackTruth {
        let particles = HashMap::from([
            (1, ParticleKinematics { pt: 2.0, eta: 0.5 }),
            (2, ParticleKinematics { pt: 5.0, eta: -1.5 }),
            (3, ParticleKinematics { pt: 0.5, eta: 0.0 }),
        ]);
        TrackTruth::new(
            vec![1, 1, 1, 1, 2, 2, 2, 3, 3, 0],
            vec![0.1, 0.1, 0.1, 0.1, 0.2, 0.1, 0.1, 0.1, 0.1, 0.0],
            particles,
        )
        .expect("one weight per hit")
    }

    #[test]
    fn matching_by_hand() {
        let truth = truth();
        // [0,1,2,9]: 3 of 4 from particle 1, which has 3 of its 4 hits there → matched.
        // [3,4]: 1 of 2 from each → no majority → fake.
        // [5,6,9]: 2 of 3 from particle 2, but only 2 of its 3 hits → matched (2 > 1.5).
        // [7]: majority particle 3 and 1 of its 2 hits: not > half → unmatched, not fake.
        let tracks = [
            candidate(&[0, 1, 2, 9]),
            candidate(&[3, 4]),
            candidate(&[5, 6, 9]),
            candidate(&[7]),
        ];
        let matches = match_candidates(&tracks, &truth).expect("hits in range");
        assert_eq!(
            matches.iter().map(|m| m.matched).collect::<Vec<_>>(),
            [true, false, true, false]
        );
        assert_eq!(matches[1].majority_particle, None);
        assert_eq!(matches[3].majority_particle, Some(3));
        let m = track_metrics(&tracks, &truth, &ParticleSelection::default()).expect("in range");
        // Reconstructable (pT > 1, ≥ 3 hits): particles 1 and 2, both matched.
        assert_eq!((m.reconstructable, m.matched_reconstructable), (2, 2));
        assert_eq!(m.efficiency, 1.0);
        assert_eq!((m.fakes, m.duplicates, m.unmatched), (1, 0, 2));
        assert_eq!(m.fake_rate, 0.25);
        // Score: hits 0,1,2 (0.3) + hits 5,6 (0.2).
        assert!((m.trackml_score - 0.5).abs() < 1e-12);
        assert!((trackml_score(&tracks, &truth).expect("in range") - 0.5).abs() < 1e-12);
    }

    #[test]
    fn duplicates_and_perfect_score() {
        let truth = truth();
        let split = [
            candidate(&[0, 1, 2]),
            candidate(&[3]),
            candidate(&[4, 5, 6]),
        ];
        let m = track_metrics(&split, &truth, &ParticleSelection::default()).expect("in range");
        assert_eq!((m.duplicates, m.fakes), (1, 0));
        assert!((m.duplicate_rate - 1.0 / 3.0).abs() < 1e-12);
        let perfect = [
            candidate(&[0, 1, 2, 3]),
            candidate(&[4, 5, 6]),
            candidate(&[7, 8]),
        ];
        assert!((trackml_score(&perfect, &truth).expect("in range") - 1.0).abs() < 1e-12);
        assert_eq!(
            trackml_score(&[candidate(&[10])], &truth),
            Err(MetricsError::HitOutOfRange {
                candidate: 0,
                hit: 10,
                num_hits: 10
            })
        );
    }

    #[test]
    fn binned_efficiency_by_hand() {
        let truth = truth();
        let tracks = [candidate(&[0, 1, 2, 3])];
        let everything = ParticleSelection {
            min_pt: 0.0,
            min_hits: 2,
            max_abs_eta: 4.0,
        };
        let bins = binned_efficiency(
            &tracks,
            &truth,
            &everything,
            BinVariable::Pt,
            &[0.0, 1.0, 3.0, 10.0],
        )
        .expect("in range");
        let effs: Vec<_> = bins.iter().map(|b| b.efficiency).collect();
        assert_eq!(effs, [Some(0.0), Some(1.0), Some(0.0)]);
        let bins = binned_efficiency(
            &tracks,
            &truth,
            &everything,
            BinVariable::Eta,
            &[-4.0, -2.0, 0.0],
        )
        .expect("in range");
        assert_eq!(bins[0].efficiency, None);
        assert_eq!((bins[1].reconstructable, bins[1].matched), (1, 0));
        assert_eq!(
            TrackTruth::new(vec![1], vec![], HashMap::new()),
            Err(MetricsError::TruthLengths {
                particles: 1,
                weights: 0
            })
        );
    }
}
