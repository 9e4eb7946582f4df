//! The cut-based νe selection the CNN is measured against (NOvA's first νe analyses used
//! likelihood and cut selections on reconstructed showers before CVN; arXiv:1601.05022).
//!
//! Four features are read off the two views, using cells above 2 MeV:
//!
//! - **length**: planes pairs from the first to the last holding > 8 MeV (a muon is long);
//! - **width**: in the largest cluster (below), the energy-weighted RMS of the cell index about
//!   each plane's energy-weighted mean cell, both views together (a minimum-ionising track is
//!   about one cell wide, a shower several);
//! - **cluster fraction**: energy of the largest 8-connected cluster of cells over all the
//!   energy, both views averaged (an electron makes one shower from the vertex; a π⁰'s photons
//!   convert away from it and from each other, giving separate clusters);
//! - **energy**: the calibrated energy of the event, GeV (NC events lose the neutrino's share).
//!
//! νe CC is selected by `length ≤ L ∧ width ≥ W ∧ cluster fraction ≥ F ∧ energy ≥ E`, the four
//! cuts chosen on a grid (deciles of the νe features) to give the highest efficiency at a
//! required purity.

use hepnn_sim::neutrino::NeutrinoEvent;

use crate::metrics::WorkingPoint;

/// Cell energy (MeV) above which a cell counts as a hit.
const HIT_MEV: f32 = 2.0;

/// The baseline's features of one event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventFeatures {
    /// Plane pairs from the first to the last holding > 8 MeV.
    pub length_planes: f64,
    /// Shower width, cells.
    pub width_cells: f64,
    /// Energy fraction in the largest connected cluster.
    pub cluster_fraction: f64,
    /// Calibrated energy, GeV.
    pub energy_gev: f64,
}

/// Energy-weighted Σ E (c − c̄_plane)² and Σ E over the cells `members` of a view.
fn view_width(view: &[f32], cells: usize, members: &[usize]) -> (f64, f64) {
    let mut by_plane: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for &i in members {
        by_plane.entry(i / cells).or_default().push(i % cells);
    }
    let (mut sum_w, mut sum_e) = (0.0f64, 0.0f64);
    for (plane, cs) in by_plane {
        let e_of = |c: usize| f64::from(view[plane * cells + c]);
        let e: f64 = cs.iter().map(|&c| e_of(c)).sum();
        let mean = cs.iter().map(|&c| c as f64 * e_of(c)).sum::<f64>() / e;
        sum_w += cs
            .iter()
            .map(|&c| e_of(c) * (c as f64 - mean).powi(2))
            .sum::<f64>();
        sum_e += e;
    }
    (sum_w, sum_e)
}

/// The cells of the most energetic 8-connected cluster, its energy, and the view's hit energy.
fn largest_cluster(view: &[f32], planes: usize, cells: usize) -> (Vec<usize>, f64, f64) {
    let mut seen = vec![false; view.len()];
    let mut best = (Vec::new(), 0.0f64);
    let mut total = 0.0f64;
    let mut stack = Vec::new();
    for start in 0..view.len() {
        if seen[start] || view[start] <= HIT_MEV {
            continue;
        }
        let mut energy = 0.0;
        let mut members = Vec::new();
        seen[start] = true;
        stack.push(start);
        while let Some(i) = stack.pop() {
            energy += f64::from(view[i]);
            members.push(i);
            let (p, c) = ((i / cells) as isize, (i % cells) as isize);
            for dp in -1..=1isize {
                for dc in -1..=1isize {
                    let (q, d) = (p + dp, c + dc);
                    if q < 0 || d < 0 || q >= planes as isize || d >= cells as isize {
                        continue;
                    }
                    let j = q as usize * cells + d as usize;
                    if !seen[j] && view[j] > HIT_MEV {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        if energy > best.1 {
            best = (members, energy);
        }
        total += energy;
    }
    (best.0, best.1, total)
}

/// The features of one event whose views are `planes × cells`.
pub fn features(event: &NeutrinoEvent, planes: usize, cells: usize) -> EventFeatures {
    let occupied: Vec<usize> = event
        .xz
        .chunks(cells)
        .zip(event.yz.chunks(cells))
        .enumerate()
        .filter(|(_, (a, b))| a.iter().chain(b.iter()).sum::<f32>() > 8.0)
        .map(|(i, _)| i)
        .collect();
    let length = match (occupied.first(), occupied.last()) {
        (Some(a), Some(b)) => (b - a + 1) as f64,
        _ => 0.0,
    };
    let (cx, bx, tx) = largest_cluster(&event.xz, planes, cells);
    let (cy, by, ty) = largest_cluster(&event.yz, planes, cells);
    let (wx, ex) = view_width(&event.xz, cells, &cx);
    let (wy, ey) = view_width(&event.yz, cells, &cy);
    let width = if ex + ey > 0.0 {
        ((wx + wy) / (ex + ey)).sqrt()
    } else {
        0.0
    };
    let fraction = |b: f64, t: f64| if t > 0.0 { b / t } else { 0.0 };
    EventFeatures {
        length_planes: length,
        width_cells: width,
        cluster_fraction: 0.5 * (fraction(bx, tx) + fraction(by, ty)),
        energy_gev: (tx + ty) * 1e-3,
    }
}

/// The four cuts of the baseline selection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cuts {
    /// Longest accepted event, plane pairs.
    pub max_length_planes: f64,
    /// Narrowest accepted shower, cells.
    pub min_width_cells: f64,
    /// Smallest accepted cluster fraction.
    pub min_cluster_fraction: f64,
    /// Smallest accepted energy, GeV.
    pub min_energy_gev: f64,
}

impl Cuts {
    /// Whether an event passes.
    pub fn select(&self, f: &EventFeatures) -> bool {
        f.length_planes <= self.max_length_planes
            && f.width_cells >= self.min_width_cells
            && f.cluster_fraction >= self.min_cluster_fraction
            && f.energy_gev >= self.min_energy_gev
    }

    /// Efficiency and purity of the selection on labelled events (signal: label 1, νe CC).
    pub fn working_point(&self, features: &[EventFeatures], labels: &[usize]) -> WorkingPoint {
        let (mut tp, mut selected) = (0usize, 0usize);
        let signal = labels.iter().filter(|&&l| l == 1).count();
        for (f, &l) in features.iter().zip(labels) {
            if self.select(f) {
                selected += 1;
                tp += usize::from(l == 1);
            }
        }
        WorkingPoint {
            threshold: f64::NAN,
            efficiency: if signal > 0 {
                tp as f64 / signal as f64
            } else {
                0.0
            },
            purity: if selected > 0 {
                tp as f64 / selected as f64
            } else {
                0.0
            },
        }
    }
}

fn quantiles(mut values: Vec<f64>, n: usize) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    if values.is_empty() {
        return vec![0.0];
    }
    (0..=n)
        .map(|k| values[(k * (values.len() - 1)) / n])
        .collect()
}

/// Every cut combination of the grid with its working point.
pub fn scan(features: &[EventFeatures], labels: &[usize]) -> Vec<(Cuts, WorkingPoint)> {
    let signal: Vec<&EventFeatures> = features
        .iter()
        .zip(labels)
        .filter(|(_, l)| **l == 1)
        .map(|(f, _)| f)
        .collect();
    let q = |get: fn(&EventFeatures) -> f64| quantiles(signal.iter().map(|f| get(f)).collect(), 10);
    let lengths = q(|f| f.length_planes);
    let widths = q(|f| f.width_cells);
    let fractions = q(|f| f.cluster_fraction);
    let energies = q(|f| f.energy_gev);
    let mut out = Vec::new();
    // Loose ends of each cut's range: length from the 30 % quantile up, the others up to 70 %.
    for &l in &lengths[3..] {
        for &w in &widths[..8] {
            for &c in &fractions[..8] {
                for &e in &energies[..8] {
                    let cuts = Cuts {
                        max_length_planes: l,
                        min_width_cells: w,
                        min_cluster_fraction: c,
                        min_energy_gev: e,
                    };
                    out.push((cuts, cuts.working_point(features, labels)));
                }
            }
        }
    }
    out
}

/// The most efficient cuts of the grid whose purity is at least `min_purity`.
pub fn best_cuts(
    features: &[EventFeatures],
    labels: &[usize],
    min_purity: f64,
) -> Option<(Cuts, WorkingPoint)> {
    scan(features, labels)
        .into_iter()
        .filter(|(_, p)| p.purity >= min_purity)
        .max_by(|a, b| a.1.efficiency.total_cmp(&b.1.efficiency))
}

/// The upper envelope (best efficiency per purity bin of 0.01) of the grid, for plots.
pub fn envelope(scan: &[(Cuts, WorkingPoint)]) -> Vec<(f64, f64)> {
    let mut best = vec![f64::NAN; 101];
    for (_, p) in scan {
        let bin = (p.purity * 100.0).floor().clamp(0.0, 100.0) as usize;
        if best[bin].is_nan() || p.efficiency > best[bin] {
            best[bin] = p.efficiency;
        }
    }
    // Best efficiency at purity ≥ each bin.
    let mut out = Vec::new();
    let mut running = f64::NAN;
    for bin in (0..=100).rev() {
        if !best[bin].is_nan() && (running.is_nan() || best[bin] > running) {
            running = best[bin];
        }
        if !running.is_nan() {
            out.push((bin as f64 / 100.0, running));
        }
    }
    out.reverse();
    out
}
