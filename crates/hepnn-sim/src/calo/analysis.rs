//! Shower observables for the physics checks: shower maximum, lateral containment, energy
//! resolution fit.

use super::geometry::CaloGeometry;
use super::voxelise::RADIAL_PROFILE_BIN_MM;

/// Depth of the shower maximum, radiation lengths, from a mean longitudinal profile (sensor
/// energy per readout layer): the vertex of the parabola through the largest layer and its two
/// neighbours, placed on the layers' sensor depths ([`CaloGeometry::layer_depths_x0`]).
pub fn shower_maximum_x0(geometry: &CaloGeometry, layer_profile: &[f64]) -> f64 {
    let depths = geometry.layer_depths_x0();
    let (peak, _) = layer_profile
        .iter()
        .enumerate()
        .fold(
            (0, f64::MIN),
            |best, (i, &e)| if e > best.1 { (i, e) } else { best },
        );
    if peak == 0 || peak + 1 >= layer_profile.len() {
        return depths[peak];
    }
    let (a, b, c) = (
        layer_profile[peak - 1],
        layer_profile[peak],
        layer_profile[peak + 1],
    );
    let denominator = a - 2.0 * b + c;
    let offset = if denominator < 0.0 {
        (0.5 * (a - c) / denominator).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    let spacing = depths[peak + 1] - depths[peak];
    depths[peak] + offset * spacing
}

/// Fraction of the sensor energy of a mean radial profile (bins of
/// [`RADIAL_PROFILE_BIN_MM`]) within `radius_mm` of the axis, linear within the bin it cuts.
pub fn containment_fraction(radial_profile: &[f64], radius_mm: f64) -> f64 {
    let total: f64 = radial_profile.iter().sum();
    let edge = radius_mm / RADIAL_PROFILE_BIN_MM;
    let full = (edge.floor() as usize).min(radial_profile.len());
    let mut inside: f64 = radial_profile[..full].iter().sum();
    if full < radial_profile.len() {
        inside += radial_profile[full] * (edge - full as f64);
    }
    inside / total
}

/// Result of fitting σ/E = a/√E ⊕ b.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResolutionFit {
    /// Stochastic term a, in √GeV (σ/E = a/√E at E in GeV).
    pub stochastic: f64,
    /// Constant term b.
    pub constant: f64,
}

/// Least-squares fit of (σ/E)² = a²/E + b² (linear in 1/E) to points (E in GeV, σ/E),
/// weighted by the statistical error of each σ/E estimate from `n` showers
/// (δ(σ²/E²) ≈ √(2/n) σ²/E²). Negative squares are clipped to 0.
pub fn fit_resolution(points: &[(f64, f64, usize)]) -> ResolutionFit {
    // Weighted linear regression y = a² x + b², x = 1/E, y = (σ/E)².
    let (mut sw, mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(e, r, n) in points {
        let (x, y) = (1.0 / e, r * r);
        let sigma_y = (2.0 / n.max(2) as f64).sqrt() * y;
        let w = 1.0 / (sigma_y * sigma_y);
        sw += w;
        sx += w * x;
        sy += w * y;
        sxx += w * x * x;
        sxy += w * x * y;
    }
    let det = sw * sxx - sx * sx;
    let slope = (sw * sxy - sx * sy) / det;
    let intercept = (sy * sxx - sx * sxy) / det;
    ResolutionFit {
        stochastic: slope.max(0.0).sqrt(),
        constant: intercept.max(0.0).sqrt(),
    }
}

/// Mean and standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_fit_recovers_known_terms() {
        let points: Vec<(f64, f64, usize)> = [1.0, 4.0, 16.0, 64.0, 256.0]
            .iter()
            .map(|&e: &f64| (e, ((0.2f64 * 0.2) / e + 0.01 * 0.01).sqrt(), 100))
            .collect();
        let fit = fit_resolution(&points);
        assert!((fit.stochastic - 0.2).abs() < 1e-9 && (fit.constant - 0.01).abs() < 1e-9);
    }

    #[test]
    fn containment_interpolates_within_a_bin() {
        let profile = [1.0, 1.0, 2.0];
        assert!((containment_fraction(&profile, 0.75) - 0.375).abs() < 1e-12);
        assert!((containment_fraction(&profile, 10.0) - 1.0).abs() < 1e-12);
    }
}
