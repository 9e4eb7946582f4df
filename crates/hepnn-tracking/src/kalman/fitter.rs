//! The Kalman fitter: a forward Kalman filter over an ordered hit list, Rauch–Tung–Striebel
//! smoothing back to the first hit, and the track parameters at the perigee.
//!
//! R. Frühwirth, "Application of Kalman filtering to track and vertex fitting", NIM A 262 (1987)
//! 444; ACTS `TrackFitting/KalmanFitter.hpp`. With x the bound state on the module of hit k,
//! F_k the transport Jacobian from hit k−1, Q the multiple-scattering noise added after hit k−1,
//! H the projection on (u, v) and V the measurement covariance (pitch²/12):
//!
//! ```text
//! predict   x̃_k = f(x_{k−1}),          C̃_k = F_k (C_{k−1} + Q_{k−1}) F_kᵀ
//! update    K = C̃ Hᵀ (H C̃ Hᵀ + V)⁻¹,  x_k = x̃_k + K (m_k − H x̃_k),
//!           C_k = (1 − KH) C̃ (1 − KH)ᵀ + K V Kᵀ,  χ²_k = rᵀ (H C̃ Hᵀ + V)⁻¹ r
//! smooth    A_k = C_k F_{k+1}ᵀ C̃_{k+1}⁻¹,  xˢ_k = x_k + A_k (xˢ_{k+1} − x̃_{k+1}),
//!           Cˢ_k = C_k + A_k (Cˢ_{k+1} − C̃_{k+1}) A_kᵀ
//! ```
//!
//! The smoothed state at the first hit is propagated to the perigee (no material before the
//! first module in the simulation). The χ² sums the predicted residuals; ndf = 2N − 5.

use nalgebra::{SMatrix, SVector};

use hepnn_core::units::GEV_PER_TESLA_MM;
use hepnn_sim::tracker::helix::circle_through;

use super::material::MaterialEffects;
use super::parameters::{
    BoundMatrix, BoundVector, FreeVector, Perigee, ReferenceSurface, TrackParameters,
    bound_difference,
};
use super::propagator::Propagator;
use super::{EventMeasurements, KalmanError, Measurement, Result, TrackingGeometry};

/// Settings of the Kalman fitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KalmanFitterConfig {
    /// Number of passes (default 2): the first starts from a three-hit estimate with a wide
    /// covariance, the next from the previous pass's smoothed state with its covariance
    /// inflated 100×.
    pub iterations: usize,
    /// Longest path between two hits (mm) before the fit gives up (default 5,000).
    pub max_path: f64,
}

impl Default for KalmanFitterConfig {
    fn default() -> Self {
        Self {
            iterations: 2,
            max_path: 5_000.0,
        }
    }
}

/// Checks that every hit index of `candidates` is below `n_hits`.
///
/// # Errors
/// [`KalmanError::BadHits`] naming the first candidate and hit out of range.
pub fn check_candidate_hits(
    candidates: &[crate::building::TrackCandidate],
    n_hits: usize,
) -> Result<()> {
    match candidates
        .iter()
        .enumerate()
        .find_map(|(i, c)| c.hits.iter().find(|&&h| h >= n_hits).map(|&h| (i, h)))
    {
        Some((index, hit)) => Err(KalmanError::BadHits {
            reason: format!("candidate {index} names hit {hit}, but the event has {n_hits} hits"),
        }),
        None => Ok(()),
    }
}

/// The result of a fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FitResult {
    /// Parameters (d₀, z₀, φ, θ, q/p) at the perigee with their covariance.
    pub perigee: TrackParameters,
    /// Σ χ² of the hits.
    pub chi2: f64,
    /// Degrees of freedom 2N − 5.
    pub ndf: usize,
    /// Smoothed parameters on each hit's module, in the order fitted.
    pub smoothed: Vec<TrackParameters>,
}

/// The measurement projection H: (u, v) of a bound state.
fn projection() -> SMatrix<f64, 2, 5> {
    let mut h = SMatrix::<f64, 2, 5>::zeros();
    h[(0, 0)] = 1.0;
    h[(1, 1)] = 1.0;
    h
}

/// χ² of a measurement against predicted parameters on its module.
pub fn chi2(predicted: &TrackParameters, measurement: &Measurement) -> f64 {
    let r = SVector::<f64, 2>::new(
        measurement.local[0] - predicted.vector[0],
        measurement.local[1] - predicted.vector[1],
    );
    let c = &predicted.covariance;
    let s = SMatrix::<f64, 2, 2>::new(
        c[(0, 0)] + measurement.variance[0],
        c[(0, 1)],
        c[(1, 0)],
        c[(1, 1)] + measurement.variance[1],
    );
    s.try_inverse().map_or(f64::INFINITY, |inverse| {
        (r.transpose() * inverse * r)[(0, 0)]
    })
}

/// The Kalman update of predicted parameters with a measurement on their module: the filtered
/// parameters and the χ² (module docs), `None` for a singular residual covariance.
pub fn update(
    predicted: &TrackParameters,
    measurement: &Measurement,
) -> Option<(TrackParameters, f64)> {
    let h = projection();
    let v = SMatrix::<f64, 2, 2>::new(measurement.variance[0], 0.0, 0.0, measurement.variance[1]);
    let c = &predicted.covariance;
    let s = h * c * h.transpose() + v;
    let s_inverse = s.try_inverse()?;
    let gain = c * h.transpose() * s_inverse;
    let r = SVector::<f64, 2>::new(
        measurement.local[0] - predicted.vector[0],
        measurement.local[1] - predicted.vector[1],
    );
    let mut vector = predicted.vector + gain * r;
    vector[2] = super::parameters::wrap_phi(vector[2]);
    let ikh = BoundMatrix::identity() - gain * h;
    let covariance = ikh * c * ikh.transpose() + gain * v * gain.transpose();
    let chi2 = (r.transpose() * s_inverse * r)[(0, 0)];
    Some((
        TrackParameters {
            vector,
            covariance: 0.5 * (covariance + covariance.transpose()),
        },
        chi2,
    ))
}

/// A free state at `p1` from the helix through three points (mm) in a field `bz` (T): the
/// circle through their transverse projections gives the curvature, charge and direction, the
/// arc length from `p1` to `p3` gives cot θ. Collinear points give a straight line (q/p = 0).
pub fn estimate_from_triplet(p1: [f64; 3], p2: [f64; 3], p3: [f64; 3], bz: f64) -> FreeVector {
    let chord13 = (p3[0] - p1[0]).hypot(p3[1] - p1[1]);
    let (phi, arc, qop_t) = match circle_through([p1[0], p1[1]], [p2[0], p2[1]], [p3[0], p3[1]]) {
        Some((centre, radius, orientation)) if radius < 1e8 => {
            let (rx, ry) = (p1[0] - centre[0], p1[1] - centre[1]);
            // Clockwise (orientation +1): tangent (ry, −rx); anticlockwise (−ry, rx).
            let (tx, ty) = (orientation * ry, -orientation * rx);
            let arc = 2.0 * radius * (chord13 / (2.0 * radius)).min(1.0).asin();
            let pt = GEV_PER_TESLA_MM * bz.abs() * radius;
            // A positive charge turns clockwise in B > 0.
            let charge = orientation * bz.signum();
            (ty.atan2(tx), arc, charge / pt)
        }
        _ => ((p3[1] - p1[1]).atan2(p3[0] - p1[0]), chord13, 0.0),
    };
    let cot_theta = if arc > 0.0 {
        (p3[2] - p1[2]) / arc
    } else {
        0.0
    };
    let theta = 1.0f64.atan2(cot_theta);
    let t = super::parameters::direction(phi, theta);
    // q/p = (q/pT) · sin θ.
    FreeVector::from_column_slice(&[p1[0], p1[1], p1[2], t[0], t[1], t[2], qop_t * theta.sin()])
}

/// Wide starting covariance: 1 mm (plus the measurement's) in position, 0.1 rad in angles, 30%
/// (plus 0.05 /GeV) in q/p: the first hits decide.
pub fn initial_covariance(measurement: &Measurement, qop: f64) -> BoundMatrix {
    let sigma_qop = 0.3 * qop.abs() + 0.05;
    BoundMatrix::from_diagonal(&BoundVector::new(
        1.0 + 4.0 * measurement.variance[0],
        1.0 + 4.0 * measurement.variance[1],
        1e-2,
        1e-2,
        sigma_qop * sigma_qop,
    ))
}

/// Orders hit indices by the distance of their hits from the origin (inner → outer), the order
/// of a track from the beam line above ~0.3 GeV.
pub fn order_hits(measurements: &EventMeasurements, hits: &[usize]) -> Vec<usize> {
    let mut ordered = hits.to_vec();
    let distance = |h: usize| {
        let p = measurements.measurements[h].position;
        p[0] * p[0] + p[1] * p[1] + p[2] * p[2]
    };
    ordered.sort_by(|&a, &b| distance(a).total_cmp(&distance(b)));
    ordered
}

/// Covariance inflation of the smoothed state that starts the next pass.
const INFLATION: f64 = 100.0;

/// The Kalman fitter with RTS smoother.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct KalmanFitter {
    /// The helix propagator.
    pub propagator: Propagator,
    /// Multiple scattering.
    pub material: MaterialEffects,
    /// Settings.
    pub config: KalmanFitterConfig,
}

/// One filtered step, kept for the smoother.
struct Step {
    predicted: TrackParameters,
    filtered: TrackParameters,
    /// Jacobian from the previous step's module to this one (identity for the first).
    jacobian: BoundMatrix,
}

impl KalmanFitter {
    /// Fits the hits `hits` (indices into `measurements`, in the order the track crosses them;
    /// see [`order_hits`]).
    ///
    /// # Errors
    /// [`KalmanError::BadHits`] for fewer than 3 hits or an index out of range,
    /// [`KalmanError::FitFailed`] when a module is not reached or a matrix is singular.
    pub fn fit(
        &self,
        geometry: &TrackingGeometry,
        measurements: &EventMeasurements,
        hits: &[usize],
    ) -> Result<FitResult> {
        if hits.len() < 3 {
            return Err(KalmanError::BadHits {
                reason: format!("{} hits, a fit needs at least 3", hits.len()),
            });
        }
        let all = &measurements.measurements;
        if let Some(&bad) = hits.iter().find(|&&h| h >= all.len()) {
            return Err(KalmanError::BadHits {
                reason: format!("hit index {bad}, but the event has {} hits", all.len()),
            });
        }
        let first = &all[hits[0]];
        let middle = &all[hits[hits.len() / 2]];
        let last = &all[hits[hits.len() - 1]];
        let free = estimate_from_triplet(
            first.position,
            middle.position,
            last.position,
            self.propagator.bz,
        );
        let surface = geometry.surface(first.surface);
        let mut start = TrackParameters {
            vector: surface.free_to_bound(&free),
            covariance: initial_covariance(first, free[6]),
        };
        let mut result = None;
        for _ in 0..self.config.iterations.max(1) {
            let fitted = self.fit_from(geometry, measurements, hits, start)?;
            // The next pass starts from the smoothed state with its covariance inflated 100×
            // (σ × 10): a prior that adds little information but keeps the filter well
            // conditioned (a prior far wider than two close pixel hits loses precision in the
            // covariance update: χ²/ndf of 5–15 on a few stiff forward tracks).
            start = TrackParameters {
                vector: fitted.smoothed[0].vector,
                covariance: fitted.smoothed[0].covariance * INFLATION,
            };
            result = Some(fitted);
        }
        result.ok_or_else(|| KalmanError::FitFailed {
            reason: "no iteration".into(),
        })
    }

    /// Fits track candidates of any origin (GNN track building, the CKF) of `event`: each
    /// candidate's hits are ordered by distance from the origin ([`order_hits`]) and fitted; a
    /// candidate with fewer than 3 hits or a failed fit gives `None`.
    ///
    /// # Errors
    /// As [`EventMeasurements::new`] (an empty event, a hit on an unknown module), and
    /// [`KalmanError::BadHits`] for a candidate naming a hit the event does not have.
    pub fn fit_candidates(
        &self,
        geometry: &TrackingGeometry,
        event: &hepnn_core::Event,
        candidates: &[crate::building::TrackCandidate],
    ) -> Result<Vec<Option<FitResult>>> {
        use rayon::prelude::*;
        let measurements = EventMeasurements::new(geometry, event)?;
        check_candidate_hits(candidates, event.hits.len())?;
        Ok(candidates
            .par_iter()
            .map(|candidate| {
                let hits = order_hits(&measurements, &candidate.hits);
                self.fit(geometry, &measurements, &hits).ok()
            })
            .collect())
    }

    /// One pass: filter from `start` (on the first hit's module), smooth, go to the perigee.
    pub fn fit_from(
        &self,
        geometry: &TrackingGeometry,
        measurements: &EventMeasurements,
        hits: &[usize],
        start: TrackParameters,
    ) -> Result<FitResult> {
        let all = &measurements.measurements;
        let mut steps: Vec<Step> = Vec::with_capacity(hits.len());
        let mut chi2_sum = 0.0;
        for (k, &hit) in hits.iter().enumerate() {
            let measurement = &all[hit];
            let surface = geometry.surface(measurement.surface);
            let (predicted, jacobian) = match steps.last() {
                None => (start, BoundMatrix::identity()),
                Some(previous) => {
                    let from = geometry.surface(all[hits[k - 1]].surface);
                    let mut noisy = previous.filtered;
                    noisy.covariance += self.material.noise(from, &noisy.vector);
                    let (predicted, jacobian, _) = self
                        .propagator
                        .propagate(&noisy, from, surface, self.config.max_path)
                        .ok_or_else(|| KalmanError::FitFailed {
                            reason: format!("hit {hit} (step {k}) not reached"),
                        })?;
                    (predicted, jacobian)
                }
            };
            let (filtered, chi2) =
                update(&predicted, measurement).ok_or_else(|| KalmanError::FitFailed {
                    reason: format!("singular residual covariance at hit {hit}"),
                })?;
            chi2_sum += chi2;
            steps.push(Step {
                predicted,
                filtered,
                jacobian,
            });
        }
        let smoothed = smooth(&steps)?;
        let first_surface = geometry.surface(all[hits[0]].surface);
        let (perigee, _, _) = self
            .propagator
            .propagate(&smoothed[0], first_surface, &Perigee, self.config.max_path)
            .ok_or_else(|| KalmanError::FitFailed {
                reason: "the perigee is not reached from the first hit".into(),
            })?;
        let finite = perigee.vector.iter().all(|x| x.is_finite())
            && perigee.covariance.iter().all(|x| x.is_finite());
        if !finite {
            return Err(KalmanError::FitFailed {
                reason: "the perigee parameters are not finite".into(),
            });
        }
        Ok(FitResult {
            perigee,
            chi2: chi2_sum,
            ndf: 2 * hits.len() - 5,
            smoothed,
        })
    }
}

/// The RTS smoother over filtered steps (module docs).
fn smooth(steps: &[Step]) -> Result<Vec<TrackParameters>> {
    let n = steps.len();
    let mut smoothed = vec![steps[n - 1].filtered; n];
    for k in (0..n - 1).rev() {
        let next = &steps[k + 1];
        let predicted_inverse =
            next.predicted
                .covariance
                .try_inverse()
                .ok_or_else(|| KalmanError::FitFailed {
                    reason: format!("singular predicted covariance at step {}", k + 1),
                })?;
        let filtered = &steps[k].filtered;
        let gain = filtered.covariance * next.jacobian.transpose() * predicted_inverse;
        let mut vector = filtered.vector
            + gain * bound_difference(&smoothed[k + 1].vector, &next.predicted.vector);
        vector[2] = super::parameters::wrap_phi(vector[2]);
        let covariance = filtered.covariance
            + gain * (smoothed[k + 1].covariance - next.predicted.covariance) * gain.transpose();
        // Cˢ − C̃ loses precision when the track is measured far better than the prior (a
        // stiff forward track's θ): a non-positive variance falls back to the filtered one.
        let covariance = if (0..5).all(|i| covariance[(i, i)] > 0.0) {
            0.5 * (covariance + covariance.transpose())
        } else {
            filtered.covariance
        };
        smoothed[k] = TrackParameters { vector, covariance };
    }
    Ok(smoothed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_triplet_estimate_recovers_a_helix() {
        let propagator = Propagator::default();
        for (qop, phi) in [(1.0, 0.3), (-0.5, 2.0), (0.2, -2.5)] {
            let theta: f64 = 1.1;
            let t = super::super::parameters::direction(phi, theta);
            let start = FreeVector::from_column_slice(&[0., 0., 3., t[0], t[1], t[2], qop]);
            let p = |s: f64| {
                let f = propagator.advance(&start, s);
                [f[0], f[1], f[2]]
            };
            let estimate = estimate_from_triplet(p(40.0), p(90.0), p(150.0), 2.0);
            let at = propagator.advance(&start, 40.0);
            for i in 0..7 {
                assert!(
                    (estimate[i] - at[i]).abs() < 1e-6,
                    "{i}: {estimate} vs {at}"
                );
            }
        }
    }
}
