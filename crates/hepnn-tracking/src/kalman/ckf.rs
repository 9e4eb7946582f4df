//! The combinatorial Kalman filter (CKF): every seed is filtered through its three hits and
//! followed outwards layer by layer (after ACTS `TrackFinding/CombinatorialKalmanFilter.hpp`):
//!
//! 1. navigate: the next layer whose reference cylinder or disc the helix crosses, and the
//!    modules (φ-binned lookup, then the exact plane crossing) the track passes through there;
//! 2. on each module: predict (transport + covariance), test its hits by χ² (< `chi2_cut`, two
//!    degrees of freedom), branch into one Kalman update per compatible hit (the best
//!    `max_branches`), then add the module's multiple-scattering noise;
//! 3. a layer crossed without a compatible hit is a hole; a branch stops after
//!    `max_consecutive_holes` + 1 holes in a row, when it leaves the tracker, or after half a turn;
//! 4. each seed keeps its best branch (most hits, then smallest χ²); seeds whose hits are
//!    already on found tracks are skipped (seeds run in parallel chunks);
//! 5. shared hits: tracks in order of quality keep their hits; a later track loses its hits that
//!    are already taken and is dropped when more than `max_shared_hits` were taken or fewer than
//!    `min_hits` remain (greedy ambiguity resolution), so the output candidates are disjoint;
//! 6. each kept track is fitted by the [`KalmanFitter`] (RTS smoothing, perigee parameters);
//! 7. secondary pass ([`SecondaryConfig`]): seeds made of the hits left unused by the first
//!    pass, with a wide impact cut, followed without counting the layers before their first hit
//!    as holes, kept with more hits (particles born in the pixels from decays and interactions);
//! 8. three-hit tracks ([`ShortTrackConfig`]): a best branch of exactly three pixel hits on the
//!    first three layers the helix crosses (no hole before its last hit) is kept when none of its
//!    hits is on another track and its fit points back to the beam line (pT, d₀ and its
//!    significance, z₀, χ² cuts): the particles absorbed after three layers;
//! 9. two-layer tracks (`ShortTrackConfig::two_layers`): among the pixel hits still free, a hit
//!    with an overlap twin (same layer, another module, ≤ 10 mm away) and a hit on another
//!    layer such that the circle through the beam line and the two layers' hits, with the
//!    straight line in (arc length, z) from |z₀| ≤ `max_z0`, passes within `twin_tolerance` of
//!    the twin, the two layers being the first two pixel layers that helix crosses, no hit of
//!    a found track on it elsewhere in the pixels; the fit's χ² as for three-hit tracks, best
//!    agreement first, hits not shared:
//!    particles absorbed after two layers, seen three times thanks to the module overlaps.

use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use hepnn_core::Event;
use hepnn_sim::tracker::LayerShape;

use hepnn_core::units::GEV_PER_TESLA_MM;
use hepnn_sim::tracker::helix::circle_through;

use super::fitter::{
    FitResult, KalmanFitter, KalmanFitterConfig, chi2, estimate_from_triplet, initial_covariance,
    order_hits, update,
};
use super::material::MaterialEffects;
use super::parameters::{Perigee, QOP, ReferenceSurface, THETA, TrackParameters};
use super::propagator::Propagator;
use super::seeding::{Seed, SeedFinder, SeedFinderConfig};
use super::{EventMeasurements, KalmanError, Result, SurfaceId, TrackingGeometry};
use crate::building::TrackCandidate;

/// Settings of the CKF.
#[derive(Debug, Clone, PartialEq)]
pub struct CkfConfig {
    /// The seed finder.
    pub seeding: SeedFinderConfig,
    /// Largest χ² (2 degrees of freedom) of a hit added to a track (default 15, as ACTS).
    pub chi2_cut: f64,
    /// Most branches followed per seed (default 3).
    pub max_branches: usize,
    /// Holes in a row a branch survives (default 1: it stops at the second missing layer).
    pub max_consecutive_holes: usize,
    /// Fewest hits of an output track (default 4: at ⟨μ⟩ = 50 a minimum of 3 raises the
    /// efficiency for pT > 1 GeV from 0.957 to 0.978 but the fake rate from 0.001 to 0.14;
    /// 5 loses the particles absorbed early, 0.935).
    pub min_hits: usize,
    /// Most hits a track may lose to better tracks in the shared-hit resolution (default 2).
    pub max_shared_hits: usize,
    /// Seeds per parallel chunk; after each chunk the hits of its tracks are marked and later
    /// seeds with two or more marked hits are skipped (default 256).
    pub chunk: usize,
    /// The final fit.
    pub fitter: KalmanFitterConfig,
    /// The second seeding pass on unused hits, for secondaries.
    pub secondary: SecondaryConfig,
    /// The acceptance of three-hit tracks.
    pub short_tracks: ShortTrackConfig,
    /// Field (T) (default 2).
    pub bz: f64,
}

/// The second pass (module docs, step 7): seeds from the hits no first-pass track took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SecondaryConfig {
    /// Whether the pass runs (default true).
    pub enabled: bool,
    /// Largest transverse impact parameter of a seed (mm) (default 10).
    pub d0_max: f64,
    /// Largest |z₀| of a seed (mm) (default 100).
    pub z0_max: f64,
    /// Lowest seed pT (GeV) (default 0.9: the efficiency counts pT > 1 GeV).
    pub min_pt: f64,
    /// Most triplets kept per middle hit (default 3).
    pub max_seeds_per_middle: usize,
    /// Fewest hits of a track from this pass (default 6).
    pub min_hits: usize,
}

impl Default for SecondaryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            d0_max: 10.0,
            z0_max: 100.0,
            min_pt: 0.9,
            max_seeds_per_middle: 3,
            min_hits: 6,
        }
    }
}

/// The acceptance of three-hit tracks (module docs, step 8), applied when `min_hits` is 4.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShortTrackConfig {
    /// Whether three-hit tracks are kept (default true).
    pub enabled: bool,
    /// Lowest fitted pT (GeV) (default 0.9).
    pub min_pt: f64,
    /// Largest fitted |d₀| (mm) (default 0.3).
    pub max_d0: f64,
    /// Largest |d₀| / σ(d₀) (default 3).
    pub max_d0_significance: f64,
    /// Largest fitted |z₀| (mm) (default 20: 3.5 σ of the luminous region).
    pub max_z0: f64,
    /// Largest fit χ² (one degree of freedom) (default 5, 97.5% of true tracks).
    pub max_chi2: f64,
    /// Also keep tracks on two pixel layers, one with an overlap twin (default true): the two
    /// twins and the other layer's hit, when the circle through the beam line and one hit of
    /// each layer passes within `twin_tolerance` of the twin.
    pub two_layers: bool,
    /// Largest distance of the twin from that helix, transverse and along z / (1 + |cot θ|)
    /// (mm) (default 0.1: about 5 σ of the pixel resolution).
    pub twin_tolerance: f64,
}

impl Default for ShortTrackConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_pt: 0.9,
            max_d0: 0.3,
            max_d0_significance: 3.0,
            max_z0: 20.0,
            max_chi2: 5.0,
            two_layers: true,
            twin_tolerance: 0.1,
        }
    }
}

impl ShortTrackConfig {
    /// Whether a three-hit fit passes the cuts.
    pub fn accepts(&self, fit: &FitResult) -> bool {
        let v = &fit.perigee.vector;
        let sigma_d0 = fit.perigee.covariance[(0, 0)].max(0.0).sqrt();
        fit.perigee.pt() >= self.min_pt
            && v[0].abs() <= self.max_d0
            && v[0].abs() <= self.max_d0_significance * sigma_d0
            && v[1].abs() <= self.max_z0
            && fit.chi2 <= self.max_chi2
    }
}

impl Default for CkfConfig {
    fn default() -> Self {
        Self {
            seeding: SeedFinderConfig::default(),
            chi2_cut: 15.0,
            max_branches: 3,
            max_consecutive_holes: 1,
            min_hits: 4,
            max_shared_hits: 2,
            chunk: 256,
            fitter: KalmanFitterConfig::default(),
            secondary: SecondaryConfig::default(),
            short_tracks: ShortTrackConfig::default(),
            bz: 2.0,
        }
    }
}

impl CkfConfig {
    /// Checks every setting once.
    ///
    /// # Errors
    /// [`KalmanError::Config`] naming the first setting out of range.
    pub fn validate(&self) -> Result<()> {
        self.seeding.validate()?;
        let bad = |name: &'static str, reason: String| Err(KalmanError::Config { name, reason });
        if !(self.chi2_cut.is_finite() && self.chi2_cut > 0.0) {
            return bad("chi2_cut", format!("expected > 0, found {}", self.chi2_cut));
        }
        if self.max_branches == 0 {
            return bad("max_branches", "expected ≥ 1, found 0".into());
        }
        if self.min_hits < 3 {
            return bad(
                "min_hits",
                format!("expected ≥ 3 (a seed), found {}", self.min_hits),
            );
        }
        if self.chunk == 0 {
            return bad("chunk", "expected ≥ 1, found 0".into());
        }
        let s = &self.secondary;
        if ![s.d0_max, s.z0_max, s.min_pt]
            .iter()
            .all(|v| v.is_finite() && *v > 0.0)
            || s.min_hits < 3
            || s.max_seeds_per_middle == 0
        {
            return bad(
                "secondary",
                format!(
                    "expected d0_max, z0_max, min_pt > 0, min_hits ≥ 3, max_seeds_per_middle ≥ 1, found {}, {}, {}, {}, {}",
                    s.d0_max, s.z0_max, s.min_pt, s.min_hits, s.max_seeds_per_middle
                ),
            );
        }
        let t = &self.short_tracks;
        if [
            t.min_pt,
            t.max_d0,
            t.max_d0_significance,
            t.max_z0,
            t.max_chi2,
            t.twin_tolerance,
        ]
        .iter()
        .any(|v| !(v.is_finite() && *v >= 0.0))
        {
            return bad(
                "short_tracks",
                format!("expected finite cuts ≥ 0, found {t:?}"),
            );
        }
        if self.fitter.iterations == 0
            || !(self.fitter.max_path.is_finite() && self.fitter.max_path > 0.0)
        {
            return bad(
                "fitter",
                format!(
                    "expected ≥ 1 iteration and a positive max_path, found {} and {}",
                    self.fitter.iterations, self.fitter.max_path
                ),
            );
        }
        if !(self.bz.is_finite() && self.bz != 0.0) || self.bz != self.seeding.bz {
            return bad(
                "bz",
                format!(
                    "expected the same non-zero field as seeding.bz, found {} and {}",
                    self.bz, self.seeding.bz
                ),
            );
        }
        Ok(())
    }
}

/// A found track: its candidate (hit indices inner → outer) and its fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedTrack {
    /// The hits.
    pub candidate: TrackCandidate,
    /// The Kalman fit at the perigee (`None` when the final fit failed).
    pub fit: Option<FitResult>,
}

/// Counts and per-stage wall-clock times of one event.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct CkfSummary {
    /// Hits in the event.
    pub hits: usize,
    /// Seeds found.
    pub seeds: usize,
    /// Seeds followed (not skipped).
    pub seeds_followed: usize,
    /// Tracks found before the shared-hit resolution.
    pub tracks_found: usize,
    /// Seeds of the secondary pass.
    pub seeds_secondary: usize,
    /// Tracks of the secondary pass before the shared-hit resolution.
    pub tracks_secondary: usize,
    /// Three-hit tracks kept (within `tracks`).
    pub tracks_short: usize,
    /// Two-layer tracks (a hit and an overlap twin on one layer, a hit on another) kept
    /// (within `tracks`).
    pub tracks_two_layers: usize,
    /// Tracks kept.
    pub tracks: usize,
    /// Seeding time (ms).
    pub seeding_ms: f64,
    /// Track finding time, CKF and shared-hit resolution (ms).
    pub finding_ms: f64,
    /// Final fit time (ms).
    pub fit_ms: f64,
}

impl CkfSummary {
    /// Total time (ms).
    pub fn total_ms(&self) -> f64 {
        self.seeding_ms + self.finding_ms + self.fit_ms
    }
}

/// The output of [`Ckf::find`].
#[derive(Debug, Clone, PartialEq)]
pub struct CkfOutput {
    /// The tracks, with their fits.
    pub tracks: Vec<FittedTrack>,
    /// Counts and timing.
    pub summary: CkfSummary,
}

impl CkfOutput {
    /// The candidates alone (for [`crate::metrics::track_metrics`]).
    pub fn candidates(&self) -> Vec<TrackCandidate> {
        self.tracks.iter().map(|t| t.candidate.clone()).collect()
    }
}

/// One branch of the tree followed from a seed.
#[derive(Debug, Clone)]
struct Branch {
    parameters: TrackParameters,
    /// The module the parameters are on; `None` at the perigee.
    surface: Option<SurfaceId>,
    hits: Vec<usize>,
    chi2: f64,
    consecutive_holes: usize,
    /// Holes in all (those before the first hit not counted in the secondary pass).
    holes: usize,
    /// Holes before the first hit are not counted (the secondary pass).
    free_holes: bool,
    last_layer: usize,
    /// Layers before this path (mm) along the current state are already done.
    min_path: f64,
    /// Transverse turning angle so far (rad).
    turned: f64,
    hit_in_layer: bool,
}

impl Branch {
    fn better_than(&self, other: &Self) -> bool {
        (self.hits.len(), -self.chi2) > (other.hits.len(), -other.chi2)
    }
}

/// Longest step between two layers (mm).
const MAX_STEP: f64 = 3_000.0;
/// A branch stops after turning this much in the transverse plane (half a loop, ACTS's loop
/// protection).
const MAX_TURN: f64 = std::f64::consts::PI;

/// The combinatorial Kalman filter.
#[derive(Debug, Clone)]
pub struct Ckf {
    geometry: TrackingGeometry,
    config: CkfConfig,
    seed_finder: SeedFinder,
    secondary_finder: SeedFinder,
    propagator: Propagator,
    material: MaterialEffects,
    fitter: KalmanFitter,
}

impl Ckf {
    /// Checks the configuration.
    ///
    /// # Errors
    /// As [`CkfConfig::validate`].
    pub fn new(geometry: TrackingGeometry, config: CkfConfig) -> Result<Self> {
        config.validate()?;
        let propagator = Propagator { bz: config.bz };
        Ok(Self {
            geometry,
            seed_finder: SeedFinder::new(config.seeding.clone())?,
            secondary_finder: SeedFinder::new(SeedFinderConfig {
                d0_max: config.secondary.d0_max,
                z0_max: config.secondary.z0_max,
                min_pt: config.secondary.min_pt,
                displaced: true,
                max_seeds_per_middle: config.secondary.max_seeds_per_middle,
                ..config.seeding.clone()
            })?,
            propagator,
            material: MaterialEffects::default(),
            fitter: KalmanFitter {
                propagator,
                material: MaterialEffects::default(),
                config: config.fitter,
            },
            config,
        })
    }

    /// The geometry.
    pub fn geometry(&self) -> &TrackingGeometry {
        &self.geometry
    }

    /// The configuration.
    pub fn config(&self) -> &CkfConfig {
        &self.config
    }

    /// Finds the tracks of an event.
    ///
    /// # Errors
    /// [`KalmanError::EmptyEvent`] or [`KalmanError::UnknownModule`] (see
    /// [`EventMeasurements::new`]).
    pub fn find(&self, event: &Event) -> Result<CkfOutput> {
        let measurements = EventMeasurements::new(&self.geometry, event)?;
        let mut summary = CkfSummary {
            hits: event.hits.len(),
            ..CkfSummary::default()
        };
        let started = Instant::now();
        let seeds = self.seed_finder.find(&self.geometry, &measurements);
        summary.seeds = seeds.len();
        summary.seeding_ms = started.elapsed().as_secs_f64() * 1e3;

        let started = Instant::now();
        let mut used = vec![false; event.hits.len()];
        let mut found: Vec<Branch> = Vec::new();
        let mut short: Vec<Branch> = Vec::new();
        let take_short = self.config.short_tracks.enabled && self.config.min_hits == 4;
        for chunk in seeds.chunks(self.config.chunk) {
            let todo: Vec<&Seed> = chunk
                .iter()
                .filter(|seed| seed.hits.iter().filter(|&&h| used[h]).count() < 2)
                .collect();
            summary.seeds_followed += todo.len();
            let (tracks, shorts): (Vec<Branch>, Vec<Branch>) = todo
                .par_iter()
                .filter_map(|seed| self.follow(&measurements, seed, false))
                .filter(|branch| {
                    branch.hits.len() >= self.config.min_hits
                        || (take_short && self.short_candidate(&measurements, branch))
                })
                .partition(|branch| branch.hits.len() >= self.config.min_hits);
            for track in &tracks {
                for &h in &track.hits {
                    used[h] = true;
                }
            }
            found.extend(tracks);
            short.extend(shorts);
        }
        summary.finding_ms = started.elapsed().as_secs_f64() * 1e3;

        if self.config.secondary.enabled {
            let started = Instant::now();
            let seeds = self
                .secondary_finder
                .find_unused(&self.geometry, &measurements, &used);
            summary.seeds_secondary = seeds.len();
            summary.seeding_ms += started.elapsed().as_secs_f64() * 1e3;
            let started = Instant::now();
            let min_hits = self.config.secondary.min_hits.max(self.config.min_hits);
            for chunk in seeds.chunks(self.config.chunk) {
                let todo: Vec<&Seed> = chunk
                    .iter()
                    .filter(|seed| seed.hits.iter().filter(|&&h| used[h]).count() < 2)
                    .collect();
                summary.seeds_followed += todo.len();
                let tracks: Vec<Branch> = todo
                    .par_iter()
                    .filter_map(|seed| self.follow(&measurements, seed, true))
                    .filter(|branch| branch.hits.len() >= min_hits)
                    .collect();
                for track in &tracks {
                    for &h in &track.hits {
                        used[h] = true;
                    }
                }
                summary.tracks_secondary += tracks.len();
                found.extend(tracks);
            }
            summary.finding_ms += started.elapsed().as_secs_f64() * 1e3;
        }

        let started = Instant::now();
        summary.tracks_found = found.len();
        let (kept, mut owner) = self.resolve_shared_hits(found, event.hits.len());
        summary.finding_ms += started.elapsed().as_secs_f64() * 1e3;

        let started = Instant::now();
        let mut fit_excluded_ms = 0.0;
        let mut tracks: Vec<FittedTrack> = kept
            .into_par_iter()
            .map(|hits| FittedTrack {
                fit: self.fitter.fit(&self.geometry, &measurements, &hits).ok(),
                candidate: TrackCandidate { hits },
            })
            .collect();
        if !short.is_empty() {
            // Three-hit tracks: free hits, fit accepted; the best χ² first.
            short.retain(|b| b.hits.iter().all(|&h| !owner[h]));
            let mut fitted: Vec<(f64, FittedTrack)> = short
                .into_par_iter()
                .filter_map(|b| {
                    let fit = self
                        .fitter
                        .fit(&self.geometry, &measurements, &b.hits)
                        .ok()?;
                    if !self.config.short_tracks.accepts(&fit) {
                        return None;
                    }
                    Some((
                        fit.chi2,
                        FittedTrack {
                            fit: Some(fit),
                            candidate: TrackCandidate { hits: b.hits },
                        },
                    ))
                })
                .collect();
            fitted.sort_by(|a, b| a.0.total_cmp(&b.0));
            for (_, track) in fitted {
                if track.candidate.hits.iter().any(|&h| owner[h]) {
                    continue;
                }
                for &h in &track.candidate.hits {
                    owner[h] = true;
                }
                summary.tracks_short += 1;
                tracks.push(track);
            }
        }
        if take_short && self.config.short_tracks.two_layers {
            // Best agreement first, disjoint, then fitted. The search counts as finding.
            let search = Instant::now();
            let mut candidates = self.two_layer_candidates(&measurements, &owner);
            let search_ms = search.elapsed().as_secs_f64() * 1e3;
            summary.finding_ms += search_ms;
            fit_excluded_ms += search_ms;
            candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut chosen = Vec::new();
            for (_, hits) in candidates {
                if hits.iter().any(|&h| owner[h]) {
                    continue;
                }
                for &h in &hits {
                    owner[h] = true;
                }
                chosen.push(hits);
            }
            let fitted: Vec<FittedTrack> = chosen
                .into_par_iter()
                .filter_map(|hits| {
                    let fit = self.fitter.fit(&self.geometry, &measurements, &hits).ok()?;
                    let cuts = &self.config.short_tracks;
                    // The fit (no beam-line constraint) agrees with the beam-line helix.
                    let agrees = fit.chi2 <= cuts.max_chi2
                        && fit.perigee.pt() >= 0.5 * cuts.min_pt
                        && fit.perigee.vector[1].abs() <= cuts.max_z0 + 10.0;
                    if !agrees {
                        return None;
                    }
                    Some(FittedTrack {
                        fit: Some(fit),
                        candidate: TrackCandidate { hits },
                    })
                })
                .collect();
            summary.tracks_two_layers = fitted.len();
            tracks.extend(fitted);
        }
        summary.fit_ms = started.elapsed().as_secs_f64() * 1e3 - fit_excluded_ms;
        summary.tracks = tracks.len();
        Ok(CkfOutput { tracks, summary })
    }

    /// Two-layer candidates among the free pixel hits (module docs, step 9): (score, hits
    /// ordered from the beam line), the best other-layer hit per twin pair.
    fn two_layer_candidates(
        &self,
        measurements: &EventMeasurements,
        owner: &[bool],
    ) -> Vec<(f64, Vec<usize>)> {
        let cuts = &self.config.short_tracks;
        let all = &measurements.measurements;
        let radius_min = cuts.min_pt / (GEV_PER_TESLA_MM * self.config.bz.abs());
        // Free pixel hits per layer, sorted by φ.
        let layers: Vec<Vec<(f64, usize)>> = self
            .geometry
            .detector
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                if !self.config.seeding.volumes.contains(&layer.volume_id) {
                    return Vec::new();
                }
                let mut hits: Vec<(f64, usize)> = measurements.by_surface[l]
                    .iter()
                    .flatten()
                    .filter(|&&h| !owner[h])
                    .map(|&h| (all[h].position[1].atan2(all[h].position[0]), h))
                    .collect();
                hits.sort_by(|a, b| a.0.total_cmp(&b.0));
                hits
            })
            .collect();
        // Hits of other tracks per layer, sorted by φ.
        let owned: Vec<Vec<(f64, usize)>> = (0..layers.len())
            .map(|l| {
                if layers[l].is_empty() {
                    return Vec::new();
                }
                let mut hits: Vec<(f64, usize)> = measurements.by_surface[l]
                    .iter()
                    .flatten()
                    .filter(|&&h| owner[h])
                    .map(|&h| (all[h].position[1].atan2(all[h].position[0]), h))
                    .collect();
                hits.sort_by(|a, b| a.0.total_cmp(&b.0));
                hits
            })
            .collect();
        // Hits of a φ-sorted layer within `window` of `phi` (no wrap: the few at ±π are lost).
        let near = |hits: &[(f64, usize)], phi: f64, window: f64| {
            let first = hits.partition_point(|h| h.0 < phi - window);
            let last = hits.partition_point(|h| h.0 <= phi + window);
            first..last
        };
        let arc = |r: f64, radius: f64| 2.0 * radius * (r / (2.0 * radius)).min(1.0).asin();
        // φ between the two layers' hits: the bending of min_pt over the pixels' radius.
        let window = (200.0 / (2.0 * radius_min)).min(1.0).asin() + 0.01;
        (0..layers.len())
            .into_par_iter()
            .flat_map_iter(|l| {
                let mut out = Vec::new();
                let hits = &layers[l];
                // Twins lie within 10 mm: the hits in 10 mm bins of z (barrel) or r (disc).
                let barrel = matches!(
                    self.geometry.detector.layers[l].shape,
                    LayerShape::Barrel { .. }
                );
                let key = |h: usize| {
                    let p = all[h].position;
                    let c = if barrel { p[2] } else { p[0].hypot(p[1]) };
                    (c / 10.0).floor() as i64
                };
                let mut bins: std::collections::BTreeMap<i64, Vec<(f64, usize)>> =
                    std::collections::BTreeMap::new();
                for &(phi, h) in hits {
                    bins.entry(key(h)).or_default().push((phi, h));
                }
                for &(phi_a, a) in hits {
                    let pa = all[a].position;
                    let ra = pa[0].hypot(pa[1]);
                    let k = key(a);
                    let twins = (k - 1..=k + 1)
                        .filter_map(|kk| bins.get(&kk))
                        .flat_map(|bin| bin[near(bin, phi_a, 12.0 / ra.max(1.0))].iter());
                    for &(_, twin) in twins {
                        let pt = all[twin].position;
                        let distance = (pt[0] - pa[0]).hypot(pt[1] - pa[1]).hypot(pt[2] - pa[2]);
                        if twin == a || all[twin].surface == all[a].surface || distance > 10.0 {
                            continue;
                        }
                        let mut best: Option<(f64, usize)> = None;
                        for (l2, others) in layers.iter().enumerate() {
                            if l2 == l || others.is_empty() {
                                continue;
                            }
                            for &(_, b) in &others[near(others, phi_a, window)] {
                                let pb = all[b].position;
                                // The r–z cone of lines from |z₀| ≤ max_z0 through a (5 mm).
                                let rb = pb[0].hypot(pb[1]);
                                let z_lo = -cuts.max_z0 + (pa[2] + cuts.max_z0) * rb / ra;
                                let z_hi = cuts.max_z0 + (pa[2] - cuts.max_z0) * rb / ra;
                                if pb[2] < z_lo.min(z_hi) - 5.0 || pb[2] > z_lo.max(z_hi) + 5.0 {
                                    continue;
                                }
                                let Some((centre, radius, _)) =
                                    circle_through([0.0, 0.0], [pa[0], pa[1]], [pb[0], pb[1]])
                                else {
                                    continue;
                                };
                                if radius < radius_min {
                                    continue;
                                }
                                let (sa, sb) = (arc(ra, radius), arc(rb, radius));
                                if (sb - sa).abs() < 1.0 {
                                    continue;
                                }
                                let cot = (pb[2] - pa[2]) / (sb - sa);
                                let z0 = pa[2] - cot * sa;
                                if z0.abs() > cuts.max_z0 {
                                    continue;
                                }
                                let transverse =
                                    ((pt[0] - centre[0]).hypot(pt[1] - centre[1]) - radius).abs();
                                let st = arc(pt[0].hypot(pt[1]), radius);
                                let along = (pt[2] - z0 - cot * st).abs() / (1.0 + cot.abs());
                                let tolerance = cuts.twin_tolerance;
                                if transverse > tolerance
                                    || along > tolerance
                                    || self.pixel_layers_before(l, l2, radius, cot, z0, sa.max(sb))
                                {
                                    continue;
                                }
                                let score = transverse.hypot(along);
                                if best.is_none_or(|(s, _)| score < s) {
                                    best = Some((score, b));
                                }
                            }
                        }
                        let Some((score, b)) = best else {
                            continue;
                        };
                        // A fragment of a found track when one of its hits lies on the helix
                        // (1 mm) on a third pixel layer.
                        let pb = all[b].position;
                        let lb = all[b].surface.0 as usize;
                        let Some((centre, radius, _)) =
                            circle_through([0.0, 0.0], [pa[0], pa[1]], [pb[0], pb[1]])
                        else {
                            continue;
                        };
                        let (sa, sb) = (arc(ra, radius), arc(pb[0].hypot(pb[1]), radius));
                        let cot = (pb[2] - pa[2]) / (sb - sa);
                        let z0 = pa[2] - cot * sa;
                        let fragment = owned.iter().enumerate().any(|(l3, hits3)| {
                            l3 != l
                                && l3 != lb
                                && hits3[near(hits3, phi_a, window)].iter().any(|&(_, h)| {
                                    let p = all[h].position;
                                    let transverse =
                                        ((p[0] - centre[0]).hypot(p[1] - centre[1]) - radius).abs();
                                    let s = arc(p[0].hypot(p[1]), radius);
                                    let along = (p[2] - z0 - cot * s).abs() / (1.0 + cot.abs());
                                    transverse < 1.0 && along < 1.0
                                })
                        });
                        if !fragment {
                            out.push((score, order_hits(measurements, &[a, twin, b])));
                        }
                    }
                }
                out
            })
            .collect()
    }

    /// Whether a helix from the beam line (transverse radius `radius`, z = `z0` + `cot` · s in
    /// arc length s) crosses a pixel layer other than `la` and `lb` before the arc length
    /// `s_end` (mm): the two layers of a two-layer track must be the first two it crosses.
    fn pixel_layers_before(
        &self,
        la: usize,
        lb: usize,
        radius: f64,
        cot: f64,
        z0: f64,
        s_end: f64,
    ) -> bool {
        self.geometry
            .detector
            .layers
            .iter()
            .enumerate()
            .any(|(l, layer)| {
                if l == la || l == lb || !self.config.seeding.volumes.contains(&layer.volume_id) {
                    return false;
                }
                match layer.shape {
                    LayerShape::Barrel {
                        radius: r,
                        z_min,
                        z_max,
                    } => {
                        if r >= 2.0 * radius {
                            return false;
                        }
                        let s = 2.0 * radius * (r / (2.0 * radius)).asin();
                        let z = z0 + cot * s;
                        s < s_end - 1.0 && z > z_min + 5.0 && z < z_max - 5.0
                    }
                    LayerShape::Endcap { z, r_min, r_max } => {
                        if cot.abs() < 1e-9 {
                            return false;
                        }
                        let s = (z - z0) / cot;
                        let r = 2.0 * radius * (s / (2.0 * radius)).sin().abs();
                        s > 0.0 && s < s_end - 1.0 && r > r_min + 5.0 && r < r_max - 5.0
                    }
                }
            })
    }

    /// Whether a best branch of three hits may become a three-hit track (module docs, step 8):
    /// three pixel hits on three layers, no hole before the last.
    fn short_candidate(&self, measurements: &EventMeasurements, branch: &Branch) -> bool {
        if branch.hits.len() != 3 || branch.holes > branch.consecutive_holes {
            return false;
        }
        let layers: Vec<u32> = branch
            .hits
            .iter()
            .map(|&h| measurements.measurements[h].surface.0)
            .collect();
        let volumes = &self.config.seeding.volumes;
        layers[0] != layers[1]
            && layers[1] != layers[2]
            && layers[0] != layers[2]
            && layers
                .iter()
                .all(|&l| volumes.contains(&self.geometry.detector.layers[l as usize].volume_id))
    }

    /// Greedy shared-hit resolution (module docs, step 5): hit lists, disjoint, and which hits
    /// they hold.
    fn resolve_shared_hits(
        &self,
        mut found: Vec<Branch>,
        num_hits: usize,
    ) -> (Vec<Vec<usize>>, Vec<bool>) {
        found.sort_by(|a, b| {
            let quality = |t: &Branch| t.chi2 / (2 * t.hits.len()).saturating_sub(5).max(1) as f64;
            b.hits
                .len()
                .cmp(&a.hits.len())
                .then(quality(a).total_cmp(&quality(b)))
        });
        let mut owner = vec![false; num_hits];
        let mut kept = Vec::new();
        for track in found {
            let free: Vec<usize> = track.hits.iter().copied().filter(|&h| !owner[h]).collect();
            let shared = track.hits.len() - free.len();
            if shared > self.config.max_shared_hits || free.len() < self.config.min_hits {
                continue;
            }
            for &h in &free {
                owner[h] = true;
            }
            kept.push(free);
        }
        (kept, owner)
    }

    /// Follows one seed; its best branch. With `free_holes` (the secondary pass) the layers
    /// before the first hit are not holes.
    fn follow(
        &self,
        measurements: &EventMeasurements,
        seed: &Seed,
        free_holes: bool,
    ) -> Option<Branch> {
        let all = &measurements.measurements;
        let [b, m, t] = seed.hits.map(|h| &all[h]);
        let free = estimate_from_triplet(b.position, m.position, t.position, self.config.bz);
        let surface = self.geometry.surface(b.surface);
        let mut parameters = TrackParameters {
            vector: surface.free_to_bound(&free),
            covariance: initial_covariance(b, free[6]),
        };
        let mut chi2_sum = 0.0;
        let mut previous = b.surface;
        for (k, &hit) in seed.hits.iter().enumerate() {
            let measurement = &all[hit];
            if k > 0 {
                let from = self.geometry.surface(previous);
                parameters.covariance += self.material.noise(from, &parameters.vector);
                parameters = self
                    .propagator
                    .propagate(
                        &parameters,
                        from,
                        self.geometry.surface(measurement.surface),
                        MAX_STEP,
                    )?
                    .0;
            }
            let (filtered, chi2) = update(&parameters, measurement)?;
            parameters = filtered;
            chi2_sum += chi2;
            previous = measurement.surface;
        }
        // Back to the perigee with the seed's filtered state, and find every hit from there,
        // the seed's own, their overlap twins and those of layers the seed skipped.
        let parameters = self
            .propagator
            .propagate(
                &parameters,
                self.geometry.surface(previous),
                &Perigee,
                MAX_STEP,
            )?
            .0;
        let _ = chi2_sum;
        let mut active = vec![Branch {
            parameters,
            surface: None,
            hits: Vec::new(),
            chi2: 0.0,
            consecutive_holes: 0,
            holes: 0,
            free_holes,
            last_layer: usize::MAX,
            min_path: 0.0,
            turned: 0.0,
            hit_in_layer: false,
        }];
        let mut best: Option<Branch> = None;
        let offer = |branch: Branch, best: &mut Option<Branch>| {
            if best.as_ref().is_none_or(|b| branch.better_than(b)) {
                *best = Some(branch);
            }
        };
        for _ in 0..64 {
            if active.is_empty() {
                break;
            }
            let mut next = Vec::with_capacity(active.len() * 2);
            for branch in active {
                let step = self.step(measurements, branch);
                for done in step.done {
                    offer(done, &mut best);
                }
                next.extend(step.continuing);
            }
            next.sort_by(|a, b| {
                b.hits
                    .len()
                    .cmp(&a.hits.len())
                    .then(a.chi2.total_cmp(&b.chi2))
            });
            next.truncate(self.config.max_branches);
            active = next;
        }
        for branch in active {
            offer(branch, &mut best);
        }
        best
    }

    /// The surface of a branch's parameters.
    fn reference(&self, surface: Option<SurfaceId>) -> &dyn ReferenceSurface {
        match surface {
            Some(id) => self.geometry.surface(id),
            None => &Perigee,
        }
    }

    /// One layer for one branch.
    fn step(&self, measurements: &EventMeasurements, mut branch: Branch) -> Step {
        let free = self
            .reference(branch.surface)
            .bound_to_free(&branch.parameters.vector);
        let omega = self.propagator.omega(free[6]).abs();
        let remaining_turn = MAX_TURN - branch.turned;
        if remaining_turn <= 0.0 || branch.parameters.vector[QOP].abs() > 20.0 {
            return Step::done(branch);
        }
        let sin_theta = branch.parameters.vector[THETA].sin().abs().max(1e-6);
        let s_max = if omega > 0.0 {
            (remaining_turn / omega).min(MAX_STEP)
        } else {
            MAX_STEP
        };
        // The next layer crossed.
        let mut next: Option<(f64, usize)> = None;
        for (index, layer) in self.geometry.detector.layers.iter().enumerate() {
            let s_lo = if index == branch.last_layer {
                branch.min_path.max(30.0)
            } else {
                branch.min_path.max(1e-3)
            };
            let s_hi = next.map_or(s_max, |(s, _)| s);
            let crossing = match layer.shape {
                LayerShape::Barrel {
                    radius,
                    z_min,
                    z_max,
                } => self
                    .propagator
                    .cross_cylinder(&free, radius, s_lo, s_hi)
                    .filter(|&s| {
                        let z = free[2] + free[5] * s;
                        z >= z_min - 20.0 && z <= z_max + 20.0
                    }),
                LayerShape::Endcap { z, r_min, r_max } => {
                    self.propagator.cross_z(&free, z, s_lo, s_hi).filter(|&s| {
                        let p = self.propagator.advance(&free, s);
                        let r = p[0].hypot(p[1]);
                        r >= r_min - 20.0 && r <= r_max + 20.0
                    })
                }
            };
            if let Some(s) = crossing {
                next = Some((s, index));
            }
        }
        let Some((s_ref, layer_index)) = next else {
            return Step::done(branch);
        };
        let layer = &self.geometry.detector.layers[layer_index];
        let reference = self.propagator.advance(&free, s_ref);
        let cot = (free[5] / sin_theta).abs();
        let (coordinate, margin) = match layer.shape {
            LayerShape::Barrel { .. } => (reference[2], 10.0 + 8.0 * cot),
            LayerShape::Endcap { .. } => (
                reference[0].hypot(reference[1]),
                (10.0 + 10.0 / cot.max(1e-3)).min(150.0),
            ),
        };
        let mut candidates = Vec::new();
        layer.candidates(
            reference[1].atan2(reference[0]),
            coordinate,
            margin,
            &mut candidates,
        );
        // Modules crossed, in path order.
        let sigma_u = branch.parameters.sigma(0);
        let tolerance = (3.0 * sigma_u + 1.0).min(20.0);
        let mut crossed: Vec<(f64, SurfaceId)> = candidates
            .iter()
            .filter_map(|&index| {
                let module = &layer.surfaces[index as usize];
                let s = self.propagator.path_from(&reference, module, 0.0, 300.0)?;
                let p = self.propagator.advance(&reference, s);
                let local = module.to_local([p[0], p[1], p[2]]);
                let inside = local[1].abs() <= module.hv + tolerance
                    && local[0].abs() <= module.half_width_at(local[1]) + tolerance;
                inside.then_some((s_ref + s, (layer_index as u32, index)))
            })
            .collect();
        crossed.sort_by(|a, b| a.0.total_cmp(&b.0));
        if crossed.is_empty() {
            // A gap between modules: no hole, look further along the same state.
            branch.min_path = s_ref + 1.0;
            branch.last_layer = layer_index;
            return Step::go_on(branch);
        }
        branch.hit_in_layer = false;
        let mut branches = vec![branch];
        for &(s_module, id) in &crossed {
            let module = self.geometry.surface(id);
            let mut out = Vec::with_capacity(branches.len() + 2);
            for branch in branches {
                let from = self.reference(branch.surface);
                let guess = if branch.surface.is_some_and(|s| s.0 as usize == layer_index) {
                    0.0
                } else {
                    s_module
                };
                let Some((predicted, _, path)) = self.propagator.propagate_near(
                    &branch.parameters,
                    from,
                    module,
                    guess,
                    MAX_STEP,
                ) else {
                    out.push(branch);
                    continue;
                };
                let turned = branch.turned + (omega * path).abs();
                let mut compatible: Vec<(f64, usize)> = measurements
                    .on_surface(id)
                    .iter()
                    .map(|&hit| (chi2(&predicted, &measurements.measurements[hit]), hit))
                    .filter(|&(c, _)| c < self.config.chi2_cut)
                    .collect();
                compatible.sort_by(|a, b| a.0.total_cmp(&b.0));
                compatible.truncate(self.config.max_branches);
                let noise_then = |mut parameters: TrackParameters| {
                    parameters.covariance += self.material.noise(module, &parameters.vector);
                    parameters
                };
                if compatible.is_empty() {
                    out.push(Branch {
                        parameters: noise_then(predicted),
                        surface: Some(id),
                        turned,
                        min_path: 0.0,
                        last_layer: layer_index,
                        ..branch
                    });
                    continue;
                }
                for (_, hit) in compatible {
                    let Some((filtered, c)) = update(&predicted, &measurements.measurements[hit])
                    else {
                        continue;
                    };
                    let mut hits = branch.hits.clone();
                    hits.push(hit);
                    out.push(Branch {
                        parameters: noise_then(filtered),
                        surface: Some(id),
                        hits,
                        chi2: branch.chi2 + c,
                        consecutive_holes: 0,
                        holes: branch.holes,
                        free_holes: branch.free_holes,
                        last_layer: layer_index,
                        min_path: 0.0,
                        turned,
                        hit_in_layer: true,
                    });
                }
            }
            branches = out;
        }
        let mut step = Step::default();
        for mut branch in branches {
            branch.last_layer = layer_index;
            if branch.surface.is_none_or(|s| s.0 as usize != layer_index) {
                // No module reached on this layer: treat as a gap.
                branch.min_path = s_ref + 1.0;
                step.continuing.push(branch);
                continue;
            }
            // In the secondary pass the layers before the first hit are no holes.
            let counted = !(branch.free_holes && branch.hits.is_empty());
            if !branch.hit_in_layer && counted {
                branch.holes += 1;
                branch.consecutive_holes += 1;
                if branch.consecutive_holes > self.config.max_consecutive_holes {
                    step.done.push(branch);
                    continue;
                }
            }
            step.continuing.push(branch);
        }
        step
    }
}

/// The outcome of one layer step: branches that go on, branches that stopped.
#[derive(Default)]
struct Step {
    continuing: Vec<Branch>,
    done: Vec<Branch>,
}

impl Step {
    fn done(branch: Branch) -> Self {
        Self {
            continuing: Vec::new(),
            done: vec![branch],
        }
    }

    fn go_on(branch: Branch) -> Self {
        Self {
            continuing: vec![branch],
            done: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kalman::parameters::{BoundMatrix, BoundVector};
    use hepnn_sim::tracker::Detector;

    fn track(hits: &[usize], chi2: f64) -> Branch {
        Branch {
            parameters: TrackParameters {
                vector: BoundVector::zeros(),
                covariance: BoundMatrix::identity(),
            },
            surface: None,
            hits: hits.to_vec(),
            chi2,
            consecutive_holes: 0,
            holes: 0,
            free_holes: false,
            last_layer: 0,
            min_path: 0.0,
            turned: 0.0,
            hit_in_layer: false,
        }
    }

    #[test]
    fn shared_hits_go_to_the_better_track() {
        let ckf = Ckf::new(
            TrackingGeometry::new(Detector::trackml_default()),
            CkfConfig {
                min_hits: 4,
                max_shared_hits: 2,
                ..CkfConfig::default()
            },
        )
        .expect("valid settings");
        let (kept, _) = ckf.resolve_shared_hits(
            vec![
                // Shares 3 hits with the best track: dropped.
                track(&[0, 1, 2, 20, 21], 3.0),
                // The best: most hits.
                track(&[0, 1, 2, 3, 4, 5], 4.0),
                // Shares hit 5: keeps its 4 others.
                track(&[5, 10, 11, 12, 13], 2.0),
                // Shares 2 hits and would keep 3 < min_hits: dropped.
                track(&[3, 4, 30, 31, 32], 1.0),
                // Two copies of one track (a duplicate): one is kept, the other loses all its hits.
                track(&[40, 41, 42, 43], 9.0),
                track(&[40, 41, 42, 43], 1.0),
            ],
            50,
        );
        assert_eq!(
            kept,
            vec![
                vec![0, 1, 2, 3, 4, 5],
                vec![10, 11, 12, 13],
                vec![40, 41, 42, 43],
            ]
        );
    }
}
