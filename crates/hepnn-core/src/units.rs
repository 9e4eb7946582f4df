//! Native units, stated once (as ACTS `Definitions/Units.hpp` does).
//!
//! Every length in hepnn is in millimetres, every energy, momentum and mass in GeV, every time in
//! nanoseconds and every magnetic field in tesla. A number read from outside is converted once, on
//! the way in, by multiplying with the unit it was given in; a number is shown in another unit by
//! dividing by that unit:
//!
//! ```
//! use hepnn_core::units::{CM, MEV, UM};
//! let pixel_pitch = 50.0 * UM; // 0.05 mm
//! assert_eq!(pixel_pitch, 0.05);
//! assert_eq!(250.0 * MEV, 0.25); // GeV
//! assert_eq!(1_502.5 / CM, 150.25);
//! ```
//!
//! Charged particles in a solenoid field follow helices whose transverse radius `R` relates to the
//! transverse momentum `pT` of a particle of charge `q` (in units of the elementary charge) by
//!
//! ```text
//! pT [GeV] = 0.299792458 · |q| · B [T] · R [m]
//! ```
//!
//! [`GEV_PER_TESLA_METER`] is that constant; [`GEV_PER_TESLA_MM`] is the same in native units, and
//! [`pt_from_radius`] / [`radius_from_pt`] apply it.

/// One millimetre: the native length unit.
pub const MM: f64 = 1.0;
/// One nanometre, in mm.
pub const NM: f64 = 1e-6 * MM;
/// One micrometre, in mm.
pub const UM: f64 = 1e-3 * MM;
/// One centimetre, in mm.
pub const CM: f64 = 10.0 * MM;
/// One metre, in mm.
pub const M: f64 = 1_000.0 * MM;

/// One GeV: the native unit of energy, momentum (GeV/c) and mass (GeV/c²).
pub const GEV: f64 = 1.0;
/// One electronvolt, in GeV.
pub const EV: f64 = 1e-9 * GEV;
/// One keV, in GeV.
pub const KEV: f64 = 1e-6 * GEV;
/// One MeV, in GeV.
pub const MEV: f64 = 1e-3 * GEV;
/// One TeV, in GeV.
pub const TEV: f64 = 1e3 * GEV;

/// One nanosecond: the native time unit.
pub const NS: f64 = 1.0;
/// One picosecond, in ns.
pub const PS: f64 = 1e-3 * NS;
/// One second, in ns.
pub const S: f64 = 1e9 * NS;

/// One tesla: the native magnetic-field unit.
pub const TESLA: f64 = 1.0;
/// One gauss, in tesla.
pub const GAUSS: f64 = 1e-4 * TESLA;

/// Speed of light in vacuum, in mm/ns.
pub const SPEED_OF_LIGHT_MM_PER_NS: f64 = 299.792_458 * MM / NS;

/// `pT [GeV] = 0.299792458 · |q| · B [T] · R [m]`: the curvature constant, in GeV per (tesla · metre).
pub const GEV_PER_TESLA_METER: f64 = 0.299_792_458;

/// The curvature constant in native units: GeV per (tesla · mm), i.e. `0.299792458e-3`.
pub const GEV_PER_TESLA_MM: f64 = GEV_PER_TESLA_METER / M;

/// Transverse momentum (GeV) of a particle of charge `charge` (units of e) on a helix of transverse
/// radius `radius` (mm) in a solenoid field `field` (tesla): `pT = 0.299792458e-3 · |q| · B · R`.
///
/// ```
/// use hepnn_core::units::{pt_from_radius, M};
/// // 1 GeV, unit charge, 2 T: R = 1 / (0.3 · 2) m ≈ 1.668 m
/// let pt = pt_from_radius(1.0, 2.0, 1.0 / (0.299792458 * 2.0) * M);
/// assert!((pt - 1.0).abs() < 1e-12);
/// ```
pub fn pt_from_radius(charge: f64, field: f64, radius: f64) -> f64 {
    GEV_PER_TESLA_MM * charge.abs() * field * radius
}

/// Transverse radius (mm) of the helix of a particle of transverse momentum `pt` (GeV) and charge
/// `charge` (units of e) in a solenoid field `field` (tesla): `R = pT / (0.299792458e-3 · |q| · B)`.
///
/// Infinite for a neutral particle or a zero field (a straight line).
pub fn radius_from_pt(charge: f64, field: f64, pt: f64) -> f64 {
    pt / (GEV_PER_TESLA_MM * charge.abs() * field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_relate_as_stated() {
        assert_eq!(M, 1000.0);
        assert_eq!(CM, 10.0);
        assert_eq!(UM, 0.001);
        assert_eq!(TEV, 1000.0);
        assert_eq!(MEV, 0.001);
        assert_eq!(S, 1e9);
        assert!((SPEED_OF_LIGHT_MM_PER_NS * NS - 299.792458).abs() < 1e-12);
    }

    #[test]
    fn helix_radius_by_hand() {
        // 10 GeV, q = -1, 2 T: R = 10 / (0.299792458 · 2) m = 16.678 m
        let radius = radius_from_pt(-1.0, 2.0 * TESLA, 10.0 * GEV);
        assert!((radius / M - 16.678_204_759_907_6).abs() < 1e-9);
        assert!((pt_from_radius(-1.0, 2.0, radius) - 10.0).abs() < 1e-12);
        assert!(radius_from_pt(0.0, 2.0, 1.0).is_infinite());
    }
}
