//! Analytic helix propagation in a uniform field B ẑ, with the transport Jacobian.
//!
//! With s the path length (3D, mm), λ = q/p and ω = −λ · 0.299792458e-3 · B (rad/mm), the
//! transverse direction turns at the rate ω (a positive charge in B > 0 turns clockwise, as in
//! the simulation). With complex transverse vectors P⊥ = x + iy, T⊥ = Tx + iTy:
//!
//! ```text
//! T⊥(s) = T⊥₀ e^{iωs}               Tz(s) = Tz₀
//! P⊥(s) = P⊥₀ + T⊥₀ (e^{iωs} − 1)/(iω)   z(s) = z₀ + Tz₀ s
//! ```
//!
//! Everything is linear in (P₀, T₀), so ∂free(s)/∂free₀ is written down directly (the λ column
//! differentiates e^{iωs} and (e^{iωs} − 1)/(iω) in ω, with series for small ωs). Reaching a
//! surface g(free) = 0 adds the path correction (ACTS `Propagator/detail/CovarianceEngine`):
//!
//! ```text
//! J = (1 − (dfree/ds) ∇g / (∇g · dfree/ds)) · ∂free(s)/∂free₀
//! bound Jacobian = ∂bound/∂free (target) · J · ∂free/∂bound (start)
//! ```

use nalgebra::SMatrix;

use hepnn_core::units::GEV_PER_TESLA_MM;

use super::parameters::{BoundMatrix, FreeMatrix, FreeVector, ReferenceSurface, TrackParameters};

/// A helix propagator in a uniform solenoid field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Propagator {
    /// Field along z (T).
    pub bz: f64,
}

impl Default for Propagator {
    fn default() -> Self {
        Self { bz: 2.0 }
    }
}

/// (sin x / ω, (1 − cos x)/ω) and their ω derivatives, x = ωs, with series near x = 0.
fn helix_terms(omega: f64, s: f64) -> ([f64; 2], [f64; 2]) {
    let x = omega * s;
    if x.abs() < 1e-3 {
        let x2 = x * x;
        (
            [
                s * (1.0 - x2 / 6.0 + x2 * x2 / 120.0),
                s * (x / 2.0 - x * x2 / 24.0),
            ],
            [
                s * s * (-x / 3.0 + x * x2 / 30.0),
                s * s * (0.5 - x2 / 8.0 + x2 * x2 / 144.0),
            ],
        )
    } else {
        let (sin, cos) = x.sin_cos();
        (
            [sin / omega, (1.0 - cos) / omega],
            [
                s * cos / omega - sin / (omega * omega),
                s * sin / omega - (1.0 - cos) / (omega * omega),
            ],
        )
    }
}

impl Propagator {
    /// Turning rate ω (rad/mm) of a state with q/p = `qop`.
    pub fn omega(&self, qop: f64) -> f64 {
        -qop * GEV_PER_TESLA_MM * self.bz
    }

    /// The state after a path `s` (mm), without the Jacobian.
    pub fn advance(&self, free: &FreeVector, s: f64) -> FreeVector {
        let omega = self.omega(free[6]);
        let ([fr, fi], _) = helix_terms(omega, s);
        let (sin, cos) = (omega * s).sin_cos();
        let (tx, ty) = (free[3], free[4]);
        let mut out = *free;
        out[0] += tx * fr - ty * fi;
        out[1] += tx * fi + ty * fr;
        out[2] += free[5] * s;
        out[3] = tx * cos - ty * sin;
        out[4] = tx * sin + ty * cos;
        out
    }

    /// d free / ds at a state.
    pub fn derivative(&self, free: &FreeVector) -> FreeVector {
        let omega = self.omega(free[6]);
        FreeVector::from_column_slice(&[
            free[3],
            free[4],
            free[5],
            -omega * free[4],
            omega * free[3],
            0.0,
            0.0,
        ])
    }

    /// The state after a path `s` and ∂free(s)/∂free₀ at fixed s.
    pub fn transport(&self, free: &FreeVector, s: f64) -> (FreeVector, FreeMatrix) {
        let omega = self.omega(free[6]);
        let ([fr, fi], [dfr, dfi]) = helix_terms(omega, s);
        let (sin, cos) = (omega * s).sin_cos();
        let (tx, ty) = (free[3], free[4]);
        let out = self.advance(free, s);
        let mut j = FreeMatrix::identity();
        // ∂P⊥/∂T⊥₀: multiplication by F; ∂z/∂Tz₀ = s.
        j[(0, 3)] = fr;
        j[(0, 4)] = -fi;
        j[(1, 3)] = fi;
        j[(1, 4)] = fr;
        j[(2, 5)] = s;
        // ∂T⊥/∂T⊥₀: multiplication by e^{iωs}.
        j[(3, 3)] = cos;
        j[(3, 4)] = -sin;
        j[(4, 3)] = sin;
        j[(4, 4)] = cos;
        // ∂/∂λ through ω.
        let domega = -GEV_PER_TESLA_MM * self.bz;
        j[(0, 6)] = (tx * dfr - ty * dfi) * domega;
        j[(1, 6)] = (tx * dfi + ty * dfr) * domega;
        // ∂(T⊥₀ e^{iωs})/∂ω = T⊥₀ · i s e^{iωs}.
        let (er, ei) = (-s * sin, s * cos);
        j[(3, 6)] = (tx * er - ty * ei) * domega;
        j[(4, 6)] = (tx * ei + ty * er) * domega;
        (out, j)
    }

    /// Path length (mm) from `free` to the surface, by Newton's method from the straight-line
    /// guess; `None` when it does not converge or ends outside `|s| ≤ max_path`.
    pub fn path_to<S: ReferenceSurface + ?Sized>(
        &self,
        free: &FreeVector,
        surface: &S,
        max_path: f64,
    ) -> Option<f64> {
        self.path_from(free, surface, surface.straight_line_path(free), max_path)
    }

    /// As [`Propagator::path_to`], Newton's method starting at path `guess` (mm).
    pub fn path_from<S: ReferenceSurface + ?Sized>(
        &self,
        free: &FreeVector,
        surface: &S,
        guess: f64,
        max_path: f64,
    ) -> Option<f64> {
        let mut s = guess;
        for _ in 0..20 {
            if !s.is_finite() || s.abs() > max_path {
                return None;
            }
            let state = self.advance(free, s);
            let g = surface.constraint(&state);
            let slope = (surface.constraint_gradient(&state) * self.derivative(&state))[(0, 0)];
            if slope.abs() < 1e-12 {
                return None;
            }
            let step = g / slope;
            s -= step;
            if step.abs() < 1e-10 {
                return (s.abs() <= max_path).then_some(s);
            }
        }
        None
    }

    /// Propagates bound parameters (with covariance) from surface `from` to surface `to`: the
    /// new parameters, the bound transport Jacobian and the path length, or `None` when `to` is
    /// not reached within `max_path` mm (either direction).
    pub fn propagate<A, B>(
        &self,
        parameters: &TrackParameters,
        from: &A,
        to: &B,
        max_path: f64,
    ) -> Option<(TrackParameters, BoundMatrix, f64)>
    where
        A: ReferenceSurface + ?Sized,
        B: ReferenceSurface + ?Sized,
    {
        let start = from.bound_to_free(&parameters.vector);
        let s = self.path_to(&start, to, max_path)?;
        Some(self.propagate_path(parameters, from, to, &start, s))
    }

    /// As [`Propagator::propagate`], with Newton's method started at path `guess` (mm).
    pub fn propagate_near<A, B>(
        &self,
        parameters: &TrackParameters,
        from: &A,
        to: &B,
        guess: f64,
        max_path: f64,
    ) -> Option<(TrackParameters, BoundMatrix, f64)>
    where
        A: ReferenceSurface + ?Sized,
        B: ReferenceSurface + ?Sized,
    {
        let start = from.bound_to_free(&parameters.vector);
        let s = self.path_from(&start, to, guess, max_path)?;
        Some(self.propagate_path(parameters, from, to, &start, s))
    }

    fn propagate_path<A, B>(
        &self,
        parameters: &TrackParameters,
        from: &A,
        to: &B,
        start: &FreeVector,
        s: f64,
    ) -> (TrackParameters, BoundMatrix, f64)
    where
        A: ReferenceSurface + ?Sized,
        B: ReferenceSurface + ?Sized,
    {
        let (end, transport) = self.transport(start, s);
        let jacobian = self.bound_jacobian(from, to, &parameters.vector, &end, &transport);
        let vector = to.free_to_bound(&end);
        let covariance = jacobian * parameters.covariance * jacobian.transpose();
        (
            TrackParameters {
                vector,
                covariance: 0.5 * (covariance + covariance.transpose()),
            },
            jacobian,
            s,
        )
    }

    /// ∂bound(to)/∂bound(from) for a transport ending at `end` on `to`.
    pub fn bound_jacobian<A, B>(
        &self,
        from: &A,
        to: &B,
        start_bound: &super::parameters::BoundVector,
        end: &FreeVector,
        transport: &FreeMatrix,
    ) -> BoundMatrix
    where
        A: ReferenceSurface + ?Sized,
        B: ReferenceSurface + ?Sized,
    {
        let derivative = self.derivative(end);
        let gradient = to.constraint_gradient(end);
        let slope = (gradient * derivative)[(0, 0)];
        let correction: FreeMatrix = FreeMatrix::identity() - derivative * gradient / slope;
        let full: FreeMatrix = correction * transport;
        let b2f = from.bound_to_free_jacobian(start_bound);
        let f2b = to.free_to_bound_jacobian(end);
        let jacobian: SMatrix<f64, 5, 5> = f2b * full * b2f;
        jacobian
    }

    /// Smallest path s in (s_lo, s_hi] where the transverse radius is `radius`.
    pub fn cross_cylinder(
        &self,
        free: &FreeVector,
        radius: f64,
        s_lo: f64,
        s_hi: f64,
    ) -> Option<f64> {
        let omega = self.omega(free[6]);
        let (x0, y0, tx, ty) = (free[0], free[1], free[3], free[4]);
        let t2 = tx * tx + ty * ty;
        if t2 < 1e-18 {
            return None;
        }
        let keep = |s: f64| (s > s_lo && s <= s_hi).then_some(s);
        if omega.abs() < 1e-9 {
            // |P + sT|² = r².
            let b = (x0 * tx + y0 * ty) / t2;
            let c = (x0 * x0 + y0 * y0 - radius * radius) / t2;
            let disc = b * b - c;
            if disc < 0.0 {
                return None;
            }
            let root = disc.sqrt();
            return [-b - root, -b + root]
                .into_iter()
                .filter_map(keep)
                .min_by(f64::total_cmp);
        }
        // P⊥(s) = C + A e^{iωs}, C = P⊥₀ + i T⊥₀/ω, A = −i T⊥₀/ω.
        let (cx, cy) = (x0 - ty / omega, y0 + tx / omega);
        let (ax, ay) = (ty / omega, -tx / omega);
        let c_abs = cx.hypot(cy);
        let a_abs = ax.hypot(ay);
        if c_abs == 0.0 {
            return None;
        }
        let cosine = (radius * radius - c_abs * c_abs - a_abs * a_abs) / (2.0 * c_abs * a_abs);
        if cosine.abs() > 1.0 {
            return None;
        }
        // conj(C)·A = |C||A| e^{iα}.
        let alpha = (cx * ay - cy * ax).atan2(cx * ax + cy * ay);
        let period = std::f64::consts::TAU / omega.abs();
        let delta = cosine.acos();
        [delta - alpha, -delta - alpha]
            .into_iter()
            .filter_map(|psi| {
                let mut s = (psi / omega).rem_euclid(period);
                while s <= s_lo {
                    s += period;
                }
                keep(s)
            })
            .min_by(f64::total_cmp)
    }

    /// Path s in (s_lo, s_hi] where z equals `z`.
    pub fn cross_z(&self, free: &FreeVector, z: f64, s_lo: f64, s_hi: f64) -> Option<f64> {
        if free[5].abs() < 1e-12 {
            return None;
        }
        let s = (z - free[2]) / free[5];
        (s > s_lo && s <= s_hi).then_some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kalman::parameters::{BoundVector, Perigee};
    use hepnn_sim::tracker::Detector;

    #[test]
    fn a_1_gev_track_turns_on_a_1668_mm_circle() {
        let propagator = Propagator::default();
        // Positive charge, along x: turns clockwise, centre at (0, −R).
        let free = FreeVector::from_column_slice(&[0., 0., 0., 1., 0., 0., 1.0]);
        let radius = 1.0 / (GEV_PER_TESLA_MM * 2.0);
        let quarter = propagator.advance(&free, radius * std::f64::consts::FRAC_PI_2);
        assert!((quarter[0] - radius).abs() < 1e-6 && (quarter[1] + radius).abs() < 1e-6);
        assert!((quarter[4] + 1.0).abs() < 1e-9);
        let s = propagator.cross_cylinder(&free, 500.0, 0.0, 1e4).unwrap();
        let at = propagator.advance(&free, s);
        assert!((at[0].hypot(at[1]) - 500.0).abs() < 1e-6);
    }

    #[test]
    fn the_bound_jacobian_matches_finite_differences() {
        let propagator = Propagator::default();
        let detector = Detector::trackml_default();
        let surface = &detector.layers[2].surfaces[7];
        // Start at the perigee, aim at the module's centre, low pT to make curvature matter.
        let c = surface.centre;
        let phi = c[1].atan2(c[0]) + 0.02;
        let theta = (c[0].hypot(c[1])).atan2(c[2]);
        for qop in [2.0, -1.0, 0.05] {
            let start = BoundVector::new(0.3, 5.0, phi, theta, qop);
            let parameters = TrackParameters {
                vector: start,
                covariance: BoundMatrix::identity(),
            };
            let (end, jacobian, _) = propagator
                .propagate(&parameters, &Perigee, surface, 1e4)
                .expect("reaches the module plane");
            let steps = [1e-6, 1e-6, 1e-7, 1e-7, 1e-6];
            for k in 0..5 {
                let mut plus = parameters;
                let mut minus = parameters;
                plus.vector[k] += steps[k];
                minus.vector[k] -= steps[k];
                let p = propagator
                    .propagate(&plus, &Perigee, surface, 1e4)
                    .unwrap()
                    .0;
                let m = propagator
                    .propagate(&minus, &Perigee, surface, 1e4)
                    .unwrap()
                    .0;
                for i in 0..5 {
                    let numeric = (p.vector[i] - m.vector[i]) / (2.0 * steps[k]);
                    let analytic = jacobian[(i, k)];
                    assert!(
                        (numeric - analytic).abs() < 1e-4 * (1.0 + analytic.abs()),
                        "q/p {qop}: ∂{i}/∂{k} analytic {analytic} numeric {numeric}"
                    );
                }
            }
            // And back to the perigee: the round trip returns the start.
            let (back, back_jacobian, s) =
                propagator.propagate(&end, surface, &Perigee, 1e4).unwrap();
            assert!(s < 0.0);
            assert!((back.vector - start).norm() < 1e-8, "{back:?}");
            assert!((back_jacobian * jacobian - BoundMatrix::identity()).norm() < 1e-6);
        }
    }
}
