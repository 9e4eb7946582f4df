//! The one error type of hepnn-nn.

use std::path::PathBuf;

/// Everything that can go wrong in hepnn-nn, each variant carrying what was expected and what was
/// found.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A configuration value is out of its allowed range.
    #[error("invalid configuration: {field} = {value}: {expected}")]
    InvalidConfig {
        /// The field's name.
        field: &'static str,
        /// The value given.
        value: String,
        /// What the field accepts.
        expected: String,
    },
    /// A tensor or slice had another shape than the operation needs.
    #[error("shape mismatch in {what}: expected {expected:?}, got {got:?}")]
    Shape {
        /// The operation.
        what: &'static str,
        /// The expected shape.
        expected: Vec<usize>,
        /// The shape given.
        got: Vec<usize>,
    },
    /// Training produced a NaN or infinite loss; the last good checkpoint is kept.
    #[error(
        "training stopped: the loss became {value} at epoch {epoch}, step {step}; \
         the last good checkpoint ({last_good}) is kept — lower the learning rate or check the inputs"
    )]
    NonFiniteLoss {
        /// The epoch (1-based) in which it happened.
        epoch: usize,
        /// The step within the epoch (0-based).
        step: usize,
        /// The loss value (NaN or ±inf).
        value: f64,
        /// Where the last good checkpoint is, or "none" before the first epoch ended.
        last_good: String,
    },
    /// A checkpoint could not be read back.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The checkpoint folder or file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A plot could not be drawn.
    #[error("plot {path}: {message}")]
    Plot {
        /// The PNG file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Input data contain a NaN or infinite value.
    #[error("{what}: non-finite value {value} at index {index}")]
    NonFinite {
        /// What the data are.
        what: &'static str,
        /// The first offending index.
        index: usize,
        /// The value.
        value: f64,
    },
}

/// Result with [`NnError`].
pub type Result<T> = std::result::Result<T, NnError>;

impl NnError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        NnError::Io {
            path: path.into(),
            source,
        }
    }
}
