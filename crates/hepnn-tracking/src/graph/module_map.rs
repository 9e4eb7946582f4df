//! The module map of GNN4ITk (Biscarat et al., arXiv:2103.00916; ATLAS ITk module-map graph
//! construction): learned from training events, the set of module pairs (A → B) that true
//! consecutive hits connect, each with the ranges [min, max] over its training doublets of four
//! doublet quantities. For an inner hit 1 = (r₁, φ₁, z₁) and an outer hit 2 = (r₂, φ₂, z₂):
//!
//! ```text
//! Δφ        = wrap(φ₂ − φ₁)  into (−π, π]           (rad)
//! Δz        = z₂ − z₁                               (mm)
//! z0        = z₁ − r₁ · Δz / Δr,   Δr = r₂ − r₁     (mm; z intercept at r = 0 of the line 1–2)
//! φ-slope   = Δφ / Δr                               (rad/mm)
//! ```
//!
//! where |Δr| below 1 µm is replaced by ±1 µm (keeping its sign, + for 0), so that every value is
//! finite. Applied to a new event, each hit visits only the modules its module maps to, and a
//! pair becomes a candidate edge (inner → outer) when all four values lie in the pair's ranges,
//! each range widened about its centre by the factor 1 + t (`tolerance`) and by a margin m per
//! quantity (`margins`, [`ModuleMapConfig`]):
//!
//! ```text
//! [c − (1 + t)·h − m,  c + (1 + t)·h + m],   c = (min + max)/2,  h = (max − min)/2
//! ```
//!
//! True consecutive pairs are defined in [`crate::graph`] (hits ordered by distance from the
//! production vertex; overlap double hits on one layer form one group). [`LearnConfig`] chooses
//! the particles learned (pT, production radius): a map for pT > 1 GeV tracking learned from
//! particles with pT > 0.9 GeV produced within 10 mm of the beam line has ten times fewer edges
//! at ⟨μ⟩ = 200 than one learned from every particle (docs/results.md). The map is saved as JSON
//! ([`ModuleMap::save`], atomic) and read back with checks ([`ModuleMap::load`]).
//!
//! ```
//! use hepnn_tracking::graph::Doublet;
//! // Inner hit at r = 30 mm, φ = 0, z = 10 mm; outer at r = 60 mm, φ = 0.1, z = 40 mm.
//! let d = Doublet::new([30.0, 0.0, 10.0], [60.0, 0.1, 40.0]);
//! assert!((d.z0 - (-20.0)).abs() < 1e-12); // 10 − 30 · 30 / 30
//! assert!((d.phi_slope - 0.1 / 30.0).abs() < 1e-15);
//! ```

use std::collections::HashMap;
use std::f64::consts::PI;
use std::path::Path;

use hepnn_core::{Event, ModuleKey, ParticleId};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{EdgeIndex, TrackingError, true_consecutive_pairs};

/// Smallest |Δr| used in z0 and φ-slope (mm).
const MIN_DELTA_R: f64 = 1e-3;

/// Name written in every module-map file, checked on reading.
const FORMAT: &str = "hepnn-module-map";
/// Version of the file layout.
const VERSION: u32 = 1;

/// The four doublet quantities of an inner and an outer hit (formulas in the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Doublet {
    /// φ₂ − φ₁ wrapped into (−π, π] (rad).
    pub delta_phi: f64,
    /// z₂ − z₁ (mm).
    pub delta_z: f64,
    /// z intercept at r = 0 of the line through the two hits in (r, z) (mm).
    pub z0: f64,
    /// Δφ / Δr (rad/mm).
    pub phi_slope: f64,
}

impl Doublet {
    /// The doublet of `inner` and `outer`, each given as cylindrical `[r (mm), φ (rad), z (mm)]`.
    pub fn new(inner: [f64; 3], outer: [f64; 3]) -> Self {
        let [r1, phi1, z1] = inner;
        let [r2, phi2, z2] = outer;
        let mut delta_phi = phi2 - phi1;
        if delta_phi > PI {
            delta_phi -= 2.0 * PI;
        } else if delta_phi <= -PI {
            delta_phi += 2.0 * PI;
        }
        let delta_z = z2 - z1;
        let mut delta_r = r2 - r1;
        if delta_r.abs() < MIN_DELTA_R {
            delta_r = if delta_r < 0.0 {
                -MIN_DELTA_R
            } else {
                MIN_DELTA_R
            };
        }
        Self {
            delta_phi,
            delta_z,
            z0: z1 - r1 * delta_z / delta_r,
            phi_slope: delta_phi / delta_r,
        }
    }

    fn values(&self) -> [f64; 4] {
        [self.delta_phi, self.delta_z, self.z0, self.phi_slope]
    }
}

/// The cut ranges of one module pair: `[min, max]` of Δφ, Δz, z0 and φ-slope over the training
/// doublets, in that order, with the number of doublets seen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairCuts {
    /// Training doublets of this module pair.
    pub count: u64,
    /// `[min, max]` of Δφ (rad), Δz (mm), z0 (mm), φ-slope (rad/mm).
    pub ranges: [[f64; 2]; 4],
}

impl PairCuts {
    fn first(doublet: &Doublet) -> Self {
        Self {
            count: 1,
            ranges: doublet.values().map(|v| [v, v]),
        }
    }

    fn add(&mut self, doublet: &Doublet) {
        self.count += 1;
        for (range, v) in self.ranges.iter_mut().zip(doublet.values()) {
            range[0] = range[0].min(v);
            range[1] = range[1].max(v);
        }
    }

    fn merge(&mut self, other: &PairCuts) {
        self.count += other.count;
        for (range, o) in self.ranges.iter_mut().zip(&other.ranges) {
            range[0] = range[0].min(o[0]);
            range[1] = range[1].max(o[1]);
        }
    }

    /// The ranges widened about their centres by the factor `1 + tolerance`, then by `margins`
    /// on each side.
    fn widened(&self, tolerance: f64, margins: &[f64; 4]) -> [[f64; 2]; 4] {
        let mut out = [[0.0; 2]; 4];
        for ((o, [lo, hi]), margin) in out.iter_mut().zip(self.ranges).zip(margins) {
            let centre = 0.5 * (lo + hi);
            let half = 0.5 * (hi - lo) * (1.0 + tolerance) + margin;
            *o = [centre - half, centre + half];
        }
        out
    }
}

/// Settings of the application of a module map to an event; checked by
/// [`ModuleMapConfig::validate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModuleMapConfig {
    /// Each cut range is widened about its centre by the factor 1 + `tolerance` (≥ 0; default
    /// 0.1).
    pub tolerance: f64,
    /// Absolute margins added on each side of the widened ranges of Δφ (rad), Δz (mm), z0 (mm)
    /// and φ-slope (rad/mm), each ≥ 0: a pair seen in one training doublet has a range of width
    /// 0, which only a margin opens (default 0.002 rad, 2 mm, 4 mm, 4·10⁻⁵ rad/mm: the
    /// smallest of the scanned margins that gives the low-pileup test an edge efficiency above
    /// 0.9 at pT > 1 GeV from 200 training events; docs/results.md).
    pub margins: [f64; 4],
    /// Module pairs seen in fewer training doublets are not used (default 1: all pairs).
    pub min_count: u64,
}

impl Default for ModuleMapConfig {
    fn default() -> Self {
        Self {
            tolerance: 0.1,
            margins: [0.002, 2.0, 4.0, 4e-5],
            min_count: 1,
        }
    }
}

impl ModuleMapConfig {
    /// Checks every setting once, before any work.
    ///
    /// # Errors
    /// [`TrackingError::Config`] naming the first setting out of range.
    pub fn validate(&self) -> Result<(), TrackingError> {
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return Err(TrackingError::Config {
                name: "tolerance",
                reason: format!("must be finite and ≥ 0, got {}", self.tolerance),
            });
        }
        if let Some(m) = self.margins.iter().find(|m| !(m.is_finite() && **m >= 0.0)) {
            return Err(TrackingError::Config {
                name: "margins",
                reason: format!("each must be finite and ≥ 0, got {m}"),
            });
        }
        Ok(())
    }
}

/// One module pair as stored in the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PairRecord {
    /// Source (inner) module `[volume_id, layer_id, module_id]`.
    source: [u32; 3],
    /// Target (outer) module.
    target: [u32; 3],
    /// Training doublets of the pair.
    count: u64,
    /// `[min, max]` of Δφ, Δz, z0, φ-slope, as decimal strings (Rust's shortest exact form) so
    /// that a saved map reads back bit for bit.
    ranges: [[String; 2]; 4],
}

/// The file layout: JSON, one record per module pair.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MapFile {
    format: String,
    version: u32,
    training_events: u64,
    pairs: Vec<PairRecord>,
}

fn key_array(key: ModuleKey) -> [u32; 3] {
    [key.volume_id, key.layer_id, key.module_id]
}

fn key_of(a: [u32; 3]) -> ModuleKey {
    ModuleKey {
        volume_id: a[0],
        layer_id: a[1],
        module_id: a[2],
    }
}

/// A learned module map: module pairs (source → target) with their doublet cut ranges, stored
/// as adjacency lists over the modules it knows.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleMap {
    /// Number of events it was learned from.
    training_events: u64,
    /// Every module that appears in a pair, sorted.
    modules: Vec<ModuleKey>,
    /// Index of each module in `modules`.
    module_index: HashMap<ModuleKey, u32>,
    /// `targets[offsets[m]..offsets[m + 1]]`: the pairs whose source is module `m`.
    offsets: Vec<usize>,
    /// Target module index and cuts of each pair, grouped by source, targets sorted.
    targets: Vec<(u32, PairCuts)>,
}

/// Settings of the learning of a module map. With the defaults every true pair is learned,
/// also those of particles absent from the event's particle list; with any cut set, only
/// particles in the list that pass it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LearnConfig {
    /// Only true pairs of particles with pT > `pt_min` (GeV) are learned (default 0). A map for
    /// pT > 1 GeV tracking learned at `pt_min` ≈ 1 has far narrower ranges, hence far fewer
    /// fake edges.
    pub pt_min: f64,
    /// Only particles produced within this transverse distance of the beam line (mm) are
    /// learned (default ∞): secondaries from far vertices widen the z0 and Δφ ranges.
    pub vertex_r_max: f64,
}

impl Default for LearnConfig {
    fn default() -> Self {
        Self {
            pt_min: 0.0,
            vertex_r_max: f64::INFINITY,
        }
    }
}

impl ModuleMap {
    /// Learns the map from events with truth (in parallel over events): every true consecutive
    /// hit pair (see [`crate::graph`]) of a particle passing `config` adds its doublet to the
    /// ranges of its module pair.
    ///
    /// # Errors
    /// As [`true_consecutive_pairs`], for the first event that fails; [`TrackingError::Config`] for a
    /// `pt_min` that is not a number.
    pub fn learn(events: &[Event], config: &LearnConfig) -> Result<Self, TrackingError> {
        if config.pt_min.is_nan() {
            return Err(TrackingError::Config {
                name: "pt_min",
                reason: "is not a number".into(),
            });
        }
        if config.vertex_r_max.is_nan() || config.vertex_r_max < 0.0 {
            return Err(TrackingError::Config {
                name: "vertex_r_max",
                reason: format!("must be ≥ 0, got {}", config.vertex_r_max),
            });
        }
        let select_all = config.pt_min <= 0.0 && config.vertex_r_max == f64::INFINITY;
        let per_event: Vec<HashMap<(ModuleKey, ModuleKey), PairCuts>> = events
            .par_iter()
            .map(|event| {
                let cylindrical: Vec<[f64; 3]> =
                    event.hits.iter().map(|h| [h.r(), h.phi(), h.z]).collect();
                let learned: HashMap<ParticleId, bool> = event
                    .particles
                    .iter()
                    .map(|p| {
                        let pass = p.pt() > config.pt_min && p.vertex_r() <= config.vertex_r_max;
                        (p.particle_id, pass)
                    })
                    .collect();
                let mut pairs: HashMap<(ModuleKey, ModuleKey), PairCuts> = HashMap::new();
                for pair in true_consecutive_pairs(event)?
                    .into_iter()
                    .filter(|p| select_all || learned.get(&p.particle).copied().unwrap_or(false))
                {
                    let key = (
                        event.hits[pair.inner].module_key(),
                        event.hits[pair.outer].module_key(),
                    );
                    let doublet = Doublet::new(cylindrical[pair.inner], cylindrical[pair.outer]);
                    pairs
                        .entry(key)
                        .and_modify(|c| c.add(&doublet))
                        .or_insert_with(|| PairCuts::first(&doublet));
                }
                Ok(pairs)
            })
            .collect::<Result<_, TrackingError>>()?;
        let mut merged: HashMap<(ModuleKey, ModuleKey), PairCuts> = HashMap::new();
        for pairs in per_event {
            for (key, cuts) in pairs {
                merged
                    .entry(key)
                    .and_modify(|c| c.merge(&cuts))
                    .or_insert(cuts);
            }
        }
        Ok(Self::from_pairs(
            events.len() as u64,
            merged.into_iter().collect(),
        ))
    }

    /// Builds the adjacency lists from (source, target, cuts) triples (no duplicates).
    fn from_pairs(
        training_events: u64,
        mut pairs: Vec<((ModuleKey, ModuleKey), PairCuts)>,
    ) -> Self {
        pairs.sort_by_key(|(key, _)| *key);
        let mut modules: Vec<ModuleKey> = pairs.iter().flat_map(|((a, b), _)| [*a, *b]).collect();
        modules.sort_unstable();
        modules.dedup();
        let module_index: HashMap<ModuleKey, u32> = modules
            .iter()
            .enumerate()
            .map(|(i, &k)| (k, i as u32))
            .collect();
        let mut offsets = vec![0usize; modules.len() + 1];
        for ((source, _), _) in &pairs {
            offsets[module_index[source] as usize + 1] += 1;
        }
        for m in 0..modules.len() {
            offsets[m + 1] += offsets[m];
        }
        // Pairs are sorted by (source, target) and module indices follow key order, so pushing
        // in order fills each source's slice in place.
        let targets = pairs
            .iter()
            .map(|((_, target), cuts)| (module_index[target], *cuts))
            .collect();
        Self {
            training_events,
            modules,
            module_index,
            offsets,
            targets,
        }
    }

    /// Number of module pairs.
    pub fn pair_count(&self) -> usize {
        self.targets.len()
    }

    /// Number of modules that appear in a pair.
    pub fn module_count(&self) -> usize {
        self.modules.len()
    }

    /// Number of events the map was learned from.
    pub fn training_events(&self) -> u64 {
        self.training_events
    }

    /// The cuts of the pair `source → target`, if the map has it.
    pub fn cuts(&self, source: ModuleKey, target: ModuleKey) -> Option<&PairCuts> {
        let &s = self.module_index.get(&source)?;
        let &t = self.module_index.get(&target)?;
        let slice = &self.targets[self.offsets[s as usize]..self.offsets[s as usize + 1]];
        slice
            .binary_search_by_key(&t, |(t, _)| *t)
            .ok()
            .map(|i| &slice[i].1)
    }

    /// The candidate edges of `event`: for each hit, the hits of the modules its module maps to
    /// whose doublet passes the pair's widened cuts (module docs), inner → outer. Hits are
    /// bucketed per module; the source modules run in parallel (rayon). Edges come sorted by
    /// source module, then source hit, then target module, in a deterministic order.
    ///
    /// # Errors
    /// [`TrackingError::Config`] for an invalid `config`.
    pub fn build_graph(
        &self,
        event: &Event,
        config: &ModuleMapConfig,
    ) -> Result<EdgeIndex, TrackingError> {
        config.validate()?;
        let modules = self.modules.len();
        // Bucket the hits per known module (counting sort); hits on unknown modules are skipped.
        let module_of: Vec<Option<u32>> = event
            .hits
            .iter()
            .map(|h| self.module_index.get(&h.module_key()).copied())
            .collect();
        let mut starts = vec![0usize; modules + 1];
        for &m in module_of.iter().flatten() {
            starts[m as usize + 1] += 1;
        }
        for m in 0..modules {
            starts[m + 1] += starts[m];
        }
        let mut fill = starts.clone();
        let mut hit_index = vec![0usize; starts[modules]];
        let mut coords = vec![[0.0f64; 3]; starts[modules]];
        for (i, m) in module_of.iter().enumerate() {
            if let Some(m) = *m {
                let slot = &mut fill[m as usize];
                let h = &event.hits[i];
                hit_index[*slot] = i;
                coords[*slot] = [h.r(), h.phi(), h.z];
                *slot += 1;
            }
        }
        let edges: Vec<(usize, usize)> = (0..modules)
            .into_par_iter()
            .filter(|&m| starts[m + 1] > starts[m] && self.offsets[m + 1] > self.offsets[m])
            .flat_map_iter(|m| {
                let mut out = Vec::new();
                let pairs = &self.targets[self.offsets[m]..self.offsets[m + 1]];
                let windows: Vec<(usize, [[f64; 2]; 4])> = pairs
                    .iter()
                    .filter(|(t, cuts)| {
                        cuts.count >= config.min_count
                            && starts[*t as usize + 1] > starts[*t as usize]
                    })
                    .map(|(t, cuts)| (*t as usize, cuts.widened(config.tolerance, &config.margins)))
                    .collect();
                for s in starts[m]..starts[m + 1] {
                    for (t, window) in &windows {
                        for o in starts[*t]..starts[*t + 1] {
                            let d = Doublet::new(coords[s], coords[o]);
                            if window
                                .iter()
                                .zip(d.values())
                                .all(|(w, v)| w[0] <= v && v <= w[1])
                            {
                                out.push((hit_index[s], hit_index[o]));
                            }
                        }
                    }
                }
                out
            })
            .collect();
        let (sources, targets) = edges.into_iter().unzip();
        Ok(EdgeIndex { sources, targets })
    }

    /// The map as JSON bytes (layout: `{"format": "hepnn-module-map", "version": 1,
    /// "training_events": N, "pairs": [{"source": [v, l, m], "target": [v, l, m], "count": n,
    /// "ranges": [["Δφ min", "max"], ["Δz …"], ["z0 …"], ["φ-slope …"]]}, …]}`, the bounds as
    /// decimal strings that read back exactly).
    pub fn to_json(&self) -> Vec<u8> {
        let mut pairs = Vec::with_capacity(self.targets.len());
        for (s, &source) in self.modules.iter().enumerate() {
            for (t, cuts) in &self.targets[self.offsets[s]..self.offsets[s + 1]] {
                pairs.push(PairRecord {
                    source: key_array(source),
                    target: key_array(self.modules[*t as usize]),
                    count: cuts.count,
                    ranges: cuts.ranges.map(|r| r.map(|v| v.to_string())),
                });
            }
        }
        let file = MapFile {
            format: FORMAT.into(),
            version: VERSION,
            training_events: self.training_events,
            pairs,
        };
        serde_json::to_vec(&file).expect("the map holds only finite numbers and plain structs")
    }

    /// Writes the map as JSON to `path` atomically (a temporary file renamed over `path`).
    ///
    /// # Errors
    /// [`TrackingError::Nn`] when the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), TrackingError> {
        hepnn_nn::plot::atomic_write(path, &self.to_json())?;
        Ok(())
    }

    /// Reads a map written by [`ModuleMap::save`].
    ///
    /// # Errors
    /// [`TrackingError::Io`] when the file cannot be read, [`TrackingError::Parse`] when it is not the
    /// expected JSON, [`TrackingError::Invalid`] for a wrong format name or version, a duplicate
    /// pair, a count of 0, or a range that is not finite or has min > max.
    pub fn load(path: &Path) -> Result<Self, TrackingError> {
        let bytes = std::fs::read(path).map_err(|source| TrackingError::Io {
            path: path.into(),
            source,
        })?;
        Self::from_json(&bytes).map_err(|e| match e {
            LoadError::Parse(source) => TrackingError::Parse {
                path: path.into(),
                source,
            },
            LoadError::Invalid(reason) => TrackingError::Invalid {
                path: path.into(),
                reason,
            },
        })
    }

    fn from_json(bytes: &[u8]) -> Result<Self, LoadError> {
        let file: MapFile = serde_json::from_slice(bytes).map_err(LoadError::Parse)?;
        if file.format != FORMAT {
            return Err(LoadError::Invalid(format!(
                "format is `{}`, expected `{FORMAT}`",
                file.format
            )));
        }
        if file.version != VERSION {
            return Err(LoadError::Invalid(format!(
                "version is {}, expected {VERSION}",
                file.version
            )));
        }
        const NAMES: [&str; 4] = ["Δφ", "Δz", "z0", "φ-slope"];
        let mut pairs = HashMap::with_capacity(file.pairs.len());
        for (i, record) in file.pairs.iter().enumerate() {
            if record.count == 0 {
                return Err(LoadError::Invalid(format!(
                    "pair {i} ({:?} → {:?}) has count 0, expected ≥ 1",
                    record.source, record.target
                )));
            }
            let mut ranges = [[0.0f64; 2]; 4];
            for ((name, text), range) in NAMES.iter().zip(&record.ranges).zip(&mut ranges) {
                for (value, bound) in text.iter().zip(range.iter_mut()) {
                    *bound = value.parse().map_err(|_| {
                        LoadError::Invalid(format!(
                            "pair {i} ({:?} → {:?}): {name} bound `{value}` is not a number",
                            record.source, record.target
                        ))
                    })?;
                }
            }
            for (name, &[lo, hi]) in NAMES.iter().zip(&ranges) {
                if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                    return Err(LoadError::Invalid(format!(
                        "pair {i} ({:?} → {:?}): {name} range [{lo}, {hi}] is not finite with \
                         min ≤ max",
                        record.source, record.target
                    )));
                }
            }
            let key = (key_of(record.source), key_of(record.target));
            let cuts = PairCuts {
                count: record.count,
                ranges,
            };
            if pairs.insert(key, cuts).is_some() {
                return Err(LoadError::Invalid(format!(
                    "pair {i} ({:?} → {:?}) appears twice",
                    record.source, record.target
                )));
            }
        }
        Ok(Self::from_pairs(
            file.training_events,
            pairs.into_iter().collect(),
        ))
    }
}

/// Why bytes are not a module map, before the path is known.
enum LoadError {
    Parse(serde_json::Error),
    Invalid(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::tests::{hit, link, particle};

    #[test]
    fn doublet_by_hand() {
        // Inner (r 30, φ 0, z 10), outer (r 60, φ 0.1, z 40): Δr = 30, Δz = 30,
        // z0 = 10 − 30·30/30 = −20, φ-slope = 0.1/30.
        let d = Doublet::new([30.0, 0.0, 10.0], [60.0, 0.1, 40.0]);
        assert!((d.delta_phi - 0.1).abs() < 1e-15);
        assert_eq!(d.delta_z, 30.0);
        assert!((d.z0 + 20.0).abs() < 1e-12);
        assert!((d.phi_slope - 0.1 / 30.0).abs() < 1e-15);
        // Across the ±π seam: φ 3.1 → −3.1 is a step of 2π − 6.2 = +0.0832 rad.
        let d = Doublet::new([30.0, 3.1, 0.0], [40.0, -3.1, -5.0]);
        assert!((d.delta_phi - (2.0 * PI - 6.2)).abs() < 1e-12);
        // z0 = 0 − 30 · (−5)/10 = 15.
        assert!((d.z0 - 15.0).abs() < 1e-12);
        // Endcap disks: Δr = 0 uses Δr = +1 µm, so values stay finite.
        let d = Doublet::new([50.0, 0.0, 600.0], [50.0, 0.01, 700.0]);
        assert!((d.z0 - (600.0 - 50.0 * 100.0 / 1e-3)).abs() < 1e-3);
        assert!(d.phi_slope.is_finite() && d.z0.is_finite());
    }

    #[test]
    fn widening_scales_about_the_centre() {
        let cuts = PairCuts {
            count: 2,
            ranges: [[1.0, 3.0], [-1.0, 1.0], [0.0, 0.0], [2.0, 4.0]],
        };
        let w = cuts.widened(0.5, &[0.0; 4]);
        assert_eq!(w[0], [0.5, 3.5]);
        assert_eq!(w[1], [-1.5, 1.5]);
        assert_eq!(w[2], [0.0, 0.0]);
        // A margin opens a zero-width range: [0 − 2, 0 + 2].
        let w = cuts.widened(0.5, &[0.0, 0.0, 2.0, 0.0]);
        assert_eq!(w[2], [-2.0, 2.0]);
    }

    /// Two straight tracks through three barrel layers, one noise hit.
    fn toy_event() -> Event {
        let hits = vec![
            hit(1, (8, 2, 1), 30.0, 0.10, 3.0),
            hit(2, (8, 4, 1), 70.0, 0.11, 7.0),
            hit(3, (8, 6, 1), 110.0, 0.12, 11.0),
            hit(4, (8, 2, 1), 30.0, 0.20, -3.0),
            hit(5, (8, 4, 1), 70.0, 0.22, -7.0),
            hit(6, (8, 6, 2), 110.0, 0.24, -11.0),
            hit(7, (8, 4, 1), 70.0, 0.5, 30.0),
        ];
        let truth = vec![
            link(&hits[0], 1),
            link(&hits[1], 1),
            link(&hits[2], 1),
            link(&hits[3], 2),
            link(&hits[4], 2),
            link(&hits[5], 2),
            link(&hits[6], 0),
        ];
        Event {
            event_id: 1,
            hits,
            particles: vec![particle(1, 2.0), particle(2, 2.0)],
            truth,
            ..Event::default()
        }
    }

    #[test]
    fn learned_ranges_and_edges_of_a_toy_event() {
        let event = toy_event();
        let map = ModuleMap::learn(std::slice::from_ref(&event), &LearnConfig::default())
            .expect("truth present");
        // Pairs: (2,1)→(4,1) twice, (4,1)→(6,1), (4,1)→(6,2).
        assert_eq!(map.pair_count(), 3);
        assert_eq!(map.module_count(), 4);
        let key = |l, m| ModuleKey {
            volume_id: 8,
            layer_id: l,
            module_id: m,
        };
        let cuts = map.cuts(key(2, 1), key(4, 1)).expect("pair learned");
        assert_eq!(cuts.count, 2);
        // Δφ: 0.01 and 0.02; Δz: +4 and −4; z0 = 3 − 30·4/40 = 0 for both.
        assert!((cuts.ranges[0][0] - 0.01).abs() < 1e-12);
        assert!((cuts.ranges[0][1] - 0.02).abs() < 1e-12);
        assert_eq!(cuts.ranges[1], [-4.0, 4.0]);
        assert!(cuts.ranges[2][0].abs() < 1e-12 && cuts.ranges[2][1].abs() < 1e-12);
        assert!(map.cuts(key(4, 1), key(2, 1)).is_none());

        // Applied to its own event, the map finds exactly the four true pairs: the noise hit on
        // (4, 1) fails Δφ and z0 of the pair from (2, 1), and its own targets' windows.
        let exact = ModuleMapConfig {
            margins: [0.0; 4],
            ..ModuleMapConfig::default()
        };
        let edges = map.build_graph(&event, &exact).expect("valid config");
        let mut found: Vec<(usize, usize)> = edges
            .sources
            .iter()
            .copied()
            .zip(edges.targets.iter().copied())
            .collect();
        found.sort_unstable();
        assert_eq!(found, vec![(0, 1), (1, 2), (3, 4), (4, 5)]);
        // Pairs seen fewer than twice are dropped on request.
        let config = ModuleMapConfig {
            min_count: 2,
            ..exact
        };
        assert_eq!(map.build_graph(&event, &config).expect("valid").len(), 2);
        let config = ModuleMapConfig {
            tolerance: -1.0,
            ..ModuleMapConfig::default()
        };
        assert!(map.build_graph(&event, &config).is_err());
        let config = ModuleMapConfig {
            margins: [0.0, f64::NAN, 0.0, 0.0],
            ..exact
        };
        let err = map.build_graph(&event, &config).expect_err("NaN margin");
        assert!(err.to_string().contains("margins"), "{err}");
        // Learning only particles above 5 GeV: nothing to learn in the toy event.
        let high = LearnConfig {
            pt_min: 5.0,
            ..LearnConfig::default()
        };
        assert_eq!(
            ModuleMap::learn(&[toy_event()], &high)
                .expect("truth")
                .pair_count(),
            0
        );
    }

    #[test]
    fn save_load_round_trip_and_malformed_files() {
        let map = ModuleMap::learn(&[toy_event()], &LearnConfig::default()).expect("truth present");
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("map.json");
        map.save(&path).expect("writable");
        let loaded = ModuleMap::load(&path).expect("just written");
        assert_eq!(loaded, map);

        let write = |text: &str| {
            std::fs::write(&path, text).expect("writable");
            ModuleMap::load(&path).expect_err("malformed")
        };
        let err = write("{\"format\": \"hepnn-module-map\"");
        assert!(matches!(err, TrackingError::Parse { .. }), "{err}");
        assert!(err.to_string().contains("map.json"), "{err}");
        let err = write(r#"{"format":"other","version":1,"training_events":1,"pairs":[]}"#);
        assert!(
            err.to_string().contains("expected `hepnn-module-map`"),
            "{err}"
        );
        let err =
            write(r#"{"format":"hepnn-module-map","version":7,"training_events":1,"pairs":[]}"#);
        assert!(
            err.to_string().contains("version is 7, expected 1"),
            "{err}"
        );
        let record = r#"{"source":[8,2,1],"target":[8,4,1],"count":1,"ranges":[["0","1"],["0","1"],["3","2"],["0","1"]]}"#;
        let err = write(&format!(
            r#"{{"format":"hepnn-module-map","version":1,"training_events":1,"pairs":[{record}]}}"#
        ));
        assert!(err.to_string().contains("z0 range [3, 2]"), "{err}");
        let record = r#"{"source":[8,2,1],"target":[8,4,1],"count":1,"ranges":[["0","1"],["0","1"],["0","1"],["x","1"]]}"#;
        let err = write(&format!(
            r#"{{"format":"hepnn-module-map","version":1,"training_events":1,"pairs":[{record}]}}"#
        ));
        assert!(
            err.to_string()
                .contains("φ-slope bound `x` is not a number"),
            "{err}"
        );
        let record = record.replace('x', "0");
        let err = write(&format!(
            r#"{{"format":"hepnn-module-map","version":1,"training_events":1,"pairs":[{record},{record}]}}"#
        ));
        assert!(err.to_string().contains("appears twice"), "{err}");
        let err = ModuleMap::load(&dir.path().join("absent.json")).expect_err("no file");
        assert!(matches!(err, TrackingError::Io { .. }), "{err}");
    }
}
