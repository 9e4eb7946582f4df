//! Long short-term memory (Hochreiter & Schmidhuber 1997, <https://doi.org/10.1162/neco.1997.9.8.1735>;
//! forget gate: Gers, Schmidhuber & Cummins 2000); course slide "LSTM".
//!
//! ```text
//! [i f g o] = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh        (4H values, PyTorch's gate order)
//! i = σ(i), f = σ(f), g = tanh(g), o = σ(o)
//! c_t = f ⊙ c_{t−1} + i ⊙ g        (the forget gate drops what is unimportant)
//! h_t = o ⊙ tanh(c_t)
//! ```
//!
//! The four gates are one linear map of 4H outputs for the input and one for the hidden state:
//! two matrix products per step instead of eight. The gradient along the cell
//! path is ∂c_t/∂c_{t−1} = diag(f): with the forget gate open it neither vanishes nor explodes.
//! Checked against burn's `Lstm` and PyTorch's `nn.LSTM` on the same weights (tests).
//!
//! [`RecurrentCell::run`] runs the whole sequence as **one** autodiff node
//! ([`crate::kernels::lstm`]: the input projection of all steps as one product, one `H → 4H`
//! product and the fused gate arithmetic per step, back propagation through time written by
//! hand) on burn's Flex CPU backend, and falls back to the step-by-step burn graph
//! ([`super::run_steps`] with [`RecurrentCell::step`], the same function) elsewhere.

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;

use super::elman::uniform_linear;
use super::{CellState, RecurrentCell, gate_sigmoid, run_steps, tanh_via_sigmoid};
use crate::kernels::lstm::{LstmInputs, lstm_sequence};

/// Configuration of an [`LstmCell`].
#[derive(Config, Debug)]
pub struct LstmCellConfig {
    /// Input features I.
    pub d_input: usize,
    /// Hidden size H.
    pub d_hidden: usize,
    /// Added to the forget gate's input bias at initialisation (0 as PyTorch; 1 or more keeps
    /// the memory open at the start, Jozefowicz et al. 2015).
    #[config(default = 0.0)]
    pub forget_bias: f64,
}

impl LstmCellConfig {
    /// Builds the cell (weights and biases uniform in ±1/√H, as PyTorch).
    pub fn init(&self, device: &Device) -> LstmCell {
        let h = self.d_hidden;
        let mut input = uniform_linear(self.d_input, 4 * h, h, device);
        if self.forget_bias != 0.0 {
            let shift: Vec<f32> = (0..4 * h)
                .map(|j| {
                    if (h..2 * h).contains(&j) {
                        self.forget_bias as f32
                    } else {
                        0.0
                    }
                })
                .collect();
            let shift = Tensor::<1>::from_floats(shift.as_slice(), device);
            // A fresh leaf (not the result of an op on the old parameter, whose graph would be
            // consumed by the first backward pass).
            input.bias = input.bias.map(|b| {
                let shifted = (b.val() + shift).into_data();
                Param::from_tensor(Tensor::from_data(shifted, device))
            });
        }
        LstmCell {
            input,
            hidden: uniform_linear(h, 4 * h, h, device),
        }
    }
}

/// The LSTM cell with fused gates.
#[derive(Module, Debug)]
pub struct LstmCell {
    /// W_ih, b_ih: `I → 4H`, gates in the order i, f, g, o.
    pub input: Linear,
    /// W_hh, b_hh: `H → 4H`.
    pub hidden: Linear,
}

impl RecurrentCell for LstmCell {
    fn d_hidden(&self) -> usize {
        self.hidden.weight.dims()[0]
    }

    fn input_projection(&self, input: Tensor<3>) -> Tensor<3> {
        self.input.forward(input)
    }

    /// One step; see the module formula.
    ///
    /// # Shapes
    /// - projected: `[B, 4H]`, state: h and c `[B, H]`
    fn step(&self, projected: Tensor<2>, state: CellState) -> CellState {
        let gates = projected + self.hidden.forward(state.hidden);
        let [_, four_h] = gates.dims();
        // One sigmoid for the four gates: tanh g = 2σ(2g) − 1, so the g block is scaled by 2
        // before and after the sigmoid and shifted by −1 after it.
        let h = four_h / 4;
        let block = |other: f32, g: f32| {
            let v: Vec<f32> = (0..four_h)
                .map(|j| {
                    if (2 * h..3 * h).contains(&j) {
                        g
                    } else {
                        other
                    }
                })
                .collect();
            Tensor::<1>::from_floats(v.as_slice(), &gates.device()).unsqueeze_dim::<2>(0)
        };
        let scale = block(1.0, 2.0);
        let shift = block(0.0, -1.0);
        let activated = gate_sigmoid(gates * scale.clone()) * scale + shift;
        let mut parts = activated.chunk(4, 1).into_iter();
        let mut next = || parts.next().expect("four gates");
        let (i, f, g, o) = (next(), next(), next(), next());
        let c_prev = state.cell.expect("an LSTM state carries its cell state");
        let c = f * c_prev + i * g;
        CellState {
            hidden: o * tanh_via_sigmoid(c.clone()),
            cell: Some(c),
        }
    }

    /// The whole sequence in one kernel where it applies (see the module doc), else step by step.
    ///
    /// # Shapes
    /// - input: `[B, T, I]`; output: `[B, T, H]` (zero at padded steps); final state `[B, H]`.
    fn run(
        &self,
        input: Tensor<3>,
        lengths: Option<&[usize]>,
        reverse: bool,
        initial: Option<CellState>,
    ) -> (Tensor<3>, CellState) {
        match self.run_fused(input.clone(), lengths, reverse, initial.clone()) {
            Some(done) => done,
            None => run_steps(self, input, lengths, reverse, initial),
        }
    }

    fn zero_state(&self, batch: usize, device: &Device) -> CellState {
        CellState {
            hidden: Tensor::zeros([batch, self.d_hidden()], device),
            cell: Some(Tensor::zeros([batch, self.d_hidden()], device)),
        }
    }
}

impl LstmCell {
    /// [`RecurrentCell::run`] through the sequence kernel; `None` where it does not apply (no
    /// biases, a backend other than Flex, …).
    pub fn run_fused(
        &self,
        input: Tensor<3>,
        lengths: Option<&[usize]>,
        reverse: bool,
        initial: Option<CellState>,
    ) -> Option<(Tensor<3>, CellState)> {
        let [batch, _, _] = input.dims();
        let state = initial.unwrap_or_else(|| self.zero_state(batch, &input.device()));
        // The state follows the input's float type (zero states are created in f32).
        let dtype = input.dtype();
        let inputs = LstmInputs {
            input,
            w_ih: self.input.weight.val(),
            b_ih: self.input.bias.as_ref()?.val(),
            w_hh: self.hidden.weight.val(),
            b_hh: self.hidden.bias.as_ref()?.val(),
            h0: state.hidden.cast(dtype),
            c0: state.cell?.cast(dtype),
        };
        let out = lstm_sequence(&inputs, lengths, reverse)?;
        Some((
            out.outputs,
            CellState {
                hidden: out.hidden,
                cell: Some(out.cell),
            },
        ))
    }
}
