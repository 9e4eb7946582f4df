//! A 2-D convolution (stride 1, zero padding), optionally followed by ReLU and a non-overlapping
//! max-pool, as one autodiff operation with a hand-written backward.
//!
//! ```text
//! forward, per image b (x_b [C, H, W], W [O, C·kh·kw], y_b [O, H'·W']):
//!     cols_b[(c, m, n), (i, j)] = x_pad[b, c, i + m, j + n]         im2col, [C·kh·kw, H'·W']
//!     y_b = W · cols_b + b ⊗ 1                                      one GEMM
//!     epilogue (optional): z = maxpool_p(ReLU(y)); the tape keeps, for every output, the position
//!         of the window's maximum in y (or "none" where ReLU cut it: max ≤ 0)
//! backward, with δ_b = ∂L/∂y_b (the epilogue's backward: ∂L/∂z scattered to the kept positions):
//!     ∂W = Σ_b δ_b · cols_bᵀ                                        one GEMM per image
//!     ∂b = Σ_{b, i, j} δ_b
//!     ∂x_b = col2im(Wᵀ · δ_b)                                       one GEMM, then the
//!                                                                   scatter-add inverse of im2col
//! ```
//!
//! H' = H + 2p_h − kh + 1, W' = W + 2p_w − kw + 1; the pooled size is ⌊H'/p⌋ × ⌊W'/p⌋ (burn's
//! `max_pool2d` with stride = window, no padding). The columns of every image are kept on the
//! tape (B · C·kh·kw · H'·W' values). The batch is split into a fixed number of chunks (a function
//! of the batch size only) run on rayon's threads; the per-chunk partial sums of ∂W and ∂b are
//! added in chunk order, so the result does not depend on the number of threads.
//!
//! [`conv2d`] returns `None` where the kernel does not apply (a backend other than Flex, dtypes
//! other than f32/f64, inputs mixing autodiff and plain tensors, inconsistent shapes); the caller
//! then runs burn's convolution, which computes the same function. `HEPNN_NO_CONV_KERNEL=1` turns
//! the kernel off (for timing comparisons).

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{
    BalancedCheckpointing, CheckpointStrategy, NoCheckpointing,
};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, NodeGuard, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{
    Autodiff, Backend, BackendTypes, DispatchKindConversion, DispatchTensor, Flex,
};
use burn::prelude::*;
use burn::tensor::DType;
use rayon::prelude::*;

use super::{Real, View, flex_tensor, flex_values, matmul};

/// What follows the convolution inside the op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epilogue {
    /// Apply ReLU.
    pub relu: bool,
    /// Max-pooling window and stride (1: none).
    pub pool: usize,
}

impl Epilogue {
    /// The convolution alone.
    pub const NONE: Self = Self {
        relu: false,
        pool: 1,
    };

    fn active(&self) -> bool {
        self.relu || self.pool > 1
    }
}

/// `epilogue(conv2d(x, weight) + bias)` with stride 1 and `padding = [p_h, p_w]` zeros on each
/// side, as one operation (see the module formula). `None` where the kernel does not apply.
///
/// # Shapes
/// - `x`: `[B, C, H, W]`, `weight`: `[O, C, kh, kw]`, `bias`: `[O]`
/// - output: `[B, O, ⌊H'/p⌋, ⌊W'/p⌋]`, H' = H + 2p_h − kh + 1, W' = W + 2p_w − kw + 1
pub fn conv2d(
    x: &Tensor<4>,
    weight: &Tensor<4>,
    bias: Option<&Tensor<1>>,
    padding: [usize; 2],
    epilogue: Epilogue,
) -> Option<Tensor<4>> {
    if disabled() {
        return None;
    }
    let [b, c, h, w] = x.dims();
    let [o, wc, kh, kw] = weight.dims();
    let [ph, pw] = padding;
    let pool = epilogue.pool.max(1);
    if b == 0 || c == 0 || o == 0 || wc != c || kh == 0 || kw == 0 {
        return None;
    }
    if h + 2 * ph < kh || w + 2 * pw < kw {
        return None;
    }
    let (ho, wo) = (h + 2 * ph + 1 - kh, w + 2 * pw + 1 - kw);
    if ho / pool == 0 || wo / pool == 0 || ho * wo > u32::MAX as usize {
        return None;
    }
    if bias.is_some_and(|t| t.dims() != [o]) {
        return None;
    }
    let bias = match bias {
        Some(t) => t.clone(),
        // A constant zero bias (not tracked: no gradient is asked for it).
        None => Tensor::<1>::zeros([o], &x.device()).cast(x.dtype()),
    };
    let dims = Dims {
        b,
        c,
        h,
        w,
        o,
        kh,
        kw,
        ph,
        pw,
        ho,
        wo,
        epilogue: Epilogue {
            relu: epilogue.relu,
            pool,
        },
    };
    let inputs = [x.clone(), weight.clone()];
    let out = autodiff::<NoCheckpointing>(&inputs, &bias, &dims)
        .or_else(|| autodiff::<BalancedCheckpointing>(&inputs, &bias, &dims))
        .or_else(|| plain(&inputs, &bias, &dims))?;
    Some(out)
}

/// Whether `HEPNN_NO_CONV_KERNEL` is set (checked once).
fn disabled() -> bool {
    static NO: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *NO.get_or_init(|| std::env::var_os("HEPNN_NO_CONV_KERNEL").is_some())
}

/// Sizes of the op.
#[derive(Debug, Clone, Copy)]
struct Dims {
    b: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    ph: usize,
    pw: usize,
    ho: usize,
    wo: usize,
    epilogue: Epilogue,
}

impl Dims {
    /// Rows of the columns matrix (C·kh·kw).
    fn ck(&self) -> usize {
        self.c * self.kh * self.kw
    }
    /// Output positions of the convolution per channel (H'·W').
    fn hw(&self) -> usize {
        self.ho * self.wo
    }
    /// Pooled output size.
    fn pooled(&self) -> (usize, usize) {
        (self.ho / self.epilogue.pool, self.wo / self.epilogue.pool)
    }
    /// Values of the op's output per image.
    fn out_len(&self) -> usize {
        let (hp, wp) = self.pooled();
        self.o * hp * wp
    }
    fn out_shape(&self) -> Vec<usize> {
        let (hp, wp) = self.pooled();
        vec![self.b, self.o, hp, wp]
    }
    /// Images per chunk: the batch in (at most) [`CHUNKS`] chunks, fixed by the batch size.
    fn chunk(&self) -> usize {
        self.b.div_ceil(CHUNKS.min(self.b))
    }
}

/// Number of chunks the batch is split into (independent of the thread count, for determinism).
const CHUNKS: usize = 8;

/// The three tensors as primitives of backend `B`, or `None` if any does not convert.
fn primitives<B: Backend>(
    inputs: &[Tensor<4>; 2],
    bias: &Tensor<1>,
) -> Option<[B::FloatTensorPrimitive; 3]>
where
    DispatchTensor: DispatchKindConversion<B>,
{
    Some([
        inputs[0].clone().try_into_primitive::<B>().ok()?,
        inputs[1].clone().try_into_primitive::<B>().ok()?,
        bias.clone().try_into_primitive::<B>().ok()?,
    ])
}

/// Inference on plain Flex tensors: the forward only.
fn plain(inputs: &[Tensor<4>; 2], bias: &Tensor<1>, dims: &Dims) -> Option<Tensor<4>> {
    let prims = primitives::<Flex>(inputs, bias)?;
    let out = match prims[0].dtype() {
        DType::F32 => forward::<f32>(prims, dims, false)?.0,
        DType::F64 => forward::<f64>(prims, dims, false)?.0,
        _ => return None,
    };
    Some(Tensor::from_primitive::<Flex>(out))
}

/// Training on `Autodiff<Flex, C>` tensors: the forward, and the backward registered as one node.
fn autodiff<C: CheckpointStrategy>(
    inputs: &[Tensor<4>; 2],
    bias: &Tensor<1>,
    dims: &Dims,
) -> Option<Tensor<4>>
where
    DispatchTensor: DispatchKindConversion<Autodiff<Flex, C>>,
{
    let tensors = primitives::<Autodiff<Flex, C>>(inputs, bias)?;
    let dtype = tensors[0].primitive().dtype();
    let guards = tensors.each_ref().map(|t| t.node());
    let prims = tensors.map(|t| t.into_primitive());
    let out = match dtype {
        DType::F32 => finish::<f32, C>(guards, prims, dims)?,
        DType::F64 => finish::<f64, C>(guards, prims, dims)?,
        _ => return None,
    };
    Some(Tensor::from_primitive::<Autodiff<Flex, C>>(out))
}

fn finish<T: Real, C: CheckpointStrategy>(
    guards: [NodeGuard; 3],
    prims: [FlexTensor; 3],
    dims: &Dims,
) -> Option<<Autodiff<Flex, C> as BackendTypes>::FloatTensorPrimitive> {
    match ConvBackward::<T>::default()
        .prepare::<C>(guards)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (out, tape) = forward::<T>(prims, dims, true)?;
            Some(prep.finish(Arc::new(tape.expect("the tape was asked for")), out))
        }
        OpsKind::UnTracked(prep) => Some(prep.finish(forward::<T>(prims, dims, false)?.0)),
    }
}

/// What the backward pass needs from the forward one.
#[derive(Debug)]
struct Tape<T: Real> {
    dims: Dims,
    /// The weights, `[O, C·kh·kw]`.
    weight: Vec<T>,
    /// The columns of every image, `[B, C·kh·kw, H'·W']`.
    cols: Vec<T>,
    /// Per chunk of images, for every output value: the position (in its image's `[O, H'·W']`
    /// plane) of the convolution value it came from, [`CUT`] where ReLU cut it. Empty without
    /// an epilogue.
    from: Vec<Vec<u32>>,
}

/// "No source": the output is zero because ReLU cut the window's maximum.
const CUT: u32 = u32::MAX;

impl<T: Real> Drop for Tape<T> {
    fn drop(&mut self) {
        T::recycle(std::mem::take(&mut self.cols));
    }
}

/// im2col of one image: `cols[(c, m, n), (i, j)] = x_pad[c, i + m, j + n]`.
fn im2col<T: Real>(x: &[T], cols: &mut [T], d: &Dims) {
    let (hw, wo) = (d.hw(), d.wo);
    for ci in 0..d.c {
        let plane = &x[ci * d.h * d.w..(ci + 1) * d.h * d.w];
        for m in 0..d.kh {
            for n in 0..d.kw {
                let row = ((ci * d.kh + m) * d.kw + n) * hw;
                let row = &mut cols[row..row + hw];
                // Output columns j whose input column j + n − p_w is inside the image.
                let j0 = d.pw.saturating_sub(n).min(wo);
                let j1 = (d.w + d.pw).saturating_sub(n).clamp(j0, wo);
                for i in 0..d.ho {
                    let r = &mut row[i * wo..(i + 1) * wo];
                    let si = i + m;
                    if si < d.ph || si - d.ph >= d.h {
                        r.fill(T::ZERO);
                        continue;
                    }
                    let src = &plane[(si - d.ph) * d.w..(si - d.ph + 1) * d.w];
                    r[..j0].fill(T::ZERO);
                    r[j1..].fill(T::ZERO);
                    r[j0..j1].copy_from_slice(&src[j0 + n - d.pw..j1 + n - d.pw]);
                }
            }
        }
    }
}

/// col2im of one image, the adjoint of [`im2col`]: `dx[c, i + m − p_h, j + n − p_w] +=
/// dcols[(c, m, n), (i, j)]` (dx is overwritten).
fn col2im<T: Real>(dcols: &[T], dx: &mut [T], d: &Dims) {
    let (hw, wo) = (d.hw(), d.wo);
    dx.fill(T::ZERO);
    for ci in 0..d.c {
        let plane = &mut dx[ci * d.h * d.w..(ci + 1) * d.h * d.w];
        for m in 0..d.kh {
            for n in 0..d.kw {
                let row = ((ci * d.kh + m) * d.kw + n) * hw;
                let row = &dcols[row..row + hw];
                let j0 = d.pw.saturating_sub(n).min(wo);
                let j1 = (d.w + d.pw).saturating_sub(n).clamp(j0, wo);
                for i in 0..d.ho {
                    let si = i + m;
                    if si < d.ph || si - d.ph >= d.h {
                        continue;
                    }
                    let dst = &mut plane[(si - d.ph) * d.w..(si - d.ph + 1) * d.w];
                    let dst = &mut dst[j0 + n - d.pw..j1 + n - d.pw];
                    for (acc, &v) in dst.iter_mut().zip(&row[i * wo + j0..i * wo + j1]) {
                        *acc += v;
                    }
                }
            }
        }
    }
}

/// The epilogue of one image: `y` `[O, H'·W']` → `out` (ReLU, pooling) and the source positions.
fn epilogue_forward<T: Real>(y: &[T], out: &mut [T], from: &mut [u32], d: &Dims) {
    let p = d.epilogue.pool;
    let relu = d.epilogue.relu;
    let (hp, wp) = d.pooled();
    let (hw, wo) = (d.hw(), d.wo);
    for o in 0..d.o {
        let plane = &y[o * hw..(o + 1) * hw];
        for pi in 0..hp {
            for pj in 0..wp {
                let mut best = pi * p * wo + pj * p;
                let mut max = plane[best];
                for m in 0..p {
                    let row = (pi * p + m) * wo + pj * p;
                    for (n, &v) in plane[row..row + p].iter().enumerate() {
                        if v > max {
                            max = v;
                            best = row + n;
                        }
                    }
                }
                let k = (o * hp + pi) * wp + pj;
                if relu && !(max > T::ZERO) {
                    out[k] = T::ZERO;
                    from[k] = CUT;
                } else {
                    out[k] = max;
                    from[k] = (o * hw + best) as u32;
                }
            }
        }
    }
}

/// The forward pass on Flex primitives; returns the output and, with `keep`, the tape.
#[allow(clippy::type_complexity)]
fn forward<T: Real>(
    prims: [FlexTensor; 3],
    d: &Dims,
    keep: bool,
) -> Option<(FlexTensor, Option<Tape<T>>)> {
    let [x, weight, bias] = prims;
    let x = flex_values::<T>(x)?;
    let weight = flex_values::<T>(weight)?;
    let bias = flex_values::<T>(bias)?;
    let (ck, hw, out_len) = (d.ck(), d.hw(), d.out_len());
    let image = d.c * d.h * d.w;
    let chunk = d.chunk();
    let fused = d.epilogue.active();
    let mut cols = T::scratch(d.b * ck * hw);
    let mut out = vec![T::ZERO; d.b * out_len];
    let from: Vec<Vec<u32>> = out
        .par_chunks_mut(chunk * out_len)
        .zip(cols.par_chunks_mut(chunk * ck * hw))
        .zip(x.par_chunks(chunk * image))
        .map(|((out, cols), x)| {
            let images = x.len() / image;
            let mut from = vec![0u32; if fused { images * out_len } else { 0 }];
            let mut y = if fused {
                T::scratch(d.o * hw)
            } else {
                Vec::new()
            };
            for s in 0..images {
                let cols = &mut cols[s * ck * hw..(s + 1) * ck * hw];
                im2col(&x[s * image..(s + 1) * image], cols, d);
                let dst = if fused {
                    &mut y[..]
                } else {
                    &mut out[s * out_len..(s + 1) * out_len]
                };
                for (row, &bv) in dst.chunks_exact_mut(hw).zip(&bias) {
                    row.fill(bv);
                }
                matmul(
                    d.o,
                    hw,
                    ck,
                    dst,
                    hw,
                    true,
                    View::rows(&weight, ck),
                    View::rows(cols, hw),
                );
                if fused {
                    epilogue_forward(
                        &y,
                        &mut out[s * out_len..(s + 1) * out_len],
                        &mut from[s * out_len..(s + 1) * out_len],
                        d,
                    );
                }
            }
            T::recycle(y);
            from
        })
        .collect();
    let out = flex_tensor(out, d.out_shape());
    if !keep {
        T::recycle(cols);
        return Some((out, None));
    }
    Some((
        out,
        Some(Tape {
            dims: *d,
            weight,
            cols,
            from: if fused { from } else { Vec::new() },
        }),
    ))
}

/// The backward step of the op (inputs: x, weight, bias).
#[derive(Debug)]
struct ConvBackward<T>(core::marker::PhantomData<T>);

impl<T> Default for ConvBackward<T> {
    fn default() -> Self {
        Self(core::marker::PhantomData)
    }
}

impl<T: Real> Backward<Flex, 3> for ConvBackward<T> {
    type State = Arc<Tape<T>>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let tape = ops.state;
        let d_out = grads.consume::<Flex>(&ops.node);
        let d_out = flex_values::<T>(d_out).expect("the output gradient has the op's dtype");
        let need = ops.parents.each_ref().map(Option::is_some);
        let (dx, dw, db) = backward(&tape, &d_out, need);
        let d = tape.dims;
        let shapes = [
            vec![d.b, d.c, d.h, d.w],
            vec![d.o, d.c, d.kh, d.kw],
            vec![d.o],
        ];
        for ((parent, value), shape) in ops.parents.iter().zip([dx, dw, db]).zip(shapes) {
            if let (Some(node), Some(value)) = (parent, value) {
                grads.register::<Flex>(node.id, flex_tensor(value, shape));
            }
        }
    }
}

/// The gradients of x, W and b (`None` where not asked for) from ∂L/∂output.
#[allow(clippy::type_complexity)]
fn backward<T: Real>(
    tape: &Tape<T>,
    d_out: &[T],
    need: [bool; 3],
) -> (Option<Vec<T>>, Option<Vec<T>>, Option<Vec<T>>) {
    let d = &tape.dims;
    let (ck, hw, out_len) = (d.ck(), d.hw(), d.out_len());
    let image = d.c * d.h * d.w;
    let chunk = d.chunk();
    let fused = d.epilogue.active();
    let mut dx = if need[0] {
        vec![T::ZERO; d.b * image]
    } else {
        Vec::new()
    };
    let dx_chunks: Vec<Option<&mut [T]>> = if need[0] {
        dx.chunks_mut(chunk * image).map(Some).collect()
    } else {
        (0..d.b.div_ceil(chunk)).map(|_| None).collect()
    };
    // Per chunk: (∂W, ∂b) partial sums.
    let partials: Vec<(Vec<T>, Vec<T>)> = dx_chunks
        .into_par_iter()
        .enumerate()
        .map(|(ci, dx)| {
            let first = ci * chunk;
            let images = chunk.min(d.b - first);
            let mut dw = vec![T::ZERO; d.o * ck];
            let mut db = vec![T::ZERO; d.o];
            let mut delta = if fused {
                T::scratch(d.o * hw)
            } else {
                Vec::new()
            };
            let mut dcols = if dx.is_some() {
                T::scratch(ck * hw)
            } else {
                Vec::new()
            };
            let mut dx = dx;
            for s in 0..images {
                let b = first + s;
                let g = &d_out[b * out_len..(b + 1) * out_len];
                let dy: &[T] = if fused {
                    delta.fill(T::ZERO);
                    let from = &tape.from[ci][s * out_len..(s + 1) * out_len];
                    for (&k, &v) in from.iter().zip(g) {
                        if k != CUT {
                            delta[k as usize] = v;
                        }
                    }
                    &delta
                } else {
                    g
                };
                if need[2] {
                    for (acc, row) in db.iter_mut().zip(dy.chunks_exact(hw)) {
                        let mut sum = T::ZERO;
                        for &v in row {
                            sum += v;
                        }
                        *acc += sum;
                    }
                }
                let cols = &tape.cols[b * ck * hw..(b + 1) * ck * hw];
                if need[1] {
                    // ∂W += δ_b · cols_bᵀ
                    matmul(
                        d.o,
                        ck,
                        hw,
                        &mut dw,
                        ck,
                        true,
                        View::rows(dy, hw),
                        View::transposed(cols, hw),
                    );
                }
                if let Some(dx) = dx.as_deref_mut() {
                    // ∂cols = Wᵀ · δ_b, then col2im.
                    matmul(
                        ck,
                        hw,
                        d.o,
                        &mut dcols,
                        hw,
                        false,
                        View::transposed(&tape.weight, ck),
                        View::rows(dy, hw),
                    );
                    col2im(&dcols, &mut dx[s * image..(s + 1) * image], d);
                }
            }
            T::recycle(delta);
            T::recycle(dcols);
            (dw, db)
        })
        .collect();
    let mut dw = vec![T::ZERO; d.o * ck];
    let mut db = vec![T::ZERO; d.o];
    for (pw, pb) in &partials {
        for (acc, &v) in dw.iter_mut().zip(pw) {
            *acc += v;
        }
        for (acc, &v) in db.iter_mut().zip(pb) {
            *acc += v;
        }
    }
    (
        need[0].then_some(dx),
        need[1].then_some(dw),
        need[2].then_some(db),
    )
}

#[cfg(test)]
mod tests {
    use burn::module::{Module, Param};
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::{Conv2d, Conv2dConfig};
    use burn::tensor::Distribution;
    use burn::tensor::activation::relu;
    use burn::tensor::module::{conv2d as burn_conv2d, max_pool2d};
    use burn::tensor::ops::{ConvOptions, MaxPoolOptions};

    use super::*;
    use crate::gradcheck::{GradCheckOptions, check_module, to_f64};

    fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32")
    }

    fn reference(
        x: Tensor<4>,
        w: Tensor<4>,
        b: Option<Tensor<1>>,
        padding: [usize; 2],
        epilogue: Epilogue,
    ) -> Tensor<4> {
        let mut y = burn_conv2d(x, w, b, ConvOptions::new([1, 1], padding, [1, 1], 1));
        if epilogue.relu {
            y = relu(y);
        }
        if epilogue.pool > 1 {
            y = max_pool2d(y, MaxPoolOptions::new([epilogue.pool, epilogue.pool]));
        }
        y
    }

    fn assert_close(a: Vec<f32>, e: Vec<f32>, tol: f32, what: &str) {
        assert_eq!(a.len(), e.len(), "{what}: lengths");
        let scale = e.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (i, (u, v)) in a.iter().zip(&e).enumerate() {
            assert!((u - v).abs() <= tol * scale, "{what}[{i}]: {u} vs {v}");
        }
    }

    /// Values and the gradients of x, W and b against burn's conv2d (+ ReLU + max-pool), on odd
    /// shapes: C = 3, O = 5, k = 3 and 5, padding 0/1/2, H ≠ W, batch 3, with and without the
    /// fused epilogue.
    #[test]
    fn kernel_matches_burns_conv2d_values_and_gradients() {
        let device = Device::flex().autodiff();
        device.seed(11);
        let epilogues = [
            Epilogue::NONE,
            Epilogue {
                relu: true,
                pool: 1,
            },
            Epilogue {
                relu: true,
                pool: 2,
            },
            Epilogue {
                relu: false,
                pool: 3,
            },
        ];
        let mut cases = 0;
        for (kh, kw) in [(3, 3), (5, 5), (3, 5)] {
            for padding in [[0, 0], [1, 1], [2, 2], [1, 2]] {
                for epilogue in epilogues {
                    for with_bias in [true, false] {
                        let (b, c, o, h, w) = (3, 3, 5, 11, 8);
                        let x = Tensor::<4>::random(
                            [b, c, h, w],
                            Distribution::Normal(0.0, 1.0),
                            &device,
                        )
                        .require_grad();
                        let wt = Tensor::<4>::random(
                            [o, c, kh, kw],
                            Distribution::Normal(0.0, 0.3),
                            &device,
                        )
                        .require_grad();
                        let bias =
                            Tensor::<1>::random([o], Distribution::Normal(0.0, 0.3), &device)
                                .require_grad();
                        let bias_in = with_bias.then(|| bias.clone());
                        let ours = conv2d(&x, &wt, bias_in.as_ref(), padding, epilogue)
                            .expect("the kernel applies");
                        let theirs = reference(x.clone(), wt.clone(), bias_in, padding, epilogue);
                        let what =
                            format!("k {kh}×{kw} p {padding:?} {epilogue:?} bias {with_bias}");
                        assert_eq!(ours.dims(), theirs.dims(), "{what}");
                        assert_close(host(ours.clone()), host(theirs.clone()), 1e-5, &what);
                        let r = Tensor::<4>::random(
                            ours.dims(),
                            Distribution::Normal(0.0, 1.0),
                            &device,
                        );
                        let g1 = (ours * r.clone()).sum().backward();
                        let g2 = (theirs * r).sum().backward();
                        let pairs = [
                            (x.grad(&g1).map(host), x.grad(&g2).map(host), "∂x"),
                            (wt.grad(&g1).map(host), wt.grad(&g2).map(host), "∂w"),
                        ];
                        for (a, e, name) in pairs {
                            let (a, e) = (a.expect("a gradient"), e.expect("a gradient"));
                            assert_close(a, e, 1e-5, &format!("{what} {name}"));
                        }
                        if with_bias {
                            let a = bias.grad(&g1).map(host).expect("∂b");
                            let e = bias.grad(&g2).map(host).expect("∂b");
                            assert_close(a, e, 1e-5, &format!("{what} ∂b"));
                        } else {
                            assert!(bias.grad(&g1).is_none());
                        }
                        cases += 1;
                    }
                }
            }
        }
        assert_eq!(cases, 3 * 4 * 4 * 2);
    }

    /// Inference on a plain (non-autodiff) device gives the same values, and an input that does
    /// not require a gradient gets none (the first layer of a network).
    #[test]
    fn plain_device_and_untracked_input() {
        let device = Device::flex();
        device.seed(5);
        let x = Tensor::<4>::random([2, 2, 9, 6], Distribution::Normal(0.0, 1.0), &device);
        let w = Tensor::<4>::random([4, 2, 3, 3], Distribution::Normal(0.0, 0.5), &device);
        let b = Tensor::<1>::random([4], Distribution::Normal(0.0, 0.5), &device);
        let e = Epilogue {
            relu: true,
            pool: 2,
        };
        let ours = conv2d(&x, &w, Some(&b), [1, 1], e).expect("the kernel applies");
        let theirs = reference(x, w, Some(b), [1, 1], e);
        assert_close(host(ours), host(theirs), 1e-5, "plain");

        let ad = Device::flex().autodiff();
        let x = Tensor::<4>::random([2, 1, 8, 8], Distribution::Normal(0.0, 1.0), &ad);
        let w =
            Tensor::<4>::random([3, 1, 3, 3], Distribution::Normal(0.0, 0.5), &ad).require_grad();
        let y = conv2d(&x, &w, None, [1, 1], e).expect("the kernel applies");
        let grads = y.sum().backward();
        assert!(w.grad(&grads).is_some());
        assert!(x.grad(&grads).is_none());
    }

    #[derive(Module, Debug)]
    struct Net {
        conv: Conv2d,
        input: Param<Tensor<4>>,
    }

    /// f64 central finite differences against the kernel's backward (W, b and the input x).
    #[test]
    fn kernel_gradients_pass_the_finite_difference_check() {
        let device = Device::flex().autodiff();
        device.seed(7);
        for (k, p, pool) in [(3, 1, 2), (5, 2, 1), (3, 0, 1)] {
            let net = Net {
                conv: Conv2dConfig::new([3, 5], [k, k])
                    .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                    .init(&device),
                input: Param::from_tensor(Tensor::random(
                    [2, 3, 7, 6],
                    Distribution::Normal(0.0, 1.0),
                    &device,
                )),
            };
            let r = Tensor::<4>::random([2, 5, 8, 8], Distribution::Normal(0.0, 1.0), &device);
            let report = check_module(
                &net,
                |m: &Net| {
                    let y = if pool > 1 || p == 2 {
                        crate::cnn::conv2d_relu_pool(&m.conv, m.input.val(), pool)
                    } else {
                        crate::cnn::conv2d(&m.conv, m.input.val())
                    };
                    let [b, o, h, w] = y.dims();
                    let weights = to_f64(r.clone().slice([0..b, 0..o, 0..h, 0..w]));
                    (y * weights).sum()
                },
                &GradCheckOptions {
                    max_entries_per_param: 40,
                    ..GradCheckOptions::default()
                },
            );
            assert!(report.passed(), "k {k} p {p} pool {pool}: {report:?}");
            assert!(report.checked >= 80);
        }
    }
}
