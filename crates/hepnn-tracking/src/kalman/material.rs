//! Multiple-scattering noise per crossed module, the same model as the simulation
//! (`hepnn_sim::tracker::propagation`): the Highland width θ₀ for the module's silicon
//! x/X₀ = t / (X₀ |cos α|) (α the angle to the module normal, |cos α| ≥ 0.05, X₀ = 93.7 mm),
//! β for the pion mass, |q| = 1; no energy loss. The two projected angles have variance θ₀², so
//!
//! ```text
//! Var(θ) += θ₀²      Var(φ) += θ₀² / sin²θ
//! ```

use hepnn_sim::tracker::geometry::SILICON_X0;
use hepnn_sim::tracker::propagation::PION_MASS;
use hepnn_sim::tracker::{Surface, highland_theta0};

use super::parameters::{BoundMatrix, BoundVector, PHI, QOP, THETA, direction};

/// Material effects of the silicon modules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaterialEffects {
    /// Mass assumed for β (GeV); the simulation's is the pion mass.
    pub mass: f64,
    /// Whether to add the noise at all.
    pub multiple_scattering: bool,
    /// Material per module crossing in units of the module's silicon (default 1: silicon only,
    /// as the simulation). Real detectors add supports, cooling and services (see
    /// docs/results.md, "real event").
    pub material_scale: f64,
}

impl Default for MaterialEffects {
    fn default() -> Self {
        Self {
            mass: PION_MASS,
            multiple_scattering: true,
            material_scale: 1.0,
        }
    }
}

impl MaterialEffects {
    /// x/X₀ of `surface` crossed with bound parameters `bound` on it.
    pub fn x_over_x0(surface: &Surface, bound: &BoundVector) -> f64 {
        let t = direction(bound[PHI], bound[THETA]);
        let cos_alpha = (t[0] * surface.w[0] + t[1] * surface.w[1] + t[2] * surface.w[2])
            .abs()
            .max(0.05);
        surface.thickness / (SILICON_X0 * cos_alpha)
    }

    /// The noise covariance added when crossing `surface` with parameters `bound`.
    pub fn noise(&self, surface: &Surface, bound: &BoundVector) -> BoundMatrix {
        let mut noise = BoundMatrix::zeros();
        if !self.multiple_scattering || bound[QOP] == 0.0 {
            return noise;
        }
        let p = 1.0 / bound[QOP].abs();
        let beta = p / (p * p + self.mass * self.mass).sqrt();
        let theta0 = highland_theta0(
            p,
            beta,
            1.0,
            self.material_scale * Self::x_over_x0(surface, bound),
        );
        let variance = theta0 * theta0;
        let sin_theta = bound[THETA].sin().abs().max(1e-6);
        noise[(THETA, THETA)] = variance;
        noise[(PHI, PHI)] = variance / (sin_theta * sin_theta);
        noise
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hepnn_sim::tracker::Detector;

    #[test]
    fn normal_incidence_on_pixels_gives_the_highland_width() {
        let detector = Detector::trackml_default();
        let surface = &detector.layers[7].surfaces[0];
        // A 10 GeV track along the module normal, θ = π/2 (barrel: normal in the xy plane).
        let phi = surface.w[1].atan2(surface.w[0]);
        let bound = BoundVector::new(0.0, 0.0, phi, std::f64::consts::FRAC_PI_2, 0.1);
        let noise = MaterialEffects::default().noise(surface, &bound);
        let p: f64 = 10.0;
        let beta = p / (p * p + PION_MASS * PION_MASS).sqrt();
        let expected = highland_theta0(p, beta, 1.0, surface.thickness / SILICON_X0);
        assert!((noise[(THETA, THETA)].sqrt() - expected).abs() < 1e-12);
        assert!((noise[(PHI, PHI)] - noise[(THETA, THETA)]).abs() < 1e-18);
    }
}
