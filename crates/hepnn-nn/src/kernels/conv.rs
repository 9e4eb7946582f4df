//! A 2-D convolution (stride 1, zero padding), optionally followed by ReLU and a non-overlapping
//! max-pool, as one autodiff operation with a hand-written backward.
//!
//! ```text
//! forward, per image b (x_b [C, H, W], W [O, C·kh·kw]):
//!     x_pad = x_b zero-padded to [C, H + 2p_h, W_pad = W + 2p_w] (flattened)
//!     cols_b[(c, m, n), t] = x_pad[offset(c, m, n) + t],  offset(c, m, n) = c·plane + m·W_pad + n,
//!         t = i·W_pad + j < H'·W_pad: each row of the columns is one contiguous run of x_pad
//!         ("wide" columns: the outputs j ≥ W' are computed and dropped)
//!     y_b = W · cols_b + b ⊗ 1                        one GEMM [O, C·kh·kw] × [C·kh·kw, H'·W_pad]
//!     epilogue (optional): z = maxpool_p(ReLU(y)); the tape keeps, for every output, where in its
//!         window the maximum was (or "cut" where ReLU gave 0: max ≤ 0)
//! backward, with δ_b = ∂L/∂y_b (∂L/∂z scattered to the kept positions, zero elsewhere):
//!     ∂b = Σ_{b, t} δ_b
//!     ∂W = Σ_b δ_b · cols_bᵀ                          O × C·kh·kw dot products of length H'·W_pad
//!     ∂x_b = col2im(Wᵀ · δ_b)                         one GEMM, then the scatter-add inverse of
//!                                                     im2col (only when x needs a gradient)
//! ```
//!
//! H' = H + 2p_h − kh + 1, W' = W + 2p_w − kw + 1; the pooled size is ⌊H'/p⌋ × ⌊W'/p⌋ (burn's
//! `max_pool2d` with stride = window, no padding). The tape keeps the padded images (B · C ·
//! (H + 2p_h) · W_pad values) and one byte per output. With f32 on an AVX-512 CPU the forward
//! GEMM and the ∂W dot products read the columns in place from the padded images (no columns
//! buffer); elsewhere the columns are built per image and multiplied by [`super::matmul`]. The
//! batch is split into a fixed number of chunks (a function of the batch size only) run on
//! rayon's threads; the per-chunk partial sums of ∂W and ∂b are added in chunk order, so the
//! result does not depend on the number of threads.
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
    if ho / pool == 0 || wo / pool == 0 || pool * pool >= CUT as usize {
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
    /// Padded image width (the row stride of the padded input and of the wide output).
    fn wpad(&self) -> usize {
        self.w + 2 * self.pw
    }
    /// One padded channel plane.
    fn plane(&self) -> usize {
        (self.h + 2 * self.ph) * self.wpad()
    }
    /// The padded image: C planes, then kw spare zeros (read only by the wide columns' unused
    /// positions).
    fn padded_len(&self) -> usize {
        self.c * self.plane() + self.kw
    }
    /// Columns of the wide GEMM: H' rows of the padded width (positions j ≥ W' are computed and
    /// never used).
    fn wide(&self) -> usize {
        self.ho * self.wpad()
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
    /// The zero-padded images, `[B, padded_len]` (the wide columns of image b, row (c, m, n),
    /// are `padded[b][offset(c, m, n)..][..H'·W_pad]`).
    padded: Vec<T>,
    /// For every output value: where in its pooling window the maximum was (m·p + n), or
    /// [`CUT`] where ReLU cut it. Empty without an epilogue.
    from: Vec<u8>,
}

/// "No source": the output is zero because ReLU cut the window's maximum.
const CUT: u8 = u8::MAX;

impl<T: Real> Drop for Tape<T> {
    fn drop(&mut self) {
        T::recycle(std::mem::take(&mut self.padded));
    }
}

/// Copies one image `[C, H, W]` into the zero-padded buffer (whose borders stay zero).
fn pad_image<T: Real>(x: &[T], padded: &mut [T], d: &Dims) {
    let (wpad, plane) = (d.wpad(), d.plane());
    for ci in 0..d.c {
        for i in 0..d.h {
            let at = ci * plane + (i + d.ph) * wpad + d.pw;
            padded[at..at + d.w]
                .copy_from_slice(&x[(ci * d.h + i) * d.w..(ci * d.h + i + 1) * d.w]);
        }
    }
}

/// The offset of columns row (c, m, n) in the padded image: the wide columns row is the
/// contiguous run `padded[offset .. offset + H'·W_pad]`.
fn row_offset(d: &Dims, row: usize) -> usize {
    let (ci, mn) = (row / (d.kh * d.kw), row % (d.kh * d.kw));
    ci * d.plane() + (mn / d.kw) * d.wpad() + mn % d.kw
}

/// Wide im2col of one padded image: `cols[(c, m, n), i·W_pad + j] = x_pad[c, i + m, j + n]`,
/// one contiguous copy per row.
fn im2col<T: Real>(padded: &[T], cols: &mut [T], d: &Dims) {
    let wide = d.wide();
    for (row, dst) in cols.chunks_exact_mut(wide).enumerate() {
        let at = row_offset(d, row);
        dst.copy_from_slice(&padded[at..at + wide]);
    }
}

/// The adjoint of [`im2col`]: `dx_pad[offset(c, m, n) + t] += dcols[(c, m, n), t]`, then the
/// interior of dx_pad into dx `[C, H, W]` (dx_pad is scratch).
fn col2im<T: Real>(dcols: &[T], dx_pad: &mut [T], dx: &mut [T], d: &Dims) {
    let wide = d.wide();
    dx_pad.fill(T::ZERO);
    for (row, src) in dcols.chunks_exact(wide).enumerate() {
        let at = row_offset(d, row);
        for (acc, &v) in dx_pad[at..at + wide].iter_mut().zip(src) {
            *acc += v;
        }
    }
    let (wpad, plane) = (d.wpad(), d.plane());
    for ci in 0..d.c {
        for i in 0..d.h {
            let at = ci * plane + (i + d.ph) * wpad + d.pw;
            dx[(ci * d.h + i) * d.w..(ci * d.h + i + 1) * d.w]
                .copy_from_slice(&dx_pad[at..at + d.w]);
        }
    }
}

/// The epilogue of one image: wide `y` `[O, H'·W_pad]` → `out` (ReLU, pooling) and where each
/// maximum came from. Ties go to the first position in the window (row by row).
fn epilogue_forward<T: Real>(y: &[T], out: &mut [T], from: &mut [u8], d: &Dims) {
    let p = d.epilogue.pool;
    let relu = d.epilogue.relu;
    let (hp, wp) = d.pooled();
    let (wide, wpad) = (d.wide(), d.wpad());
    for o in 0..d.o {
        let plane = &y[o * wide..(o + 1) * wide];
        for pi in 0..hp {
            let k0 = (o * hp + pi) * wp;
            let (out, from) = (&mut out[k0..k0 + wp], &mut from[k0..k0 + wp]);
            if p == 2 {
                let r0 = &plane[2 * pi * wpad..2 * pi * wpad + 2 * wp];
                let r1 = &plane[(2 * pi + 1) * wpad..(2 * pi + 1) * wpad + 2 * wp];
                for (((z, f), a), b) in out
                    .iter_mut()
                    .zip(from.iter_mut())
                    .zip(r0.chunks_exact(2))
                    .zip(r1.chunks_exact(2))
                {
                    let (m0, i0) = if a[1] > a[0] { (a[1], 1) } else { (a[0], 0) };
                    let (m1, i1) = if b[1] > b[0] { (b[1], 3) } else { (b[0], 2) };
                    let (m, i) = if m1 > m0 { (m1, i1) } else { (m0, i0) };
                    let cut = relu && m <= T::ZERO;
                    *z = if cut { T::ZERO } else { m };
                    *f = if cut { CUT } else { i };
                }
                continue;
            }
            for pj in 0..wp {
                let mut best = 0;
                let mut max = plane[pi * p * wpad + pj * p];
                for m in 0..p {
                    let row = (pi * p + m) * wpad + pj * p;
                    for (n, &v) in plane[row..row + p].iter().enumerate() {
                        if v > max {
                            max = v;
                            best = m * p + n;
                        }
                    }
                }
                if relu && max <= T::ZERO {
                    out[pj] = T::ZERO;
                    from[pj] = CUT;
                } else {
                    out[pj] = max;
                    from[pj] = best as u8;
                }
            }
        }
    }
}

/// The epilogue's backward for one image: ∂L/∂out → the wide ∂L/∂y (zero elsewhere), and
/// `db[o] += Σ ∂L/∂y[o, ·]`.
fn epilogue_backward<T: Real>(g: &[T], from: &[u8], delta: &mut [T], db: &mut [T], d: &Dims) {
    let (wide, wpad) = (d.wide(), d.wpad());
    delta.fill(T::ZERO);
    if !d.epilogue.active() {
        for (o, plane) in delta.chunks_exact_mut(wide).enumerate() {
            let g = &g[o * d.ho * d.wo..(o + 1) * d.ho * d.wo];
            for i in 0..d.ho {
                plane[i * wpad..i * wpad + d.wo].copy_from_slice(&g[i * d.wo..(i + 1) * d.wo]);
            }
            db[o] += lane_sum(g);
        }
        return;
    }
    let p = d.epilogue.pool;
    let (hp, wp) = d.pooled();
    // Window code m·p + n → offset m·W_pad + n.
    let at: Vec<usize> = (0..p * p).map(|f| (f / p) * wpad + f % p).collect();
    for (o, plane) in delta.chunks_exact_mut(wide).enumerate() {
        let mut sum = T::ZERO;
        for pi in 0..hp {
            let k0 = (o * hp + pi) * wp;
            let row = &mut plane[pi * p * wpad..];
            for (pj, (&f, &v)) in from[k0..k0 + wp].iter().zip(&g[k0..k0 + wp]).enumerate() {
                if f != CUT {
                    row[pj * p + at[f as usize]] = v;
                    sum += v;
                }
            }
        }
        db[o] += sum;
    }
}

/// Σ values, in 16 lanes (vectorisable).
fn lane_sum<T: Real>(values: &[T]) -> T {
    let mut acc = [T::ZERO; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    let mut s = T::ZERO;
    for &v in chunks.remainder() {
        s += v;
    }
    for v in acc {
        s += v;
    }
    s
}

/// Lanes of the vectorised sums.
const LANES: usize = 16;

/// `y += W · cols` for one padded image (W `[O, C·kh·kw]`, y `[O, H'·W_pad]`). With f32 on an
/// AVX-512 CPU the columns are read in place from the padded image (row r of cols is
/// `padded[offsets[r]..][..H'·W_pad]`); otherwise they are built in `cols` (scratch) and
/// multiplied by [`matmul`].
fn conv_gemm<T: Real>(
    weight: &[T],
    padded: &[T],
    offsets: &[usize],
    d: &Dims,
    cols: &mut Vec<T>,
    y: &mut [T],
) {
    let (ck, wide) = (d.ck(), d.wide());
    #[cfg(target_arch = "x86_64")]
    if core::any::TypeId::of::<T>() == core::any::TypeId::of::<f32>() && super::avx512_available() {
        let last = offsets.iter().max().map_or(0, |&at| at + wide);
        assert!(last <= padded.len() && weight.len() == d.o * ck && y.len() == d.o * wide);
        let f = |v: &[T]| v.as_ptr().cast::<f32>();
        // SAFETY: T is f32 (same layout); the CPU has AVX-512F; every index is checked above.
        unsafe {
            gemm_rows_f32_avx512(
                d.o,
                wide,
                f(weight),
                f(padded),
                offsets,
                y.as_mut_ptr().cast::<f32>(),
            )
        };
        return;
    }
    if cols.len() != ck * wide {
        cols.resize(ck * wide, T::ZERO);
    }
    im2col(padded, cols, d);
    matmul(
        d.o,
        wide,
        ck,
        y,
        wide,
        true,
        View::rows(weight, ck),
        View::rows(cols, wide),
    );
}

/// `c[i, j] += Σ_kk a[i, kk] · b[offsets[kk] + j]` for i < m, j < n, kk < offsets.len(): a
/// product whose right operand's rows start anywhere in `b` (the columns of a convolution read
/// in place). a `m × k` row-major, c `m × n` row-major. Blocks of 8 × 32 outputs in 16 zmm
/// registers (as [`super::matmul`]'s AVX-512 kernel), masked at the right edge.
///
/// # Safety
/// The CPU has AVX-512F; `a` holds m·k values, `c` m·n, `b` at least `offsets[kk] + n` for
/// every kk.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gemm_rows_f32_avx512(
    m: usize,
    n: usize,
    a: *const f32,
    b: *const f32,
    offsets: &[usize],
    c: *mut f32,
) {
    use std::arch::x86_64::*;
    let k = offsets.len();
    let mut j = 0;
    while j < n {
        let nr = (n - j).min(32);
        let (mask0, mask1) = super::avx512::tail_masks(nr);
        let mut i = 0;
        while i < m {
            let rows = (m - i).min(8);
            let mut acc0 = [_mm512_setzero_ps(); 8];
            let mut acc1 = [_mm512_setzero_ps(); 8];
            // SAFETY (loads and stores): inside the slices (caller's contract); masked lanes
            // are not accessed; rows beyond `rows` repeat row i (in bounds) and are not stored.
            unsafe {
                for (kk, &at) in offsets.iter().enumerate() {
                    let row = b.add(at + j);
                    let b0 = _mm512_maskz_loadu_ps(mask0, row);
                    let b1 = _mm512_maskz_loadu_ps(mask1, row.add(16));
                    for r in 0..8 {
                        let ri = if r < rows { r } else { 0 };
                        let av = _mm512_set1_ps(*a.add((i + ri) * k + kk));
                        acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
                        acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
                    }
                }
                for r in 0..rows {
                    let out = c.add((i + r) * n + j);
                    let v0 = _mm512_add_ps(acc0[r], _mm512_maskz_loadu_ps(mask0, out));
                    let v1 = _mm512_add_ps(acc1[r], _mm512_maskz_loadu_ps(mask1, out.add(16)));
                    _mm512_mask_storeu_ps(out, mask0, v0);
                    _mm512_mask_storeu_ps(out.add(16), mask1, v1);
                }
            }
            i += rows;
        }
        j += 32;
    }
}

/// `dw[o, r] += Σ_s Σ_t delta_s[o, t] · padded_s[offsets[r] + t]` over the images s of a chunk
/// (t < H'·W_pad; `delta` `[images, O, H'·W_pad]`, `padded` `[images, padded_len]`): the weight
/// gradient `Σ_s δ_s · cols_sᵀ`. With f32 on an AVX-512 CPU, O × C·kh·kw dot products reading the
/// columns in place from the padded images (one horizontal sum per chunk); otherwise the columns
/// are built in `cols` (scratch) and multiplied by [`matmul`].
fn weight_grad<T: Real>(
    delta: &[T],
    padded: &[T],
    offsets: &[usize],
    d: &Dims,
    cols: &mut Vec<T>,
    dw: &mut [T],
) {
    let (ck, wide, plen) = (d.ck(), d.wide(), d.padded_len());
    let images = delta.len() / (d.o * wide);
    #[cfg(target_arch = "x86_64")]
    if core::any::TypeId::of::<T>() == core::any::TypeId::of::<f32>() && super::avx512_available() {
        let last = offsets.iter().max().map_or(0, |&at| at + wide);
        assert!(
            images > 0
                && last <= plen
                && padded.len() == images * plen
                && delta.len() == images * d.o * wide
                && dw.len() == d.o * ck
        );
        let f = |v: &[T]| v.as_ptr().cast::<f32>();
        // SAFETY: T is f32 (same layout); the CPU has AVX-512F; every index read is checked
        // above.
        unsafe {
            dots_f32_avx512(
                f(delta),
                f(padded),
                Dots {
                    images,
                    o: d.o,
                    len: wide,
                    plen,
                },
                offsets,
                dw.as_mut_ptr().cast::<f32>(),
            )
        };
        return;
    }
    if cols.len() != ck * wide {
        cols.resize(ck * wide, T::ZERO);
    }
    for s in 0..images {
        im2col(&padded[s * plen..(s + 1) * plen], cols, d);
        matmul(
            d.o,
            ck,
            wide,
            dw,
            ck,
            true,
            View::rows(&delta[s * d.o * wide..(s + 1) * d.o * wide], wide),
            View::transposed(cols, wide),
        );
    }
}

/// Sizes of [`dots_f32_avx512`].
#[cfg(target_arch = "x86_64")]
struct Dots {
    images: usize,
    o: usize,
    /// Dot product length.
    len: usize,
    /// Values per padded image.
    plen: usize,
}

/// `dw[q, r] += Σ_s Σ_{t < len} delta[(s·o + q)·len + t] · padded[s·plen + offsets[r] + t]`
/// (dw row-major with `offsets.len()` columns): four rows of δ at a time against two column
/// rows, 16 lanes, the tail masked, accumulated in registers over the images.
///
/// # Safety
/// The CPU has AVX-512F; `delta` holds `images · o · len` values, `padded` `images · plen` with
/// `offsets[r] + len ≤ plen`, `dw` `o · offsets.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dots_f32_avx512(
    delta: *const f32,
    padded: *const f32,
    n: Dots,
    offsets: &[usize],
    dw: *mut f32,
) {
    use std::arch::x86_64::*;
    let Dots {
        images,
        o,
        len,
        plen,
    } = n;
    let ck = offsets.len();
    let full = len / 16 * 16;
    let tail = len - full;
    let mask = ((1u32 << tail) - 1) as __mmask16;
    // Blocks of two column rows (r, r + 1) × four rows of δ: eight accumulators, six loads per
    // eight multiply-adds.
    let mut r = 0;
    while r < ck {
        let nr = (ck - r).min(2);
        let ats = [offsets[r], offsets[r + nr - 1]];
        let mut q = 0;
        while q < o {
            let n = (o - q).min(4);
            let mut acc = [[_mm512_setzero_ps(); 4]; 2];
            for s in 0..images {
                let cols = ats.map(|at| padded.wrapping_add(s * plen + at));
                let rows: [*const f32; 4] =
                    core::array::from_fn(|i| delta.wrapping_add((s * o + q + i.min(n - 1)) * len));
                let mut t = 0;
                // SAFETY (loads): inside the slices (caller's contract); rows beyond n and
                // columns beyond nr repeat the last one and are not stored.
                unsafe {
                    while t < full {
                        let cv = cols.map(|c| _mm512_loadu_ps(c.add(t)));
                        for i in 0..4 {
                            let dv = _mm512_loadu_ps(rows[i].add(t));
                            for j in 0..2 {
                                acc[j][i] = _mm512_fmadd_ps(dv, cv[j], acc[j][i]);
                            }
                        }
                        t += 16;
                    }
                    if tail > 0 {
                        let cv = cols.map(|c| _mm512_maskz_loadu_ps(mask, c.add(full)));
                        for i in 0..4 {
                            let dv = _mm512_maskz_loadu_ps(mask, rows[i].add(full));
                            for j in 0..2 {
                                acc[j][i] = _mm512_fmadd_ps(dv, cv[j], acc[j][i]);
                            }
                        }
                    }
                }
            }
            for (j, acc) in acc.iter().enumerate().take(nr) {
                for (i, acc) in acc.iter().enumerate().take(n) {
                    // SAFETY: (q + i, r + j) is inside dw (caller's contract).
                    unsafe { *dw.add((q + i) * ck + r + j) += _mm512_reduce_add_ps(*acc) };
                }
            }
            q += n;
        }
        r += nr;
    }
}

/// The values of a Flex tensor, row-major: borrowed in place when it is contiguous (burn's
/// `into_data` copies a shared buffer, twice), copied otherwise. `None` for another dtype.
fn flex_slice<T: Real>(tensor: &FlexTensor) -> Option<std::borrow::Cow<'_, [T]>> {
    use core::any::TypeId;
    if tensor.dtype() != T::DTYPE {
        return None;
    }
    let cast = |ptr: *const T, len: usize| {
        // SAFETY: T is the type the slice was read as (TypeId checked by the caller below).
        std::borrow::Cow::Borrowed(unsafe { std::slice::from_raw_parts(ptr, len) })
    };
    let borrowed = if TypeId::of::<T>() == TypeId::of::<f32>() {
        tensor
            .as_slice::<f32>()
            .map(|v| cast(v.as_ptr().cast::<T>(), v.len()))
    } else if TypeId::of::<T>() == TypeId::of::<f64>() {
        tensor
            .as_slice::<f64>()
            .map(|v| cast(v.as_ptr().cast::<T>(), v.len()))
    } else {
        None
    };
    match borrowed {
        Some(values) if values.len() == tensor.layout().num_elements() => Some(values),
        _ => flex_values::<T>(tensor.clone()).map(std::borrow::Cow::Owned),
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
    let x = flex_slice::<T>(&x)?;
    let x: &[T] = &x;
    let weight = flex_values::<T>(weight)?;
    let bias = flex_values::<T>(bias)?;
    let (ck, wide, out_len) = (d.ck(), d.wide(), d.out_len());
    let image = d.c * d.h * d.w;
    let chunk = d.chunk();
    let fused = d.epilogue.active();
    let offsets: Vec<usize> = (0..ck).map(|r| row_offset(d, r)).collect();
    // Without the tape, one padded image per chunk suffices.
    let padded_len = d.padded_len();
    let chunks = d.b.div_ceil(chunk);
    let (per_chunk, total) = if keep {
        (chunk * padded_len, d.b * padded_len)
    } else {
        (padded_len, chunks * padded_len)
    };
    let mut padded = T::buffer(total);
    let mut out = vec![T::ZERO; d.b * out_len];
    let mut from = vec![0u8; if fused { d.b * out_len } else { 0 }];
    let mut from_chunks: Vec<Option<&mut [u8]>> = if fused {
        from.chunks_mut(chunk * out_len).map(Some).collect()
    } else {
        (0..chunks).map(|_| None).collect()
    };
    out.par_chunks_mut(chunk * out_len)
        .zip(padded.par_chunks_mut(per_chunk))
        .zip(x.par_chunks(chunk * image))
        .zip(from_chunks.par_iter_mut())
        .for_each(|(((out, padded), x), from)| {
            let images = x.len() / image;
            let mut cols = Vec::new();
            let mut y = T::scratch(d.o * wide);
            for s in 0..images {
                let padded = if keep {
                    &mut padded[s * padded_len..(s + 1) * padded_len]
                } else {
                    &mut padded[..]
                };
                pad_image(&x[s * image..(s + 1) * image], padded, d);
                for (row, &bv) in y.chunks_exact_mut(wide).zip(&bias) {
                    row.fill(bv);
                }
                conv_gemm(&weight, padded, &offsets, d, &mut cols, &mut y);
                let out = &mut out[s * out_len..(s + 1) * out_len];
                match from.as_deref_mut() {
                    Some(from) => {
                        epilogue_forward(&y, out, &mut from[s * out_len..(s + 1) * out_len], d)
                    }
                    None => {
                        for (o, plane) in y.chunks_exact(wide).enumerate() {
                            for i in 0..d.ho {
                                out[(o * d.ho + i) * d.wo..(o * d.ho + i + 1) * d.wo]
                                    .copy_from_slice(&plane[i * d.wpad()..i * d.wpad() + d.wo]);
                            }
                        }
                    }
                }
            }
            T::recycle(y);
            T::recycle(cols);
        });
    drop(from_chunks);
    let out = flex_tensor(out, d.out_shape());
    if !keep {
        T::recycle(padded);
        return Some((out, None));
    }
    Some((
        out,
        Some(Tape {
            dims: *d,
            weight,
            padded,
            from,
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
        let d_out = flex_slice::<T>(&d_out).expect("the output gradient has the op's dtype");
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
    let (ck, wide, out_len) = (d.ck(), d.wide(), d.out_len());
    let image = d.c * d.h * d.w;
    let chunk = d.chunk();
    let fused = d.epilogue.active();
    let offsets: Vec<usize> = (0..ck).map(|r| row_offset(d, r)).collect();
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
        .map(|(ci, mut dx)| {
            let first = ci * chunk;
            let images = chunk.min(d.b - first);
            let mut dw = vec![T::ZERO; d.o * ck];
            let mut db = vec![T::ZERO; d.o];
            let mut delta = T::scratch(images * d.o * wide);
            let mut cols = Vec::new();
            let (mut dcols, mut dx_pad) = if dx.is_some() {
                (T::scratch(ck * wide), T::scratch(d.padded_len()))
            } else {
                (Vec::new(), Vec::new())
            };
            for (s, delta) in delta.chunks_exact_mut(d.o * wide).enumerate() {
                let b = first + s;
                let g = &d_out[b * out_len..(b + 1) * out_len];
                let from = if fused {
                    &tape.from[b * out_len..(b + 1) * out_len]
                } else {
                    &[]
                };
                epilogue_backward(g, from, delta, &mut db, d);
                if let Some(dx) = dx.as_deref_mut() {
                    // ∂cols = Wᵀ · δ_b, then col2im.
                    matmul(
                        ck,
                        wide,
                        d.o,
                        &mut dcols,
                        wide,
                        false,
                        View::transposed(&tape.weight, ck),
                        View::rows(delta, wide),
                    );
                    col2im(&dcols, &mut dx_pad, &mut dx[s * image..(s + 1) * image], d);
                }
            }
            if need[1] {
                // ∂W += Σ_s δ_s · cols_sᵀ, the columns read in place from the padded images.
                let plen = d.padded_len();
                let padded = &tape.padded[first * plen..(first + images) * plen];
                weight_grad(&delta, padded, &offsets, d, &mut cols, &mut dw);
            }
            T::recycle(delta);
            T::recycle(cols);
            T::recycle(dcols);
            T::recycle(dx_pad);
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
