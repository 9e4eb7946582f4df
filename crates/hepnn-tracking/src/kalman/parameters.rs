//! Track parameters: free (global) and bound (on a surface) vectors, their covariances, and the
//! two kinds of reference surface the Kalman filter uses, the module planes and the perigee.
//!
//! As ACTS (`EventData/TrackParameters.hpp`, `Surfaces/PlaneSurface.hpp`, `PerigeeSurface.hpp`),
//! without time:
//!
//! ```text
//! free  = (x, y, z, Tx, Ty, Tz, q/p)          T the unit direction, p in GeV, x in mm
//! bound = (l₀, l₁, φ, θ, q/p)                 on a plane: l₀ = u, l₁ = v (local, mm)
//!                                             at the perigee: l₀ = d₀, l₁ = z₀ (mm)
//! ```
//!
//! The perigee surface is the beam line (the z axis). Its point of closest approach in the
//! transverse plane is `(−d₀ sin φ, d₀ cos φ, z₀)` (ACTS's line-surface convention: d₀ is the
//! projection on ẑ × T̂).

use nalgebra::{SMatrix, SVector};

use hepnn_sim::tracker::Surface;

/// A bound parameter vector (l₀, l₁, φ, θ, q/p).
pub type BoundVector = SVector<f64, 5>;
/// A bound covariance or Jacobian.
pub type BoundMatrix = SMatrix<f64, 5, 5>;
/// A free parameter vector (x, y, z, Tx, Ty, Tz, q/p).
pub type FreeVector = SVector<f64, 7>;
/// A free-to-free Jacobian.
pub type FreeMatrix = SMatrix<f64, 7, 7>;
/// ∂free/∂bound.
pub type BoundToFreeMatrix = SMatrix<f64, 7, 5>;
/// ∂bound/∂free.
pub type FreeToBoundMatrix = SMatrix<f64, 5, 7>;

/// Index of φ in a bound vector.
pub const PHI: usize = 2;
/// Index of θ in a bound vector.
pub const THETA: usize = 3;
/// Index of q/p in a bound vector.
pub const QOP: usize = 4;

/// φ wrapped into (−π, π].
pub fn wrap_phi(phi: f64) -> f64 {
    use std::f64::consts::{PI, TAU};
    let wrapped = (phi + PI).rem_euclid(TAU) - PI;
    if wrapped <= -PI {
        wrapped + TAU
    } else {
        wrapped
    }
}

/// `a − b` for two bound vectors, with the φ difference wrapped into (−π, π].
pub fn bound_difference(a: &BoundVector, b: &BoundVector) -> BoundVector {
    let mut d = a - b;
    d[PHI] = wrap_phi(d[PHI]);
    d
}

/// The direction (Tx, Ty, Tz) of angles φ, θ.
pub fn direction(phi: f64, theta: f64) -> [f64; 3] {
    let (sp, cp) = phi.sin_cos();
    let (st, ct) = theta.sin_cos();
    [st * cp, st * sp, ct]
}

/// A reference surface: converts between free and bound parameters, with the Jacobians, and
/// says where a state is on it (`constraint(free) = 0`).
pub trait ReferenceSurface {
    /// Bound parameters of a free state lying on the surface.
    fn free_to_bound(&self, free: &FreeVector) -> BoundVector;
    /// Free state of bound parameters.
    fn bound_to_free(&self, bound: &BoundVector) -> FreeVector;
    /// ∂free/∂bound at `bound`.
    fn bound_to_free_jacobian(&self, bound: &BoundVector) -> BoundToFreeMatrix;
    /// ∂bound/∂free at a free state on the surface (directions tangent to the unit sphere).
    fn free_to_bound_jacobian(&self, free: &FreeVector) -> FreeToBoundMatrix;
    /// g(free), zero on the surface.
    fn constraint(&self, free: &FreeVector) -> f64;
    /// ∇g(free) as a row.
    fn constraint_gradient(&self, free: &FreeVector) -> SMatrix<f64, 1, 7>;
    /// A first guess of the path length to the surface along the straight line (mm).
    fn straight_line_path(&self, free: &FreeVector) -> f64;
}

/// ∂(φ, θ)/∂(Tx, Ty, Tz) at a unit direction, and ∂T/∂(φ, θ).
fn angle_jacobians(free: &FreeVector) -> ([f64; 3], [f64; 3]) {
    let (tx, ty) = (free[3], free[4]);
    let t2 = (tx * tx + ty * ty).max(1e-300);
    let sin_theta = t2.sqrt();
    // φ = atan2(Ty, Tx), θ = acos(Tz).
    ([-ty / t2, tx / t2, 0.0], [0.0, 0.0, -1.0 / sin_theta])
}

fn fill_direction_jacobian(jacobian: &mut BoundToFreeMatrix, phi: f64, theta: f64) {
    let (sp, cp) = phi.sin_cos();
    let (st, ct) = theta.sin_cos();
    jacobian[(3, PHI)] = -st * sp;
    jacobian[(4, PHI)] = st * cp;
    jacobian[(3, THETA)] = ct * cp;
    jacobian[(4, THETA)] = ct * sp;
    jacobian[(5, THETA)] = -st;
    jacobian[(6, QOP)] = 1.0;
}

fn fill_angle_rows(jacobian: &mut FreeToBoundMatrix, free: &FreeVector) {
    let (dphi, dtheta) = angle_jacobians(free);
    for i in 0..3 {
        jacobian[(PHI, 3 + i)] = dphi[i];
        jacobian[(THETA, 3 + i)] = dtheta[i];
    }
    jacobian[(QOP, 6)] = 1.0;
}

fn angles(free: &FreeVector) -> (f64, f64) {
    (free[4].atan2(free[3]), free[5].clamp(-1.0, 1.0).acos())
}

impl ReferenceSurface for Surface {
    fn free_to_bound(&self, free: &FreeVector) -> BoundVector {
        let local = self.to_local([free[0], free[1], free[2]]);
        let (phi, theta) = angles(free);
        BoundVector::new(local[0], local[1], phi, theta, free[6])
    }

    fn bound_to_free(&self, bound: &BoundVector) -> FreeVector {
        let p = self.to_global(bound[0], bound[1]);
        let t = direction(bound[PHI], bound[THETA]);
        FreeVector::from_column_slice(&[p[0], p[1], p[2], t[0], t[1], t[2], bound[QOP]])
    }

    fn bound_to_free_jacobian(&self, bound: &BoundVector) -> BoundToFreeMatrix {
        let mut jacobian = BoundToFreeMatrix::zeros();
        for i in 0..3 {
            jacobian[(i, 0)] = self.u[i];
            jacobian[(i, 1)] = self.v[i];
        }
        fill_direction_jacobian(&mut jacobian, bound[PHI], bound[THETA]);
        jacobian
    }

    fn free_to_bound_jacobian(&self, free: &FreeVector) -> FreeToBoundMatrix {
        let mut jacobian = FreeToBoundMatrix::zeros();
        for i in 0..3 {
            jacobian[(0, i)] = self.u[i];
            jacobian[(1, i)] = self.v[i];
        }
        fill_angle_rows(&mut jacobian, free);
        jacobian
    }

    fn constraint(&self, free: &FreeVector) -> f64 {
        (0..3).map(|i| (free[i] - self.centre[i]) * self.w[i]).sum()
    }

    fn constraint_gradient(&self, _free: &FreeVector) -> SMatrix<f64, 1, 7> {
        SMatrix::<f64, 1, 7>::from_row_slice(&[self.w[0], self.w[1], self.w[2], 0., 0., 0., 0.])
    }

    fn straight_line_path(&self, free: &FreeVector) -> f64 {
        let along: f64 = (0..3).map(|i| free[3 + i] * self.w[i]).sum();
        if along.abs() < 1e-12 {
            0.0
        } else {
            -self.constraint(free) / along
        }
    }
}

/// The perigee surface: the beam line, the z axis.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Perigee;

impl ReferenceSurface for Perigee {
    fn free_to_bound(&self, free: &FreeVector) -> BoundVector {
        let (phi, theta) = angles(free);
        let d0 = -free[0] * phi.sin() + free[1] * phi.cos();
        BoundVector::new(d0, free[2], phi, theta, free[6])
    }

    fn bound_to_free(&self, bound: &BoundVector) -> FreeVector {
        let (sp, cp) = bound[PHI].sin_cos();
        let t = direction(bound[PHI], bound[THETA]);
        FreeVector::from_column_slice(&[
            -bound[0] * sp,
            bound[0] * cp,
            bound[1],
            t[0],
            t[1],
            t[2],
            bound[QOP],
        ])
    }

    fn bound_to_free_jacobian(&self, bound: &BoundVector) -> BoundToFreeMatrix {
        let (sp, cp) = bound[PHI].sin_cos();
        let mut jacobian = BoundToFreeMatrix::zeros();
        jacobian[(0, 0)] = -sp;
        jacobian[(1, 0)] = cp;
        jacobian[(2, 1)] = 1.0;
        jacobian[(0, PHI)] = -bound[0] * cp;
        jacobian[(1, PHI)] = -bound[0] * sp;
        fill_direction_jacobian(&mut jacobian, bound[PHI], bound[THETA]);
        jacobian
    }

    fn free_to_bound_jacobian(&self, free: &FreeVector) -> FreeToBoundMatrix {
        let (phi, _) = angles(free);
        let (sp, cp) = phi.sin_cos();
        let mut jacobian = FreeToBoundMatrix::zeros();
        fill_angle_rows(&mut jacobian, free);
        jacobian[(0, 0)] = -sp;
        jacobian[(0, 1)] = cp;
        jacobian[(1, 2)] = 1.0;
        // d₀ also moves with φ: ∂d₀/∂φ = −x cos φ − y sin φ, times ∂φ/∂T.
        let dd0_dphi = -free[0] * cp - free[1] * sp;
        for i in 3..6 {
            jacobian[(0, i)] = dd0_dphi * jacobian[(PHI, i)];
        }
        jacobian
    }

    fn constraint(&self, free: &FreeVector) -> f64 {
        free[0] * free[3] + free[1] * free[4]
    }

    fn constraint_gradient(&self, free: &FreeVector) -> SMatrix<f64, 1, 7> {
        SMatrix::<f64, 1, 7>::from_row_slice(&[free[3], free[4], 0., free[0], free[1], 0., 0.])
    }

    fn straight_line_path(&self, free: &FreeVector) -> f64 {
        let t2 = free[3] * free[3] + free[4] * free[4];
        if t2 < 1e-24 {
            0.0
        } else {
            -self.constraint(free) / t2
        }
    }
}

/// Bound parameters with their covariance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackParameters {
    /// (l₀, l₁, φ, θ, q/p); at the perigee (d₀, z₀, φ, θ, q/p).
    pub vector: BoundVector,
    /// Covariance of `vector`.
    pub covariance: BoundMatrix,
}

impl TrackParameters {
    /// Charge sign (+1 or −1; +1 for q/p = 0).
    pub fn charge(&self) -> f64 {
        if self.vector[QOP] < 0.0 { -1.0 } else { 1.0 }
    }

    /// Momentum |p| (GeV), assuming |q| = 1.
    pub fn momentum(&self) -> f64 {
        1.0 / self.vector[QOP].abs()
    }

    /// Transverse momentum (GeV), assuming |q| = 1.
    pub fn pt(&self) -> f64 {
        self.momentum() * self.vector[THETA].sin()
    }

    /// Pseudorapidity −ln tan(θ/2).
    pub fn eta(&self) -> f64 {
        -(self.vector[THETA] / 2.0).tan().ln()
    }

    /// Standard deviation of parameter `index`.
    pub fn sigma(&self, index: usize) -> f64 {
        self.covariance[(index, index)].max(0.0).sqrt()
    }
}
