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
    let setup = Setup {
        dims,
        mask,
        reverse,
    };
    let packed = autodiff::<NoCheckpointing>(inputs, &setup)
        .or_else(|| autodiff::<BalancedCheckpointing>(inputs, &setup))
        .or_else(|| plain(inputs, &setup))?;
    let outputs = packed.clone().narrow(1, 0, steps);
    let hidden = packed.clone().narrow(1, steps, 1).reshape([batch, h]);
    let cell = packed.narrow(1, steps + 1, 1).reshape([batch, h]);
    Some(LstmSequence {
        outputs,
        hidden,
        cell,
    })
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

/// What the backward pass needs from the forward one (time-major `[T, B, ·]` buffers).
#[derive(Debug)]
struct Tape<T: Real> {
    setup: Setup,
    /// x transposed to `[T, B, I]`.
    xt: Vec<T>,
    w_ih: Vec<T>,
    w_hh: Vec<T>,
    /// Activated gates i, f, g, o, `[T, B, 4H]`.
    gates: Vec<T>,
    /// h_{t−1} and c_{t−1} (the state each step started from), `[T, B, H]`.
    h_prev: Vec<T>,
    c_prev: Vec<T>,
    /// tanh c_t, `[T, B, H]`.
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
/// the final h, then the final c) and, with `keep`, the tape.
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

    // x [B, T, I] → [T, B, I].
    let mut xt = T::scratch(t * b * i);
    for bb in 0..b {
        for tt in 0..t {
            xt[(tt * b + bb) * i..(tt * b + bb + 1) * i]
                .copy_from_slice(&x[(bb * t + tt) * i..(bb * t + tt + 1) * i]);
        }
    }
    // G = X W_ih + b_ih + b_hh for every step at once.
    let bias: Vec<T> = b_ih.iter().zip(&b_hh).map(|(&u, &v)| u + v).collect();
    let mut gates = T::scratch(t * b * g4);
    for row in gates.chunks_exact_mut(g4) {
        row.copy_from_slice(&bias);
    }
    matmul(
        t * b,
        g4,
        i,
        &mut gates,
        g4,
        true,
        View::rows(&xt, i),
        View::rows(&w_ih, g4),
    );

    let state_len = if keep { t * b * h } else { 0 };
    let mut h_prev = T::scratch(state_len);
    let mut c_prev = T::scratch(state_len);
    // (rows of padded steps are left as they are: the backward pass does not read them)
    let mut tanh_c = T::scratch(state_len);
    let mut packed = vec![T::ZERO; b * (t + 2) * h];
    let mut scratch = vec![T::ZERO; h];
    for s in 0..t {
        let tt = setup.step(s);
        let g_t = &mut gates[tt * b * g4..(tt + 1) * b * g4];
        // (the product is zero at the first step from a zero state)
        if s > 0 || hs.iter().any(|&v| v != T::ZERO) {
            matmul(
                b,
                g4,
                h,
                g_t,
                g4,
                true,
                View::rows(&hs, h),
                View::rows(&w_hh, g4),
            );
        }
        if keep {
            h_prev[tt * b * h..(tt + 1) * b * h].copy_from_slice(&hs);
            c_prev[tt * b * h..(tt + 1) * b * h].copy_from_slice(&cs);
        }
        for bb in 0..b {
            if !setup.real(bb, tt) {
                continue;
            }
            let row = &mut g_t[bb * g4..(bb + 1) * g4];
            let c = &mut cs[bb * h..(bb + 1) * h];
            let hrow = &mut hs[bb * h..(bb + 1) * h];
            let tc = if keep {
                &mut tanh_c[(tt * b + bb) * h..(tt * b + bb + 1) * h]
            } else {
                &mut scratch[..]
            };
            cell_forward(row, c, hrow, tc);
            packed[(bb * (t + 2) + tt) * h..(bb * (t + 2) + tt + 1) * h].copy_from_slice(hrow);
        }
    }
    for bb in 0..b {
        let base = bb * (t + 2) * h;
        packed[base + t * h..base + (t + 1) * h].copy_from_slice(&hs[bb * h..(bb + 1) * h]);
        packed[base + (t + 1) * h..base + (t + 2) * h].copy_from_slice(&cs[bb * h..(bb + 1) * h]);
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

/// Back propagation through time on the tape; `d_out` is ∂L/∂(packed output).
fn backward<T: Real>(tape: &Tape<T>, d_out: &[T], need: [bool; 7]) -> InputGrads<T> {
    let setup = &tape.setup;
    let Dims { b, t, i, h } = setup.dims;
    let g4 = 4 * h;
    let mut dh = vec![T::ZERO; b * h];
    let mut dc = vec![T::ZERO; b * h];
    for bb in 0..b {
        let base = bb * (t + 2) * h;
        dh[bb * h..(bb + 1) * h].copy_from_slice(&d_out[base + t * h..base + (t + 1) * h]);
        dc[bb * h..(bb + 1) * h].copy_from_slice(&d_out[base + (t + 1) * h..base + (t + 2) * h]);
    }
    let mut d_gates = T::scratch(t * b * g4);
    let mut dh_next = vec![T::ZERO; b * h];
    // W_hhᵀ and W_ihᵀ row-major, so that the products below read their right operand by rows.
    let w_hh_t = transpose(&tape.w_hh, h, g4);
    for s in (0..t).rev() {
        let tt = setup.step(s);
        let dg_t = &mut d_gates[tt * b * g4..(tt + 1) * b * g4];
        for bb in 0..b {
            if !setup.real(bb, tt) {
                // A padded step: no gate gradient.
                dg_t[bb * g4..(bb + 1) * g4].fill(T::ZERO);
                continue;
            }
            let row = (tt * b + bb) * h;
            cell_backward(
                &tape.gates[(tt * b + bb) * g4..(tt * b + bb + 1) * g4],
                &tape.tanh_c[row..row + h],
                &tape.c_prev[row..row + h],
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
            b,
            h,
            g4,
            &mut dh_next,
            h,
            false,
            View::rows(dg_t, g4),
            View::rows(&w_hh_t, h),
        );
        for bb in 0..b {
            if setup.real(bb, tt) {
                dh[bb * h..(bb + 1) * h].copy_from_slice(&dh_next[bb * h..(bb + 1) * h]);
            }
        }
    }
    let rows = t * b;
    let x = need[0].then(|| {
        let w_ih_t = transpose(&tape.w_ih, i, g4);
        let mut dxt = T::scratch(rows * i);
        matmul(
            rows,
            i,
            g4,
            &mut dxt,
            i,
            false,
            View::rows(&d_gates, g4),
            View::rows(&w_ih_t, i),
        );
        let mut dx = vec![T::ZERO; b * t * i];
        for bb in 0..b {
            for tt in 0..t {
                dx[(bb * t + tt) * i..(bb * t + tt + 1) * i]
                    .copy_from_slice(&dxt[(tt * b + bb) * i..(tt * b + bb + 1) * i]);
            }
        }
        T::recycle(dxt);
        dx
    });
    let w_ih = need[1].then(|| {
        let mut dw = vec![T::ZERO; i * g4];
        matmul(
            i,
            g4,
            rows,
            &mut dw,
            g4,
            false,
            View::transposed(&tape.xt, i),
            View::rows(&d_gates, g4),
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
            View::transposed(&tape.h_prev, h),
            View::rows(&d_gates, g4),
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
    T::recycle(d_gates);
    InputGrads {
        x,
        w_ih,
        bias,
        w_hh,
        h0: dh,
        c0: dc,
    }
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

/// One sequence's step after the products: activates its gates `row` (i, f, g, o, in place),
/// updates c (in place), writes tanh c_t to `tc` and h_t to `h_row`.
fn cell_forward<T: Real>(row: &mut [T], c: &mut [T], h_row: &mut [T], tc: &mut [T]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked above).
        unsafe { cell_forward_avx512(row, c, h_row, tc) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has AVX2 and FMA (checked above).
        unsafe { cell_forward_avx2(row, c, h_row, tc) };
        return;
    }
    cell_forward_body(row, c, h_row, tc);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn cell_forward_avx2<T: Real>(row: &mut [T], c: &mut [T], h_row: &mut [T], tc: &mut [T]) {
    cell_forward_body(row, c, h_row, tc);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn cell_forward_avx512<T: Real>(row: &mut [T], c: &mut [T], h_row: &mut [T], tc: &mut [T]) {
    cell_forward_body(row, c, h_row, tc);
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
) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked above).
        unsafe { cell_backward_avx512(gates, tc, c_prev, dy, dh, dc, dg) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has AVX2 and FMA (checked above).
        unsafe { cell_backward_avx2(gates, tc, c_prev, dy, dh, dc, dg) };
        return;
    }
    cell_backward_body(gates, tc, c_prev, dy, dh, dc, dg);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn cell_backward_avx2<T: Real>(
    gates: &[T],
    tc: &[T],
    c_prev: &[T],
    dy: &[T],
    dh: &mut [T],
    dc: &mut [T],
    dg: &mut [T],
) {
    cell_backward_body(gates, tc, c_prev, dy, dh, dc, dg);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn cell_backward_avx512<T: Real>(
    gates: &[T],
    tc: &[T],
    c_prev: &[T],
    dy: &[T],
    dh: &mut [T],
    dc: &mut [T],
    dg: &mut [T],
) {
    cell_backward_body(gates, tc, c_prev, dy, dh, dc, dg);
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
