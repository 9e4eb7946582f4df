//! Hand-written CPU kernels with their own backward pass, registered as single operations in
//! burn's autodiff graph.
//!
//! burn's autodiff records one graph node per tensor operation; a recurrent network run step by
//! step records ~20 of them per time step, each with its own allocation, its own backward closure
//! and a small matrix product. [`lstm`] replaces the whole LSTM sequence by **one** node whose
//! forward (two kinds of matrix products and the fused gate arithmetic) and backward (back
//! propagation through time by hand) are written here on plain `&[f32]` slices.
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
//! results are packed into one tensor and taken apart with `narrow` (each `narrow`'s backward
//! writes one zero tensor of the packed size, cheap next to the kernel); f32 and f64 only; only
//! the Flex CPU backend (others fall back). The state is kept as plain vectors: no gradient
//! checkpointing inside the op (it is `compute_bound`, its output is never recomputed).
//!
//! # The same mechanism for the GNN and the CNN (sketch, not built)
//!
//! - GNN message passing (issue 4): one op `edge_mlp_scatter(x [N, F], edges [E, 2] Int,
//!   W₁, b₁, W₂, b₂) → [N, F']` gathering x_src ‖ x_dst per edge, running the two-layer MLP on
//!   [E, 2F] with one GEMM per layer and summing into the destination nodes in the same pass; the
//!   tape keeps the pre-activations [E, hidden]; the backward scatters ∂L/∂out[dst] back to the
//!   edges, runs the MLP backward (two GEMMs for the weights, two for the inputs) and
//!   scatter-adds into ∂L/∂x at both ends. The edge index is an `Int` tensor: its primitive
//!   converts with `try_into_primitive::<Flex>` and is not a differentiable input (N = 5 float
//!   inputs).
//! - CNN (issue 10): one op `conv2d(x [B, C, H, W], w [O, C, k, k], b) → [B, O, H', W']` doing
//!   im2col into a [B·H'·W', C·k²] buffer kept on the tape and one GEMM with w reshaped; the
//!   backward is ∂w = colsᵀ·∂y (one GEMM), ∂b = Σ ∂y, ∂cols = ∂y·w followed by col2im (the
//!   scatter-add inverse of im2col) for ∂x.
//!
//! Both reuse [`matmul`], [`Real`] and the conversion helpers of this module.

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
    let x = if x < -87.0 {
        -87.0
    } else if x > 88.0 {
        88.0
    } else {
        x
    };
    // t = SHIFTER + n exactly: its low mantissa bits are n (two's complement), which gives 2ⁿ
    // with integer operations only (a float → int conversion would not vectorise).
    let t = x * LOG2E + SHIFTER;
    let n = t - SHIFTER;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 5.000_000_1e-1;
    let y = p * (r * r) + r + 1.0;
    let pow2n = (t.to_bits().wrapping_sub(SHIFTER.to_bits()).wrapping_add(127)) << 23;
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
    assert!((m - 1) * dst_rs + n <= dst.len(), "dst: view exceeds its slice");
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
