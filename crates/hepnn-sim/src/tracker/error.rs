//! The one error type of the tracker simulation.

use std::path::PathBuf;

/// Result of a fallible simulation step.
pub type Result<T> = std::result::Result<T, SimError>;

/// Everything that can go wrong setting up or writing a simulation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// Reading or writing a TrackML file failed (the inner error names the file, line and column).
    #[error(transparent)]
    Core(#[from] hepnn_core::CoreError),

    /// The detector description is unusable.
    #[error("detector geometry: {0}")]
    Geometry(String),

    /// A setting is out of range.
    #[error("invalid setting `{name}`: {message}")]
    Config {
        /// The setting.
        name: &'static str,
        /// What was expected and what was found.
        message: String,
    },

    /// A data file does not hold what its format promises (missing array, wrong shape).
    #[error("`{}`: {message}", .path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What was expected and what was found.
        message: String,
    },

    /// The output folder cannot be used.
    #[error("cannot {action} `{}`: {source}", .path.display())]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
}
