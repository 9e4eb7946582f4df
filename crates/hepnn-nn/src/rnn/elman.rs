//! The simple recurrent cell (Elman 1990, "Finding structure in time",
//! <https://doi.org/10.1207/s15516709cog1402_1>); course slide "réseaux récurrents".
//!
//! ```text
//! h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)
//! ```
//!
//! Its gradient through time is a product of Jacobians diag(1 − h²)·W_hh, one per step: it
//! vanishes when the spectral radius of W_hh is below 1 and can explode above it
//! (see [`super::gradients`]).

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

use super::{CellState, RecurrentCell, tanh_via_sigmoid};

/// Configuration of an [`ElmanCell`].
#[derive(Config, Debug)]
pub struct ElmanCellConfig {
    /// Input features I.
    pub d_input: usize,
    /// Hidden size H.
    pub d_hidden: usize,
}

impl ElmanCellConfig {
    /// Builds the cell (PyTorch's initialisation: U(−1/√H, 1/√H) for every weight and bias).
    pub fn init(&self, device: &Device) -> ElmanCell {
        ElmanCell {
            input: uniform_linear(self.d_input, self.d_hidden, self.d_hidden, device),
            hidden: uniform_linear(self.d_hidden, self.d_hidden, self.d_hidden, device),
        }
    }
}

/// A linear map `d_in → d_out` with weights and bias uniform in ±1/√H (as `torch.nn.RNN`,
/// `LSTM`, `GRU`).
pub(crate) fn uniform_linear(
    d_in: usize,
    d_out: usize,
    d_hidden: usize,
    device: &Device,
) -> Linear {
    let k = 1.0 / (d_hidden as f64).sqrt();
    LinearConfig::new(d_in, d_out)
        .with_initializer(burn::nn::Initializer::Uniform { min: -k, max: k })
        .init(device)
}

/// The Elman cell.
#[derive(Module, Debug)]
pub struct ElmanCell {
    /// W_ih, b_ih: `I → H`.
    pub input: Linear,
    /// W_hh, b_hh: `H → H`.
    pub hidden: Linear,
}

impl RecurrentCell for ElmanCell {
    fn d_hidden(&self) -> usize {
        self.hidden.weight.dims()[0]
    }

    fn input_projection(&self, input: Tensor<3>) -> Tensor<3> {
        self.input.forward(input)
    }

    /// h_t = tanh(p_t + W_hh h_{t−1} + b_hh), p_t = W_ih x_t + b_ih.
    ///
    /// # Shapes
    /// - projected: `[B, H]`, state: `[B, H]`
    fn step(&self, projected: Tensor<2>, state: CellState) -> CellState {
        CellState {
            hidden: tanh_via_sigmoid(projected + self.hidden.forward(state.hidden)),
            cell: None,
        }
    }

    fn zero_state(&self, batch: usize, device: &Device) -> CellState {
        CellState {
            hidden: Tensor::zeros([batch, self.d_hidden()], device),
            cell: None,
        }
    }
}
