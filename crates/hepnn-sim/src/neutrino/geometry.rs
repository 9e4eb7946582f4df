//! The detector: a small NOvA-like liquid-scintillator tracking calorimeter.
//!
//! NOvA (Ayres et al., NOvA Technical Design Report, FERMILAB-DESIGN-2007-01) is built of extruded
//! PVC cells, 3.9 cm × 6.6 cm in cross-section (6.6 cm along the beam), filled with liquid
//! scintillator (mineral oil + 5 % pseudocumene) and read out at one end by a looped
//! wavelength-shifting fibre. Cells are grouped in planes whose orientation alternates, vertical
//! cells (measuring x) then horizontal cells (measuring y), so the detector gives two views, XZ and
//! YZ. The mixture is ~62 % scintillator by mass: radiation length X₀ ≈ 38 cm, Molière radius
//! ≈ 10 cm, a minimum-ionising particle loses ≈ 1.8 MeV/cm.
//!
//! Ours keeps the cell and material but is smaller, so the images stay small for CPU training:
//! [`DetectorConfig::default`] has 128 planes (64 per view) of 48 cells, 3.9 cm × 6.6 cm each:
//! 1.87 m × 1.87 m across and 8.4 m deep, so each view is a 64 × 48 image (NOvA's far detector: 896 planes of 384 cells,
//! 15.6 m × 15.6 m × 60 m). Coordinates: z along the beam from the front face, x and y from the
//! detector axis, in cm.

/// The two views: planes with vertical cells measure x (XZ view), horizontal cells measure y.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Vertical cells (even planes): x measured, the fibre runs along y to the top (y = +half).
    Xz,
    /// Horizontal cells (odd planes): y measured, the fibre runs along x to the side (x = +half).
    Yz,
}

/// Dimensions and material constants of the detector.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// Number of planes (alternating XZ, YZ, XZ, …); each view holds half of them.
    pub planes: usize,
    /// Cells per plane.
    pub cells: usize,
    /// Cell width across the plane, cm (NOvA: 3.9).
    pub cell_width_cm: f64,
    /// Plane thickness along the beam, cm (NOvA: 6.6).
    pub plane_depth_cm: f64,
    /// Radiation length of the scintillator + PVC mixture, cm (NOvA: ≈ 38).
    pub radiation_length_cm: f64,
    /// Molière radius, cm (NOvA: ≈ 10).
    pub moliere_radius_cm: f64,
    /// Critical energy of the mixture, GeV (for the longitudinal shower maximum).
    pub critical_energy_gev: f64,
    /// Mean energy loss of a minimum-ionising particle, MeV/cm.
    pub mip_dedx_mev_per_cm: f64,
    /// Nuclear interaction length of charged pions, cm (NOvA mixture: ≈ 80 cm; taken ~1 m).
    pub pion_interaction_length_cm: f64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            planes: 128,
            cells: 48,
            cell_width_cm: 3.9,
            plane_depth_cm: 6.6,
            radiation_length_cm: 38.0,
            moliere_radius_cm: 10.0,
            critical_energy_gev: 0.09,
            mip_dedx_mev_per_cm: 1.8,
            pion_interaction_length_cm: 100.0,
        }
    }
}

impl DetectorConfig {
    /// Planes in each view.
    pub fn planes_per_view(&self) -> usize {
        self.planes / 2
    }

    /// Width (and height) of the detector, cm.
    pub fn width_cm(&self) -> f64 {
        self.cells as f64 * self.cell_width_cm
    }

    /// Depth along the beam, cm.
    pub fn depth_cm(&self) -> f64 {
        self.planes as f64 * self.plane_depth_cm
    }

    /// Whether a point (cm) is inside the detector.
    pub fn contains(&self, p: [f64; 3]) -> bool {
        let half = 0.5 * self.width_cm();
        p[0].abs() < half && p[1].abs() < half && p[2] >= 0.0 && p[2] < self.depth_cm()
    }

    /// The cell holding point `p`: its view, plane index within the view, cell index, and the
    /// distance (cm) the light travels along the fibre to the readout. `None` outside.
    pub fn cell_of(&self, p: [f64; 3]) -> Option<(View, usize, usize, f64)> {
        if !self.contains(p) {
            return None;
        }
        let half = 0.5 * self.width_cm();
        let plane = (p[2] / self.plane_depth_cm) as usize;
        let (view, measured, along) = if plane.is_multiple_of(2) {
            (View::Xz, p[0], p[1])
        } else {
            (View::Yz, p[1], p[0])
        };
        let cell = (((measured + half) / self.cell_width_cm) as usize).min(self.cells - 1);
        Some((view, plane / 2, cell, half - along))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planes_alternate_views_and_cells_tile_the_width() {
        let d = DetectorConfig::default();
        assert_eq!(d.planes_per_view(), 64);
        assert!((d.width_cm() - 187.2).abs() < 1e-9);
        let (v, plane, cell, fibre) = d.cell_of([0.1, 0.0, 1.0]).expect("inside");
        assert_eq!((v, plane, cell), (View::Xz, 0, 24));
        assert!((fibre - 93.6).abs() < 1e-9);
        let (v, plane, cell, _) = d.cell_of([0.0, -93.0, 7.0]).expect("inside");
        assert_eq!((v, plane, cell), (View::Yz, 0, 0));
        let (v, plane, _, _) = d.cell_of([0.0, 0.0, 6.6 * 5.0 + 0.1]).expect("inside");
        assert_eq!((v, plane), (View::Yz, 2));
        assert!(d.cell_of([0.0, 0.0, -1.0]).is_none());
        assert!(d.cell_of([94.0, 0.0, 10.0]).is_none());
    }
}
