//! Gated recurrent unit (Cho et al. 2014, <https://arxiv.org/abs/1406.1078>; compared with the
//! LSTM in Chung et al. 2014, <https://arxiv.org/abs/1412.3555>); course slide "GRU".
//!
//! ```text
//! r = σ(W_ir x + b_ir + W_hr h + b_hr)          (reset gate)
//! z = σ(W_iz x + b_iz + W_hz h + b_hz)          (update gate)
//! n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
//! h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
//! ```
//!
//! Two gates and no separate cell state: a simplified LSTM. Gate order r, z, n as PyTorch's
//! `nn.GRU`; the gates are fused into one `I → 3H` and one `H → 3H` linear map.

use burn::nn::Linear;
use burn::prelude::*;

use super::elman::uniform_linear;
use super::{CellState, RecurrentCell, gate_sigmoid, tanh_via_sigmoid};

/// Configuration of a [`GruCell`].
#[derive(Config, Debug)]
pub struct GruCellConfig {
    /// Input features I.
    pub d_input: usize,
    /// Hidden size H.
    pub d_hidden: usize,
}

impl GruCellConfig {
    /// Builds the cell (weights and biases uniform in ±1/√H, as PyTorch).
    pub fn init(&self, device: &Device) -> GruCell {
        let h = self.d_hidden;
        GruCell {
            input: uniform_linear(self.d_input, 3 * h, h, device),
            hidden: uniform_linear(h, 3 * h, h, device),
        }
    }
}

/// The GRU cell with fused gates.
#[derive(Module, Debug)]
pub struct GruCell {
    /// W_ih, b_ih: `I → 3H`, gates r, z, n.
    pub input: Linear,
    /// W_hh, b_hh: `H → 3H`.
    pub hidden: Linear,
}

impl RecurrentCell for GruCell {
    fn d_hidden(&self) -> usize {
        self.hidden.weight.dims()[0]
    }

    fn input_projection(&self, input: Tensor<3>) -> Tensor<3> {
        self.input.forward(input)
    }

    /// One step; see the module formula.
    ///
    /// # Shapes
    /// - projected: `[B, 3H]`, state: `[B, H]`
    fn step(&self, projected: Tensor<2>, state: CellState) -> CellState {
        let h_prev = state.hidden;
        let hp = self.hidden.forward(h_prev.clone());
        let mut xs = projected.chunk(3, 1).into_iter();
        let mut hs = hp.chunk(3, 1).into_iter();
        let mut next = || {
            (
                xs.next().expect("three gates"),
                hs.next().expect("three gates"),
            )
        };
        let (xr, hr) = next();
        let (xz, hz) = next();
        let (xn, hn) = next();
        let r = gate_sigmoid(xr + hr);
        let z = gate_sigmoid(xz + hz);
        let n = tanh_via_sigmoid(xn + r * hn);
        CellState {
            hidden: z.clone().neg().add_scalar(1.0) * n + z * h_prev,
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
