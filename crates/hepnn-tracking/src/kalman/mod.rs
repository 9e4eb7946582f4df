//! The classical tracking baseline: seeding, combinatorial Kalman filter (CKF), Kalman fit with
//! Rauch–Tung–Striebel smoothing, in a uniform 2 T field through the TrackML tracker of
//! `hepnn-sim`.
//!
//! Built after ACTS (Ai et al., "A Common Tracking Software Project", Comput. Softw. Big Sci. 6
//! (2022) 8, arXiv:2106.13593): one file per concern, as its `Core/include/Acts/` tree.
//!
//! - [`parameters`]: free and bound track parameters, module planes and the perigee.
//! - [`propagator`]: analytic helix with the transport Jacobian.
//! - [`material`]: multiple-scattering noise per module, the simulation's Highland model.
//! - [`fitter`]: Kalman filter + RTS smoother of any ordered hit list → perigee parameters.
//! - [`seeding`]: triplets of pixel hits compatible with a helix from the beam line.
//! - [`ckf`]: follows each seed outwards, branching on ambiguous hits, resolves shared hits.
//!
//! ```no_run
//! use hepnn_sim::tracker::Detector;
//! use hepnn_tracking::kalman::{Ckf, CkfConfig, TrackingGeometry};
//! # fn run(event: &hepnn_core::Event) -> Result<(), hepnn_tracking::kalman::KalmanError> {
//! let geometry = TrackingGeometry::new(Detector::trackml_default());
//! let ckf = Ckf::new(geometry, CkfConfig::default())?;
//! let output = ckf.find(event)?;
//! println!("{} tracks in {:.1} ms", output.tracks.len(), output.summary.total_ms());
//! # Ok(()) }
//! ```

pub mod ckf;
pub mod fitter;
pub mod material;
pub mod parameters;
pub mod propagator;
pub mod seeding;

use std::collections::HashMap;

use hepnn_core::{Event, ModuleKey};
use hepnn_sim::tracker::{Detector, Surface};

pub use ckf::{
    Ckf, CkfConfig, CkfOutput, CkfSummary, FittedTrack, SecondaryConfig, ShortTrackConfig,
};
pub use fitter::{FitResult, KalmanFitter, KalmanFitterConfig};
pub use material::MaterialEffects;
pub use parameters::{BoundMatrix, BoundVector, Perigee, TrackParameters};
pub use propagator::Propagator;
pub use seeding::{Seed, SeedFinder, SeedFinderConfig};

/// What can go wrong in the Kalman tracking.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KalmanError {
    /// A setting is out of range.
    #[error("invalid setting `{name}`: {reason}")]
    Config {
        /// The setting.
        name: &'static str,
        /// Why it is rejected, with the value found.
        reason: String,
    },
    /// The event has no hits.
    #[error("event {event_id} has no hits")]
    EmptyEvent {
        /// The event number.
        event_id: u64,
    },
    /// A hit lies on a module the geometry does not have.
    #[error("hit {hit} is on module {key}, which the tracking geometry does not have")]
    UnknownModule {
        /// Hit index.
        hit: usize,
        /// Its module.
        key: ModuleKey,
    },
    /// A hit list to fit is too short or names a hit that does not exist.
    #[error("cannot fit: {reason}")]
    BadHits {
        /// What is wrong.
        reason: String,
    },
    /// The fit failed numerically (a surface not reached, a singular matrix).
    #[error("the fit failed: {reason}")]
    FitFailed {
        /// Where it failed.
        reason: String,
    },
}

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, KalmanError>;

/// A module: (layer index, surface index within the layer) in [`Detector::layers`].
pub type SurfaceId = (u32, u32);

/// The detector with a lookup from module keys to surfaces.
#[derive(Debug, Clone)]
pub struct TrackingGeometry {
    /// The detector.
    pub detector: Detector,
    index: HashMap<ModuleKey, SurfaceId>,
}

impl TrackingGeometry {
    /// Indexes the modules of `detector`.
    pub fn new(detector: Detector) -> Self {
        let mut index = HashMap::with_capacity(detector.module_count());
        for (l, layer) in detector.layers.iter().enumerate() {
            for (s, surface) in layer.surfaces.iter().enumerate() {
                index.insert(surface.key, (l as u32, s as u32));
            }
        }
        Self { detector, index }
    }

    /// The surface of a module.
    pub fn surface(&self, id: SurfaceId) -> &Surface {
        &self.detector.layers[id.0 as usize].surfaces[id.1 as usize]
    }

    /// The module of a key.
    pub fn locate(&self, key: &ModuleKey) -> Option<SurfaceId> {
        self.index.get(key).copied()
    }
}

/// One hit as a measurement: local (u, v) on its module with the digitisation variances
/// (pitch²/12 per axis, the simulation's smearing).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// The module.
    pub surface: SurfaceId,
    /// Local (u, v) (mm).
    pub local: [f64; 2],
    /// Variances of u and v (mm²).
    pub variance: [f64; 2],
    /// Global position (mm).
    pub position: [f64; 3],
}

/// The measurements of one event, indexed by hit and by module.
#[derive(Debug, Clone)]
pub struct EventMeasurements {
    /// One per hit of the event, in the event's order.
    pub measurements: Vec<Measurement>,
    /// Hit indices per module: `by_surface[layer][surface]`.
    pub by_surface: Vec<Vec<Vec<usize>>>,
}

impl EventMeasurements {
    /// Locates every hit of `event` on its module.
    ///
    /// # Errors
    /// [`KalmanError::EmptyEvent`] for an event without hits, [`KalmanError::UnknownModule`] for
    /// a hit on a module the geometry lacks.
    pub fn new(geometry: &TrackingGeometry, event: &Event) -> Result<Self> {
        if event.hits.is_empty() {
            return Err(KalmanError::EmptyEvent {
                event_id: event.event_id,
            });
        }
        let mut by_surface: Vec<Vec<Vec<usize>>> = geometry
            .detector
            .layers
            .iter()
            .map(|l| vec![Vec::new(); l.surfaces.len()])
            .collect();
        let mut measurements = Vec::with_capacity(event.hits.len());
        for (index, hit) in event.hits.iter().enumerate() {
            let key = hit.module_key();
            let id = geometry
                .locate(&key)
                .ok_or(KalmanError::UnknownModule { hit: index, key })?;
            let surface = geometry.surface(id);
            let position = [hit.x, hit.y, hit.z];
            let local = surface.to_local(position);
            measurements.push(Measurement {
                surface: id,
                local: [local[0], local[1]],
                variance: [
                    surface.pitch_u * surface.pitch_u / 12.0,
                    surface.pitch_v * surface.pitch_v / 12.0,
                ],
                position,
            });
            by_surface[id.0 as usize][id.1 as usize].push(index);
        }
        Ok(Self {
            measurements,
            by_surface,
        })
    }

    /// Hits on a module.
    pub fn on_surface(&self, id: SurfaceId) -> &[usize] {
        &self.by_surface[id.0 as usize][id.1 as usize]
    }
}
