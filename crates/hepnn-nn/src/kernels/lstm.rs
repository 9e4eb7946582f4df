//! The LSTM over a whole sequence as one autodiff operation.
//!
//! ```text
//! forward:  G = X W_ih + b_ih + b_hh                 (all T steps, one GEMM [T·B, I] × [I, 4H])
//!           for each step t (in time order, or reversed):
//!               G_t += h_{t−1} W_hh                  (one GEMM [B, H] × [H, 4H])
//!               i, f, o = σ(G_t^{i,f,o}), g = tanh(G_t^g)
//!               c_t = f ⊙ c_{t−1} + i ⊙ g,  h_t = o ⊙ tanh c_t
//! backward: for t from the last step to the first, with δh = ∂L/∂h_t, δc = ∂L/∂c_t:
//!               δc += δh ⊙ o ⊙ (1 − tanh² c_t)
//!               δG^i = δc ⊙ g ⊙ i(1 − i), δG^f = δc ⊙ c_{t−1} ⊙ f(1 − f),
//!               δG^g = δc ⊙ i ⊙ (1 − g²), δG^o = δh ⊙ tanh c_t ⊙ o(1 − o)
//!               δc_{t−1} = δc ⊙ f,  δh_{t−1} = δG_t W_hhᵀ + ∂L/∂y_{t−1}
//!           ∂W_hh = Σ_t h_{t−1}ᵀ δG_t, ∂W_ih = Xᵀ δG, ∂b = Σ δG, ∂X = δG W_ihᵀ (one GEMM each)
//! ```
//!
//! The activated gates, c_{t−1}, h_{t−1} and tanh c_t of every step are kept for the backward
//! pass (5·T·B·H values). With per-sequence lengths, steps t ≥ length_b leave sequence b's state
//! unchanged and output zero, as [`crate::rnn::RecurrentCell::run`].
//!
//! **Threads.** The batch rows are independent until the weight gradients: the batch is cut into
//! chunks of consecutive rows ([`default_chunks`]: one per rayon thread, at least 8 rows each) and
//! each chunk runs its input projection, its whole forward sequence, its whole back propagation
//! through time, its ∂x and its own ∂W_ih, ∂W_hh, ∂b on one rayon task: one fork-join per pass,
//! none per step (splitting each per-step product instead costs 50 joins per pass and was
//! measured slower). The chunks' weight gradients are summed in chunk order, so a given chunk
//! count always gives the same numbers; one chunk is the plain single-thread kernel. The per-step
//! buffers are laid out chunk after chunk, time-major within a chunk, so that each chunk's rows
//! are contiguous (see `Setup::bounds`).
//!
//! [`lstm_sequence`] returns `None` where the kernel does not apply (a backend other than Flex,
//! dtypes other than f32/f64, inputs mixing autodiff and plain tensors); the caller then runs the
//! plain burn graph, which computes the same function.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{
    BalancedCheckpointing, CheckpointStrategy, NoCheckpointing,
};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{
    Autodiff, Backend, BackendTypes, DispatchKindConversion, DispatchTensor, Flex,
};
use burn::prelude::*;
use burn::tensor::DType;
use rayon::prelude::*;

use super::{Real, View, flex_tensor, flex_values, matmul, sigmoid_in_place, tanh_in_place};

/// What [`lstm_sequence`] returns.
#[derive(Debug, Clone)]
pub struct LstmSequence {
    /// h_t of every step, zero at padded steps, `[B, T, H]`.
    pub outputs: Tensor<3>,
    /// The final hidden state (after each sequence's last real step), `[B, H]`.
    pub hidden: Tensor<2>,
    /// The final cell state, `[B, H]`.
    pub cell: Tensor<2>,
}

/// The inputs of the LSTM sequence op (weights in burn's `Linear` layout, `[in, out]`).
#[derive(Debug, Clone)]
pub struct LstmInputs {
    /// x, `[B, T, I]`.
    pub input: Tensor<3>,
    /// W_ih, `[I, 4H]`, gates in the order i, f, g, o.
    pub w_ih: Tensor<2>,
    /// b_ih, `[4H]`.
    pub b_ih: Tensor<1>,
    /// W_hh, `[H, 4H]`.
    pub w_hh: Tensor<2>,
    /// b_hh, `[4H]`.
    pub b_hh: Tensor<1>,
    /// h_0, `[B, H]`.
    pub h0: Tensor<2>,
    /// c_0, `[B, H]`.
    pub c0: Tensor<2>,
}

/// Runs the LSTM over the whole sequence in one operation (see the module formula).
///
/// `lengths`: B values in 1..=T (`None`: all T); `reverse`: run from the last step to the first.
/// Returns `None` where the kernel does not apply (see the module doc).
///
/// # Shapes
/// - input `[B, T, I]`, outputs `[B, T, H]`, hidden and cell `[B, H]`
pub fn lstm_sequence(
    inputs: &LstmInputs,
    lengths: Option<&[usize]>,
    reverse: bool,
) -> Option<LstmSequence> {
    lstm_sequence_in_chunks(inputs, lengths, reverse, None)
}

/// [`lstm_sequence`] with the batch cut into `chunks` parts of consecutive rows, each run
/// (forward sequence, back propagation through time, its share of the weight gradients) on its
/// own rayon task (`None`: one chunk per rayon thread, see [`default_chunks`]; clamped to
/// 1..=B). The chunking changes only the rounding of the weight gradients (summed over the
/// chunks in chunk order): the same inputs and chunk count give the same numbers on every run.
///
/// # Shapes
/// - as [`lstm_sequence`]
pub fn lstm_sequence_in_chunks(
    inputs: &LstmInputs,
    lengths: Option<&[usize]>,
    reverse: bool,
    chunks: Option<usize>,
) -> Option<LstmSequence> {
    let [batch, steps, d_in] = inputs.input.dims();
    let [w_in, four_h] = inputs.w_ih.dims();
    let h = four_h / 4;
    let shapes_ok = steps > 0
        && batch > 0
        && w_in == d_in
        && four_h == 4 * h
        && inputs.w_hh.dims() == [h, four_h]
        && inputs.b_ih.dims() == [four_h]
        && inputs.b_hh.dims() == [four_h]
        && inputs.h0.dims() == [batch, h]
        && inputs.c0.dims() == [batch, h]
        && lengths.is_none_or(|l| l.len() == batch);
    if !shapes_ok {
        return None;
    }
    let dims = Dims {
        b: batch,
        t: steps,
        i: d_in,
        h,
    };
    let mask = lengths.map(|l| {
        (0..batch * steps)
            .map(|k| k % steps < l[k / steps])
            .collect::<Vec<bool>>()
    });
    let chunks = chunks.unwrap_or_else(|| default_chunks(batch));
    let setup = Setup {
        dims,
        mask,
        reverse,
        bounds: chunk_bounds(batch, chunks),
    };
    let packed = autodiff::<NoCheckpointing>(inputs, &setup)
        .or_else(|| autodiff::<BalancedCheckpointing>(inputs, &setup))
        .or_else(|| plain(inputs, &setup))?;
    let outputs = unpack(&packed, 0, steps);
    let hidden = unpack(&packed, steps, 1).reshape([batch, h]);
    let cell = unpack(&packed, steps + 1, 1).reshape([batch, h]);
    Some(LstmSequence {
        outputs,
        hidden,
        cell,
    })
}

/// `packed.narrow(1, start, len)` for the parts of the kernel's packed output. On Flex autodiff
/// tensors this is a node of its own whose backward writes the packed-size gradient into a
/// zeroed buffer from the f32 pool, which the kernel's backward gives back: burn's `narrow`
/// backward allocates a fresh zero tensor of the packed size instead (calloc, an aligned copy
/// and page faults: ~4% of the benchmark's single-thread step, measured with perf), serial work
/// that the batch split does not shorten.
fn unpack(packed: &Tensor<3>, start: usize, len: usize) -> Tensor<3> {
    unpack_autodiff::<NoCheckpointing>(packed, start, len)
        .or_else(|| unpack_autodiff::<BalancedCheckpointing>(packed, start, len))
        .unwrap_or_else(|| packed.clone().narrow(1, start, len))
}

fn unpack_autodiff<C: CheckpointStrategy>(
    packed: &Tensor<3>,
    start: usize,
    len: usize,
) -> Option<Tensor<3>>
where
    DispatchTensor: DispatchKindConversion<Autodiff<Flex, C>>,
{
    let dims = packed.dims();
    let tensor = packed
        .clone()
        .try_into_primitive::<Autodiff<Flex, C>>()
        .ok()?;
    let dtype = tensor.primitive().dtype();
    let guard = tensor.node();
    let part = Tensor::<3>::from_primitive::<Flex>(tensor.into_primitive())
        .narrow(1, start, len)
        .try_into_primitive::<Flex>()
        .ok()?;
    let state = (start, len, dims);
    let out = match dtype {
        DType::F32 => finish_unpack::<f32, C>(guard, part, state),
        DType::F64 => finish_unpack::<f64, C>(guard, part, state),
        _ => return None,
    };
    Some(Tensor::from_primitive::<Autodiff<Flex, C>>(out))
}

fn finish_unpack<T: Real, C: CheckpointStrategy>(
    guard: burn::backend::autodiff::ops::NodeGuard,
    part: FlexTensor,
    state: (usize, usize, [usize; 3]),
) -> <Autodiff<Flex, C> as BackendTypes>::FloatTensorPrimitive {
    match UnpackBackward::<T>::default()
        .prepare::<C>([guard])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(state, part),
        OpsKind::UnTracked(prep) => prep.finish(part),
    }
}

/// The backward step of [`unpack`]: the part's gradient placed in a zeroed packed-size buffer.
#[derive(Debug)]
struct UnpackBackward<T>(core::marker::PhantomData<T>);

impl<T> Default for UnpackBackward<T> {
    fn default() -> Self {
        Self(core::marker::PhantomData)
    }
}

impl<T: Real> Backward<Flex, 1> for UnpackBackward<T> {
    /// start, len, the packed dims `[B, T + 2, H]`.
    type State = (usize, usize, [usize; 3]);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (start, len, [b, rows, h]) = ops.state;
        let grad = grads.consume::<Flex>(&ops.node);
        let [Some(parent)] = &ops.parents else {
            return;
        };
        let grad = flex_values::<T>(grad).expect("the part's gradient has the op's dtype");
        let mut full = T::buffer(b * rows * h);
        for bb in 0..b {
            full[(bb * rows + start) * h..(bb * rows + start + len) * h]
                .copy_from_slice(&grad[bb * len * h..(bb + 1) * len * h]);
        }
        grads.register::<Flex>(parent.id, flex_tensor(full, vec![b, rows, h]));
    }
}

/// Sizes: batch, steps, input features, hidden size.
#[derive(Debug, Clone, Copy)]
struct Dims {
    b: usize,
    t: usize,
    i: usize,
    h: usize,
}

#[derive(Debug, Clone)]
struct Setup {
    dims: Dims,
    /// `[B, T]`, true at real steps (`None`: all real).
    mask: Option<Vec<bool>>,
    reverse: bool,
    /// The chunks of batch rows run on separate threads: chunk k holds rows
    /// `bounds[k]..bounds[k + 1]`. Every per-step buffer is laid out chunk after chunk, each
    /// chunk time-major (`[T, rows, ·]`), so that a chunk's rows are contiguous; with one chunk
    /// this is the plain time-major `[T, B, ·]`.
    bounds: Vec<usize>,
}

/// Batch rows below which a chunk is not worth a thread of its own.
const MIN_CHUNK_ROWS: usize = 8;

/// The number of chunks [`lstm_sequence`] uses for a batch of `batch` rows: one per rayon
/// thread, as long as each chunk has at least 8 rows (`MIN_CHUNK_ROWS`).
pub fn default_chunks(batch: usize) -> usize {
    (batch / MIN_CHUNK_ROWS).clamp(1, rayon::current_num_threads().max(1))
}

/// The bounds of `chunks` chunks of consecutive rows of a batch of `batch` (clamped to
/// 1..=batch): as even as possible; with 16 rows or more per chunk the bounds are rounded to
/// multiples of 8 (the row block of the AVX-512 product) so that no chunk adds a partial block.
fn chunk_bounds(batch: usize, chunks: usize) -> Vec<usize> {
    let chunks = chunks.clamp(1, batch.max(1));
    let align = batch / chunks >= 16;
    (0..=chunks)
        .map(|k| {
            let at = k * batch / chunks;
            if align && k > 0 && k < chunks {
                (at + 4) / 8 * 8
            } else {
                at
            }
        })
        .collect()
}

impl Setup {
    fn real(&self, b: usize, t: usize) -> bool {
        self.mask.as_ref().is_none_or(|m| m[b * self.dims.t + t])
    }

    /// The step visited at position `s` of the run.
    fn step(&self, s: usize) -> usize {
        if self.reverse { self.dims.t - 1 - s } else { s }
    }
}

/// The seven tensors as primitives of backend `B`, or `None` if any does not convert.
fn primitives<B: Backend>(inputs: &LstmInputs) -> Option<[B::FloatTensorPrimitive; 7]>
where
    DispatchTensor: DispatchKindConversion<B>,
{
    Some([
        inputs.input.clone().try_into_primitive::<B>().ok()?,
        inputs.w_ih.clone().try_into_primitive::<B>().ok()?,
        inputs.b_ih.clone().try_into_primitive::<B>().ok()?,
        inputs.w_hh.clone().try_into_primitive::<B>().ok()?,
        inputs.b_hh.clone().try_into_primitive::<B>().ok()?,
        inputs.h0.clone().try_into_primitive::<B>().ok()?,
        inputs.c0.clone().try_into_primitive::<B>().ok()?,
    ])
}

/// Inference on plain Flex tensors: the forward only.
fn plain(inputs: &LstmInputs, setup: &Setup) -> Option<Tensor<3>> {
    let prims = primitives::<Flex>(inputs)?;
    let out = match prims[0].dtype() {
        DType::F32 => forward::<f32>(prims, setup, false)?.0,
        DType::F64 => forward::<f64>(prims, setup, false)?.0,
        _ => return None,
    };
    Some(Tensor::from_primitive::<Flex>(out))
}

/// Training on `Autodiff<Flex, C>` tensors: the forward, and the backward registered as one node.
fn autodiff<C: CheckpointStrategy>(inputs: &LstmInputs, setup: &Setup) -> Option<Tensor<3>>
where
    DispatchTensor: DispatchKindConversion<Autodiff<Flex, C>>,
{
    let tensors = primitives::<Autodiff<Flex, C>>(inputs)?;
    let dtype = tensors[0].primitive().dtype();
    let guards = tensors.each_ref().map(|t| t.node());
    let prims = tensors.map(|t| t.into_primitive());
    let out = match dtype {
        DType::F32 => finish::<f32, C>(guards, prims, setup)?,
        DType::F64 => finish::<f64, C>(guards, prims, setup)?,
        _ => return None,
    };
    Some(Tensor::from_primitive::<Autodiff<Flex, C>>(out))
}

fn finish<T: Real, C: CheckpointStrategy>(
    guards: [burn::backend::autodiff::ops::NodeGuard; 7],
    prims: [FlexTensor; 7],
    setup: &Setup,
) -> Option<<Autodiff<Flex, C> as BackendTypes>::FloatTensorPrimitive> {
    match LstmBackward::<T>::default()
        .prepare::<C>(guards)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (out, tape) = forward::<T>(prims, setup, true)?;
            Some(prep.finish(Arc::new(tape.expect("the tape was asked for")), out))
        }
        OpsKind::UnTracked(prep) => Some(prep.finish(forward::<T>(prims, setup, false)?.0)),
    }
}

/// What the backward pass needs from the forward one (per-chunk time-major buffers, see
/// [`Setup::bounds`]).
#[derive(Debug)]
struct Tape<T: Real> {
    setup: Setup,
    /// x transposed to `[T, B, I]` (per chunk).
    xt: Vec<T>,
    w_ih: Vec<T>,
    w_hh: Vec<T>,
    /// Activated gates i, f, g, o, `[T, B, 4H]` (per chunk).
    gates: Vec<T>,
    /// h_{t−1} and c_{t−1} (the state each step started from), `[T, B, H]` (per chunk).
    h_prev: Vec<T>,
    c_prev: Vec<T>,
    /// tanh c_t, `[T, B, H]` (per chunk).
    tanh_c: Vec<T>,
}

impl<T: Real> Drop for Tape<T> {
    fn drop(&mut self) {
        for buffer in [
            &mut self.xt,
            &mut self.gates,
            &mut self.h_prev,
            &mut self.c_prev,
            &mut self.tanh_c,
        ] {
            T::recycle(std::mem::take(buffer));
        }
    }
}

/// The forward pass on Flex primitives; returns the packed output `[B, T + 2, H]` (outputs, then
/// the final h, then the final c) and, with `keep`, the tape. Each chunk of batch rows runs its
/// whole sequence on its own thread (see [`Setup::bounds`]).
#[allow(clippy::type_complexity)]
fn forward<T: Real>(
    prims: [FlexTensor; 7],
    setup: &Setup,
    keep: bool,
) -> Option<(FlexTensor, Option<Tape<T>>)> {
    let Dims { b, t, i, h } = setup.dims;
    let g4 = 4 * h;
    let [x, w_ih, b_ih, w_hh, b_hh, h0, c0] = prims;
    let x = flex_values::<T>(x)?;
    let w_ih = flex_values::<T>(w_ih)?;
    let b_ih = flex_values::<T>(b_ih)?;
    let w_hh = flex_values::<T>(w_hh)?;
    let b_hh = flex_values::<T>(b_hh)?;
    let mut hs = flex_values::<T>(h0)?;
    let mut cs = flex_values::<T>(c0)?;
    let bias: Vec<T> = b_ih.iter().zip(&b_hh).map(|(&u, &v)| u + v).collect();

    let mut xt = T::scratch(t * b * i);
    let mut gates = T::scratch(t * b * g4);
    let state_len = if keep { t * b * h } else { 0 };
    let state_row = if keep { t * h } else { 0 };
    let mut h_prev = T::scratch(state_len);
    let mut c_prev = T::scratch(state_len);
    // (rows of padded steps are left as they are: the backward pass does not read them)
    let mut tanh_c = T::scratch(state_len);
    let mut packed = vec![T::ZERO; b * (t + 2) * h];
    {
        let bounds = &setup.bounds;
        let mut xt_p = split_parts_iter(&mut xt, bounds, t * i);
        let mut gates_p = split_parts_iter(&mut gates, bounds, t * g4);
        let mut h_prev_p = split_parts_iter(&mut h_prev, bounds, state_row);
        let mut c_prev_p = split_parts_iter(&mut c_prev, bounds, state_row);
        let mut tanh_c_p = split_parts_iter(&mut tanh_c, bounds, state_row);
        let mut hs_p = split_parts_iter(&mut hs, bounds, h);
        let mut cs_p = split_parts_iter(&mut cs, bounds, h);
        let mut packed_p = split_parts_iter(&mut packed, bounds, (t + 2) * h);
        let parts: Vec<ForwardPart<'_, T>> = bounds
            .windows(2)
            .map(|w| ForwardPart {
                first: w[0],
                rows: w[1] - w[0],
                x: &x[w[0] * t * i..w[1] * t * i],
                xt: xt_p.next().expect("one part per chunk"),
                gates: gates_p.next().expect("one part per chunk"),
                h_prev: h_prev_p.next().expect("one part per chunk"),
                c_prev: c_prev_p.next().expect("one part per chunk"),
                tanh_c: tanh_c_p.next().expect("one part per chunk"),
                hs: hs_p.next().expect("one part per chunk"),
                cs: cs_p.next().expect("one part per chunk"),
                packed: packed_p.next().expect("one part per chunk"),
            })
            .collect();
        let weights = Weights {
            w_ih: &w_ih,
            w_hh: &w_hh,
            bias: &bias,
        };
        in_parts(parts, |part| forward_part(part, setup, &weights, keep));
    }
    let out = flex_tensor(packed, vec![b, t + 2, h]);
    if !keep {
        for buffer in [xt, gates, h_prev, c_prev, tanh_c] {
            T::recycle(buffer);
        }
        return Some((out, None));
    }
    let tape = Some(Tape {
        setup: setup.clone(),
        xt,
        w_ih,
        w_hh,
        gates,
        h_prev,
        c_prev,
        tanh_c,
    });
    Some((out, tape))
}

/// The weights as the forward pass reads them.
struct Weights<'a, T> {
    /// `[I, 4H]`.
    w_ih: &'a [T],
    /// `[H, 4H]`.
    w_hh: &'a [T],
    /// b_ih + b_hh, `[4H]`.
    bias: &'a [T],
}

/// One chunk's share of the forward pass: batch rows `first..first + rows`; buffers in the
/// chunk's time-major layout `[T, rows, ·]` except `x`, `packed` (batch-major, as the tensors)
/// and the states `hs`, `cs` (`[rows, H]`).
struct ForwardPart<'a, T> {
    first: usize,
    rows: usize,
    /// `[rows, T, I]`.
    x: &'a [T],
    xt: &'a mut [T],
    gates: &'a mut [T],
    h_prev: &'a mut [T],
    c_prev: &'a mut [T],
    tanh_c: &'a mut [T],
    hs: &'a mut [T],
    cs: &'a mut [T],
    /// `[rows, T + 2, H]`.
    packed: &'a mut [T],
}

/// The whole sequence for one chunk of the batch (the module formula).
fn forward_part<T: Real>(p: ForwardPart<'_, T>, setup: &Setup, w: &Weights<'_, T>, keep: bool) {
    let Dims { t, i, h, .. } = setup.dims;
    let (n, g4) = (p.rows, 4 * h);
    let ForwardPart {
        x,
        xt,
        gates,
        h_prev,
        c_prev,
        tanh_c,
        hs,
        cs,
        packed,
        ..
    } = p;
    // x [n, T, I] → [T, n, I].
    for bb in 0..n {
        for tt in 0..t {
            xt[(tt * n + bb) * i..(tt * n + bb + 1) * i]
                .copy_from_slice(&x[(bb * t + tt) * i..(bb * t + tt + 1) * i]);
        }
    }
    // G = X W_ih + b_ih + b_hh for every step at once.
    for row in gates.chunks_exact_mut(g4) {
        row.copy_from_slice(w.bias);
    }
    matmul(
        t * n,
        g4,
        i,
        gates,
        g4,
        true,
        View::rows(xt, i),
        View::rows(w.w_ih, g4),
    );
    let mut scratch = vec![T::ZERO; h];
    for s in 0..t {
        let tt = setup.step(s);
        let g_t = &mut gates[tt * n * g4..(tt + 1) * n * g4];
        // (the product is zero at the first step from a zero state)
        if s > 0 || hs.iter().any(|&v| v != T::ZERO) {
            matmul(
                n,
                g4,
                h,
                g_t,
                g4,
                true,
                View::rows(hs, h),
                View::rows(w.w_hh, g4),
            );
        }
        if keep {
            h_prev[tt * n * h..(tt + 1) * n * h].copy_from_slice(hs);
            c_prev[tt * n * h..(tt + 1) * n * h].copy_from_slice(cs);
        }
        for bb in 0..n {
            if !setup.real(p.first + bb, tt) {
                continue;
            }
            let row = &mut g_t[bb * g4..(bb + 1) * g4];
            let c = &mut cs[bb * h..(bb + 1) * h];
            let hrow = &mut hs[bb * h..(bb + 1) * h];
            let tc = if keep {
                &mut tanh_c[(tt * n + bb) * h..(tt * n + bb + 1) * h]
            } else {
                &mut scratch[..]
            };
            cell_forward(row, c, hrow, tc);
            packed[(bb * (t + 2) + tt) * h..(bb * (t + 2) + tt + 1) * h].copy_from_slice(hrow);
        }
    }
    for bb in 0..n {
        let base = bb * (t + 2) * h;
        packed[base + t * h..base + (t + 1) * h].copy_from_slice(&hs[bb * h..(bb + 1) * h]);
        packed[base + (t + 1) * h..base + (t + 2) * h].copy_from_slice(&cs[bb * h..(bb + 1) * h]);
    }
}

/// `buffer` cut into the chunks' parts (`per_row` values per batch row, chunks at `bounds`).
fn split_parts<'a, T>(
    mut buffer: &'a mut [T],
    bounds: &[usize],
    per_row: usize,
) -> Vec<&'a mut [T]> {
    let mut parts = Vec::with_capacity(bounds.len() - 1);
    for w in bounds.windows(2) {
        let (part, rest) = std::mem::take(&mut buffer).split_at_mut((w[1] - w[0]) * per_row);
        parts.push(part);
        buffer = rest;
    }
    parts
}

/// [`split_parts`] as an iterator.
fn split_parts_iter<'a, T>(
    buffer: &'a mut [T],
    bounds: &[usize],
    per_row: usize,
) -> std::vec::IntoIter<&'a mut [T]> {
    split_parts(buffer, bounds, per_row).into_iter()
}

/// `f` on every part, on rayon's threads when there are several; the results in part order.
fn in_parts<P: Send, R: Send>(parts: Vec<P>, f: impl Fn(P) -> R + Sync + Send) -> Vec<R> {
    if parts.len() == 1 {
        parts.into_iter().map(f).collect()
    } else {
        parts.into_par_iter().map(f).collect()
    }
}

/// The backward step of the op (inputs: x, W_ih, b_ih, W_hh, b_hh, h_0, c_0).
#[derive(Debug)]
struct LstmBackward<T>(core::marker::PhantomData<T>);

impl<T> Default for LstmBackward<T> {
    fn default() -> Self {
        Self(core::marker::PhantomData)
    }
}

/// Gradients of the seven inputs (`None` where not asked for).
struct InputGrads<T> {
    x: Option<Vec<T>>,
    w_ih: Option<Vec<T>>,
    bias: Option<Vec<T>>,
    w_hh: Option<Vec<T>>,
    h0: Vec<T>,
    c0: Vec<T>,
}

impl<T: Real> Backward<Flex, 7> for LstmBackward<T> {
    type State = Arc<Tape<T>>;

    fn backward(self, ops: Ops<Self::State, 7>, grads: &mut Gradients, _: &mut Checkpointer) {
        let tape = ops.state;
        let d_out = grads.consume::<Flex>(&ops.node);
        let d_out = flex_values::<T>(d_out).expect("the output gradient has the op's dtype");
        let need = ops.parents.each_ref().map(Option::is_some);
        let g = backward(&tape, &d_out, need);
        T::recycle(d_out);
        let Dims { b, t, i, h } = tape.setup.dims;
        let g4 = 4 * h;
        let shapes: [Vec<usize>; 7] = [
            vec![b, t, i],
            vec![i, g4],
            vec![g4],
            vec![h, g4],
            vec![g4],
            vec![b, h],
            vec![b, h],
        ];
        let values = [
            g.x,
            g.w_ih,
            g.bias.clone(),
            g.w_hh,
            g.bias,
            Some(g.h0),
            Some(g.c0),
        ];
        for ((parent, value), shape) in ops.parents.iter().zip(values).zip(shapes) {
            if let (Some(node), Some(value)) = (parent, value) {
                grads.register::<Flex>(node.id, flex_tensor(value, shape));
            }
        }
    }
}

/// Back propagation through time on the tape; `d_out` is ∂L/∂(packed output). Each chunk of
/// batch rows runs its whole backward sequence and its share of the weight gradients on its own
/// thread; the chunks' weight gradients are then summed in chunk order.
fn backward<T: Real>(tape: &Tape<T>, d_out: &[T], need: [bool; 7]) -> InputGrads<T> {
    let setup = &tape.setup;
    let Dims { b, t, i, h } = setup.dims;
    let g4 = 4 * h;
    let bounds = &setup.bounds;
    let mut dh = vec![T::ZERO; b * h];
    let mut dc = vec![T::ZERO; b * h];
    let mut d_gates = T::scratch(t * b * g4);
    let mut dx = vec![T::ZERO; if need[0] { b * t * i } else { 0 }];
    // W_hhᵀ and W_ihᵀ row-major, so that the products below read their right operand by rows.
    let w_hh_t = transpose(&tape.w_hh, h, g4);
    let w_ih_t = if need[0] {
        transpose(&tape.w_ih, i, g4)
    } else {
        Vec::new()
    };
    let sums = {
        let mut d_gates_p = split_parts_iter(&mut d_gates, bounds, t * g4);
        let mut dh_p = split_parts_iter(&mut dh, bounds, h);
        let mut dc_p = split_parts_iter(&mut dc, bounds, h);
        let mut dx_p = split_parts_iter(&mut dx, bounds, if need[0] { t * i } else { 0 });
        let parts: Vec<BackwardPart<'_, T>> = bounds
            .windows(2)
            .map(|w| {
                let rows = |per_row: usize| w[0] * per_row..w[1] * per_row;
                BackwardPart {
                    first: w[0],
                    rows: w[1] - w[0],
                    xt: &tape.xt[rows(t * i)],
                    gates: &tape.gates[rows(t * g4)],
                    h_prev: &tape.h_prev[rows(t * h)],
                    c_prev: &tape.c_prev[rows(t * h)],
                    tanh_c: &tape.tanh_c[rows(t * h)],
                    d_out: &d_out[rows((t + 2) * h)],
                    d_gates: d_gates_p.next().expect("one part per chunk"),
                    dh: dh_p.next().expect("one part per chunk"),
                    dc: dc_p.next().expect("one part per chunk"),
                    dx: dx_p.next().expect("one part per chunk"),
                }
            })
            .collect();
        in_parts(parts, |part| {
            backward_part(part, setup, &w_hh_t, &w_ih_t, need)
        })
    };
    T::recycle(d_gates);
    // The chunks' weight gradients, summed in chunk order (the same numbers on every run).
    let mut sums = sums.into_iter();
    let mut total = sums.next().expect("at least one chunk");
    for part in sums {
        for (acc, add) in [
            (&mut total.w_ih, part.w_ih),
            (&mut total.w_hh, part.w_hh),
            (&mut total.bias, part.bias),
        ] {
            if let (Some(acc), Some(add)) = (acc.as_mut(), add) {
                for (a, v) in acc.iter_mut().zip(add) {
                    *a += v;
                }
            }
        }
    }
    InputGrads {
        x: need[0].then_some(dx),
        w_ih: total.w_ih,
        bias: total.bias,
        w_hh: total.w_hh,
        h0: dh,
        c0: dc,
    }
}

/// One chunk's share of the backward pass: batch rows `first..first + rows`; tape buffers and
/// `d_gates` in the chunk's time-major layout `[T, rows, ·]`, `d_out` `[rows, T + 2, H]`, `dh`
/// and `dc` `[rows, H]` (∂L/∂h₀ and ∂L/∂c₀ when done), `dx` `[rows, T, I]` (empty if not asked
/// for).
struct BackwardPart<'a, T> {
    first: usize,
    rows: usize,
    xt: &'a [T],
    gates: &'a [T],
    h_prev: &'a [T],
    c_prev: &'a [T],
    tanh_c: &'a [T],
    d_out: &'a [T],
    d_gates: &'a mut [T],
    dh: &'a mut [T],
    dc: &'a mut [T],
    dx: &'a mut [T],
}

/// One chunk's weight gradients (`None` where not asked for).
struct WeightGrads<T> {
    w_ih: Option<Vec<T>>,
    w_hh: Option<Vec<T>>,
    bias: Option<Vec<T>>,
}

/// Back propagation through time for one chunk of the batch, then its ∂x and its share of the
/// weight gradients.
fn backward_part<T: Real>(
    p: BackwardPart<'_, T>,
    setup: &Setup,
    w_hh_t: &[T],
    w_ih_t: &[T],
    need: [bool; 7],
) -> WeightGrads<T> {
    let Dims { t, i, h, .. } = setup.dims;
    let (n, g4) = (p.rows, 4 * h);
    let BackwardPart {
        xt,
        gates,
        h_prev,
        c_prev,
        tanh_c,
        d_out,
        d_gates,
        dh,
        dc,
        dx,
        ..
    } = p;
    for bb in 0..n {
        let base = bb * (t + 2) * h;
        dh[bb * h..(bb + 1) * h].copy_from_slice(&d_out[base + t * h..base + (t + 1) * h]);
        dc[bb * h..(bb + 1) * h].copy_from_slice(&d_out[base + (t + 1) * h..base + (t + 2) * h]);
    }
    let mut dh_next = vec![T::ZERO; n * h];
    for s in (0..t).rev() {
        let tt = setup.step(s);
        let dg_t = &mut d_gates[tt * n * g4..(tt + 1) * n * g4];
        for bb in 0..n {
            if !setup.real(p.first + bb, tt) {
                // A padded step: no gate gradient.
                dg_t[bb * g4..(bb + 1) * g4].fill(T::ZERO);
                continue;
            }
            let row = (tt * n + bb) * h;
            cell_backward(
                &gates[(tt * n + bb) * g4..(tt * n + bb + 1) * g4],
                &tanh_c[row..row + h],
                &c_prev[row..row + h],
                &d_out[(bb * (t + 2) + tt) * h..(bb * (t + 2) + tt + 1) * h],
                &mut dh[bb * h..(bb + 1) * h],
                &mut dc[bb * h..(bb + 1) * h],
                &mut dg_t[bb * g4..(bb + 1) * g4],
            );
        }
        if s == 0 && !need[5] {
            // δh_0 is not asked for.
            break;
        }
        // δh_{t−1} = δG_t W_hhᵀ for the sequences whose step t is real; the others carry δh on.
        matmul(
            n,
            h,
            g4,
            &mut dh_next,
            h,
            false,
            View::rows(dg_t, g4),
            View::rows(w_hh_t, h),
        );
        for bb in 0..n {
            if setup.real(p.first + bb, tt) {
                dh[bb * h..(bb + 1) * h].copy_from_slice(&dh_next[bb * h..(bb + 1) * h]);
            }
        }
    }
    let rows = t * n;
    let d_gates = &*d_gates;
    if need[0] {
        let mut dxt = T::scratch(rows * i);
        matmul(
            rows,
            i,
            g4,
            &mut dxt,
            i,
            false,
            View::rows(d_gates, g4),
            View::rows(w_ih_t, i),
        );
        for bb in 0..n {
            for tt in 0..t {
                dx[(bb * t + tt) * i..(bb * t + tt + 1) * i]
                    .copy_from_slice(&dxt[(tt * n + bb) * i..(tt * n + bb + 1) * i]);
            }
        }
        T::recycle(dxt);
    }
    let w_ih = need[1].then(|| {
        let mut dw = vec![T::ZERO; i * g4];
        matmul(
            i,
            g4,
            rows,
            &mut dw,
            g4,
            false,
            View::transposed(xt, i),
            View::rows(d_gates, g4),
        );
        dw
    });
    let w_hh = need[3].then(|| {
        let mut dw = vec![T::ZERO; h * g4];
        matmul(
            h,
            g4,
            rows,
            &mut dw,
            g4,
            false,
            View::transposed(h_prev, h),
            View::rows(d_gates, g4),
        );
        dw
    });
    let bias = (need[2] || need[4]).then(|| {
        let mut db = vec![T::ZERO; g4];
        for row in d_gates.chunks_exact(g4) {
            for (acc, &v) in db.iter_mut().zip(row) {
                *acc += v;
            }
        }
        db
    });
    WeightGrads { w_ih, w_hh, bias }
}

/// Whether the CPU has AVX2 and FMA (checked once).
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static AVX2: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVX2.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the CPU has AVX-512F besides AVX2 and FMA.
fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        has_avx2() && super::avx512_available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

simd_dispatch! {
    /// One sequence's step after the products: activates its gates `row` (i, f, g, o, in place),
    /// updates c (in place), writes tanh c_t to `tc` and h_t to `h_row`.
    fn cell_forward<T: Real>(row: &mut [T], c: &mut [T], h_row: &mut [T], tc: &mut [T]) => cell_forward_body,
    [("avx512f,avx2,fma", has_avx512()), ("avx2,fma", has_avx2())]
}

#[inline(always)]
fn cell_forward_body<T: Real>(row: &mut [T], c: &mut [T], h_row: &mut [T], tc: &mut [T]) {
    let h = c.len();
    let (ig, rest) = row.split_at_mut(h);
    let (fg, rest) = rest.split_at_mut(h);
    let (gg, og) = rest.split_at_mut(h);
    sigmoid_in_place(ig);
    sigmoid_in_place(fg);
    tanh_in_place(gg);
    sigmoid_in_place(og);
    let (og, h_row, tc) = (&og[..h], &mut h_row[..h], &mut tc[..h]);
    for j in 0..h {
        c[j] = fg[j] * c[j] + ig[j] * gg[j];
        tc[j] = c[j];
    }
    tanh_in_place(tc);
    for j in 0..h {
        h_row[j] = og[j] * tc[j];
    }
}

simd_dispatch! {
    /// One sequence's step of the backward pass: from δh (carried + ∂L/∂y_t) and δc to the gate
    /// gradients `dg` (i, f, g, o before activation), and δc_{t−1} (in place in `dc`).
    fn cell_backward<T: Real>(
        gates: &[T],
        tc: &[T],
        c_prev: &[T],
        dy: &[T],
        dh: &mut [T],
        dc: &mut [T],
        dg: &mut [T],
    ) => cell_backward_body,
    [("avx512f,avx2,fma", has_avx512()), ("avx2,fma", has_avx2())]
}

#[inline(always)]
fn cell_backward_body<T: Real>(
    gates: &[T],
    tc: &[T],
    c_prev: &[T],
    dy: &[T],
    dh: &mut [T],
    dc: &mut [T],
    dg: &mut [T],
) {
    let h = dc.len();
    let (ig, rest) = gates.split_at(h);
    let (fg, rest) = rest.split_at(h);
    let (gg, og) = rest.split_at(h);
    let (dgi, rest) = dg.split_at_mut(h);
    let (dgf, rest) = rest.split_at_mut(h);
    let (dgg, dgo) = rest.split_at_mut(h);
    let (og, tc, c_prev, dy, dh) = (&og[..h], &tc[..h], &c_prev[..h], &dy[..h], &dh[..h]);
    let dgo = &mut dgo[..h];
    let one = T::ONE;
    for j in 0..h {
        let dhj = dh[j] + dy[j];
        let (iv, fv, gv, ov, tcj) = (ig[j], fg[j], gg[j], og[j], tc[j]);
        let dcj = dc[j] + dhj * ov * (one - tcj * tcj);
        dgi[j] = dcj * gv * iv * (one - iv);
        dgf[j] = dcj * c_prev[j] * fv * (one - fv);
        dgg[j] = dcj * iv * (one - gv * gv);
        dgo[j] = dhj * tcj * ov * (one - ov);
        dc[j] = dcj * fv;
    }
}

/// The transpose `[cols, rows]` of a row-major `[rows, cols]` matrix.
fn transpose<T: Real>(m: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut t = vec![T::ZERO; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = m[r * cols + c];
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;

    #[test]
    fn chunk_bounds_are_even_and_aligned() {
        assert_eq!(chunk_bounds(64, 2), [0, 32, 64]);
        assert_eq!(chunk_bounds(100, 2), [0, 48, 100]);
        assert_eq!(chunk_bounds(13, 3), [0, 4, 8, 13]);
        assert_eq!(chunk_bounds(3, 5), [0, 1, 2, 3]);
        assert_eq!(chunk_bounds(7, 1), [0, 7]);
        assert_eq!(default_chunks(7), 1);
    }

    /// Values of a tensor as f64.
    fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
        t.into_data()
            .convert::<f64>()
            .try_to_vec::<f64>()
            .expect("float data")
    }

    /// The batch split into 2, 3 and 5 uneven chunks (13 rows, padded sequences, both
    /// directions) gives the single-chunk values and gradients of all seven inputs, and the same
    /// chunking gives bit-identical numbers on a second run.
    #[test]
    fn chunked_batch_matches_one_chunk() {
        let device = Device::flex().autodiff();
        device.seed(31);
        let (batch, steps, d_in, h) = (13, 6, 3, 5);
        let normal = Distribution::Normal(0.0, 1.0);
        let random2 = |dims: [usize; 2]| Tensor::<2>::random(dims, normal, &device);
        let random1 = |n: usize| Tensor::<1>::random([n], normal, &device);
        let x = Tensor::<3>::random([batch, steps, d_in], normal, &device);
        let (w_ih, w_hh) = (random2([d_in, 4 * h]) * 0.5, random2([h, 4 * h]) * 0.5);
        let (b_ih, b_hh) = (random1(4 * h), random1(4 * h));
        let (h0, c0) = (random2([batch, h]), random2([batch, h]));
        let r_out = Tensor::<3>::random([batch, steps, h], normal, &device);
        let (r_h, r_c) = (random2([batch, h]), random2([batch, h]));
        let lengths = [6usize, 2, 4, 6, 1, 5, 3, 6, 6, 2, 4, 5, 6];
        for reverse in [false, true] {
            for lengths in [None, Some(&lengths[..])] {
                let run = |chunks: usize| {
                    let inputs = LstmInputs {
                        input: x.clone().require_grad(),
                        w_ih: w_ih.clone().require_grad(),
                        b_ih: b_ih.clone().require_grad(),
                        w_hh: w_hh.clone().require_grad(),
                        b_hh: b_hh.clone().require_grad(),
                        h0: h0.clone().require_grad(),
                        c0: c0.clone().require_grad(),
                    };
                    let out = lstm_sequence_in_chunks(&inputs, lengths, reverse, Some(chunks))
                        .expect("the kernel applies on Flex autodiff");
                    let loss = (out.outputs.clone() * r_out.clone()).sum()
                        + (out.hidden.clone() * r_h.clone()).sum()
                        + (out.cell.clone() * r_c.clone()).sum();
                    let grads = loss.backward();
                    let g1 = |t: &Tensor<1>| values(t.grad(&grads).expect("grad"));
                    let g2 = |t: &Tensor<2>| values(t.grad(&grads).expect("grad"));
                    vec![
                        ("outputs", values(out.outputs)),
                        ("final h", values(out.hidden)),
                        ("final c", values(out.cell)),
                        ("∂x", values(inputs.input.grad(&grads).expect("grad"))),
                        ("∂W_ih", g2(&inputs.w_ih)),
                        ("∂b_ih", g1(&inputs.b_ih)),
                        ("∂W_hh", g2(&inputs.w_hh)),
                        ("∂b_hh", g1(&inputs.b_hh)),
                        ("∂h0", g2(&inputs.h0)),
                        ("∂c0", g2(&inputs.c0)),
                    ]
                };
                let one = run(1);
                for chunks in [2, 3, 5] {
                    let split = run(chunks);
                    for ((what, got), (_, want)) in split.iter().zip(&one) {
                        let worst = got
                            .iter()
                            .zip(want)
                            .map(|(a, b)| (a - b).abs())
                            .fold(0.0, f64::max);
                        assert!(
                            worst < 1e-5,
                            "{what}, {chunks} chunks (reverse {reverse}, lengths {lengths:?}): \
                             {worst:e}"
                        );
                    }
                    assert_eq!(split, run(chunks), "{chunks} chunks: not deterministic");
                }
            }
        }
    }
}
