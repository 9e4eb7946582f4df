//! The one error type of hepnn-tracking.

use std::path::PathBuf;

use hepnn_core::HitId;

/// Everything that can go wrong in hepnn-tracking: reading inputs, graphs, module maps, settings.
#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    /// Reading input data failed.
    #[error(transparent)]
    Core(#[from] hepnn_core::CoreError),
    /// A tensor-level error (bad graph) or a failed write.
    #[error(transparent)]
    Nn(#[from] hepnn_nn::NnError),
    /// The detector description (`detectors.csv`) could not be read or is inconsistent.
    #[error(transparent)]
    Sim(#[from] hepnn_sim::tracker::SimError),
    /// No hit graph for the requested events.
    #[error("no hit graph for events {first}–{last} in `{}`", .dir.display())]
    NoGraphs {
        /// The folder searched.
        dir: PathBuf,
        /// First event number.
        first: u64,
        /// Last event number.
        last: u64,
    },

    /// The event has no hit truth, so nothing can be learned from it.
    #[error("event {event_id} has no truth: a module map is learned from events with truth")]
    NoTruth {
        /// The event number.
        event_id: u64,
    },
    /// A truth link names a hit that the event does not have.
    #[error("event {event_id}: truth names hit {hit_id}, which is not among the event's hits")]
    UnknownHit {
        /// The event number.
        event_id: u64,
        /// The hit id in the truth.
        hit_id: HitId,
    },
    /// Reading a module-map file failed.
    #[error("cannot read module map `{}`: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A module-map file is not valid JSON of the expected layout.
    #[error("module map `{}` is malformed: {source}", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What serde_json found.
        source: serde_json::Error,
    },
    /// A module-map file parses but its content is inconsistent.
    #[error("module map `{}` is invalid: {reason}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the expected and the found value.
        reason: String,
    },
    /// A setting is out of range.
    #[error("invalid setting `{name}`: {reason}")]
    Config {
        /// The setting.
        name: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// A configuration file is not valid TOML of the expected layout.
    #[error("configuration `{}` is malformed: {source}", .path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// What the TOML parser found (line, column, the unknown or missing field).
        source: Box<toml::de::Error>,
    },
    /// The classical Kalman-filter track finder failed.
    #[error(transparent)]
    Kalman(#[from] crate::kalman::KalmanError),
}
