//! The one error type of hepnn-neutrino.

/// Everything that can go wrong in hepnn-neutrino.
#[derive(Debug, thiserror::Error)]
pub enum NeutrinoError {
    /// Reading or writing events failed.
    #[error(transparent)]
    Sim(#[from] hepnn_sim::tracker::SimError),
    /// Training, checkpoints or plots failed.
    #[error(transparent)]
    Nn(#[from] hepnn_nn::NnError),
    /// The events do not fit the model (view size) or are missing.
    #[error("events: {0}")]
    Events(String),
}
