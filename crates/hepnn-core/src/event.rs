//! The event data model: hits, cells, particles, truth links and detector modules, in native units
//! (mm, GeV; see [`crate::units`]).
//!
//! The field names are the TrackML column names, so each struct is one row of its CSV file
//! (see [`crate::io::trackml`]). Ids are newtypes so that a hit id cannot be passed where a
//! particle id is expected.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Identifier of a hit, unique within an event (TrackML `hit_id`, starting at 1).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct HitId(pub u64);

impl fmt::Display for HitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Identifier of a generated particle (TrackML `particle_id`, up to ~10¹⁸); [`ParticleId::NOISE`]
/// (0) marks hits that no particle left.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct ParticleId(pub u64);

impl ParticleId {
    /// The id of noise hits in the truth: 0.
    pub const NOISE: ParticleId = ParticleId(0);

    /// Whether this id marks noise (no particle).
    pub fn is_noise(self) -> bool {
        self == Self::NOISE
    }
}

impl fmt::Display for ParticleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Address of one detector module: volume, layer within the volume, module within the layer.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct ModuleKey {
    /// Detector volume (TrackML: pixel 7/8/9, short strips 12/13/14, long strips 16/17/18).
    pub volume_id: u32,
    /// Layer within the volume (TrackML: even numbers, 2, 4, …).
    pub layer_id: u32,
    /// Module within the layer (starting at 1).
    pub module_id: u32,
}

impl fmt::Display for ModuleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "volume {} layer {} module {}",
            self.volume_id, self.layer_id, self.module_id
        )
    }
}

/// One measured space point (a row of TrackML `hits.csv`): global position in mm and the module it
/// was measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Id of the hit within its event.
    pub hit_id: HitId,
    /// Global x (mm).
    pub x: f64,
    /// Global y (mm).
    pub y: f64,
    /// Global z (mm), along the beam.
    pub z: f64,
    /// Detector volume of the module that measured the hit.
    pub volume_id: u32,
    /// Layer of the module within its volume.
    pub layer_id: u32,
    /// Module within its layer.
    pub module_id: u32,
}

impl Hit {
    /// Transverse distance from the beam line, `r = √(x² + y²)` (mm).
    pub fn r(&self) -> f64 {
        self.x.hypot(self.y)
    }

    /// Azimuth `φ = atan2(y, x)` in (−π, π] (radians).
    pub fn phi(&self) -> f64 {
        self.y.atan2(self.x)
    }

    /// Pseudorapidity of the hit seen from the origin, `η = asinh(z / r)`; 0 at the origin and
    /// ±∞ on the beam line.
    pub fn eta(&self) -> f64 {
        pseudorapidity(self.r(), self.z)
    }

    /// The module that measured the hit.
    pub fn module_key(&self) -> ModuleKey {
        ModuleKey {
            volume_id: self.volume_id,
            layer_id: self.layer_id,
            module_id: self.module_id,
        }
    }
}

/// One activated readout channel of a hit (a row of TrackML `cells.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Id of the hit the cell belongs to.
    pub hit_id: HitId,
    /// Channel index along the first local direction of the module.
    pub ch0: u32,
    /// Channel index along the second local direction of the module.
    pub ch1: u32,
    /// Deposited signal, in the file's arbitrary units.
    pub value: f64,
}

/// One generated particle (a row of TrackML `particles.csv`): production vertex, momentum at the
/// vertex and charge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Particle {
    /// Id of the particle (never [`ParticleId::NOISE`] for a real particle).
    pub particle_id: ParticleId,
    /// PDG code, where the file has a `particle_type` column (TrackML throughput phase); `None`
    /// otherwise.
    #[serde(default)]
    pub particle_type: Option<i64>,
    /// Production vertex x (mm).
    pub vx: f64,
    /// Production vertex y (mm).
    pub vy: f64,
    /// Production vertex z (mm).
    pub vz: f64,
    /// Momentum x at the vertex (GeV).
    pub px: f64,
    /// Momentum y at the vertex (GeV).
    pub py: f64,
    /// Momentum z at the vertex (GeV).
    pub pz: f64,
    /// Charge in units of the elementary charge.
    pub q: i32,
    /// Number of hits the particle left in the detector.
    pub nhits: u32,
}

impl Particle {
    /// Transverse momentum `pT = √(px² + py²)` (GeV).
    pub fn pt(&self) -> f64 {
        self.px.hypot(self.py)
    }

    /// Momentum magnitude `p = √(px² + py² + pz²)` (GeV).
    pub fn p(&self) -> f64 {
        self.pt().hypot(self.pz)
    }

    /// Pseudorapidity `η = asinh(pz / pT) = −ln tan(θ/2)`; ±∞ along the beam, 0 for a particle
    /// at rest.
    pub fn eta(&self) -> f64 {
        pseudorapidity(self.pt(), self.pz)
    }

    /// Azimuth of the momentum `φ = atan2(py, px)` in (−π, π] (radians).
    pub fn phi(&self) -> f64 {
        self.py.atan2(self.px)
    }

    /// Transverse distance of the production vertex from the beam line, `√(vx² + vy²)` (mm).
    pub fn vertex_r(&self) -> f64 {
        self.vx.hypot(self.vy)
    }
}

/// `asinh(longitudinal / transverse)`, with 0 for the null vector.
fn pseudorapidity(transverse: f64, longitudinal: f64) -> f64 {
    if transverse == 0.0 && longitudinal == 0.0 {
        0.0
    } else {
        (longitudinal / transverse).asinh()
    }
}

/// The truth of one hit (a row of TrackML `truth.csv`): which particle made it, where and with
/// which momentum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthLink {
    /// The hit.
    pub hit_id: HitId,
    /// The particle that made it; [`ParticleId::NOISE`] for a noise hit.
    pub particle_id: ParticleId,
    /// True intersection x (mm).
    pub tx: f64,
    /// True intersection y (mm).
    pub ty: f64,
    /// True intersection z (mm).
    pub tz: f64,
    /// True particle momentum x at the intersection (GeV).
    pub tpx: f64,
    /// True particle momentum y at the intersection (GeV).
    pub tpy: f64,
    /// True particle momentum z at the intersection (GeV).
    pub tpz: f64,
    /// Weight of the hit in the TrackML score (the weights of an event sum to 1; 0 for noise).
    pub weight: f64,
}

/// One detector module (a row of TrackML `detectors.csv`): its placement and its readout.
///
/// Local coordinates (u, v, w) map to global ones by `global = R · local + c`, where the rows of
/// `R` are (`rot_xu`, `rot_xv`, `rot_xw`), (`rot_yu`, …), (`rot_zu`, …) and `c` = (`cx`, `cy`, `cz`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Module {
    /// Detector volume.
    pub volume_id: u32,
    /// Layer within the volume.
    pub layer_id: u32,
    /// Module within the layer.
    pub module_id: u32,
    /// Centre x (mm).
    pub cx: f64,
    /// Centre y (mm).
    pub cy: f64,
    /// Centre z (mm).
    pub cz: f64,
    /// Rotation matrix element: global x component of the local u axis.
    pub rot_xu: f64,
    /// Rotation matrix element: global x component of the local v axis.
    pub rot_xv: f64,
    /// Rotation matrix element: global x component of the local w axis.
    pub rot_xw: f64,
    /// Rotation matrix element: global y component of the local u axis.
    pub rot_yu: f64,
    /// Rotation matrix element: global y component of the local v axis.
    pub rot_yv: f64,
    /// Rotation matrix element: global y component of the local w axis.
    pub rot_yw: f64,
    /// Rotation matrix element: global z component of the local u axis.
    pub rot_zu: f64,
    /// Rotation matrix element: global z component of the local v axis.
    pub rot_zv: f64,
    /// Rotation matrix element: global z component of the local w axis.
    pub rot_zw: f64,
    /// Sensor thickness parameter along w (mm), TrackML's `module_t` (0.15 mm for the pixels).
    /// The TrackML files have no separate `thickness` column.
    pub module_t: f64,
    /// Half-length along u at the v = −`module_hv` edge (mm); differs from `module_maxhu` for
    /// trapezoidal modules.
    pub module_minhu: f64,
    /// Half-length along u at the v = +`module_hv` edge (mm).
    pub module_maxhu: f64,
    /// Half-length along v (mm).
    pub module_hv: f64,
    /// Readout pitch along u (mm).
    pub pitch_u: f64,
    /// Readout pitch along v (mm).
    pub pitch_v: f64,
}

impl Module {
    /// The address of this module.
    pub fn key(&self) -> ModuleKey {
        ModuleKey {
            volume_id: self.volume_id,
            layer_id: self.layer_id,
            module_id: self.module_id,
        }
    }

    /// Centre of the module, `[cx, cy, cz]` (mm).
    pub fn center(&self) -> [f64; 3] {
        [self.cx, self.cy, self.cz]
    }

    /// Rotation local → global, row-major: `rotation()[i][j]` is the global component `i` (x, y,
    /// z) of the local axis `j` (u, v, w).
    pub fn rotation(&self) -> [[f64; 3]; 3] {
        [
            [self.rot_xu, self.rot_xv, self.rot_xw],
            [self.rot_yu, self.rot_yv, self.rot_yw],
            [self.rot_zu, self.rot_zv, self.rot_zw],
        ]
    }

    /// Global position (mm) of the local point `[u, v, w]` (mm): `R · local + c`.
    pub fn local_to_global(&self, local: [f64; 3]) -> [f64; 3] {
        let rotation = self.rotation();
        let center = self.center();
        let mut global = [0.0; 3];
        for (i, row) in rotation.iter().enumerate() {
            global[i] = center[i] + row[0] * local[0] + row[1] * local[1] + row[2] * local[2];
        }
        global
    }
}

/// One collision event: its hits and, where known, their cells, the generated particles and the
/// hit-to-particle truth.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Event {
    /// Event number (TrackML: the digits of `event000001001`).
    pub event_id: u64,
    /// Measured hits.
    pub hits: Vec<Hit>,
    /// Readout cells of the hits (empty when unknown).
    pub cells: Vec<Cell>,
    /// Generated particles (empty when unknown).
    pub particles: Vec<Particle>,
    /// Truth of each hit (empty when unknown).
    pub truth: Vec<TruthLink>,
}

impl Event {
    /// Whether the event carries hit truth.
    pub fn has_truth(&self) -> bool {
        !self.truth.is_empty()
    }

    /// Number of hits whose truth particle is [`ParticleId::NOISE`] (0 when there is no truth).
    pub fn noise_hit_count(&self) -> usize {
        self.truth
            .iter()
            .filter(|link| link.particle_id.is_noise())
            .count()
    }

    /// Transverse radius `√(x² + y²)` (mm) of every hit, in hit order.
    pub fn hit_r(&self) -> Vec<f64> {
        self.hits.iter().map(Hit::r).collect()
    }

    /// The particle of every hit with truth, keyed by hit id.
    pub fn particle_of_hit(&self) -> HashMap<HitId, ParticleId> {
        self.truth
            .iter()
            .map(|link| (link.hit_id, link.particle_id))
            .collect()
    }

    /// The hit ids of every (non-noise) particle, in truth order.
    pub fn hits_of_particle(&self) -> HashMap<ParticleId, Vec<HitId>> {
        let mut hits: HashMap<ParticleId, Vec<HitId>> = HashMap::new();
        for link in self
            .truth
            .iter()
            .filter(|link| !link.particle_id.is_noise())
        {
            hits.entry(link.particle_id).or_default().push(link.hit_id);
        }
        hits
    }

    /// Number of hits on each module.
    pub fn hits_per_module(&self) -> HashMap<ModuleKey, usize> {
        let mut counts = HashMap::new();
        for hit in &self.hits {
            *counts.entry(hit.module_key()).or_insert(0) += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn particle(px: f64, py: f64, pz: f64) -> Particle {
        Particle {
            particle_id: ParticleId(1),
            particle_type: Some(13),
            vx: 3.0,
            vy: 4.0,
            vz: 0.0,
            px,
            py,
            pz,
            q: -1,
            nhits: 10,
        }
    }

    #[test]
    fn particle_kinematics_by_hand() {
        // px = 3, py = 4 → pT = 5; pz = 12 → p = 13; η = asinh(12/5) = ln(12/5 + 13/5) = ln 5.
        let muon = particle(3.0, 4.0, 12.0);
        assert_eq!(muon.pt(), 5.0);
        assert_eq!(muon.p(), 13.0);
        assert!((muon.eta() - 5.0_f64.ln()).abs() < 1e-12);
        assert!((muon.phi() - 4.0_f64.atan2(3.0)).abs() < 1e-15);
        assert_eq!(muon.vertex_r(), 5.0);
        // Backwards: η changes sign.
        assert!((particle(3.0, 4.0, -12.0).eta() + 5.0_f64.ln()).abs() < 1e-12);
        // Transverse: η = 0; along the beam: +∞; at rest: 0.
        assert_eq!(particle(0.0, 1.0, 0.0).eta(), 0.0);
        assert_eq!(particle(0.0, 0.0, 2.0).eta(), f64::INFINITY);
        assert_eq!(particle(0.0, 0.0, 0.0).eta(), 0.0);
    }

    #[test]
    fn hit_geometry_by_hand() {
        let hit = Hit {
            hit_id: HitId(7),
            x: -3.0,
            y: 4.0,
            z: 0.0,
            volume_id: 8,
            layer_id: 2,
            module_id: 5,
        };
        assert_eq!(hit.r(), 5.0);
        assert!((hit.phi() - 4.0_f64.atan2(-3.0)).abs() < 1e-15);
        assert_eq!(hit.eta(), 0.0);
        assert_eq!(
            hit.module_key(),
            ModuleKey {
                volume_id: 8,
                layer_id: 2,
                module_id: 5
            }
        );
    }

    #[test]
    fn noise_and_truth_maps() {
        let link = |hit, particle| TruthLink {
            hit_id: HitId(hit),
            particle_id: ParticleId(particle),
            tx: 0.0,
            ty: 0.0,
            tz: 0.0,
            tpx: 0.0,
            tpy: 0.0,
            tpz: 0.0,
            weight: 0.0,
        };
        let event = Event {
            truth: vec![link(1, 0), link(2, 9), link(3, 9), link(4, 0)],
            ..Event::default()
        };
        assert!(event.has_truth());
        assert_eq!(event.noise_hit_count(), 2);
        assert_eq!(
            event.hits_of_particle()[&ParticleId(9)],
            [HitId(2), HitId(3)]
        );
        assert_eq!(event.particle_of_hit()[&HitId(4)], ParticleId::NOISE);
    }

    #[test]
    fn module_local_to_global() {
        // u along global y, v along −x, w along z: (1, 2, 3) → (−2, 1, 3) + centre.
        let module = Module {
            volume_id: 7,
            layer_id: 2,
            module_id: 1,
            cx: 10.0,
            cy: 20.0,
            cz: -1500.0,
            rot_xu: 0.0,
            rot_xv: -1.0,
            rot_xw: 0.0,
            rot_yu: 1.0,
            rot_yv: 0.0,
            rot_yw: 0.0,
            rot_zu: 0.0,
            rot_zv: 0.0,
            rot_zw: 1.0,
            module_t: 0.15,
            module_minhu: 8.4,
            module_maxhu: 8.4,
            module_hv: 36.0,
            pitch_u: 0.05,
            pitch_v: 0.05625,
        };
        assert_eq!(
            module.local_to_global([1.0, 2.0, 3.0]),
            [8.0, 21.0, -1497.0]
        );
        assert_eq!(module.key().volume_id, 7);
    }
}
