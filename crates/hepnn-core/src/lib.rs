//! `hepnn-core`: the event data model, native units and data formats shared by every hepnn crate.
//!
//! - [`units`]: mm, GeV, ns and tesla, stated once, and the curvature constant
//!   `pT [GeV] = 0.299792458 · |q| · B [T] · R [m]`.
//! - [`event`]: [`Hit`], [`Cell`], [`Particle`], [`TruthLink`], [`Module`] and [`Event`], with ids
//!   as newtypes ([`HitId`], [`ParticleId`], [`ModuleKey`]).
//! - [`io`]: the TrackML CSV files, plain or gzipped, read with checks that name the file, line
//!   and column of any bad value, and written atomically.
//! - [`error`]: the crate's one error type, [`CoreError`].
//!
//! A particle's transverse momentum and pseudorapidity, `pT = √(px² + py²)` and
//! `η = asinh(pz / pT)`:
//!
//! ```
//! use hepnn_core::{Particle, ParticleId};
//! let pion = Particle {
//!     particle_id: ParticleId(4_503_668_346_847_232),
//!     particle_type: Some(211),
//!     vx: 0.0, vy: 0.0, vz: 0.0,  // mm
//!     px: 3.0, py: 4.0, pz: 12.0, // GeV
//!     q: 1,
//!     nhits: 11,
//! };
//! assert_eq!(pion.pt(), 5.0);
//! assert_eq!(pion.p(), 13.0);
//! assert!((pion.eta() - 5.0_f64.ln()).abs() < 1e-12); // asinh(12/5) = ln 5
//! ```
//!
//! Reading a TrackML event (`event000000001-hits.csv.gz`, … in `data/trackml`):
//!
//! ```no_run
//! let event = hepnn_core::io::read_event("data/trackml", "event000000001")?;
//! println!("{} hits, {} noise", event.hits.len(), event.noise_hit_count());
//! # Ok::<(), hepnn_core::CoreError>(())
//! ```

#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod error;
pub mod event;
pub mod io;
pub mod units;

pub use error::{CoreError, Result};
pub use event::{Cell, Event, Hit, HitId, Module, ModuleKey, Particle, ParticleId, TruthLink};
