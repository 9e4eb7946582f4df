//! The one error type of hepnn-calo.

/// Everything that can go wrong in hepnn-calo.
#[derive(Debug, thiserror::Error)]
pub enum CaloError {
    /// Reading or writing showers failed.
    #[error(transparent)]
    Io(#[from] hepnn_core::CoreError),
    /// Training, checkpoints or plots failed.
    #[error(transparent)]
    Nn(#[from] hepnn_nn::NnError),
    /// The showers do not fit the model (voxel count, energies) or are missing.
    #[error("showers: {0}")]
    Showers(String),
}
