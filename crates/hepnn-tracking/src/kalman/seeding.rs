//! Seeding: triplets (bottom, middle, top) of pixel hits on three different layers, ordered in
//! transverse radius, compatible with a helix from the beam line (after ACTS
//! `Seeding/SeedFinder.hpp`, simplified):
//!
//! - doublets: |Δφ| within what a track of `min_pt` bends between the two radii, the r–z line
//!   through bottom and middle meets the beam line at |z₀| ≤ `z0_max`, |cot θ| ≤ `cot_theta_max`;
//! - triplets: the two doublets' cot θ agree within `theta_tolerance · (1 + cot²θ)` (an angle
//!   tolerance), the circle through the three transverse points has pT ≥ `min_pt` and passes
//!   within `d0_max` of the beam line;
//! - at most `max_seeds_per_middle` triplets per middle hit, the smallest |d₀| first (with
//!   `displaced`, the best agreement of the two cot θ first);
//! - the space points of each layer sit in a grid of z (barrel) or r (disc) bins, each sorted
//!   in φ: a middle hit visits only the bins that its cone of lines from |z₀| ≤ `z0_max`
//!   reaches (ACTS's `SpacePointGrid`), then the φ window.

use hepnn_core::units::GEV_PER_TESLA_MM;
use hepnn_sim::tracker::helix::circle_through;

use hepnn_sim::tracker::LayerShape;

use super::parameters::wrap_phi;
use super::{EventMeasurements, KalmanError, Result, TrackingGeometry};

/// Settings of the seed finder.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedFinderConfig {
    /// Detector volumes whose hits make seeds (default the pixels: 7, 8, 9).
    pub volumes: Vec<u32>,
    /// Lowest seed pT (GeV) (default 0.5).
    pub min_pt: f64,
    /// Largest |z₀| of the bottom–middle line at the beam line (mm) (default 100; σ_z = 5.8 mm).
    pub z0_max: f64,
    /// Largest transverse impact parameter of the triplet's circle (mm) (default 1: at ⟨μ⟩ = 200
    /// the same efficiency as 2 mm with half the seeding time and 15% fewer fakes; the beam spot
    /// is σ_xy = 0.014 mm).
    pub d0_max: f64,
    /// Largest |cot θ| (default 27.3, |η| = 4).
    pub cot_theta_max: f64,
    /// Angle tolerance between the two doublets' directions in the r–z plane (rad) (default
    /// 0.005: pixel resolution and multiple scattering at 0.5 GeV are ~1 mrad).
    pub theta_tolerance: f64,
    /// Smallest Δr between two hits of a seed (mm) (default 5).
    pub min_delta_r: f64,
    /// Most triplets kept per middle hit (default 3).
    pub max_seeds_per_middle: usize,
    /// Seeds for displaced tracks (default false): cot θ of a doublet from its transverse
    /// chord instead of its Δr (the two differ when d₀ is comparable to r), and the triplets of
    /// a middle hit ranked by how well the two doublets' cot θ agree instead of by |d₀|.
    pub displaced: bool,
    /// Bin width of the space-point grid, in z on barrel layers and r on discs (mm) (default
    /// 10): a middle hit looks only at the bins its cone of lines from |z₀| ≤ `z0_max` reaches.
    pub grid_bin: f64,
    /// Field (T) (default 2).
    pub bz: f64,
}

impl Default for SeedFinderConfig {
    fn default() -> Self {
        Self {
            volumes: vec![7, 8, 9],
            min_pt: 0.5,
            z0_max: 100.0,
            d0_max: 1.0,
            cot_theta_max: 27.3,
            theta_tolerance: 0.005,
            min_delta_r: 5.0,
            max_seeds_per_middle: 3,
            displaced: false,
            grid_bin: 10.0,
            bz: 2.0,
        }
    }
}

impl SeedFinderConfig {
    /// Checks every setting.
    ///
    /// # Errors
    /// [`KalmanError::Config`] naming the first setting out of range.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("seeding.min_pt", self.min_pt),
            ("seeding.z0_max", self.z0_max),
            ("seeding.d0_max", self.d0_max),
            ("seeding.cot_theta_max", self.cot_theta_max),
            ("seeding.theta_tolerance", self.theta_tolerance),
            ("seeding.grid_bin", self.grid_bin),
        ];
        for (name, value) in positive {
            if !(value.is_finite() && value > 0.0) {
                return Err(KalmanError::Config {
                    name,
                    reason: format!("expected a positive number, found {value}"),
                });
            }
        }
        if !(self.min_delta_r.is_finite() && self.min_delta_r >= 0.0) {
            return Err(KalmanError::Config {
                name: "seeding.min_delta_r",
                reason: format!("expected a number ≥ 0, found {}", self.min_delta_r),
            });
        }
        if !(self.bz.is_finite() && self.bz != 0.0) {
            return Err(KalmanError::Config {
                name: "seeding.bz",
                reason: format!("expected a non-zero field, found {}", self.bz),
            });
        }
        if self.volumes.is_empty() || self.max_seeds_per_middle == 0 {
            return Err(KalmanError::Config {
                name: "seeding.volumes / max_seeds_per_middle",
                reason: "need at least one volume and one seed per middle hit".into(),
            });
        }
        Ok(())
    }
}

/// A seed: three hit indices, bottom → top, and the circle's impact parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seed {
    /// Hit indices (bottom, middle, top).
    pub hits: [usize; 3],
    /// |d₀| of the circle through them (mm).
    pub d0: f64,
    /// z₀ of the bottom–middle line (mm).
    pub z0: f64,
}

/// A space point of the seed finder.
#[derive(Debug, Clone, Copy)]
struct SpacePoint {
    hit: usize,
    x: f64,
    y: f64,
    z: f64,
    r: f64,
    phi: f64,
}

/// The seed finder.
#[derive(Debug, Clone)]
pub struct SeedFinder {
    config: SeedFinderConfig,
}

impl SeedFinder {
    /// Checks the configuration.
    ///
    /// # Errors
    /// As [`SeedFinderConfig::validate`].
    pub fn new(config: SeedFinderConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self { config })
    }

    /// The configuration.
    pub fn config(&self) -> &SeedFinderConfig {
        &self.config
    }

    /// The seeds of an event, ordered by middle hit.
    pub fn find(&self, geometry: &TrackingGeometry, measurements: &EventMeasurements) -> Vec<Seed> {
        self.find_among(geometry, measurements, None)
    }

    /// The seeds made of hits not marked in `used` (one flag per hit of the event).
    pub fn find_unused(
        &self,
        geometry: &TrackingGeometry,
        measurements: &EventMeasurements,
        used: &[bool],
    ) -> Vec<Seed> {
        self.find_among(geometry, measurements, Some(used))
    }

    fn find_among(
        &self,
        geometry: &TrackingGeometry,
        measurements: &EventMeasurements,
        used: Option<&[bool]>,
    ) -> Vec<Seed> {
        use rayon::prelude::*;
        let c = &self.config;
        // Space points per layer in a grid: bins in z (barrel) or r (discs), each sorted by φ.
        let layers: Vec<LayerGrid> = geometry
            .detector
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                if !c.volumes.contains(&layer.volume_id) {
                    return LayerGrid::default();
                }
                let points: Vec<SpacePoint> = measurements.by_surface[l]
                    .iter()
                    .flatten()
                    .filter(|&&hit| used.is_none_or(|u| !u.get(hit).copied().unwrap_or(false)))
                    .map(|&hit| {
                        let [x, y, z] = measurements.measurements[hit].position;
                        SpacePoint {
                            hit,
                            x,
                            y,
                            z,
                            r: x.hypot(y),
                            phi: y.atan2(x),
                        }
                    })
                    .collect();
                LayerGrid::new(
                    points,
                    matches!(layer.shape, LayerShape::Barrel { .. }),
                    c.grid_bin,
                )
            })
            .collect();
        let radius_min = c.min_pt / (GEV_PER_TESLA_MM * c.bz.abs());
        // Azimuth of a hit at radius r on a circle of radius R through the origin: φ₀ ∓ asin(r/2R).
        let bend = |r: f64| (r / (2.0 * radius_min)).min(1.0).asin();
        let middles: Vec<(usize, usize)> = layers
            .iter()
            .enumerate()
            .flat_map(|(l, grid)| (0..grid.points.len()).map(move |i| (l, i)))
            .collect();
        middles
            .par_iter()
            .flat_map_iter(|&(lm, im)| {
                let m = layers[lm].points[im];
                let mut bottoms = Vec::new();
                let mut tops = Vec::new();
                for (l, grid) in layers.iter().enumerate() {
                    if l == lm || grid.points.is_empty() {
                        continue;
                    }
                    // Can a line from |z| ≤ z0_max through the middle reach this layer?
                    let [r_lo, r_hi, z_lo, z_hi] = grid.extent;
                    let reach = |r: f64, z0: f64| z0 + (m.z - z0) * r / m.r;
                    let ends = [
                        reach(r_lo, -c.z0_max),
                        reach(r_lo, c.z0_max),
                        reach(r_hi, -c.z0_max),
                        reach(r_hi, c.z0_max),
                    ];
                    let lowest = ends.iter().copied().fold(f64::INFINITY, f64::min);
                    let highest = ends.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    if highest < z_lo - 1.0 || lowest > z_hi + 1.0 {
                        continue;
                    }
                    // The grid bins within reach: the cone of lines from |z₀| ≤ z0_max through
                    // the middle, widened by the triplet's angle tolerance.
                    let far = (r_lo - m.r).abs().max((r_hi - m.r).abs());
                    let cot_line = ((m.z.abs() + c.z0_max) / m.r).min(c.cot_theta_max);
                    let margin = 2.0 + c.theta_tolerance * (1.0 + cot_line * cot_line) * far;
                    let range = if grid.barrel {
                        Some((lowest - margin, highest + margin))
                    } else if m.z.abs() > c.z0_max {
                        // r where the lines cross the disc: r = m.r (z − z₀) / (m.z − z₀).
                        let mut lo = f64::INFINITY;
                        let mut hi = f64::NEG_INFINITY;
                        for z in [z_lo, z_hi] {
                            for z0 in [-c.z0_max, c.z0_max] {
                                let r = m.r * (z - z0) / (m.z - z0);
                                lo = lo.min(r);
                                hi = hi.max(r);
                            }
                        }
                        let slope = (m.z.abs() - c.z0_max).max(1e-3) / m.r;
                        Some((lo - margin / slope - 2.0, hi + margin / slope + 2.0))
                    } else {
                        None
                    };
                    // Δφ window: bending difference plus a margin for d₀ and scattering.
                    let window = (bend(r_hi.max(m.r)) - bend(r_lo.min(m.r))).abs()
                        + c.d0_max * (1.0 / r_lo.max(1.0) + 1.0 / m.r)
                        + 0.01;
                    grid.for_window(range, m.phi, window, |p| {
                        let dr = p.r - m.r;
                        if dr.abs() < c.min_delta_r {
                            return;
                        }
                        let window = (bend(p.r.max(m.r)) - bend(p.r.min(m.r))).abs()
                            + c.d0_max * (1.0 / p.r + 1.0 / m.r)
                            + 0.01;
                        if wrap_phi(p.phi - m.phi).abs() > window {
                            return;
                        }
                        let cot = if c.displaced {
                            (p.z - m.z) / (p.x - m.x).hypot(p.y - m.y).copysign(dr)
                        } else {
                            (p.z - m.z) / dr
                        };
                        if cot.abs() > c.cot_theta_max {
                            return;
                        }
                        if dr < 0.0 {
                            let z0 = p.z - p.r * cot;
                            if z0.abs() <= c.z0_max {
                                bottoms.push((*p, cot, z0));
                            }
                        } else {
                            tops.push((*p, cot));
                        }
                    });
                }
                let mut found: Vec<(f64, Seed)> = Vec::new();
                // Tops sorted by cot θ: each bottom looks at the tops within its tolerance.
                tops.sort_by(|a, b| a.1.total_cmp(&b.1));
                for &(b, cot_b, z0) in &bottoms {
                    let tolerance = c.theta_tolerance * (1.0 + cot_b * cot_b);
                    let first = tops.partition_point(|t| t.1 < cot_b - tolerance);
                    for &(t, cot_t) in &tops[first..] {
                        if cot_t > cot_b + tolerance {
                            break;
                        }
                        let Some((centre, radius, _)) =
                            circle_through([b.x, b.y], [m.x, m.y], [t.x, t.y])
                        else {
                            continue;
                        };
                        if radius < radius_min {
                            continue;
                        }
                        let d0 = (centre[0].hypot(centre[1]) - radius).abs();
                        if d0 > c.d0_max {
                            continue;
                        }
                        let rank = if c.displaced {
                            (cot_t - cot_b).abs() / tolerance
                        } else {
                            d0
                        };
                        found.push((
                            rank,
                            Seed {
                                hits: [b.hit, m.hit, t.hit],
                                d0,
                                z0,
                            },
                        ));
                    }
                }
                found.sort_by(|a, b| a.0.total_cmp(&b.0));
                found.truncate(c.max_seeds_per_middle);
                found.into_iter().map(|(_, seed)| seed)
            })
            .collect()
    }
}

/// The space points of one layer in bins of z (barrel) or r (disc), each bin sorted by φ.
#[derive(Debug, Default)]
struct LayerGrid {
    /// Points, bin after bin.
    points: Vec<SpacePoint>,
    /// `points[starts[b]..starts[b + 1]]` is bin b.
    starts: Vec<usize>,
    /// Lower edge of bin 0 (mm).
    origin: f64,
    /// Bin width (mm).
    width: f64,
    /// Binned in z (barrel) or in r (disc).
    barrel: bool,
    /// (r_min, r_max, z_min, z_max) of the points.
    extent: [f64; 4],
}

impl LayerGrid {
    fn new(mut points: Vec<SpacePoint>, barrel: bool, width: f64) -> Self {
        let extent = extent(&points);
        if points.is_empty() {
            return Self::default();
        }
        let coordinate = |p: &SpacePoint| if barrel { p.z } else { p.r };
        let (origin, top) = if barrel {
            (extent[2], extent[3])
        } else {
            (extent[0], extent[1])
        };
        let bins = (((top - origin) / width).floor() as usize + 1).min(10_000);
        let bin = |p: &SpacePoint| (((coordinate(p) - origin) / width) as usize).min(bins - 1);
        points.sort_by(|a, b| bin(a).cmp(&bin(b)).then(a.phi.total_cmp(&b.phi)));
        let mut starts = vec![0; bins + 1];
        for p in &points {
            starts[bin(p) + 1] += 1;
        }
        for b in 0..bins {
            starts[b + 1] += starts[b];
        }
        Self {
            points,
            starts,
            origin,
            width,
            barrel,
            extent,
        }
    }

    /// Calls `visit` on the points with z (barrel) or r (disc) in `range` (all when `None`),
    /// give or take a bin, and within `window` (rad) of `phi`.
    fn for_window(
        &self,
        range: Option<(f64, f64)>,
        phi: f64,
        window: f64,
        mut visit: impl FnMut(&SpacePoint),
    ) {
        let bins = self.starts.len() - 1;
        let (first, last) = match range {
            Some((lo, hi)) => {
                if hi < self.origin {
                    return;
                }
                let first = ((lo - self.origin) / self.width).floor().max(0.0) as usize;
                let last = ((hi - self.origin) / self.width).floor() as usize;
                if first >= bins {
                    return;
                }
                (first, last.min(bins - 1))
            }
            None => (0, bins - 1),
        };
        for b in first..=last {
            let slice = &self.points[self.starts[b]..self.starts[b + 1]];
            if !slice.is_empty() {
                for_window(slice, phi, window, &mut visit);
            }
        }
    }
}

/// Calls `visit` on the points of a φ-sorted list within `window` (rad) of `phi`, each once.
fn for_window(points: &[SpacePoint], phi: f64, window: f64, mut visit: impl FnMut(&SpacePoint)) {
    let n = points.len();
    let start = points.partition_point(|p| p.phi < phi);
    let mut forward = 0;
    while forward < n {
        let p = &points[(start + forward) % n];
        if wrap_phi(p.phi - phi).abs() > window {
            break;
        }
        visit(p);
        forward += 1;
    }
    for k in 1..=(n - forward) {
        let p = &points[(start + n - k) % n];
        if wrap_phi(p.phi - phi).abs() > window {
            break;
        }
        visit(p);
    }
}

/// Extent (r_min, r_max, z_min, z_max) of a layer's space points.
fn extent(points: &[SpacePoint]) -> [f64; 4] {
    let mut e = [
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    for p in points {
        e[0] = e[0].min(p.r);
        e[1] = e[1].max(p.r);
        e[2] = e[2].min(p.z);
        e[3] = e[3].max(p.z);
    }
    e
}
