//! From the generator's smooth output to sparse showers.
//!
//! A softmax puts a little energy into every one of the 6,480 voxels; the reference has exact
//! zeros wherever no particle crossed the silicon (about 85 % of the voxels) and a few voxels
//! carrying a whole minimum-ionising crossing in the front layers. Two ways to get there, both
//! keeping each shower's total (the surviving deposits are scaled):
//!
//! - **Threshold** (`threshold_mev`, generators trained before 26 Nov, session 7, whose threshold
//!   was fitted to the training showers' sparsity): deposits below t MeV become 0. One global cut
//!   empties whole layers where the shower deposits little (the front layer in 78 % of the
//!   showers of the first shipped generator, never in the reference's).
//! - **Quanta** (`quantum_mev`, q; the default since 26 Nov): the generator's voxel value v (MeV)
//!   is read as the *expected* deposit, made of discrete crossings of q MeV each on average:
//!
//!   ```text
//!   N ~ Poisson(v / q),   deposit = q · Gamma(N·a, 1/a)   (0 when N = 0)
//!   ```
//!
//!   (shape a = `quantum_shape`; a = 1 makes every quantum's deposit exponential). E\[deposit\] = v,
//!   P(deposit > 0) = 1 − e^(−v/q): a voxel with little expected energy is usually empty and
//!   occasionally holds a whole quantum, as a voxel crossed by one soft particle; a layer whose
//!   expected energy is below q is empty with probability ≈ e^(−E_layer/q). This is the
//!   compound-Poisson picture of a sampling calorimeter's deposits (Amaldi, Phys. Scripta 23
//!   (1981) 409; the fluctuation term of the stochastic resolution). The fitted q makes
//!   E\[fraction of voxels > 0\] = mean of (1 − e^(−v/q)) equal the reference's, by bisection.

use rand::Rng;
use rand_distr::{Distribution as _, Exp1, Gamma, Poisson, StandardNormal};

/// Above this many expected quanta a voxel's deposit is drawn from the Gaussian limit.
const LARGE_LAMBDA: f64 = 10.0;

/// The quantum q (MeV) at which the expected non-zero fraction, the mean over the generated
/// voxels of 1 − exp(−v/q) (v = fraction · E_inc), equals `target`, by bisection on a log
/// scale over 10⁻⁸–10³ MeV.
pub fn fit_quantum(target: f64, energies_mev: &[f32], generated_fractions: &[Vec<f32>]) -> f64 {
    let n = generated_fractions
        .iter()
        .map(Vec::len)
        .sum::<usize>()
        .max(1) as f64;
    let nonzero = |q: f64| {
        generated_fractions
            .iter()
            .zip(energies_mev)
            .map(|(row, &e)| {
                let scale = f64::from(e) / q;
                row.iter()
                    .map(|&v| -(-(f64::from(v) * scale)).exp_m1())
                    .sum::<f64>()
            })
            .sum::<f64>()
            / n
    };
    bisect_log(|q| nonzero(q) > target)
}

/// The x in 10⁻⁸–10³ where `above(x)` turns false (it must be true below and false above).
fn bisect_log(above: impl Fn(f64) -> bool) -> f64 {
    let (mut lo, mut hi) = (-8f64, 3f64);
    for _ in 0..50 {
        let mid = 0.5 * (lo + hi);
        if above(10f64.powf(mid)) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    10f64.powf(0.5 * (lo + hi))
}

/// Zeroes the deposits of `row` (MeV) below `threshold_mev` and scales the rest so that the
/// total stays the same (a row with nothing above the threshold becomes all zeros).
pub fn apply_threshold(row: &mut [f32], threshold_mev: f32) {
    let total: f32 = row.iter().sum();
    let kept: f32 = row.iter().filter(|&&v| v >= threshold_mev).sum();
    let scale = if kept > 0.0 { total / kept } else { 0.0 };
    for v in row.iter_mut() {
        *v = if *v < threshold_mev { 0.0 } else { *v * scale };
    }
}

/// Replaces every expected deposit v of `row` (MeV) by q·Gamma(N·a, 1/a), N ~ Poisson(v/q)
/// (see the module doc), then scales the row back to its total. If no voxel gets a quantum
/// (a total of a few q at most), the whole total goes to the largest voxel.
///
/// # Panics
/// If `quantum_mev` or `shape` is not a positive number.
pub fn quantise(row: &mut [f32], quantum_mev: f32, shape: f64, rng: &mut impl Rng) {
    assert!(
        quantum_mev > 0.0 && shape > 0.0,
        "quantum {quantum_mev} MeV and shape {shape} must be positive"
    );
    let total: f32 = row.iter().sum();
    if total <= 0.0 {
        return;
    }
    let largest = row
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i);
    let mut sum = 0f32;
    // Variance of one quantum's deposit over q²: E[Gamma(a, 1/a)²] = 1 + 1/a.
    let spread = f64::from(quantum_mev) * (1.0 + 1.0 / shape);
    // One uniform per voxel, drawn in bulk (most voxels need no other draw).
    let mut uniforms = vec![0u32; row.len()];
    rng.fill(&mut uniforms[..]);
    for (v, &bits) in row.iter_mut().zip(&uniforms) {
        let lambda = f64::from(*v / quantum_mev);
        *v = if lambda >= LARGE_LAMBDA {
            // Many quanta: the compound Poisson sum is Gaussian, mean v, variance v·q·(1 + 1/a).
            let z: f64 = rng.sample(StandardNormal);
            (f64::from(*v) + (f64::from(*v) * spread).sqrt() * z).max(0.0) as f32
        } else {
            let u = f64::from(bits >> 8) * (1.0 / (1u32 << 24) as f64);
            match poisson(lambda, u, rng) {
                0 => 0.0,
                // Gamma(n, 1) for a = 1 and small n: a sum of n exponentials (cheaper).
                n @ 1..=8 if shape == 1.0 => {
                    let sum: f64 = (0..n).map(|_| rng.sample::<f64, _>(Exp1)).sum();
                    (f64::from(quantum_mev) * sum) as f32
                }
                n => {
                    let gamma = Gamma::new(n as f64 * shape, 1.0 / shape).expect("positive shape");
                    (f64::from(quantum_mev) * gamma.sample(rng)) as f32
                }
            }
        };
        sum += *v;
    }
    if sum > 0.0 {
        let scale = total / sum;
        row.iter_mut().for_each(|v| *v *= scale);
    } else {
        row[largest] = total;
    }
}

/// One Poisson(λ) draw: inversion of the uniform `u` for λ < 30 (with the cheap exit
/// u < 1 − λ ≤ e^(−λ) for the many voxels of small λ), rand_distr's sampler above.
fn poisson(lambda: f64, u: f64, rng: &mut impl Rng) -> u64 {
    if lambda.is_nan() || lambda <= 0.0 {
        return 0;
    }
    if lambda >= 30.0 {
        return Poisson::new(lambda).expect("positive λ").sample(rng) as u64;
    }
    if u < 1.0 - lambda {
        return 0;
    }
    let mut p = (-lambda).exp();
    let mut cdf = p;
    let mut n = 0u64;
    while u > cdf && n < 1000 {
        n += 1;
        p *= lambda / n as f64;
        cdf += p;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn poisson_draws_have_the_right_mean_and_zero_fraction() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for lambda in [0.05, 0.7, 4.0, 55.0] {
            let n = 40_000;
            let draws: Vec<u64> = (0..n)
                .map(|_| {
                    let u = rng.random::<f64>();
                    poisson(lambda, u, &mut rng)
                })
                .collect();
            let mean = draws.iter().sum::<u64>() as f64 / n as f64;
            let zeros = draws.iter().filter(|&&k| k == 0).count() as f64 / n as f64;
            // Standard error of the mean √(λ/n); of the zero fraction √(p(1−p)/n).
            assert!(
                (mean - lambda).abs() < 5.0 * (lambda / n as f64).sqrt(),
                "λ {lambda}: mean {mean}"
            );
            let p0 = (-lambda).exp();
            assert!(
                (zeros - p0).abs() < 5.0 * (p0 * (1.0 - p0) / n as f64).sqrt() + 1e-4,
                "λ {lambda}: zeros {zeros} against {p0}"
            );
        }
    }

    #[test]
    fn quantised_showers_keep_their_total_and_have_the_expected_sparsity() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        // 1,000 voxels of 0.1 MeV each with q = 0.5: P(> 0) = 1 − e^(−0.2) = 0.181.
        let mut row = vec![0.1f32; 1000];
        quantise(&mut row, 0.5, 1.0, &mut rng);
        let total: f32 = row.iter().sum();
        assert!((total - 100.0).abs() < 1e-2, "total {total}");
        let nonzero = row.iter().filter(|&&v| v > 0.0).count() as f64 / 1000.0;
        assert!(
            (nonzero - 0.181).abs() < 0.04,
            "non-zero fraction {nonzero}"
        );
        // A row too small for any quantum keeps its total in its largest voxel.
        let mut tiny = vec![1e-9f32, 3e-9, 2e-9];
        quantise(&mut tiny, 1.0, 1.0, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!((tiny[0], tiny[2]), (0.0, 0.0));
        assert!((tiny[1] - 6e-9).abs() < 1e-15, "{tiny:?}");
    }

    #[test]
    fn fitted_quantum_reaches_the_target_sparsity_and_the_threshold_keeps_the_total() {
        // Two showers of 1 GeV with fractions spread over three decades.
        let rows: Vec<Vec<f32>> = (0..2)
            .map(|s| {
                (0..300)
                    .map(|i| 1e-6 * 10f32.powf(3.0 * i as f32 / 300.0) * (1.0 + s as f32))
                    .collect()
            })
            .collect();
        let energies = [1000.0f32; 2];
        let q = fit_quantum(0.4, &energies, &rows);
        let expected: f64 = rows
            .iter()
            .flatten()
            .map(|&v| 1.0 - (-(f64::from(v) * 1000.0) / q).exp())
            .sum::<f64>()
            / 600.0;
        assert!((expected - 0.4).abs() < 1e-6, "q {q}: {expected}");
        let mut row = vec![0.5f32, 2.0, 0.1];
        apply_threshold(&mut row, 0.4);
        assert_eq!(row[2], 0.0);
        assert!(
            (row[0] - 0.52).abs() < 1e-6 && (row[1] - 2.08).abs() < 1e-6,
            "{row:?}"
        );
    }
}
