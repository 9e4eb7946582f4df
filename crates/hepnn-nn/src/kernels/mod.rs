//! Hand-written CPU kernels with their own backward pass, registered as single operations in
//! burn's autodiff graph.
//!
//! burn's autodiff records one graph node per tensor operation; a recurrent network run step by
//! step records ~20 of them per time step, each with its own allocation, its own backward closure
//! and a small matrix product. [`lstm`] replaces the whole LSTM sequence by **one** node whose
//! forward (two kinds of matrix products and the fused gate arithmetic) and backward (back
//! propagation through time by hand) are written here on plain `&[f32]` slices. [`conv`] does the
//! same for a convolution (with its ReLU and max-pool), whose burn backward computes the weight
//! gradient as a second convolution over swapped axes.
//!
//! # How a custom operation reaches burn 0.22.1's autodiff without a backend generic
//!
//! hepnn uses `Tensor<D>` on a runtime [`Device`](burn::prelude::Device); the concrete backend
//! sits behind burn's *dispatch* layer. Everything needed is public, behind burn's `extension`
//! cargo feature (enabled in the workspace `Cargo.toml`):
//!
//! - `burn-tensor-0.22.1/src/tensor/api/mod.rs:34-37`: the `extension` module is compiled only
//!   with the feature. It gives [`Tensor::try_into_primitive::<B>`](burn::Tensor::try_into_primitive)
//!   (`extension.rs:95`) and [`Tensor::from_primitive::<B>`](burn::Tensor::from_primitive)
//!   (`extension.rs:116`). Without the feature the tensor's `primitive` field is `pub(crate)`
//!   (`api/base.rs:80`) and no user code can reach the backend tensor.
//! - `burn-dispatch-0.22.1/src/tensor.rs:513,600`: `DispatchKindConversion<Autodiff<Flex, C>>`
//!   is implemented for the dispatch tensor, for each checkpointing strategy `C`; a tensor on
//!   `Device::flex().autodiff()` converts to `AutodiffTensor<Flex>`, one on `Device::flex()` to
//!   `FlexTensor`. The conversion fails (an `Err`, not a panic) on any other backend, so the
//!   kernel falls back to the plain burn graph there.
//! - `burn-core-0.22.1/src/lib.rs:56-58` + `burn-dispatch-0.22.1/src/lib.rs:90-105`: with the
//!   feature, `burn::backend` re-exports `Autodiff`, `Flex`, the `flex` crate (`FlexTensor`) and
//!   the `autodiff` crate (the [`Backward`](burn::backend::autodiff::ops::Backward) trait).
//! - `burn-autodiff-0.22.1/src/ops/backward.rs:17`: `Backward<B, N>` (N inputs, one output, a
//!   `State` kept until the backward pass); `ops/base.rs:285` `OpsKind::{Tracked, UnTracked}`:
//!   `op.prepare::<C>([guards]).compute_bound().stateful()` then `prep.finish(state, output)`,
//!   exactly as burn's own `float_matmul` (`ops/tensor.rs:619`). In `backward`,
//!   `grads.consume::<Flex>(&ops.node)` (`grads.rs:96`) gives ∂L/∂output and
//!   `grads.register::<Flex>(parent.id, g)` (`grads.rs:131`) adds ∂L/∂input for each input whose
//!   `ops.parents[i]` is `Some` (i.e. that needs a gradient).
//!
//! burn's own route for this, `#[backend_extension(Flex, Autodiff)]` on a trait
//! (`burn-backend-extension-0.22.1/src/lib.rs:65`), generates the same dispatch glue for an
//! extension trait; it still needs the hand-written `Autodiff<B, C>` implementation with a
//! `Backward` impl, so for one CPU backend the direct conversion above is shorter.
//!
//! Limits of the mechanism: one output per node (a `Backward` has one `ops.node`), so several
//! results are packed into one tensor and taken apart again (burn's `narrow` works, but each
//! `narrow`'s backward allocates a zero tensor of the packed size; [`lstm`] uses a small unpacking
//! node of its own whose backward writes into a pooled buffer instead); f32 and f64 only; only
//! the Flex CPU backend (others fall back). The state is kept as plain vectors: no gradient
//! checkpointing inside the op (it is `compute_bound`, its output is never recomputed).
//!
//! # The same mechanism for the GNN ([`gnn`]) and the CNN ([`conv`])
//!
//! - GNN message passing (issue 4), built: [`gnn::edge_mlp`] runs an edge MLP on [x_dst, x_src, e]
//!   without building the concatenation (the first layer split into node projections gathered
//!   per edge, the rest per block of edges in cache) as one node, and [`gnn::scatter`] sums or
//!   averages the messages onto the nodes as another; the edge index is host data
//!   ([`gnn::EdgeIndex`]), not a tensor input. Formulas in the module doc.
//! - CNN (issue 10), built in [`conv`]: `conv2d(x [B, C, H, W], w [O, C, kh, kw], b)` at stride 1
//!   with zero padding, optionally fused with ReLU and a p × p max-pool, → `[B, O, H'/p, W'/p]`.
//!   Forward per image: y = W · cols + b, the columns of the zero-padded image read in place
//!   (each row of the columns is one contiguous run of the padded image, computed on the padded
//!   width); the tape keeps the padded images and, for each pooled output, where its maximum came
//!   from. Backward: δ = ∂L/∂y scattered through the pool/ReLU positions; ∂b = Σ δ; ∂w = Σ_b δ_b ·
//!   cols_bᵀ as AVX-512 dot products reading the columns in place; ∂x = col2im(wᵀ · δ_b) (the
//!   scatter-add inverse of im2col).
//!
//! Both reuse [`matmul`], [`Real`] and the conversion helpers of this module.

/// Defines `fn $name` that runs `$body` compiled for the first listed x86-64 feature set the CPU
/// has (each entry: the `target_feature` list and the run-time check that guards it), else the
/// portable build. `$body` is `#[inline(always)]`, so each variant is the body vectorised for
/// its features; the wrappers' signatures are written once, here.
macro_rules! simd_dispatch {
    (
        $(#[$attr:meta])*
        fn $name:ident<$T:ident: Real>($($arg:ident: $ty:ty),* $(,)?) => $body:ident,
        [$($variant:tt),+ $(,)?]
    ) => {
        $(#[$attr])*
        fn $name<$T: Real>($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                simd_dispatch!(@variants $T, ($($arg: $ty),*), ($($arg),*), $body, [$($variant),+]);
            }
            $body($($arg),*)
        }
    };
    (@variants $T:ident, $params:tt, $args:tt, $body:ident, []) => {};
    (@variants $T:ident, $params:tt, $args:tt, $body:ident, [$first:tt $(, $rest:tt)*]) => {
        simd_dispatch!(@variant $T, $params, $args, $body, $first);
        simd_dispatch!(@variants $T, $params, $args, $body, [$($rest),*]);
    };
    (@variant $T:ident, ($($p:ident: $ty:ty),*), ($($a:ident),*), $body:ident, ($features:literal, $check:expr)) => {
        if $check {
            #[target_feature(enable = $features)]
            #[allow(clippy::too_many_arguments)]
            fn variant<$T: Real>($($p: $ty),*) {
                $body($($a),*)
            }
            // SAFETY: the check above found these features on this CPU.
            return unsafe { variant($($a),*) };
        }
    };
}

pub mod conv;
pub mod gnn;
pub mod lstm;

use core::fmt::Debug;
use core::ops::{Add, AddAssign, Div, Mul, Neg, Sub};

use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Element, TensorData};

/// The float types the kernels run in: f32 (training) and f64 (gradient checks).
pub trait Real:
    Element
    + Copy
    + Default
    + Debug
    + Send
    + Sync
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + 'static
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// 2.
    const TWO: Self;
    /// burn's dtype of this type.
    const DTYPE: DType;
    /// eˣ (f32: a vectorisable polynomial, relative error ≈ 1e-7; f64: the standard library's).
    fn exp(self) -> Self;
    /// A zero-filled buffer of `len` values (f32: reused from a per-thread pool, see [`recycle`]).
    fn buffer(len: usize) -> Vec<Self> {
        vec![Self::ZERO; len]
    }
    /// A buffer of `len` values whose contents are unspecified (zeros or values left by an
    /// earlier use): for buffers the caller overwrites entirely.
    fn scratch(len: usize) -> Vec<Self> {
        Self::buffer(len)
    }
    /// Gives a buffer back to the pool (f32) or drops it.
    fn recycle(buffer: Vec<Self>) {
        drop(buffer);
    }
    /// The product of [`matmul`] by the AVX-512 kernel of this module where the type and the CPU
    /// allow it (f32, AVX-512F, rhs row-major); false if it did not run.
    #[allow(clippy::too_many_arguments)]
    fn matmul_fast(
        _m: usize,
        _n: usize,
        _k: usize,
        _dst: &mut [Self],
        _dst_rs: usize,
        _accumulate: bool,
        _lhs: View<'_, Self>,
        _rhs: View<'_, Self>,
    ) -> bool {
        false
    }
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const TWO: Self = 2.0;
    const DTYPE: DType = DType::F32;
    #[inline(always)]
    fn exp(self) -> Self {
        exp_f32(self)
    }
    fn buffer(len: usize) -> Vec<Self> {
        let mut b = Self::scratch(len);
        b.fill(0.0);
        b
    }
    fn scratch(len: usize) -> Vec<Self> {
        POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            // The smallest pooled buffer that is large enough.
            let best = pool
                .iter()
                .enumerate()
                .filter(|(_, b)| b.capacity() >= len)
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i);
            match best {
                Some(i) => {
                    let mut b = pool.swap_remove(i);
                    b.resize(len, 0.0);
                    b
                }
                None => vec![0.0; len],
            }
        })
    }
    fn recycle(buffer: Vec<Self>) {
        POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            // Small buffers are cheap to allocate: only large ones are kept.
            if buffer.capacity() >= 1 << 14 && pool.len() < POOL_SIZE {
                pool.push(buffer);
            }
        });
    }
    fn matmul_fast(
        m: usize,
        n: usize,
        k: usize,
        dst: &mut [Self],
        dst_rs: usize,
        accumulate: bool,
        lhs: View<'_, Self>,
        rhs: View<'_, Self>,
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if rhs.cs == 1 && avx512::available() {
            // SAFETY: the CPU has AVX-512F; `matmul` checked every view against its slice.
            unsafe {
                avx512::gemm(
                    m,
                    n,
                    k,
                    dst.as_mut_ptr(),
                    dst_rs,
                    accumulate,
                    lhs.data.as_ptr(),
                    lhs.rs,
                    lhs.cs,
                    rhs.data.as_ptr(),
                    rhs.rs,
                )
            };
            return true;
        }
        let _ = (m, n, k, dst, dst_rs, accumulate, lhs, rhs);
        false
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const TWO: Self = 2.0;
    const DTYPE: DType = DType::F64;
    #[inline(always)]
    fn exp(self) -> Self {
        f64::exp(self)
    }
}

/// How many f32 buffers each thread keeps for reuse.
const POOL_SIZE: usize = 16;

std::thread_local! {
    /// Large buffers freed by one training step and taken again by the next: allocating them
    /// afresh costs page faults and zeroing of fresh pages (megabytes per LSTM step).
    static POOL: std::cell::RefCell<Vec<Vec<f32>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Gives a buffer back to the per-thread pool of [`Real::buffer`] (f32; other types drop it).
pub fn recycle<T: Real>(buffer: Vec<T>) {
    T::recycle(buffer);
}

/// eˣ in f32 without a library call, so that loops over slices vectorise (Cephes `expf`:
/// x = n ln 2 + r, |r| ≤ ½ ln 2, e^r by a degree-6 polynomial, 2ⁿ built in the exponent bits).
/// x is clamped to [−87, 88] (e⁻⁸⁷ ≈ 1.6e−38, e⁸⁸ ≈ 1.7e38); NaN stays NaN.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in a part exact in few bits and the remainder.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5·2²³: adding and subtracting it rounds to the nearest integer.
    const SHIFTER: f32 = 12_582_912.0;
    // (`clamp` keeps NaN)
    let x = x.clamp(-87.0, 88.0);
    // t = SHIFTER + n exactly: its low mantissa bits are n (two's complement), which gives 2ⁿ
    // with integer operations only (a float → int conversion would not vectorise).
    let t = x * LOG2E + SHIFTER;
    let n = t - SHIFTER;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5; // Cephes: 5.0000001e-1, which is 0.5 in f32
    let y = p * (r * r) + r + 1.0;
    let pow2n = (t
        .to_bits()
        .wrapping_sub(SHIFTER.to_bits())
        .wrapping_add(127))
        << 23;
    y * f32::from_bits(pow2n)
}

/// σ(x) = 1 / (1 + e⁻ˣ) in place.
#[inline]
pub fn sigmoid_in_place<T: Real>(values: &mut [T]) {
    for v in values {
        *v = T::ONE / (T::ONE + (-*v).exp());
    }
}

/// tanh x = 2σ(2x) − 1 in place.
#[inline]
pub fn tanh_in_place<T: Real>(values: &mut [T]) {
    for v in values {
        *v = T::TWO / (T::ONE + (-(T::TWO * *v)).exp()) - T::ONE;
    }
}

/// A matrix view on a slice: element (r, c) is `data[r·rs + c·cs]`.
#[derive(Clone, Copy, Debug)]
pub struct View<'a, T> {
    /// The values.
    pub data: &'a [T],
    /// Row stride.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

impl<'a, T> View<'a, T> {
    /// A row-major matrix with `cols` columns.
    pub fn rows(data: &'a [T], cols: usize) -> Self {
        Self {
            data,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose of a row-major matrix with `cols` columns.
    pub fn transposed(data: &'a [T], cols: usize) -> Self {
        Self {
            data,
            rs: 1,
            cs: cols,
        }
    }

    fn check(&self, rows: usize, cols: usize, what: &str) {
        if rows > 0 && cols > 0 {
            let last = (rows - 1) * self.rs + (cols - 1) * self.cs;
            assert!(last < self.data.len(), "{what}: view exceeds its slice");
        }
    }
}

/// Products at least this large (m·n·k) use rayon's threads.
const PARALLEL_WORK: usize = 1 << 21;

/// `dst = lhs · rhs` (or `dst += lhs · rhs` with `accumulate`), lhs `m × k`, rhs `k × n`, dst
/// `m × n` row-major with row stride `dst_rs`. Uses the `gemm` crate (the one burn-flex uses).
///
/// # Panics
/// When a view does not fit its slice.
#[allow(clippy::too_many_arguments)]
pub fn matmul<T: Real>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [T],
    dst_rs: usize,
    accumulate: bool,
    lhs: View<'_, T>,
    rhs: View<'_, T>,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                dst[r * dst_rs..r * dst_rs + n].fill(T::ZERO);
            }
        }
        return;
    }
    lhs.check(m, k, "lhs");
    rhs.check(k, n, "rhs");
    assert!(
        (m - 1) * dst_rs + n <= dst.len(),
        "dst: view exceeds its slice"
    );
    if T::matmul_fast(m, n, k, dst, dst_rs, accumulate, lhs, rhs) {
        return;
    }
    let parallelism = if m * n * k >= PARALLEL_WORK {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: every index the product touches was checked against its slice above; T is f32 or
    // f64 (the `Real` implementations), which `gemm` supports.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// A small f32 matrix product for AVX-512 CPUs: 8 × 32 blocks of the output held in 16 zmm
/// registers, the lhs broadcast element by element, the rhs read in place (row-major, no packing:
/// the per-step products of a recurrent network reuse the same weights T times, and `gemm`
/// repacks them on every call), k in chunks of 256 so a chunk of rhs stays in cache across the
/// row blocks.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// Load/store masks of a 32-column panel holding `nr` ≤ 32 valid columns: the first and
    /// the second 16 lanes.
    pub(crate) fn tail_masks(nr: usize) -> (__mmask16, __mmask16) {
        let lanes = |n: usize| -> __mmask16 {
            if n >= 16 {
                0xffff
            } else {
                ((1u32 << n) - 1) as __mmask16
            }
        };
        (lanes(nr), lanes(nr.saturating_sub(16)))
    }

    const MR: usize = 8;
    const NR: usize = 32;
    const KC: usize = 256;

    /// Whether the CPU has AVX-512F (checked once). `HEPNN_NO_AVX512=1` turns it off, to test
    /// the portable path (the `gemm` crate, AVX2 gate arithmetic) on a machine that has it.
    pub fn available() -> bool {
        static YES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *YES.get_or_init(|| {
            std::env::var_os("HEPNN_NO_AVX512").is_none()
                && std::arch::is_x86_feature_detected!("avx512f")
        })
    }

    /// `c (+)= a · b`: c `m × n` (row stride `ldc`), a `m × k` with element (r, j) at
    /// `a[r·a_rs + j·a_cs]`, b `k × n` row-major (row stride `ldb`).
    ///
    /// # Safety
    /// The CPU has AVX-512F, m, n, k > 0, and every index the strides reach is inside the three
    /// allocations.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn gemm(
        m: usize,
        n: usize,
        k: usize,
        c: *mut f32,
        ldc: usize,
        accumulate: bool,
        a: *const f32,
        a_rs: usize,
        a_cs: usize,
        b: *const f32,
        ldb: usize,
    ) {
        let mut k0 = 0;
        let mut add = accumulate;
        while k0 < k {
            let kc = KC.min(k - k0);
            let mut j = 0;
            while j < n {
                let nr = NR.min(n - j);
                let (mask0, mask1) = tail_masks(nr);
                let b_at = b.wrapping_add(k0 * ldb + j);
                let mut i = 0;
                while i + MR <= m {
                    // SAFETY: forwarded from the caller's contract.
                    unsafe {
                        if nr == NR {
                            block::<MR, true>(
                                kc,
                                c.wrapping_add(i * ldc + j),
                                ldc,
                                add,
                                a.wrapping_add(i * a_rs + k0 * a_cs),
                                a_rs,
                                a_cs,
                                b_at,
                                ldb,
                                mask0,
                                mask1,
                            )
                        } else {
                            block::<MR, false>(
                                kc,
                                c.wrapping_add(i * ldc + j),
                                ldc,
                                add,
                                a.wrapping_add(i * a_rs + k0 * a_cs),
                                a_rs,
                                a_cs,
                                b_at,
                                ldb,
                                mask0,
                                mask1,
                            )
                        }
                    };
                    i += MR;
                }
                while i < m {
                    // SAFETY: forwarded from the caller's contract.
                    unsafe {
                        block::<1, false>(
                            kc,
                            c.wrapping_add(i * ldc + j),
                            ldc,
                            add,
                            a.wrapping_add(i * a_rs + k0 * a_cs),
                            a_rs,
                            a_cs,
                            b_at,
                            ldb,
                            mask0,
                            mask1,
                        )
                    };
                    i += 1;
                }
                j += NR;
            }
            k0 += kc;
            add = true;
        }
    }

    /// One `R × 32` block of c over `kc` values of k (masked columns beyond n are neither read
    /// nor written).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn block<const R: usize, const FULL: bool>(
        kc: usize,
        c: *mut f32,
        ldc: usize,
        add: bool,
        a: *const f32,
        a_rs: usize,
        a_cs: usize,
        b: *const f32,
        ldb: usize,
        mask0: __mmask16,
        mask1: __mmask16,
    ) {
        let mut acc0 = [_mm512_setzero_ps(); R];
        let mut acc1 = [_mm512_setzero_ps(); R];
        for kk in 0..kc {
            let row = b.wrapping_add(kk * ldb);
            // SAFETY: the unmasked lanes are inside b (caller's contract); masked lanes are not
            // accessed.
            let (b0, b1) = unsafe {
                if FULL {
                    (_mm512_loadu_ps(row), _mm512_loadu_ps(row.wrapping_add(16)))
                } else {
                    (
                        _mm512_maskz_loadu_ps(mask0, row),
                        _mm512_maskz_loadu_ps(mask1, row.wrapping_add(16)),
                    )
                }
            };
            for r in 0..R {
                // SAFETY: (r, kk) is inside a (caller's contract).
                let av = _mm512_set1_ps(unsafe { *a.wrapping_add(r * a_rs + kk * a_cs) });
                acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
                acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
            }
        }
        for r in 0..R {
            let out = c.wrapping_add(r * ldc);
            // SAFETY: the unmasked lanes of row r are inside c (caller's contract).
            unsafe {
                let (mut v0, mut v1) = (acc0[r], acc1[r]);
                if add {
                    v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(mask0, out));
                    v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(mask1, out.wrapping_add(16)));
                }
                _mm512_mask_storeu_ps(out, mask0, v0);
                _mm512_mask_storeu_ps(out.wrapping_add(16), mask1, v1);
            }
        }
    }
}

/// Whether the CPU has AVX-512F (checked once).
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx512_available() -> bool {
    avx512::available()
}

/// The values of a Flex tensor, row-major (copied when shared or strided).
pub(crate) fn flex_values<T: Real>(tensor: FlexTensor) -> Option<Vec<T>> {
    if tensor.dtype() != T::DTYPE {
        return None;
    }
    tensor.into_data().try_into_vec::<T>().ok()
}

/// A Flex tensor of the given shape holding `values`.
pub(crate) fn flex_tensor<T: Real>(values: Vec<T>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_accurate() {
        let mut worst = 0.0f64;
        for i in -8000..=8000 {
            let x = i as f32 * 0.01;
            let got = exp_f32(x) as f64;
            let want = (x as f64).exp();
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst < 3e-7, "relative error {worst:e}");
        assert!(exp_f32(f32::NAN).is_nan());
        assert_eq!(exp_f32(-1000.0), (-87.0f32).exp());
    }

    /// f32 products of awkward sizes (the AVX-512 kernel's row and column remainders, k across
    /// two chunks, a transposed lhs) against the definition.
    #[test]
    fn f32_matmul_matches_the_definition() {
        for (m, n, k) in [
            (1, 1, 1),
            (9, 33, 5),
            (17, 50, 300),
            (8, 32, 256),
            (3, 7, 513),
        ] {
            let a: Vec<f32> = (0..m * k)
                .map(|v| ((v * 7 % 13) as f32 - 6.0) * 0.1)
                .collect();
            let b: Vec<f32> = (0..k * n)
                .map(|v| ((v * 5 % 11) as f32 - 5.0) * 0.1)
                .collect();
            for accumulate in [false, true] {
                let mut c = vec![0.5f32; m * (n + 3)];
                // a given transposed: at[j·m + r] = a[r·k + j].
                let at: Vec<f32> = (0..k * m).map(|v| a[(v % m) * k + v / m]).collect();
                matmul(
                    m,
                    n,
                    k,
                    &mut c,
                    n + 3,
                    accumulate,
                    View::transposed(&at, m),
                    View::rows(&b, n),
                );
                for r in 0..m {
                    for col in 0..n + 3 {
                        let got = c[r * (n + 3) + col];
                        let want = if col >= n {
                            0.5
                        } else {
                            let dot: f64 = (0..k)
                                .map(|j| a[r * k + j] as f64 * b[j * n + col] as f64)
                                .sum();
                            dot + if accumulate { 0.5 } else { 0.0 }
                        };
                        assert!(
                            (got as f64 - want).abs() < 1e-4,
                            "{m}×{n}×{k} ({r}, {col}): {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn matmul_matches_the_definition() {
        let (m, n, k) = (3, 4, 5);
        let a: Vec<f64> = (0..m * k).map(|v| v as f64 * 0.5 - 3.0).collect();
        let b: Vec<f64> = (0..k * n).map(|v| (v as f64).sin()).collect();
        let mut c = vec![1.0; m * n];
        // c += a · bᵀᵀ, b given transposed.
        let bt: Vec<f64> = (0..n * k).map(|v| b[(v % k) * n + v / k]).collect();
        matmul(
            m,
            n,
            k,
            &mut c,
            n,
            true,
            View::rows(&a, k),
            View::transposed(&bt, k),
        );
        for r in 0..m {
            for col in 0..n {
                let want: f64 = 1.0 + (0..k).map(|j| a[r * k + j] * b[j * n + col]).sum::<f64>();
                assert!((c[r * n + col] - want).abs() < 1e-12);
            }
        }
    }
}
