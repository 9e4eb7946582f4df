//! The three-hit transverse-momentum measurement: a charged particle from the beam line crosses
//! three barrel pixel layers (TrackML pixel-barrel radii 32, 72, 116 mm) in a 2 T field; each hit
//! is smeared along the layer by the pixel resolution pitch/√12. From the three hits one measures
//! q/pT, the signed curvature — classically by the circle through them (the sagitta), here also by
//! a learned MLP (the backpropagation slide's physics application).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::helix::{Helix, circle_through};
use hepnn_core::units::{UM, pt_from_radius};

/// Settings of the three-hit sample.
#[derive(Debug, Clone)]
pub struct ThreeHitConfig {
    /// Layer radii (mm).
    pub layer_radii: [f64; 3],
    /// Solenoid field (T).
    pub bz: f64,
    /// Hit resolution along rφ (mm): TrackML pixels have a 50 µm pitch, σ = 50 µm/√12.
    pub sigma_rphi: f64,
    /// Minimum and maximum pT (GeV), drawn uniform in 1/pT.
    pub pt_range: (f64, f64),
}

impl Default for ThreeHitConfig {
    fn default() -> Self {
        Self {
            layer_radii: [32.0, 72.0, 116.0],
            bz: 2.0,
            sigma_rphi: 50.0 * UM / 12f64.sqrt(),
            pt_range: (1.0, 20.0),
        }
    }
}

/// Simulated tracks: per track the three smeared hits and the true q/pT.
#[derive(Debug, Clone, Default)]
pub struct ThreeHitSample {
    /// Hits (x, y) in mm, inner layer first, rotated so the first hit lies on the +x axis (the
    /// problem is invariant under rotation about z).
    pub hits: Vec<[[f64; 2]; 3]>,
    /// True q/pT (GeV⁻¹).
    pub q_over_pt: Vec<f64>,
}

impl ThreeHitSample {
    /// Simulates `n` tracks with the seed `seed`.
    pub fn simulate(config: &ThreeHitConfig, n: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let smear = Normal::new(0.0, config.sigma_rphi).expect("σ is finite and positive");
        let (lo, hi) = config.pt_range;
        let mut sample = Self::default();
        while sample.hits.len() < n {
            let inv_pt = rng.random_range(1.0 / hi..=1.0 / lo);
            let charge = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            let helix = Helix {
                vertex: [0.0; 3],
                pt: 1.0 / inv_pt,
                phi0: rng.random_range(-std::f64::consts::PI..std::f64::consts::PI),
                cot_theta: 0.0,
                charge,
                bz: config.bz,
            };
            let mut hits = [[0.0; 2]; 3];
            let mut complete = true;
            for (hit, &r) in hits.iter_mut().zip(&config.layer_radii) {
                match helix.cross_cylinder(r) {
                    Some((p, _)) => {
                        // Smear along the layer (rφ), staying on the cylinder.
                        let phi = p[1].atan2(p[0]) + smear.sample(&mut rng) / r;
                        *hit = [r * phi.cos(), r * phi.sin()];
                    }
                    None => complete = false,
                }
            }
            if complete {
                let rot = -hits[0][1].atan2(hits[0][0]);
                let (s, c) = rot.sin_cos();
                sample
                    .hits
                    .push(hits.map(|[x, y]| [c * x - s * y, s * x + c * y]));
                sample.q_over_pt.push(charge * inv_pt);
            }
        }
        sample
    }

    /// Number of tracks.
    pub fn len(&self) -> usize {
        self.hits.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.hits.is_empty()
    }

    /// The classical estimate: q/pT from the circle through the three hits (orientation gives
    /// the charge for B > 0).
    pub fn circle_fit_q_over_pt(&self, bz: f64) -> Vec<f64> {
        self.hits
            .iter()
            .map(|h| match circle_through(h[0], h[1], h[2]) {
                Some((_, r, orientation)) => orientation / pt_from_radius(1.0, bz, r),
                None => 0.0,
            })
            .collect()
    }
}

/// q/pT of the circle through the beam line (the origin) that best fits the three hits in the
/// least-squares sense of the algebraic distance: x² + y² + D·x + E·y = 0, R = √(D² + E²)/2.
/// Uses the beam-line constraint the plain three-point circle ignores.
pub fn beam_constrained_q_over_pt(hits: &[[f64; 2]; 3], bz: f64) -> f64 {
    let (mut sxx, mut sxy, mut syy, mut sxr, mut syr) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &[x, y] in hits {
        let r2 = x * x + y * y;
        sxx += x * x;
        sxy += x * y;
        syy += y * y;
        sxr += x * r2;
        syr += y * r2;
    }
    let det = sxx * syy - sxy * sxy;
    if det.abs() < 1e-12 {
        return 0.0;
    }
    let d = -(syy * sxr - sxy * syr) / det;
    let e = -(sxx * syr - sxy * sxr) / det;
    let radius = d.hypot(e) / 2.0;
    let orientation = match circle_through(hits[0], hits[1], hits[2]) {
        Some((_, _, o)) => o,
        None => return 0.0,
    };
    orientation / pt_from_radius(1.0, bz, radius)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_circle_fit_measures_q_over_pt_to_the_expected_resolution() {
        let config = ThreeHitConfig::default();
        let sample = ThreeHitSample::simulate(&config, 4000, 1);
        assert_eq!(sample.len(), 4000);
        let fit = sample.circle_fit_q_over_pt(config.bz);
        let residuals: Vec<f64> = fit
            .iter()
            .zip(&sample.q_over_pt)
            .map(|(f, t)| f - t)
            .collect();
        let rms = (residuals.iter().map(|r| r * r).sum::<f64>() / residuals.len() as f64).sqrt();
        // Sagitta resolution: σ(q/pT) ≈ 8σ·√1.5 / (0.3·B·L²) ≈ 0.0185 GeV⁻¹ at L ≈ 84 mm, B = 2 T
        // (the layers are not equally spaced, so allow a band).
        assert!(rms > 0.01 && rms < 0.04, "σ(q/pT) = {rms}");
        // The charge is right for every track at these momenta.
        assert!(
            fit.iter()
                .zip(&sample.q_over_pt)
                .all(|(f, t)| f.signum() == t.signum() || t.abs() < 0.1)
        );
        // The beam-line constraint (a fourth point) improves the resolution.
        let constrained: Vec<f64> = sample
            .hits
            .iter()
            .map(|h| beam_constrained_q_over_pt(h, config.bz))
            .collect();
        let rms_c = (constrained
            .iter()
            .zip(&sample.q_over_pt)
            .map(|(f, t)| (f - t).powi(2))
            .sum::<f64>()
            / sample.len() as f64)
            .sqrt();
        assert!(rms_c < 0.7 * rms, "constrained {rms_c} vs free {rms}");
        // Same seed, same numbers.
        assert_eq!(
            ThreeHitSample::simulate(&config, 10, 1).hits,
            ThreeHitSample::simulate(&config, 10, 1).hits
        );
    }
}
