//! The tracker geometry: planar silicon modules grouped in layers, indexed for fast
//! intersection.
//!
//! Each module is a plane with local axes (u, v, w) and centre c: a point with local coordinates
//! (u, v, w) lies at `global = c + u·û + v·v̂ + w·ŵ`, where û = (`rot_xu`, `rot_yu`, `rot_zu`)
//! and so on (the columns of TrackML's rotation matrix). The sensitive area is the trapezoid
//!
//! ```text
//! |v| ≤ hv,   |u| ≤ hu(v) = minhu + (maxhu − minhu) · (v + hv) / (2 hv)
//! ```
//!
//! (a rectangle where minhu = maxhu). A layer is a barrel (modules about a cylinder of radius R,
//! ŵ roughly radial) or an end-cap disc (modules about a plane z = Z, ŵ along z); the layer keeps
//! that reference surface, its extent, and the modules binned in φ so that a crossing point
//! finds its few candidate modules without a search through all 18,728.
//!
//! The detector comes from a TrackML `detectors.csv` ([`Detector::read`]) or from
//! [`Detector::trackml_default`], the same layout generated in code (layer radii and disc
//! positions, ring radii, module counts, sizes, tilts and overlap staggering of the TrackML
//! detector) so that a simulation runs without any file.
//! Reference: the TrackML detector description, Amrouche et al., "The Tracking Machine Learning
//! challenge: Accuracy phase", arXiv:1904.06778, appendix.

use std::f64::consts::{PI, TAU};
use std::path::Path;

use hepnn_core::{Module, ModuleKey};

use crate::tracker::error::{Result, SimError};

/// Radiation length of silicon (mm), PDG "Atomic and nuclear properties": 9.370 cm.
pub const SILICON_X0: f64 = 93.70;

/// One sensitive module: a planar trapezoid (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Surface {
    /// Volume, layer and module id.
    pub key: ModuleKey,
    /// Centre (mm).
    pub centre: [f64; 3],
    /// Local u axis in global coordinates (unit vector).
    pub u: [f64; 3],
    /// Local v axis in global coordinates (unit vector).
    pub v: [f64; 3],
    /// Local w axis (the normal) in global coordinates (unit vector).
    pub w: [f64; 3],
    /// Silicon thickness (mm).
    pub thickness: f64,
    /// Half-length along u at v = −hv (mm).
    pub min_hu: f64,
    /// Half-length along u at v = +hv (mm).
    pub max_hu: f64,
    /// Half-length along v (mm).
    pub hv: f64,
    /// Readout pitch along u (mm).
    pub pitch_u: f64,
    /// Readout pitch along v (mm).
    pub pitch_v: f64,
}

pub(crate) fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

impl Surface {
    /// The surface of a TrackML module row.
    pub fn from_module(module: &Module) -> Self {
        Self {
            key: module.key(),
            centre: [module.cx, module.cy, module.cz],
            u: [module.rot_xu, module.rot_yu, module.rot_zu],
            v: [module.rot_xv, module.rot_yv, module.rot_zv],
            w: [module.rot_xw, module.rot_yw, module.rot_zw],
            thickness: module.module_t,
            min_hu: module.module_minhu,
            max_hu: module.module_maxhu,
            hv: module.module_hv,
            pitch_u: module.pitch_u,
            pitch_v: module.pitch_v,
        }
    }

    /// The TrackML module row of this surface.
    pub fn to_module(&self) -> Module {
        Module {
            volume_id: self.key.volume_id,
            layer_id: self.key.layer_id,
            module_id: self.key.module_id,
            cx: self.centre[0],
            cy: self.centre[1],
            cz: self.centre[2],
            rot_xu: self.u[0],
            rot_xv: self.v[0],
            rot_xw: self.w[0],
            rot_yu: self.u[1],
            rot_yv: self.v[1],
            rot_yw: self.w[1],
            rot_zu: self.u[2],
            rot_zv: self.v[2],
            rot_zw: self.w[2],
            module_t: self.thickness,
            module_minhu: self.min_hu,
            module_maxhu: self.max_hu,
            module_hv: self.hv,
            pitch_u: self.pitch_u,
            pitch_v: self.pitch_v,
        }
    }

    /// Local (u, v, w) of a global point (mm).
    pub fn to_local(&self, point: [f64; 3]) -> [f64; 3] {
        let d = [
            point[0] - self.centre[0],
            point[1] - self.centre[1],
            point[2] - self.centre[2],
        ];
        [dot(d, self.u), dot(d, self.v), dot(d, self.w)]
    }

    /// Global point of local (u, v) on the module plane (w = 0).
    pub fn to_global(&self, u: f64, v: f64) -> [f64; 3] {
        std::array::from_fn(|i| self.centre[i] + u * self.u[i] + v * self.v[i])
    }

    /// Half-width along u at local v: `minhu + (maxhu − minhu)(v + hv)/(2 hv)`.
    pub fn half_width_at(&self, v: f64) -> f64 {
        self.min_hu + (self.max_hu - self.min_hu) * (v + self.hv) / (2.0 * self.hv)
    }

    /// Whether local (u, v) lies inside the trapezoid.
    pub fn contains(&self, u: f64, v: f64) -> bool {
        v.abs() <= self.hv && u.abs() <= self.half_width_at(v)
    }

    /// Sensitive area (mm²): `2 hv (minhu + maxhu)`.
    pub fn area(&self) -> f64 {
        2.0 * self.hv * (self.min_hu + self.max_hu)
    }

    /// The four corners (global, mm).
    pub fn corners(&self) -> [[f64; 3]; 4] {
        [
            self.to_global(-self.min_hu, -self.hv),
            self.to_global(self.min_hu, -self.hv),
            self.to_global(self.max_hu, self.hv),
            self.to_global(-self.max_hu, self.hv),
        ]
    }
}

/// The reference surface of a layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LayerShape {
    /// Modules about the cylinder of radius `radius` (mm), over `z_min..z_max` (mm, the
    /// modules' full extent).
    Barrel {
        /// Mean radius of the module centres (mm).
        radius: f64,
        /// Lowest z reached by a module (mm).
        z_min: f64,
        /// Highest z reached by a module (mm).
        z_max: f64,
    },
    /// Modules about the plane z = `z` (mm), over radii `r_min..r_max` (mm).
    Endcap {
        /// Mean z of the module centres (mm).
        z: f64,
        /// Smallest radius reached by a module (mm).
        r_min: f64,
        /// Largest radius reached by a module (mm).
        r_max: f64,
    },
}

/// Number of φ bins of a layer's module index.
const PHI_BINS: usize = 64;

/// One layer: its modules, reference surface and φ index.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Detector volume.
    pub volume_id: u32,
    /// Layer within the volume.
    pub layer_id: u32,
    /// Reference surface and extent.
    pub shape: LayerShape,
    /// The modules.
    pub surfaces: Vec<Surface>,
    /// Per module: the range it covers along the layer's second coordinate (z for a barrel, r
    /// for a disc), mm.
    extents: Vec<(f64, f64)>,
    /// Per φ bin: the modules whose φ span (with a margin) touches the bin.
    phi_bins: Vec<Vec<u32>>,
}

/// φ wrapped into (−π, π].
pub(crate) fn wrap_phi(phi: f64) -> f64 {
    let wrapped = (phi + PI).rem_euclid(TAU) - PI;
    if wrapped <= -PI {
        wrapped + TAU
    } else {
        wrapped
    }
}

fn phi_bin(phi: f64) -> usize {
    (((wrap_phi(phi) + PI) / TAU * PHI_BINS as f64) as usize).min(PHI_BINS - 1)
}

impl Layer {
    /// Builds a layer from its modules (all of one volume and layer).
    fn new(volume_id: u32, layer_id: u32, surfaces: Vec<Surface>) -> Self {
        let is_disc = surfaces.iter().filter(|s| s.w[2].abs() > 0.9).count() * 2 > surfaces.len();
        let n = surfaces.len().max(1) as f64;
        let mut extents = Vec::with_capacity(surfaces.len());
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut phi_bins = vec![Vec::new(); PHI_BINS];
        for (index, surface) in surfaces.iter().enumerate() {
            let corners = surface.corners();
            let coordinate = |p: &[f64; 3]| if is_disc { p[0].hypot(p[1]) } else { p[2] };
            let (mut a, mut b) = (coordinate(&surface.centre), coordinate(&surface.centre));
            let phi_c = surface.centre[1].atan2(surface.centre[0]);
            let mut half_span: f64 = 0.0;
            for corner in &corners {
                a = a.min(coordinate(corner));
                b = b.max(coordinate(corner));
                let phi = corner[1].atan2(corner[0]);
                half_span = half_span.max(wrap_phi(phi - phi_c).abs());
            }
            // Discs: modules near the beam line could span a wide φ; the corners bound it.
            extents.push((a, b));
            lo = lo.min(a);
            hi = hi.max(b);
            let margin = 0.03;
            let span = (half_span + margin).min(PI);
            let steps = ((2.0 * span) / (TAU / PHI_BINS as f64)).ceil() as usize + 1;
            let mut last = usize::MAX;
            for step in 0..=steps {
                let phi = phi_c - span + 2.0 * span * step as f64 / steps as f64;
                let bin = phi_bin(phi);
                if bin != last && !phi_bins[bin].contains(&(index as u32)) {
                    phi_bins[bin].push(index as u32);
                }
                last = bin;
            }
        }
        let shape = if is_disc {
            LayerShape::Endcap {
                z: surfaces.iter().map(|s| s.centre[2]).sum::<f64>() / n,
                r_min: lo,
                r_max: hi,
            }
        } else {
            LayerShape::Barrel {
                radius: surfaces
                    .iter()
                    .map(|s| s.centre[0].hypot(s.centre[1]))
                    .sum::<f64>()
                    / n,
                z_min: lo,
                z_max: hi,
            }
        };
        Self {
            volume_id,
            layer_id,
            shape,
            surfaces,
            extents,
            phi_bins,
        }
    }

    /// Indices of the modules that may hold a point at azimuth `phi` whose second coordinate
    /// (z for a barrel, r for a disc) is `coordinate` ± `margin` (mm): those of the point's φ bin
    /// and its two neighbours.
    pub fn candidates(&self, phi: f64, coordinate: f64, margin: f64, out: &mut Vec<u32>) {
        out.clear();
        let bin = phi_bin(phi);
        for offset in [PHI_BINS - 1, 0, 1] {
            for &index in &self.phi_bins[(bin + offset) % PHI_BINS] {
                let (a, b) = self.extents[index as usize];
                if coordinate + margin >= a && coordinate - margin <= b && !out.contains(&index) {
                    out.push(index);
                }
            }
        }
    }
}

/// The whole tracker: its layers, ordered by volume and layer id.
#[derive(Debug, Clone)]
pub struct Detector {
    /// The layers.
    pub layers: Vec<Layer>,
}

impl Detector {
    /// Groups TrackML module rows into layers.
    ///
    /// # Errors
    /// [`SimError::Geometry`] for an empty list, a module listed twice, a module with a
    /// non-positive size or pitch, or axes that are not orthonormal.
    pub fn from_modules(modules: &[Module]) -> Result<Self> {
        if modules.is_empty() {
            return Err(SimError::Geometry("the detector has no modules".into()));
        }
        let mut grouped: std::collections::BTreeMap<(u32, u32), Vec<Surface>> =
            std::collections::BTreeMap::new();
        let mut seen = std::collections::HashSet::with_capacity(modules.len());
        for module in modules {
            if !seen.insert(module.key()) {
                return Err(SimError::Geometry(format!(
                    "{} appears twice",
                    module.key()
                )));
            }
            let surface = Surface::from_module(module);
            let sizes = [
                surface.thickness,
                surface.min_hu,
                surface.max_hu,
                surface.hv,
                surface.pitch_u,
                surface.pitch_v,
            ];
            if sizes.iter().any(|&x| !(x.is_finite() && x > 0.0)) {
                return Err(SimError::Geometry(format!(
                    "{}: sizes and pitches must be positive, found module_t {}, minhu {}, maxhu {}, hv {}, pitch_u {}, pitch_v {}",
                    surface.key, sizes[0], sizes[1], sizes[2], sizes[3], sizes[4], sizes[5]
                )));
            }
            let axes = [surface.u, surface.v, surface.w];
            for (i, a) in axes.iter().enumerate() {
                for (j, b) in axes.iter().enumerate() {
                    let expected = if i == j { 1.0 } else { 0.0 };
                    if (dot(*a, *b) - expected).abs() > 1e-3 {
                        return Err(SimError::Geometry(format!(
                            "{}: the rotation matrix is not orthonormal (axis {i}·axis {j} = {})",
                            surface.key,
                            dot(*a, *b)
                        )));
                    }
                }
            }
            grouped
                .entry((module.volume_id, module.layer_id))
                .or_default()
                .push(surface);
        }
        Ok(Self {
            layers: grouped
                .into_iter()
                .map(|((volume, layer), surfaces)| Layer::new(volume, layer, surfaces))
                .collect(),
        })
    }

    /// Reads a TrackML `detectors.csv` (plain or `.gz`).
    ///
    /// # Errors
    /// [`SimError::Core`] for an unreadable file or a bad row (file, line and column named),
    /// [`SimError::Geometry`] as [`Detector::from_modules`].
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let modules = hepnn_core::io::read_detectors(path)?;
        Self::from_modules(&modules).map_err(|error| match error {
            SimError::Geometry(message) => {
                SimError::Geometry(format!("`{}`: {message}", path.display()))
            }
            other => other,
        })
    }

    /// Number of modules.
    pub fn module_count(&self) -> usize {
        self.layers.iter().map(|l| l.surfaces.len()).sum()
    }

    /// All modules as TrackML rows.
    pub fn modules(&self) -> Vec<Module> {
        self.layers
            .iter()
            .flat_map(|l| l.surfaces.iter().map(Surface::to_module))
            .collect()
    }

    /// The TrackML detector generated in code (no file needed): 18,728 modules in the layout of
    /// the challenge's `detectors.csv`.
    ///
    /// - Barrels (volumes 8, 13, 17): n_φ modules per ring at φ_i = −π + (2i + 1)π/n_φ, rings at
    ///   z_j = (j − (n_z − 1)/2)·Δz, module centres at R ± δ alternating with the ring (the
    ///   overlap stagger: δ = 0.25 mm pixels, 1.5 mm strips), normal tilted by 0.14 rad
    ///   (pixels) or −0.15 rad (strips) from radial, v along z.
    /// - End-caps (7/9, 12/14, 16/18): rings of trapezoids (v radial), modules alternating
    ///   ±δz about the ring's z (δz = 2 mm pixels, 1.5 mm strips), ring z offsets as TrackML.
    ///
    /// Layer radii and disc z agree with `detectors.csv` to well under 1 mm (tested).
    pub fn trackml_default() -> Self {
        let mut modules = Vec::with_capacity(18_728);
        // Barrels: (volume, [(layer, radius, n_phi)], n_z, dz, stagger, tilt, hu, hv, t, pitch).
        struct Barrel {
            volume: u32,
            layers: &'static [(u32, f64, usize)],
            n_z: usize,
            dz: f64,
            stagger: f64,
            tilt: f64,
            hu: f64,
            hv: f64,
            thickness: f64,
            pitch: (f64, f64),
        }
        let barrels = [
            Barrel {
                volume: 8,
                layers: &[(2, 32.0, 16), (4, 72.0, 32), (6, 116.0, 52), (8, 172.0, 78)],
                n_z: 14,
                dz: 70.0,
                stagger: 0.25,
                tilt: 0.14,
                hu: 8.4,
                hv: 36.0,
                thickness: 0.15,
                pitch: (0.05, 0.05625),
            },
            Barrel {
                volume: 13,
                layers: &[
                    (2, 260.0, 40),
                    (4, 360.0, 56),
                    (6, 500.0, 78),
                    (8, 660.0, 102),
                ],
                n_z: 21,
                dz: 103.0,
                stagger: 1.5,
                tilt: -0.15,
                hu: 24.0,
                hv: 54.0,
                thickness: 0.25,
                pitch: (0.08, 1.2),
            },
            Barrel {
                volume: 17,
                layers: &[(2, 820.0, 120), (4, 1020.0, 152)],
                n_z: 21,
                dz: 103.0,
                stagger: 1.5,
                tilt: -0.15,
                hu: 24.0,
                hv: 54.0,
                thickness: 0.35,
                pitch: (0.12, 10.8),
            },
        ];
        for b in &barrels {
            for &(layer, radius, n_phi) in b.layers {
                let mut module_id = 1;
                for j in 0..b.n_z {
                    let z = (j as f64 - (b.n_z as f64 - 1.0) / 2.0) * b.dz;
                    let r = radius + if j % 2 == 0 { b.stagger } else { -b.stagger };
                    for i in 0..n_phi {
                        let phi = -PI + (2 * i + 1) as f64 * PI / n_phi as f64;
                        let normal = phi + b.tilt; // ŵ points outwards, tilted
                        let w = [normal.cos(), normal.sin(), 0.0];
                        let v = [0.0, 0.0, 1.0];
                        // û = v̂ × ŵ keeps the frame right-handed.
                        let u = [v[1] * w[2] - v[2] * w[1], v[2] * w[0] - v[0] * w[2], 0.0];
                        modules.push(module_row(
                            (b.volume, layer, module_id),
                            [r * phi.cos(), r * phi.sin(), z],
                            (u, v, w),
                            b.thickness,
                            (b.hu, b.hu, b.hv),
                            b.pitch,
                        ));
                        module_id += 1;
                    }
                }
            }
        }
        // End-caps: (negative volume, positive volume, layer |z| list, rings, dz, t, pitch).
        struct Ring {
            radius: f64,
            n_phi: usize,
            z_offset: f64,
            min_hu: f64,
            max_hu: f64,
            hv: f64,
        }
        struct Endcap {
            volumes: (u32, u32),
            z: &'static [f64],
            rings: &'static [Ring],
            dz: f64,
            thickness: f64,
            pitch: (f64, f64),
        }
        let pixel_rings = &[
            Ring {
                radius: 66.0,
                n_phi: 40,
                z_offset: 0.0,
                min_hu: 8.4,
                max_hu: 8.4,
                hv: 36.0,
            },
            Ring {
                radius: 140.0,
                n_phi: 68,
                z_offset: 0.0,
                min_hu: 8.4,
                max_hu: 8.4,
                hv: 36.0,
            },
        ];
        let short_rings = &[
            Ring {
                radius: 318.0,
                n_phi: 54,
                z_offset: -3.0,
                min_hu: 16.4,
                max_hu: 24.2,
                hv: 78.0,
            },
            Ring {
                radius: 470.0,
                n_phi: 56,
                z_offset: 3.0,
                min_hu: 24.2,
                max_hu: 32.2,
                hv: 78.0,
            },
            Ring {
                radius: 622.0,
                n_phi: 60,
                z_offset: -3.0,
                min_hu: 32.2,
                max_hu: 40.0,
                hv: 78.0,
            },
        ];
        let long_rings = &[
            Ring {
                radius: 828.0,
                n_phi: 48,
                z_offset: -4.0,
                min_hu: 54.0,
                max_hu: 64.2,
                hv: 78.0,
            },
            Ring {
                radius: 942.0,
                n_phi: 50,
                z_offset: 4.0,
                min_hu: 66.0,
                max_hu: 72.0,
                hv: 78.0,
            },
        ];
        let strip_z: &[f64] = &[1220.0, 1500.0, 1800.0, 2150.0, 2550.0, 2950.0];
        let endcaps = [
            Endcap {
                volumes: (7, 9),
                z: &[600.0, 700.0, 820.0, 960.0, 1100.0, 1300.0, 1500.0],
                rings: pixel_rings,
                dz: 2.0,
                thickness: 0.15,
                pitch: (0.05, 0.05625),
            },
            Endcap {
                volumes: (12, 14),
                z: strip_z,
                rings: short_rings,
                dz: 1.5,
                thickness: 0.25,
                pitch: (0.08, 1.2),
            },
            Endcap {
                volumes: (16, 18),
                z: strip_z,
                rings: long_rings,
                dz: 1.5,
                thickness: 0.35,
                pitch: (0.12, 10.4),
            },
        ];
        for e in &endcaps {
            for side in [-1.0f64, 1.0] {
                let volume = if side < 0.0 { e.volumes.0 } else { e.volumes.1 };
                let n_layers = e.z.len();
                for k in 0..n_layers {
                    // Layer ids grow with z: on the negative side the farthest disc is layer 2.
                    let z_abs = if side < 0.0 {
                        e.z[n_layers - 1 - k]
                    } else {
                        e.z[k]
                    };
                    let layer = 2 * (k as u32 + 1);
                    let mut module_id = 1;
                    for ring in e.rings {
                        for i in 0..ring.n_phi {
                            let phi = -PI + (2 * i + 1) as f64 * PI / ring.n_phi as f64;
                            let stagger = if i % 2 == 0 { e.dz } else { -e.dz };
                            let z = side * (z_abs + ring.z_offset + stagger);
                            let v = [phi.cos(), phi.sin(), 0.0];
                            let w = [0.0, 0.0, side];
                            // û = v̂ × ŵ.
                            let u = [v[1] * w[2], -v[0] * w[2], 0.0];
                            modules.push(module_row(
                                (volume, layer, module_id),
                                [ring.radius * phi.cos(), ring.radius * phi.sin(), z],
                                (u, v, w),
                                e.thickness,
                                (ring.min_hu, ring.max_hu, ring.hv),
                                e.pitch,
                            ));
                            module_id += 1;
                        }
                    }
                }
            }
        }
        Self::from_modules(&modules).expect("the built-in layout has valid modules")
    }
}

type Axes = ([f64; 3], [f64; 3], [f64; 3]);

fn module_row(
    (volume_id, layer_id, module_id): (u32, u32, u32),
    centre: [f64; 3],
    (u, v, w): Axes,
    thickness: f64,
    (min_hu, max_hu, hv): (f64, f64, f64),
    (pitch_u, pitch_v): (f64, f64),
) -> Module {
    Surface {
        key: ModuleKey {
            volume_id,
            layer_id,
            module_id,
        },
        centre,
        u,
        v,
        w,
        thickness,
        min_hu,
        max_hu,
        hv,
        pitch_u,
        pitch_v,
    }
    .to_module()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_detector_has_the_trackml_module_count() {
        let detector = Detector::trackml_default();
        assert_eq!(detector.module_count(), 18_728);
        assert_eq!(detector.layers.len(), 10 + 14 + 12 + 12);
        let pixel = &detector
            .layers
            .iter()
            .find(|l| l.volume_id == 8)
            .expect("pixel barrel");
        match pixel.shape {
            LayerShape::Barrel { radius, .. } => assert!((radius - 32.0).abs() < 1e-9),
            LayerShape::Endcap { .. } => panic!("volume 8 is a barrel"),
        }
    }

    #[test]
    fn trapezoid_bounds_by_hand() {
        let detector = Detector::trackml_default();
        let disc = detector
            .layers
            .iter()
            .find(|l| l.volume_id == 14)
            .expect("short-strip end-cap");
        let s = &disc.surfaces[0];
        assert_eq!((s.min_hu, s.max_hu, s.hv), (16.4, 24.2, 78.0));
        // Half-width at v = 0 is the mean, 20.3 mm.
        assert!((s.half_width_at(0.0) - 20.3).abs() < 1e-12);
        assert!(s.contains(20.0, 0.0) && !s.contains(20.5, 0.0));
        assert!(s.contains(24.0, 77.0) && !s.contains(24.0, -77.0));
        // Local ↔ global round trip.
        let p = s.to_global(3.0, -5.0);
        let local = s.to_local(p);
        assert!((local[0] - 3.0).abs() < 1e-9 && (local[1] + 5.0).abs() < 1e-9);
        assert!(local[2].abs() < 1e-9);
    }

    #[test]
    fn candidates_include_the_module_under_a_point() {
        let detector = Detector::trackml_default();
        for layer in &detector.layers {
            let mut out = Vec::new();
            for (index, s) in layer.surfaces.iter().enumerate().step_by(7) {
                let p = s.to_global(0.5 * s.min_hu, 0.3 * s.hv);
                let coordinate = match layer.shape {
                    LayerShape::Barrel { .. } => p[2],
                    LayerShape::Endcap { .. } => p[0].hypot(p[1]),
                };
                layer.candidates(p[1].atan2(p[0]), coordinate, 1.0, &mut out);
                assert!(out.contains(&(index as u32)), "{}", s.key);
            }
        }
    }
}
