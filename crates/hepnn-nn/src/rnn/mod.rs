//! Recurrent networks: the output of step t is an input of step t + 1.
//!
//! Course slides "réseaux récurrents", "LSTM", "GRU". Three cells share one interface,
//! [`RecurrentCell`]: the Elman cell ([`elman`], Elman 1990), the LSTM ([`lstm`], Hochreiter &
//! Schmidhuber 1997, <https://doi.org/10.1162/neco.1997.9.8.1735>) and the GRU ([`gru`], Cho et al.
//! 2014, <https://arxiv.org/abs/1412.3555>). Each cell's gates are fused: one linear map of G·H
//! outputs for the input and one for the hidden state (G = 1, 4, 3), so a step is one
//! `[B, I] × [I, G·H]` and one `[B, H] × [H, G·H]` product ([`RecurrentCell::input_projection`],
//! [`RecurrentCell::step`]).
//!
//! [`Recurrent`] stacks cells (layer ℓ reads layer ℓ − 1's outputs) and runs each layer in both
//! directions when bidirectional (outputs concatenated: 2H features), over padded batches: with
//! `lengths`, steps t ≥ length_b leave sequence b's state unchanged and give a zero output, so the
//! final state is the state after the sequence's last real step, and the reverse direction starts
//! at the sequence's own last step.
//!
//! [`gradients`] measures ∂L/∂h_t against the time lag: the vanishing (and exploding) gradients
//! of the simple cell (Bengio, Simard & Frasconi 1994; Pascanu, Mikolov & Bengio 2013,
//! <https://arxiv.org/abs/1211.5063>) and the LSTM's cell path that avoids them.
//!
//! ```
//! use burn::prelude::*;
//! use hepnn_nn::rnn::{CellKind, RecurrentConfig};
//! let device = Device::flex();
//! let rnn = RecurrentConfig::new(CellKind::Lstm, 3, 8)
//!     .with_num_layers(2)
//!     .with_bidirectional(true)
//!     .init(&device);
//! let x = Tensor::<3>::zeros([4, 5, 3], &device);
//! let (out, last) = rnn.forward(x, Some(&[5, 3, 1, 4]));
//! assert_eq!(out.dims(), [4, 5, 16]);
//! assert_eq!(last.dims(), [4, 16]);
//! ```

pub mod elman;
pub mod gradients;
pub mod gru;
pub mod lstm;

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::sigmoid;

pub use elman::{ElmanCell, ElmanCellConfig};
pub use gru::{GruCell, GruCellConfig};
pub use lstm::{LstmCell, LstmCellConfig};

/// The state carried from one step to the next: the hidden state h (every cell) and the LSTM's
/// cell state c.
#[derive(Debug, Clone)]
pub struct CellState {
    /// h_t, `[batch, hidden]`.
    pub hidden: Tensor<2>,
    /// c_t (LSTM only), `[batch, hidden]`.
    pub cell: Option<Tensor<2>>,
}

impl CellState {
    /// Takes this (new) state where `take` is 1 and keeps `old` where it is 0 (`take`:
    /// `[batch, 1]`, 0 or 1): padded steps leave a sequence's state unchanged.
    fn masked(self, old: CellState, take: &Tensor<2>) -> CellState {
        let mix = |new: Tensor<2>, old: Tensor<2>| {
            let t = take.clone();
            new * t.clone() + old * t.neg().add_scalar(1.0)
        };
        CellState {
            hidden: mix(self.hidden, old.hidden),
            cell: match (self.cell, old.cell) {
                (Some(n), Some(o)) => Some(mix(n, o)),
                (n, _) => n,
            },
        }
    }
}

/// One recurrent cell: h_t = f(x_t, h_{t−1}) (and c_t for the LSTM).
pub trait RecurrentCell {
    /// Hidden size H.
    fn d_hidden(&self) -> usize;
    /// The input part of every gate, `[B, T, I] → [B, T, G·H]` (applied to one step at a time by
    /// [`RecurrentCell::run`]).
    fn input_projection(&self, input: Tensor<3>) -> Tensor<3>;
    /// One step from the projected input `[B, G·H]` and the previous state.
    fn step(&self, projected: Tensor<2>, state: CellState) -> CellState;
    /// The zero state for a batch.
    fn zero_state(&self, batch: usize, device: &Device) -> CellState;

    /// Runs the cell over a sequence `[B, T, I]` from `initial` (zeros when `None`), forwards or
    /// backwards in time, with optional per-sequence `lengths` (padding after them).
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
        run_steps(self, input, lengths, reverse, initial)
    }
}

/// The plain burn-graph run of [`RecurrentCell::run`]: one [`RecurrentCell::step`] per time step
/// (the LSTM's `run` uses the one-node kernel [`crate::kernels::lstm`] instead where it applies;
/// this is its reference).
pub fn run_steps<C: RecurrentCell + ?Sized>(
    cell: &C,
    input: Tensor<3>,
    lengths: Option<&[usize]>,
    reverse: bool,
    initial: Option<CellState>,
) -> (Tensor<3>, CellState) {
    let [batch, steps, _] = input.dims();
    let device = input.device();
    let mut state = initial.unwrap_or_else(|| cell.zero_state(batch, &device));
    let take = lengths.map(|l| step_mask(l, steps, &device));
    let mut outputs: Vec<Option<Tensor<2>>> = vec![None; steps];
    // The input is sliced, and projected step by step: in burn's autodiff the backward of a
    // slice writes a zero tensor of the whole source, so slicing a [B, T, G·H] projection T
    // times costs O(T²·B·G·H), while the raw [B, T, I] input is small (and usually needs no
    // gradient at all).
    let slices = input.chunk(steps, 1);
    let order: Vec<usize> = if reverse {
        (0..steps).rev().collect()
    } else {
        (0..steps).collect()
    };
    let mut slices: Vec<Option<Tensor<3>>> = slices.into_iter().map(Some).collect();
    for t in order {
        let x_t = cell
            .input_projection(slices[t].take().expect("each step is visited once"))
            .squeeze_dim::<2>(1);
        let new = cell.step(x_t, state.clone());
        state = match &take {
            Some(m) => {
                let m_t = m.clone().narrow(1, t, 1);
                let s = new.masked(state, &m_t);
                outputs[t] = Some(s.hidden.clone() * m_t);
                s
            }
            None => {
                outputs[t] = Some(new.hidden.clone());
                new
            }
        };
    }
    let outputs: Vec<Tensor<2>> = outputs
        .into_iter()
        .map(|o| o.expect("every step produced an output"))
        .collect();
    (Tensor::stack(outputs, 1), state)
}

/// tanh x = 2σ(2x) − 1: the same function, computed with one sigmoid (burn flex's sigmoid is
/// several times faster than its tanh on CPU, and the recurrent cells call them every step).
pub fn tanh_via_sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    gate_sigmoid(x.mul_scalar(2.0))
        .mul_scalar(2.0)
        .sub_scalar(1.0)
}

/// σ(x) with its exact derivative σ(1 − σ), but one exponential instead of two: burn's autodiff
/// recomputes σ(x) from x in the backward pass, so here σ and σ(1 − σ) are computed outside the
/// graph and the gradient is attached as `σ + (x − x̄)·σ(1 − σ)`, x̄ = x detached (x − x̄ = 0, so
/// the value is σ exactly and ∂/∂x = σ(1 − σ)).
pub fn gate_sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let fixed = x.clone().detach();
    let value = sigmoid(fixed.clone());
    if !x.is_tracked() {
        return value;
    }
    let slope = value.clone() * value.clone().neg().add_scalar(1.0);
    value + (x - fixed) * slope
}

/// `[B, T]` mask: 1 where t < length_b, else 0.
pub fn step_mask(lengths: &[usize], steps: usize, device: &Device) -> Tensor<2> {
    let values: Vec<f32> = lengths
        .iter()
        .flat_map(|&l| (0..steps).map(move |t| if t < l { 1.0 } else { 0.0 }))
        .collect();
    Tensor::from_data(TensorData::new(values, [lengths.len(), steps]), device)
}

/// Which recurrent cell a [`Recurrent`] stacks.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// The simple (Elman) cell, h_t = tanh(W x_t + U h_{t−1} + b).
    Elman,
    /// Long short-term memory.
    Lstm,
    /// Gated recurrent unit.
    Gru,
}

/// One cell of any kind (a burn module enum).
#[derive(Module, Debug)]
pub enum Cell {
    /// Elman cell.
    Elman(ElmanCell),
    /// LSTM cell.
    Lstm(LstmCell),
    /// GRU cell.
    Gru(GruCell),
}

impl Cell {
    fn new(kind: CellKind, d_input: usize, d_hidden: usize, device: &Device) -> Self {
        match kind {
            CellKind::Elman => Cell::Elman(ElmanCellConfig::new(d_input, d_hidden).init(device)),
            CellKind::Lstm => Cell::Lstm(LstmCellConfig::new(d_input, d_hidden).init(device)),
            CellKind::Gru => Cell::Gru(GruCellConfig::new(d_input, d_hidden).init(device)),
        }
    }

    fn inner(&self) -> &dyn RecurrentCell {
        match self {
            Cell::Elman(c) => c,
            Cell::Lstm(c) => c,
            Cell::Gru(c) => c,
        }
    }
}

/// Configuration of a [`Recurrent`] network.
#[derive(Config, Debug)]
pub struct RecurrentConfig {
    /// The cell.
    pub kind: CellKind,
    /// Input features I.
    pub d_input: usize,
    /// Hidden size H of every layer (per direction).
    pub d_hidden: usize,
    /// Stacked layers.
    #[config(default = 1)]
    pub num_layers: usize,
    /// Run every layer forwards and backwards and concatenate (2H features).
    #[config(default = false)]
    pub bidirectional: bool,
}

impl RecurrentConfig {
    /// Builds the network.
    pub fn init(&self, device: &Device) -> Recurrent {
        let dirs = if self.bidirectional { 2 } else { 1 };
        let mut forward = Vec::new();
        let mut backward = Vec::new();
        for layer in 0..self.num_layers.max(1) {
            let d_in = if layer == 0 {
                self.d_input
            } else {
                dirs * self.d_hidden
            };
            forward.push(Cell::new(self.kind, d_in, self.d_hidden, device));
            if self.bidirectional {
                backward.push(Cell::new(self.kind, d_in, self.d_hidden, device));
            }
        }
        Recurrent { forward, backward }
    }
}

/// Stacked, optionally bidirectional recurrent network over padded batches.
#[derive(Module, Debug)]
pub struct Recurrent {
    /// Forward-in-time cell of each layer.
    pub forward: Vec<Cell>,
    /// Backward-in-time cell of each layer (empty unless bidirectional).
    pub backward: Vec<Cell>,
}

impl Recurrent {
    /// Runs every layer over the sequence.
    ///
    /// Returns the last layer's outputs and its final hidden state (forward and backward
    /// concatenated when bidirectional: the forward state after the last real step, the backward
    /// state after step 0).
    ///
    /// # Shapes
    /// - input: `[B, T, I]`, lengths: B values in 1..=T (or `None`: all T)
    /// - outputs: `[B, T, D·H]` (zero at padded steps), final: `[B, D·H]`, D = 2 if bidirectional
    pub fn forward(&self, input: Tensor<3>, lengths: Option<&[usize]>) -> (Tensor<3>, Tensor<2>) {
        let mut x = input;
        let mut last = None;
        for (layer, cell) in self.forward.iter().enumerate() {
            let (out_f, state_f) = cell.inner().run(x.clone(), lengths, false, None);
            match self.backward.get(layer) {
                Some(back) => {
                    let (out_b, state_b) = back.inner().run(x, lengths, true, None);
                    x = Tensor::cat(vec![out_f, out_b], 2);
                    last = Some(Tensor::cat(vec![state_f.hidden, state_b.hidden], 1));
                }
                None => {
                    x = out_f;
                    last = Some(state_f.hidden);
                }
            }
        }
        (x, last.expect("at least one layer"))
    }
}

#[cfg(test)]
mod tests;
