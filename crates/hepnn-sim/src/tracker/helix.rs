//! A charged particle's helix in a uniform solenoid field B ẑ.
//!
//! In the transverse plane the particle moves on a circle of radius
//! R = pT / (0.299792458e-3 · |q| · B) (R in mm, pT in GeV, B in T); a positive charge in B > 0
//! turns clockwise. Along z it advances by cot θ = pz/pT per unit of transverse path.
//! Reference: PDG Review of Particle Physics, "Passage of particles through matter" /
//! "Tracking", and ACTS's helix parametrisation.

use hepnn_core::units::radius_from_pt;

/// A helix from a production vertex.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Helix {
    /// Production vertex (mm).
    pub vertex: [f64; 3],
    /// Transverse momentum (GeV).
    pub pt: f64,
    /// Azimuth of the momentum at the vertex (rad).
    pub phi0: f64,
    /// pz / pT.
    pub cot_theta: f64,
    /// Charge in units of e (non-zero).
    pub charge: f64,
    /// Solenoid field along z (T).
    pub bz: f64,
}

impl Helix {
    /// Radius of the transverse circle (mm).
    pub fn radius(&self) -> f64 {
        radius_from_pt(self.charge, self.bz, self.pt)
    }

    /// Centre of the transverse circle (mm).
    pub fn centre(&self) -> [f64; 2] {
        let r = self.radius();
        // Clockwise for q·B > 0: the centre lies to the right of the direction of motion.
        let s = (self.charge * self.bz).signum();
        [
            self.vertex[0] + s * r * self.phi0.sin(),
            self.vertex[1] - s * r * self.phi0.cos(),
        ]
    }

    /// The first crossing, moving forward from the vertex, of the cylinder of radius
    /// `layer_radius` (mm) about the z axis, or `None` when the circle never reaches it (a
    /// looper whose diameter is too small). Returns the point (mm) and the transverse path
    /// length s (mm) to it.
    pub fn cross_cylinder(&self, layer_radius: f64) -> Option<([f64; 3], f64)> {
        let r = self.radius();
        let [xc, yc] = self.centre();
        let d = xc.hypot(yc);
        // Circle–circle intersection: |p| = layer_radius, |p − c| = r.
        if d == 0.0 || d > layer_radius + r || d < (layer_radius - r).abs() {
            return None;
        }
        let a = (layer_radius * layer_radius - r * r + d * d) / (2.0 * d);
        let h = (layer_radius * layer_radius - a * a).max(0.0).sqrt();
        let (ux, uy) = (xc / d, yc / d);
        let base = [a * ux, a * uy];
        let candidates = [
            [base[0] - h * uy, base[1] + h * ux],
            [base[0] + h * uy, base[1] - h * ux],
        ];
        let s = (self.charge * self.bz).signum();
        let start = (self.vertex[1] - yc).atan2(self.vertex[0] - xc);
        candidates
            .iter()
            .map(|p| {
                let angle = (p[1] - yc).atan2(p[0] - xc);
                // Clockwise motion decreases the angle about the centre for s > 0.
                let turn = (-s * (angle - start)).rem_euclid(std::f64::consts::TAU);
                (p, turn * r)
            })
            .min_by(|x, y| x.1.total_cmp(&y.1))
            .map(|(p, path)| ([p[0], p[1], self.vertex[2] + self.cot_theta * path], path))
    }
}

/// The circle through three points: (centre, radius, orientation), orientation +1 when the points
/// turn clockwise (a positive charge in B > 0), −1 anticlockwise; `None` when collinear.
pub fn circle_through(p1: [f64; 2], p2: [f64; 2], p3: [f64; 2]) -> Option<([f64; 2], f64, f64)> {
    let (ax, ay) = (p2[0] - p1[0], p2[1] - p1[1]);
    let (bx, by) = (p3[0] - p1[0], p3[1] - p1[1]);
    let cross = ax * by - ay * bx;
    if cross.abs() < 1e-15 {
        return None;
    }
    let (a2, b2) = (ax * ax + ay * ay, bx * bx + by * by);
    let ux = (by * a2 - ay * b2) / (2.0 * cross);
    let uy = (ax * b2 - bx * a2) / (2.0 * cross);
    Some(([p1[0] + ux, p1[1] + uy], ux.hypot(uy), -cross.signum()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_1_gev_track_in_2_t_has_radius_1668_mm() {
        let h = Helix {
            vertex: [0.0; 3],
            pt: 1.0,
            phi0: 0.0,
            cot_theta: 0.0,
            charge: 1.0,
            bz: 2.0,
        };
        assert!((h.radius() - 1667.8).abs() < 0.1);
        assert!(
            (h.centre()[1] + h.radius()).abs() < 1e-9,
            "positive charge turns clockwise"
        );
    }

    #[test]
    fn crossings_lie_on_the_layer_and_on_the_circle() {
        for (q, phi0) in [(1.0, 0.3), (-1.0, 2.0), (1.0, -2.5)] {
            let h = Helix {
                vertex: [0.1, -0.2, 5.0],
                pt: 0.8,
                phi0,
                cot_theta: 0.5,
                charge: q,
                bz: 2.0,
            };
            let ([x, y, z], s) = h.cross_cylinder(100.0).expect("reaches 100 mm");
            assert!((x.hypot(y) - 100.0).abs() < 1e-9);
            let c = h.centre();
            assert!(((x - c[0]).hypot(y - c[1]) - h.radius()).abs() < 1e-9);
            assert!(s > 99.0 && s < 102.0, "{s}");
            assert!((z - 5.0 - 0.5 * s).abs() < 1e-9);
            // Forward, not backward: the point is roughly along phi0.
            assert!((y.atan2(x) - phi0).abs() < 0.1);
        }
        // A 0.1 GeV looper (R ≈ 167 mm) never reaches 400 mm.
        let looper = Helix {
            vertex: [0.0; 3],
            pt: 0.1,
            phi0: 0.0,
            cot_theta: 0.0,
            charge: 1.0,
            bz: 2.0,
        };
        assert!(looper.cross_cylinder(400.0).is_none());
    }

    #[test]
    fn circle_through_three_hits_recovers_the_helix() {
        let h = Helix {
            vertex: [0.0; 3],
            pt: 2.0,
            phi0: 1.0,
            cot_theta: 0.0,
            charge: -1.0,
            bz: 2.0,
        };
        let p = |r| {
            let (q, _) = h.cross_cylinder(r).unwrap();
            [q[0], q[1]]
        };
        let (c, r, orientation) = circle_through(p(32.0), p(72.0), p(116.0)).unwrap();
        assert!((r - h.radius()).abs() < 1e-6 * h.radius());
        assert!((c[0] - h.centre()[0]).abs() < 1e-3);
        assert_eq!(orientation, -1.0);
    }
}
