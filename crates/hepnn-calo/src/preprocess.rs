//! Shower ↔ network features, shared by the autoencoder studies and the diffusion model.
//!
//! A voxel energy E_v (MeV) of a shower of incident energy E_inc becomes
//! x_v = ln(1 + E_v / (u₀ E_inc)) with u₀ = 10⁻⁶: the fraction E_v/E_inc spans 10⁻⁸ … 10⁻²
//! in the dataset-2 calorimeter (sampling fraction ≈ 2 %), and the logarithm compresses it into
//! 0 … ≈ 9 so that the core voxels do not swamp the tails in a squared error (CaloDiffusion,
//! Amram & Pedro 2023, also trains on log-transformed fractions). The inverse is
//! E_v = u₀ E_inc (eˣ − 1), clamped at 0.
//!
//! The incident energy enters networks as c = (log₁₀(E_inc/MeV) − 3)/log₁₀(500) ∈ [0, 1] for
//! 1 … 500 GeV.

/// u₀ of the transform.
pub const FRACTION_SCALE: f64 = 1e-6;

/// Voxel energies (MeV, `n × voxels`) → features x_v.
pub fn to_features(showers_mev: &[f32], incident_energies_mev: &[f32], voxels: usize) -> Vec<f32> {
    to_features_with(showers_mev, incident_energies_mev, voxels, FRACTION_SCALE)
}

/// Features → voxel energies (MeV), negative values clamped to 0.
pub fn from_features(features: &[f32], incident_energies_mev: &[f32], voxels: usize) -> Vec<f32> {
    from_features_with(features, incident_energies_mev, voxels, FRACTION_SCALE)
}

/// [`to_features`] with another u₀ (a larger u₀ weighs the sparse low-energy outer deposits
/// less against the shower core).
pub fn to_features_with(
    showers_mev: &[f32],
    incident_energies_mev: &[f32],
    voxels: usize,
    fraction_scale: f64,
) -> Vec<f32> {
    showers_mev
        .chunks(voxels)
        .zip(incident_energies_mev)
        .flat_map(|(row, &e)| {
            let scale = fraction_scale * f64::from(e);
            row.iter()
                .map(move |&v| (f64::from(v.max(0.0)) / scale).ln_1p() as f32)
        })
        .collect()
}

/// [`from_features`] with another u₀.
pub fn from_features_with(
    features: &[f32],
    incident_energies_mev: &[f32],
    voxels: usize,
    fraction_scale: f64,
) -> Vec<f32> {
    features
        .chunks(voxels)
        .zip(incident_energies_mev)
        .flat_map(|(row, &e)| {
            let scale = fraction_scale * f64::from(e);
            row.iter()
                .map(move |&x| (scale * f64::from(x).exp_m1()).max(0.0) as f32)
        })
        .collect()
}

/// The energy condition c = (log₁₀(E_inc/MeV) − 3)/log₁₀ 500.
pub fn energy_condition(incident_energy_mev: f32) -> f32 {
    ((f64::from(incident_energy_mev).max(1e-3).log10() - 3.0) / 500f64.log10()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_invert_and_the_condition_spans_zero_to_one() {
        let showers = [0.0f32, 0.5, 12.0, 300.0];
        let energies = [20_000.0f32];
        let x = to_features(&showers, &energies, 4);
        assert_eq!(x[0], 0.0);
        let back = from_features(&x, &energies, 4);
        for (a, b) in showers.iter().zip(&back) {
            assert!((a - b).abs() <= 1e-4 * a.max(1.0), "{a} vs {b}");
        }
        assert!(energy_condition(1_000.0).abs() < 1e-6);
        assert!((energy_condition(500_000.0) - 1.0).abs() < 1e-6);
    }
}
