//! Message passing as two autodiff operations: the edge MLP on gathered node features
//! ([`edge_mlp`]) and the scatter of edge messages onto nodes ([`scatter`]).
//!
//! # The edge MLP without the concatenation
//!
//! An edge network φ([x_i, x_j, e]) (i = target, j = source) whose first layer is linear splits
//! that layer's weight by rows, W₁ = [W₁ᵃ; W₁ᵇ; W₁ᶜ], so that (exactly)
//!
//! ```text
//! [x_i, x_j, e] W₁ + b₁ = P[i] + Q[j] + e W₁ᶜ,    P = x W₁ᵃ + b₁,  Q = x W₁ᵇ     ([N, H] each)
//! ```
//!
//! The N nodes are projected once (N ≪ E) and each edge gathers two rows, instead of building
//! the [E, 2F + F_e] concatenation and multiplying it (E × (2F + F_e) × H). The rest of the MLP
//! runs per block of [`BLOCK`] edges, in cache, rayon-parallel over blocks:
//!
//! ```text
//! z = P[dst] + Q[src] + e W₁ᶜ                     [B, H]
//! u = γ x̂ + β, x̂ = (z − μ(z)) / √(σ²(z) + ε)       (with LayerNorm; else u = z)
//! a = max(u, 0)
//! y = a W₂ + b₂ (+ e with the residual)            [B, D_out]
//! ```
//!
//! The tape keeps x̂ (or z) `[E, H]` and 1/√(σ² + ε) `[E]`; a is recomputed. The backward pass,
//! per block, with δy = ∂L/∂y:
//!
//! ```text
//! ∂b₂ += Σ δy,  ∂W₂ += aᵀ δy,  δa = δy W₂ᵀ,  δu = δa ⊙ [u > 0]
//! LayerNorm: ∂γ += Σ δu ⊙ x̂, ∂β += Σ δu, g = δu ⊙ γ,
//!            δz = (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)) / √(σ² + ε)           (else δz = δu)
//! ∂b₁ += Σ δz,  ∂W₁ᶜ += eᵀ δz,  ∂e = δz W₁ᶜᵀ (+ δy with the residual)
//! ∂P[dst] += δz,  ∂Q[src] += δz                                      (scatter-add)
//! ```
//!
//! then, once for the nodes, ∂W₁ᵃ = xᵀ ∂P, ∂W₁ᵇ = xᵀ ∂Q, ∂x = ∂P W₁ᵃᵀ + ∂Q W₁ᵇᵀ. The scatter-adds of
//! the backward pass go to one [N, 2H] buffer per thread: the edges are cut into one contiguous
//! range per rayon thread and the buffers (and weight gradients) summed in range order, so a run
//! is deterministic for a given thread count.
//!
//! [`node_mlp`] is the same operation for the node update φ_O([x, m]): W₁ = [W₁ᵃ; W₁ᶜ], no source
//! rows, the identity as edge list (one "edge" per node, m in the place of e), so
//! [x, m] W₁ + b₁ = P + m W₁ᶜ without building [x, m].
//!
//! # The scatter
//!
//! ```text
//! sum:  a_i = Σ_{e: dst(e) = i} m_e        mean: a_i = (1/max(deg_i, 1)) Σ m_e
//! bidirectional: [a_i, b_i] with b_i = ⊕_{e: src(e) = i} m_e          ([N, 2D])
//! backward: ∂m_e = ∂a_{dst(e)} w_{dst(e)} (+ ∂b_{src(e)} w'_{src(e)})   (a gather)
//! ```
//!
//! computed node by node over the edges sorted by target (and by source): no write conflicts,
//! deterministic whatever the thread count. The edge MLP and the scatter are separate nodes
//! because an autodiff node has one output and both e' (the next iteration's edge features) and
//! the aggregate are needed; the scatter reads e' once more (E·D values), which is cheap next to
//! the MLP.
//!
//! Both functions return `None` where the kernels do not apply (not Flex, dtypes other than
//! f32/f64, an MLP that is not Linear–(LayerNorm)–ReLU–Linear, shapes that do not match the
//! index); the caller then runs the plain burn graph, which computes the same function.

use std::any::TypeId;
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

use super::{Real, View, flex_tensor, matmul};
use crate::mlp::Mlp;
use crate::neuron::Activation;

/// Edges per block of the edge MLP (its buffers, B × 64 values, stay in L1/L2).
pub const BLOCK: usize = 256;

/// ε of the LayerNorms of [`Mlp`] (burn's `LayerNormConfig` default, which `Mlp` uses).
pub const LN_EPSILON: f64 = 1e-5;

/// A graph's edges on the host: sources, targets, and both sorted orders (for the scatter).
#[derive(Debug, Clone)]
pub struct EdgeIndex {
    num_nodes: usize,
    sources: Vec<u32>,
    targets: Vec<u32>,
    /// Edges grouped by target.
    incoming: Csr,
    /// Edges grouped by source.
    outgoing: Csr,
}

/// Edges grouped by node: those of node i are `edges[offsets[i]..offsets[i + 1]]`, in their
/// original order.
#[derive(Debug, Clone)]
struct Csr {
    offsets: Vec<usize>,
    edges: Vec<u32>,
}

impl Csr {
    fn new(nodes: &[u32], num_nodes: usize) -> Self {
        let mut offsets = vec![0usize; num_nodes + 1];
        for &i in nodes {
            offsets[i as usize + 1] += 1;
        }
        for i in 0..num_nodes {
            offsets[i + 1] += offsets[i];
        }
        let mut next = offsets[..num_nodes].to_vec();
        let mut edges = vec![0u32; nodes.len()];
        for (k, &i) in nodes.iter().enumerate() {
            edges[next[i as usize]] = k as u32;
            next[i as usize] += 1;
        }
        Self { offsets, edges }
    }

    fn degree(&self, i: usize) -> usize {
        self.offsets[i + 1] - self.offsets[i]
    }

    fn of(&self, i: usize) -> &[u32] {
        &self.edges[self.offsets[i]..self.offsets[i + 1]]
    }
}

impl EdgeIndex {
    /// From host lists (edge k goes from `sources[k]` to `targets[k]`); `None` when the lengths
    /// differ, an index is ≥ `num_nodes`, or there are 2³² nodes or edges or more.
    pub fn new(sources: &[i64], targets: &[i64], num_nodes: usize) -> Option<Self> {
        if sources.len() != targets.len()
            || num_nodes >= u32::MAX as usize
            || sources.len() >= u32::MAX as usize
        {
            return None;
        }
        let convert = |v: &[i64]| {
            v.iter()
                .map(|&i| (0..num_nodes as i64).contains(&i).then_some(i as u32))
                .collect::<Option<Vec<u32>>>()
        };
        let sources = convert(sources)?;
        let targets = convert(targets)?;
        Some(Self {
            num_nodes,
            incoming: Csr::new(&targets, num_nodes),
            outgoing: Csr::new(&sources, num_nodes),
            sources,
            targets,
        })
    }

    /// From a `[2, E]` edge index tensor (row 0 sources, row 1 targets), read back to the host.
    pub fn from_tensor(edge_index: &Tensor<2, Int>, num_nodes: usize) -> Option<Self> {
        let [rows, edges] = edge_index.dims();
        if rows != 2 {
            return None;
        }
        let values = edge_index
            .clone()
            .into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .ok()?;
        Self::new(&values[..edges], &values[edges..], num_nodes)
    }

    /// Number of nodes N.
    pub fn num_nodes(&self) -> usize {
        self.num_nodes
    }

    /// Number of edges E.
    pub fn num_edges(&self) -> usize {
        self.sources.len()
    }
}

/// Which scatter [`scatter`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScatterMode {
    /// Divide by the number of edges (at least 1) instead of summing.
    pub mean: bool,
    /// Also aggregate each node's outgoing edges, in columns D..2D.
    pub bidirectional: bool,
}

/// Whether `t` lives on the Flex CPU backend (plain or autodiff), where the kernels of this
/// module apply: callers check it before reading an edge index back to the host.
pub fn on_flex(t: &Tensor<2>) -> bool {
    let t = [t.clone()];
    primitives::<Flex, 1>(&t).is_some()
        || primitives::<Autodiff<Flex, NoCheckpointing>, 1>(&t).is_some()
        || primitives::<Autodiff<Flex, BalancedCheckpointing>, 1>(&t).is_some()
}

// ------------------------------------------------------------------------------------------------
// Shared plumbing.

/// `t` as a contiguous Flex tensor of dtype `T`.
fn contiguous<T: Real>(t: FlexTensor) -> Option<FlexTensor> {
    if t.dtype() != T::DTYPE {
        return None;
    }
    let ok = if TypeId::of::<T>() == TypeId::of::<f32>() {
        t.as_slice::<f32>().is_some()
    } else if TypeId::of::<T>() == TypeId::of::<f64>() {
        t.as_slice::<f64>().is_some()
    } else {
        return None;
    };
    Some(if ok { t } else { t.to_contiguous() })
}

/// The values of a tensor returned by [`contiguous`].
fn slice_of<T: Real>(t: &FlexTensor) -> &[T] {
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        let s = t.as_slice::<f32>().expect("a contiguous f32 tensor");
        // SAFETY: T is f32 (same type id).
        unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<T>(), s.len()) }
    } else {
        let s = t.as_slice::<f64>().expect("a contiguous f64 tensor");
        assert_eq!(TypeId::of::<T>(), TypeId::of::<f64>());
        // SAFETY: T is f64 (checked above).
        unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<T>(), s.len()) }
    }
}

/// The primitives of backend `B`, or `None` if any does not convert.
fn primitives<B: Backend, const K: usize>(
    tensors: &[Tensor<2>; K],
) -> Option<[B::FloatTensorPrimitive; K]>
where
    DispatchTensor: DispatchKindConversion<B>,
{
    let v = tensors
        .iter()
        .map(|t| t.clone().try_into_primitive::<B>().ok())
        .collect::<Option<Vec<_>>>()?;
    v.try_into().ok()
}

/// Runs `op` on a Flex tensor set: tracked (autodiff, either checkpointing strategy) or plain.
trait KernelOp<const K: usize>: Sized {
    /// The backward node for dtype T.
    type Node<T: Real>: Backward<Flex, K, State = Arc<Self::Tape<T>>>;
    /// What the backward pass keeps.
    type Tape<T: Real>: Send + Sync + core::fmt::Debug + 'static;
    /// The forward pass (with `keep`, also the tape).
    fn forward<T: Real>(
        &self,
        inputs: [FlexTensor; K],
        keep: bool,
    ) -> Option<(FlexTensor, Option<Self::Tape<T>>)>;
    /// A fresh backward node.
    fn node<T: Real>(&self) -> Self::Node<T>;

    fn run(&self, tensors: [Tensor<2>; K]) -> Option<Tensor<2>> {
        if let Some(t) = self.tracked::<NoCheckpointing>(&tensors) {
            return Some(t);
        }
        if let Some(t) = self.tracked::<BalancedCheckpointing>(&tensors) {
            return Some(t);
        }
        let prims = primitives::<Flex, K>(&tensors)?;
        let out = match prims[0].dtype() {
            DType::F32 => self.forward::<f32>(prims, false)?.0,
            DType::F64 => self.forward::<f64>(prims, false)?.0,
            _ => return None,
        };
        Some(Tensor::from_primitive::<Flex>(out))
    }

    fn tracked<C: CheckpointStrategy>(&self, tensors: &[Tensor<2>; K]) -> Option<Tensor<2>>
    where
        DispatchTensor: DispatchKindConversion<Autodiff<Flex, C>>,
    {
        let prims = primitives::<Autodiff<Flex, C>, K>(tensors)?;
        let dtype = prims[0].primitive().dtype();
        let guards: [NodeGuard; K] = prims.each_ref().map(|t| t.node());
        let prims = prims.map(|t| t.into_primitive());
        let out = match dtype {
            DType::F32 => self.finish::<f32, C>(guards, prims)?,
            DType::F64 => self.finish::<f64, C>(guards, prims)?,
            _ => return None,
        };
        Some(Tensor::from_primitive::<Autodiff<Flex, C>>(out))
    }

    fn finish<T: Real, C: CheckpointStrategy>(
        &self,
        guards: [NodeGuard; K],
        prims: [FlexTensor; K],
    ) -> Option<<Autodiff<Flex, C> as BackendTypes>::FloatTensorPrimitive> {
        match self
            .node::<T>()
            .prepare::<C>(guards)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (out, tape) = self.forward::<T>(prims, true)?;
                Some(prep.finish(Arc::new(tape.expect("the tape was asked for")), out))
            }
            OpsKind::UnTracked(prep) => Some(prep.finish(self.forward::<T>(prims, false)?.0)),
        }
    }
}

/// Whether the CPU has AVX-512F (the block loops are compiled for it when so).
fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        super::avx512_available()
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `dst (+)= lhs · rhs` with the rows of dst split over rayon's threads.
#[allow(clippy::too_many_arguments)]
fn par_matmul<T: Real>(
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
    let threads = rayon::current_num_threads().max(1);
    let rows = m.div_ceil(threads * 4).max(64);
    let dst = &mut dst[..(m - 1) * dst_rs + n];
    dst.par_chunks_mut(rows * dst_rs)
        .enumerate()
        .for_each(|(c, d)| {
            let r0 = c * rows;
            let mr = rows.min(m - r0);
            let l = View {
                data: &lhs.data[r0 * lhs.rs..],
                rs: lhs.rs,
                cs: lhs.cs,
            };
            matmul(mr, n, k, d, dst_rs, accumulate, l, rhs);
        });
}

/// `dst = lhs · rhs` (`m × n`, row-major, small) with the reduction dimension k split over
/// rayon's threads and the partial products summed in order.
fn par_matmul_k<T: Real>(
    m: usize,
    n: usize,
    k: usize,
    lhs: View<'_, T>,
    rhs: View<'_, T>,
) -> Vec<T> {
    let threads = rayon::current_num_threads().max(1);
    let part = k.div_ceil(threads).max(1);
    let partials: Vec<Vec<T>> = (0..k.div_ceil(part))
        .into_par_iter()
        .map(|c| {
            let k0 = c * part;
            let kk = part.min(k - k0);
            let mut out = vec![T::ZERO; m * n];
            matmul(
                m,
                n,
                kk,
                &mut out,
                n,
                false,
                View {
                    data: &lhs.data[k0 * lhs.cs..],
                    rs: lhs.rs,
                    cs: lhs.cs,
                },
                View {
                    data: &rhs.data[k0 * rhs.rs..],
                    rs: rhs.rs,
                    cs: rhs.cs,
                },
            );
            out
        })
        .collect();
    let mut iter = partials.into_iter();
    let mut out = iter.next().unwrap_or_else(|| vec![T::ZERO; m * n]);
    for p in iter {
        add_to(&mut out, &p);
    }
    out
}

fn add_to<T: Real>(acc: &mut [T], v: &[T]) {
    for (a, &b) in acc.iter_mut().zip(v) {
        *a += b;
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

// ------------------------------------------------------------------------------------------------
// The edge MLP.

/// Sizes and options of one edge MLP call.
#[derive(Debug, Clone, Copy)]
struct EdgeDims {
    n: usize,
    e: usize,
    /// Node features F.
    f: usize,
    /// Rows of W₁ for the source node: F, or 0 for a node MLP ([`node_mlp`]: no x_src).
    fs: usize,
    /// Edge input features (0: none).
    de: usize,
    /// Hidden width H.
    h: usize,
    /// Output width.
    dout: usize,
    layer_norm: bool,
    residual: bool,
}

/// The edge MLP op: inputs x, e (a dummy `[1, 1]` when de = 0), W₁, b₁, γ, β, W₂, b₂ (absent
/// biases and LayerNorm parameters given as untracked constants).
#[derive(Debug, Clone)]
struct EdgeMlpOp {
    dims: EdgeDims,
    index: Arc<EdgeIndex>,
}

#[derive(Debug)]
struct EdgeTape<T: Real> {
    op: EdgeMlpOp,
    /// The eight inputs (shared, not copied).
    inputs: [FlexTensor; 8],
    /// x̂ (LayerNorm) or z, `[E, H]`.
    hidden: Vec<T>,
    /// 1/√(σ² + ε) per edge (LayerNorm only).
    rstd: Vec<T>,
}

impl<T: Real> Drop for EdgeTape<T> {
    fn drop(&mut self) {
        T::recycle(std::mem::take(&mut self.hidden));
    }
}

/// Read-only values every block uses.
struct Consts<'a, T> {
    d: EdgeDims,
    /// [P | Q], `[N, 2H]`, b₁ folded into P.
    pq: &'a [T],
    w1c: &'a [T],
    w1c_t: Vec<T>,
    gamma: &'a [T],
    beta: &'a [T],
    w2: &'a [T],
    w2_t: Vec<T>,
    b2: &'a [T],
    src: &'a [u32],
    dst: &'a [u32],
    eps: T,
}

#[derive(Debug)]
struct EdgeMlpNode<T>(core::marker::PhantomData<T>);

impl KernelOp<8> for EdgeMlpOp {
    type Node<T: Real> = EdgeMlpNode<T>;
    type Tape<T: Real> = EdgeTape<T>;

    fn node<T: Real>(&self) -> EdgeMlpNode<T> {
        EdgeMlpNode(core::marker::PhantomData)
    }

    fn forward<T: Real>(
        &self,
        inputs: [FlexTensor; 8],
        keep: bool,
    ) -> Option<(FlexTensor, Option<EdgeTape<T>>)> {
        let inputs = inputs
            .into_iter()
            .map(contiguous::<T>)
            .collect::<Option<Vec<_>>>()?;
        let inputs: [FlexTensor; 8] = inputs.try_into().ok()?;
        let d = self.dims;
        let [x, e, w1, b1, gamma, beta, w2, b2] = inputs.each_ref().map(slice_of::<T>);
        let (n, f, h) = (d.n, d.f, d.h);
        // P = x W₁ᵃ + b₁, Q = x W₁ᵇ side by side.
        let mut pq = T::scratch(n * 2 * h);
        par_matmul(
            n,
            h,
            f,
            &mut pq,
            2 * h,
            false,
            View::rows(x, f),
            View::rows(&w1[..f * h], h),
        );
        if d.fs > 0 {
            par_matmul(
                n,
                h,
                f,
                &mut pq[h..],
                2 * h,
                false,
                View::rows(x, f),
                View::rows(&w1[f * h..2 * f * h], h),
            );
        }
        pq.par_chunks_mut(2 * h)
            .for_each(|row| add_to(&mut row[..h], b1));
        let c = Consts {
            d,
            pq: &pq,
            w1c: &w1[(f + d.fs) * h..],
            w1c_t: Vec::new(),
            gamma,
            beta,
            w2,
            w2_t: Vec::new(),
            b2,
            src: &self.index.sources,
            dst: &self.index.targets,
            eps: eps::<T>(),
        };
        let mut out = vec![T::ZERO; d.e * d.dout];
        let mut hidden = if keep {
            T::scratch(d.e * h)
        } else {
            Vec::new()
        };
        let mut rstd = if keep && d.layer_norm {
            vec![T::ZERO; d.e]
        } else {
            Vec::new()
        };
        let blocks = d.e.div_ceil(BLOCK);
        let mut hidden_chunks: Vec<Option<&mut [T]>> =
            hidden.chunks_mut(BLOCK * h).map(Some).collect();
        hidden_chunks.resize_with(blocks, || None);
        let mut rstd_chunks: Vec<Option<&mut [T]>> = rstd.chunks_mut(BLOCK).map(Some).collect();
        rstd_chunks.resize_with(blocks, || None);
        out.par_chunks_mut(BLOCK * d.dout)
            .zip(hidden_chunks.into_par_iter())
            .zip(rstd_chunks.into_par_iter())
            .enumerate()
            .for_each_init(
                || {
                    (
                        vec![T::ZERO; BLOCK * h],
                        vec![T::ZERO; BLOCK * h],
                        vec![T::ZERO; BLOCK],
                    )
                },
                |(zs, a, rs), (blk, ((out, hid), rst))| {
                    let r0 = blk * BLOCK;
                    let b = out.len() / d.dout;
                    let z = match hid {
                        Some(z) => z,
                        None => &mut zs[..b * h],
                    };
                    let rst = match rst {
                        Some(r) => r,
                        None => &mut rs[..b],
                    };
                    let e_blk = if d.de > 0 {
                        &e[r0 * d.de..(r0 + b) * d.de]
                    } else {
                        &[][..]
                    };
                    forward_block(&c, r0, e_blk, out, z, rst, &mut a[..b * h]);
                },
            );
        T::recycle(pq);
        let out = flex_tensor(out, vec![d.e, d.dout]);
        if !keep {
            T::recycle(hidden);
            return Some((out, None));
        }
        Some((
            out,
            Some(EdgeTape {
                op: self.clone(),
                inputs,
                hidden,
                rstd,
            }),
        ))
    }
}

fn eps<T: Real>() -> T {
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        let v = LN_EPSILON as f32;
        // SAFETY: T is f32.
        unsafe { std::mem::transmute_copy::<f32, T>(&v) }
    } else {
        // SAFETY: T is f64 (the only other Real).
        unsafe { std::mem::transmute_copy::<f64, T>(&LN_EPSILON) }
    }
}

fn sqrt<T: Real>(v: T) -> T {
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        // SAFETY: T is f32.
        let x: f32 = unsafe { std::mem::transmute_copy(&v) };
        let r = x.sqrt();
        unsafe { std::mem::transmute_copy::<f32, T>(&r) }
    } else {
        // SAFETY: T is f64.
        let x: f64 = unsafe { std::mem::transmute_copy(&v) };
        let r = x.sqrt();
        unsafe { std::mem::transmute_copy::<f64, T>(&r) }
    }
}

fn from_usize<T: Real>(v: usize) -> T {
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        let r = v as f32;
        // SAFETY: T is f32.
        unsafe { std::mem::transmute_copy::<f32, T>(&r) }
    } else {
        let r = v as f64;
        // SAFETY: T is f64.
        unsafe { std::mem::transmute_copy::<f64, T>(&r) }
    }
}

simd_dispatch! {
    /// One block of edges r0.. (b = out rows): z (x̂ with LayerNorm) into `z`, the output rows.
    fn forward_block<T: Real>(
        c: &Consts<'_, T>,
        r0: usize,
        e_blk: &[T],
        out: &mut [T],
        z: &mut [T],
        rstd: &mut [T],
        a: &mut [T],
    ) => forward_block_body,
    [("avx512f,avx2,fma", has_avx512())]
}

#[inline(always)]
fn forward_block_body<T: Real>(
    c: &Consts<'_, T>,
    r0: usize,
    e_blk: &[T],
    out: &mut [T],
    z: &mut [T],
    rstd: &mut [T],
    a: &mut [T],
) {
    let d = c.d;
    let h = d.h;
    let b = out.len() / d.dout;
    for r in 0..b {
        let (i, j) = (c.dst[r0 + r] as usize, c.src[r0 + r] as usize);
        let p = &c.pq[i * 2 * h..i * 2 * h + h];
        let zr = &mut z[r * h..(r + 1) * h];
        if d.fs > 0 {
            let q = &c.pq[j * 2 * h + h..(j + 1) * 2 * h];
            for k in 0..h {
                zr[k] = p[k] + q[k];
            }
        } else {
            zr.copy_from_slice(p);
        }
    }
    if d.de > 0 {
        matmul(
            b,
            h,
            d.de,
            z,
            h,
            true,
            View::rows(e_blk, d.de),
            View::rows(c.w1c, h),
        );
    }
    let hf = from_usize::<T>(h);
    for r in 0..b {
        let zr = &mut z[r * h..(r + 1) * h];
        let ar = &mut a[r * h..(r + 1) * h];
        if d.layer_norm {
            let mean = lanes_sum(zr, |v| v) / hf;
            let var = lanes_sum(zr, |v| (v - mean) * (v - mean));
            let rs = T::ONE / sqrt(var / hf + c.eps);
            rstd[r] = rs;
            for k in 0..h {
                let xh = (zr[k] - mean) * rs;
                zr[k] = xh;
                let u = c.gamma[k] * xh + c.beta[k];
                ar[k] = if u > T::ZERO { u } else { T::ZERO };
            }
        } else {
            for k in 0..h {
                ar[k] = if zr[k] > T::ZERO { zr[k] } else { T::ZERO };
            }
        }
    }
    for r in 0..b {
        let or = &mut out[r * d.dout..(r + 1) * d.dout];
        or.copy_from_slice(c.b2);
        if d.residual {
            add_to(or, &e_blk[r * d.de..(r + 1) * d.de]);
        }
    }
    matmul(
        b,
        d.dout,
        h,
        out,
        d.dout,
        true,
        View::rows(a, h),
        View::rows(c.w2, d.dout),
    );
}

/// Σ f(vᵢ) in 16 independent partial sums (so that the loop vectorises; a single running sum is
/// a chain of dependent additions).
#[inline(always)]
fn lanes_sum<T: Real>(values: &[T], f: impl Fn(T) -> T) -> T {
    let mut acc = [T::ZERO; 16];
    let chunks = values.chunks_exact(16);
    let rest = chunks.remainder();
    for chunk in chunks {
        for k in 0..16 {
            acc[k] += f(chunk[k]);
        }
    }
    let mut total = T::ZERO;
    for &v in rest {
        total += f(v);
    }
    for a in acc {
        total += a;
    }
    total
}

/// Σ aᵢ bᵢ in 16 independent partial sums (see [`lanes_sum`]).
#[inline(always)]
fn lanes_dot<T: Real>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::ZERO; 16];
    let n = a.len().min(b.len());
    let full = n / 16 * 16;
    for (ca, cb) in a[..full].chunks_exact(16).zip(b[..full].chunks_exact(16)) {
        for k in 0..16 {
            acc[k] += ca[k] * cb[k];
        }
    }
    let mut total = T::ZERO;
    for k in full..n {
        total += a[k] * b[k];
    }
    for v in acc {
        total += v;
    }
    total
}

/// Per-thread sums of the backward pass.
struct Acc<T> {
    /// ∂[P | Q], `[N, 2H]`.
    dpq: Vec<T>,
    dw1c: Vec<T>,
    db1: Vec<T>,
    dgamma: Vec<T>,
    dbeta: Vec<T>,
    dw2: Vec<T>,
    db2: Vec<T>,
}

impl<T: Real> Acc<T> {
    fn new(d: &EdgeDims) -> Self {
        Self {
            dpq: T::buffer(d.n * 2 * d.h),
            dw1c: vec![T::ZERO; d.de * d.h],
            db1: vec![T::ZERO; d.h],
            dgamma: vec![T::ZERO; d.h],
            dbeta: vec![T::ZERO; d.h],
            dw2: vec![T::ZERO; d.h * d.dout],
            db2: vec![T::ZERO; d.dout],
        }
    }

    fn add(&mut self, o: &Self) {
        self.dpq
            .par_chunks_mut(1 << 16)
            .zip(o.dpq.par_chunks(1 << 16))
            .for_each(|(a, b)| add_to(a, b));
        add_to(&mut self.dw1c, &o.dw1c);
        add_to(&mut self.db1, &o.db1);
        add_to(&mut self.dgamma, &o.dgamma);
        add_to(&mut self.dbeta, &o.dbeta);
        add_to(&mut self.dw2, &o.dw2);
        add_to(&mut self.db2, &o.db2);
    }
}

impl<T: Real> Backward<Flex, 8> for EdgeMlpNode<T> {
    type State = Arc<EdgeTape<T>>;

    fn backward(self, ops: Ops<Self::State, 8>, grads: &mut Gradients, _: &mut Checkpointer) {
        let tape = ops.state;
        let dy = contiguous::<T>(grads.consume::<Flex>(&ops.node))
            .expect("the output gradient has the op's dtype");
        let need = ops.parents.each_ref().map(Option::is_some);
        let values = edge_backward(&tape, slice_of::<T>(&dy), need);
        let d = tape.op.dims;
        let shapes: [Vec<usize>; 8] = [
            vec![d.n, d.f],
            vec![d.e, d.de],
            vec![d.f + d.fs + d.de, d.h],
            vec![1, d.h],
            vec![1, d.h],
            vec![1, d.h],
            vec![d.h, d.dout],
            vec![1, d.dout],
        ];
        for ((parent, value), shape) in ops.parents.iter().zip(values).zip(shapes) {
            if let (Some(node), Some(value)) = (parent, value) {
                grads.register::<Flex>(node.id, flex_tensor(value, shape));
            }
        }
    }
}

/// The gradients of the eight inputs (`None` where not asked for).
fn edge_backward<T: Real>(tape: &EdgeTape<T>, dy: &[T], need: [bool; 8]) -> [Option<Vec<T>>; 8] {
    let d = tape.op.dims;
    let (n, f, h) = (d.n, d.f, d.h);
    let [x, e, w1, _b1, gamma, beta, w2, b2] = tape.inputs.each_ref().map(slice_of::<T>);
    let w1c = &w1[(f + d.fs) * h..];
    let c = Consts {
        d,
        pq: &[],
        w1c,
        w1c_t: transpose(w1c, d.de, h),
        gamma,
        beta,
        w2,
        w2_t: transpose(w2, h, d.dout),
        b2,
        src: &tape.op.index.sources,
        dst: &tape.op.index.targets,
        eps: eps::<T>(),
    };
    let need_e = need[1] && d.de > 0;
    let mut de = if need_e || (need[1] && d.residual) {
        vec![T::ZERO; d.e * d.de]
    } else {
        Vec::new()
    };
    // One contiguous range of whole blocks per thread.
    let threads = rayon::current_num_threads().max(1);
    let blocks = d.e.div_ceil(BLOCK);
    let per = blocks.div_ceil(threads).max(1);
    let ranges: Vec<(usize, usize)> = (0..blocks.div_ceil(per))
        .map(|t| (t * per * BLOCK, ((t + 1) * per * BLOCK).min(d.e)))
        .collect();
    let mut de_parts: Vec<Option<&mut [T]>> = Vec::new();
    {
        let mut rest: &mut [T] = &mut de;
        for &(s, t) in &ranges {
            if rest.is_empty() {
                de_parts.push(None);
            } else {
                let (head, tail) = rest.split_at_mut((t - s) * d.de);
                de_parts.push(Some(head));
                rest = tail;
            }
        }
    }
    let accs: Vec<Acc<T>> = ranges
        .par_iter()
        .zip(de_parts.into_par_iter())
        .map(|(&(s, t), mut de_part)| {
            let mut acc = Acc::new(&d);
            let mut a = vec![T::ZERO; BLOCK * h];
            let mut dz = vec![T::ZERO; BLOCK * h];
            let mut r0 = s;
            while r0 < t {
                let b = BLOCK.min(t - r0);
                let e_blk = if d.de > 0 {
                    &e[r0 * d.de..(r0 + b) * d.de]
                } else {
                    &[][..]
                };
                let de_blk = de_part
                    .as_mut()
                    .map(|p| &mut p[(r0 - s) * d.de..(r0 - s + b) * d.de]);
                let rstd = if d.layer_norm {
                    &tape.rstd[r0..r0 + b]
                } else {
                    &[][..]
                };
                backward_block(
                    &c,
                    r0,
                    e_blk,
                    &dy[r0 * d.dout..(r0 + b) * d.dout],
                    &tape.hidden[r0 * h..(r0 + b) * h],
                    rstd,
                    de_blk,
                    &mut acc,
                    &mut a[..b * h],
                    &mut dz[..b * h],
                );
                r0 += b;
            }
            acc
        })
        .collect();
    let mut iter = accs.into_iter();
    let mut acc = iter.next().unwrap_or_else(|| Acc::new(&d));
    for o in iter {
        acc.add(&o);
        T::recycle(o.dpq);
    }
    let dpq = &acc.dpq;
    let p_view = View {
        data: &dpq[..],
        rs: 2 * h,
        cs: 1,
    };
    let q_view = View {
        data: &dpq[h..],
        rs: 2 * h,
        cs: 1,
    };
    let dx = need[0].then(|| {
        let mut dx = vec![T::ZERO; n * f];
        let w1a_t = transpose(&w1[..f * h], f, h);
        par_matmul(n, f, h, &mut dx, f, false, p_view, View::rows(&w1a_t, f));
        if d.fs > 0 {
            let w1b_t = transpose(&w1[f * h..2 * f * h], f, h);
            par_matmul(n, f, h, &mut dx, f, true, q_view, View::rows(&w1b_t, f));
        }
        dx
    });
    let dw1 = need[2].then(|| {
        let mut dw1 = par_matmul_k(f, h, n, View::transposed(x, f), p_view);
        if d.fs > 0 {
            dw1.extend(par_matmul_k(f, h, n, View::transposed(x, f), q_view));
        }
        dw1.extend_from_slice(&acc.dw1c);
        dw1
    });
    let de = need[1].then_some(de);
    let out = [
        dx,
        de,
        dw1,
        need[3].then(|| acc.db1.clone()),
        (need[4] && d.layer_norm).then(|| acc.dgamma.clone()),
        (need[5] && d.layer_norm).then(|| acc.dbeta.clone()),
        need[6].then(|| acc.dw2.clone()),
        need[7].then(|| acc.db2.clone()),
    ];
    T::recycle(acc.dpq);
    out
}

simd_dispatch! {
    #[allow(clippy::too_many_arguments)]
    fn backward_block<T: Real>(
        c: &Consts<'_, T>,
        r0: usize,
        e_blk: &[T],
        dy: &[T],
        hidden: &[T],
        rstd: &[T],
        de_blk: Option<&mut [T]>,
        acc: &mut Acc<T>,
        a: &mut [T],
        dz: &mut [T],
    ) => backward_block_body,
    [("avx512f,avx2,fma", has_avx512())]
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_block_body<T: Real>(
    c: &Consts<'_, T>,
    r0: usize,
    e_blk: &[T],
    dy: &[T],
    hidden: &[T],
    rstd: &[T],
    de_blk: Option<&mut [T]>,
    acc: &mut Acc<T>,
    a: &mut [T],
    dz: &mut [T],
) {
    let d = c.d;
    let h = d.h;
    let b = dy.len() / d.dout;
    // a recomputed from x̂ (or z).
    for r in 0..b {
        let hr = &hidden[r * h..(r + 1) * h];
        let ar = &mut a[r * h..(r + 1) * h];
        if d.layer_norm {
            for k in 0..h {
                let u = c.gamma[k] * hr[k] + c.beta[k];
                ar[k] = if u > T::ZERO { u } else { T::ZERO };
            }
        } else {
            for k in 0..h {
                ar[k] = if hr[k] > T::ZERO { hr[k] } else { T::ZERO };
            }
        }
    }
    for r in 0..b {
        add_to(&mut acc.db2, &dy[r * d.dout..(r + 1) * d.dout]);
    }
    matmul(
        h,
        d.dout,
        b,
        &mut acc.dw2,
        d.dout,
        true,
        View::transposed(a, h),
        View::rows(dy, d.dout),
    );
    matmul(
        b,
        h,
        d.dout,
        dz,
        h,
        false,
        View::rows(dy, d.dout),
        View::rows(&c.w2_t, h),
    );
    let hf = from_usize::<T>(h);
    for r in 0..b {
        let ar = &a[r * h..(r + 1) * h];
        let dr = &mut dz[r * h..(r + 1) * h];
        for k in 0..h {
            if ar[k] <= T::ZERO {
                dr[k] = T::ZERO;
            }
        }
        if d.layer_norm {
            let xh = &hidden[r * h..(r + 1) * h];
            for k in 0..h {
                acc.dgamma[k] += dr[k] * xh[k];
                acc.dbeta[k] += dr[k];
                dr[k] = dr[k] * c.gamma[k];
            }
            let m1 = lanes_sum(dr, |g| g);
            let m2 = lanes_dot(dr, xh);
            let (m1, m2, rs) = (m1 / hf, m2 / hf, rstd[r]);
            for k in 0..h {
                dr[k] = (dr[k] - m1 - xh[k] * m2) * rs;
            }
        }
        add_to(&mut acc.db1, dr);
    }
    if d.de > 0 {
        matmul(
            d.de,
            h,
            b,
            &mut acc.dw1c,
            h,
            true,
            View::transposed(e_blk, d.de),
            View::rows(dz, h),
        );
    }
    if let Some(de_blk) = de_blk {
        if d.de > 0 {
            matmul(
                b,
                d.de,
                h,
                de_blk,
                d.de,
                false,
                View::rows(dz, h),
                View::rows(&c.w1c_t, d.de),
            );
        }
        if d.residual {
            add_to(de_blk, dy);
        }
    }
    for r in 0..b {
        let (i, j) = (c.dst[r0 + r] as usize, c.src[r0 + r] as usize);
        let dr = &dz[r * h..(r + 1) * h];
        add_to(&mut acc.dpq[i * 2 * h..i * 2 * h + h], dr);
        if d.fs > 0 {
            add_to(&mut acc.dpq[j * 2 * h + h..(j + 1) * 2 * h], dr);
        }
    }
}

/// The weights of an edge MLP Linear–(LayerNorm)–ReLU–Linear, for [`edge_mlp_raw`].
#[derive(Debug, Clone)]
pub struct EdgeMlpWeights {
    /// W₁ `[2F + F_e, H]` (burn's `Linear` layout, rows: x_i, then x_j, then e).
    pub w1: Tensor<2>,
    /// b₁ `[H]`.
    pub b1: Option<Tensor<1>>,
    /// LayerNorm γ `[H]` and β `[H]` (none: no LayerNorm).
    pub norm: Option<(Tensor<1>, Option<Tensor<1>>)>,
    /// W₂ `[H, D_out]`.
    pub w2: Tensor<2>,
    /// b₂ `[D_out]`.
    pub b2: Option<Tensor<1>>,
}

impl EdgeMlpWeights {
    /// The weights of `mlp` if it is Linear–(LayerNorm)–ReLU–Linear.
    pub fn of(mlp: &Mlp) -> Option<Self> {
        if mlp.layers.len() != 2 || mlp.norms.len() > 1 || mlp.activation != Activation::Relu {
            return None;
        }
        Some(Self {
            w1: mlp.layers[0].weight.val(),
            b1: mlp.layers[0].bias.as_ref().map(|b| b.val()),
            norm: mlp
                .norms
                .first()
                .map(|n| (n.gamma.val(), n.beta.as_ref().map(|b| b.val()))),
            w2: mlp.layers[1].weight.val(),
            b2: mlp.layers[1].bias.as_ref().map(|b| b.val()),
        })
    }
}

/// y_e = φ([x_dst(e), x_src(e), e_e]) (+ e_e with `residual`) for every edge, φ the two-layer
/// `mlp` (see the module formulas), as one autodiff node. `None` where the kernel does not apply.
///
/// # Shapes
/// - `x`: `[N, F]`, `e`: `[E, F_e]` (or none), output `[E, D_out]`; the MLP's input width is
///   2F + F_e
pub fn edge_mlp(
    mlp: &Mlp,
    x: &Tensor<2>,
    e: Option<&Tensor<2>>,
    index: &Arc<EdgeIndex>,
    residual: bool,
) -> Option<Tensor<2>> {
    edge_mlp_raw(&EdgeMlpWeights::of(mlp)?, x, e, index, residual)
}

/// [`edge_mlp`] on explicit weights.
pub fn edge_mlp_raw(
    w: &EdgeMlpWeights,
    x: &Tensor<2>,
    e: Option<&Tensor<2>>,
    index: &Arc<EdgeIndex>,
    residual: bool,
) -> Option<Tensor<2>> {
    run_mlp(w, x, e, index, residual, true)
}

/// y = φ([x, m]) for every node, φ the two-layer `mlp`, as one autodiff node: the first layer is
/// split (x W₁ᵃ + m W₁ᶜ) so that the concatenation is never built — the node update of a
/// message-passing step, `m` being the aggregated messages. `None` where the kernel does not
/// apply.
///
/// # Shapes
/// - `x`: `[N, F]`, `m`: `[N, D]`, output `[N, D_out]`; the MLP's input width is F + D
pub fn node_mlp(mlp: &Mlp, x: &Tensor<2>, m: &Tensor<2>) -> Option<Tensor<2>> {
    let [n, _] = x.dims();
    let identity: Vec<i64> = (0..n as i64).collect();
    let index = Arc::new(EdgeIndex::new(&identity, &identity, n)?);
    run_mlp(&EdgeMlpWeights::of(mlp)?, x, Some(m), &index, false, false)
}

/// The edge MLP op (`with_source`: x_src rows in W₁) on explicit weights.
fn run_mlp(
    w: &EdgeMlpWeights,
    x: &Tensor<2>,
    e: Option<&Tensor<2>>,
    index: &Arc<EdgeIndex>,
    residual: bool,
    with_source: bool,
) -> Option<Tensor<2>> {
    let [n, f] = x.dims();
    let fs = if with_source { f } else { 0 };
    let [d_in, h] = w.w1.dims();
    let [h2, dout] = w.w2.dims();
    let (edges, de) = match e {
        Some(e) => {
            let [edges, de] = e.dims();
            (edges, de)
        }
        None => (index.num_edges(), 0),
    };
    let ok = n == index.num_nodes
        && edges == index.num_edges()
        && edges > 0
        && d_in == f + fs + de
        && h2 == h
        && (!residual || de == dout)
        && w.b1.as_ref().is_none_or(|b| b.dims() == [h])
        && w.b2.as_ref().is_none_or(|b| b.dims() == [dout])
        && w.norm
            .as_ref()
            .is_none_or(|(g, b)| g.dims() == [h] && b.as_ref().is_none_or(|b| b.dims() == [h]));
    if !ok {
        return None;
    }
    let device = x.device();
    let dtype = x.dtype();
    let zeros = |len| Tensor::<2>::zeros([1, len], (&device, dtype));
    let ones = |len| Tensor::<2>::ones([1, len], (&device, dtype));
    let row = |t: &Tensor<1>| t.clone().unsqueeze_dim::<2>(0);
    let (gamma, beta) = match &w.norm {
        Some((g, b)) => (row(g), b.as_ref().map(row).unwrap_or_else(|| zeros(h))),
        None => (ones(h), zeros(h)),
    };
    let op = EdgeMlpOp {
        dims: EdgeDims {
            n,
            e: edges,
            f,
            fs,
            de,
            h,
            dout,
            layer_norm: w.norm.is_some(),
            residual,
        },
        index: index.clone(),
    };
    let out = op.run([
        x.clone(),
        e.cloned().unwrap_or_else(|| zeros(1)),
        w.w1.clone(),
        w.b1.as_ref().map(row).unwrap_or_else(|| zeros(h)),
        gamma,
        beta,
        w.w2.clone(),
        w.b2.as_ref().map(row).unwrap_or_else(|| zeros(dout)),
    ])?;
    Some(out)
}

// ------------------------------------------------------------------------------------------------
// The scatter.

#[derive(Debug, Clone)]
struct ScatterOp {
    mode: ScatterMode,
    index: Arc<EdgeIndex>,
    /// Message width D.
    width: usize,
}

#[derive(Debug)]
struct ScatterTape {
    op: ScatterOp,
}

#[derive(Debug)]
struct ScatterNode<T>(core::marker::PhantomData<T>);

impl ScatterOp {
    fn cols(&self) -> usize {
        self.width * if self.mode.bidirectional { 2 } else { 1 }
    }

    fn weight<T: Real>(&self, csr: &Csr, i: usize) -> T {
        if self.mode.mean {
            T::ONE / from_usize::<T>(csr.degree(i).max(1))
        } else {
            T::ONE
        }
    }
}

impl KernelOp<1> for ScatterOp {
    type Node<T: Real> = ScatterNode<T>;
    type Tape<T: Real> = ScatterTape;

    fn node<T: Real>(&self) -> ScatterNode<T> {
        ScatterNode(core::marker::PhantomData)
    }

    fn forward<T: Real>(
        &self,
        inputs: [FlexTensor; 1],
        keep: bool,
    ) -> Option<(FlexTensor, Option<ScatterTape>)> {
        let [m] = inputs;
        let m = contiguous::<T>(m)?;
        let m = slice_of::<T>(&m);
        let (dw, cols, idx) = (self.width, self.cols(), &*self.index);
        let mut out = vec![T::ZERO; idx.num_nodes * cols];
        out.par_chunks_mut(cols * 256)
            .enumerate()
            .for_each(|(c, chunk)| {
                for (r, row) in chunk.chunks_mut(cols).enumerate() {
                    let i = c * 256 + r;
                    let (a, b) = row.split_at_mut(dw);
                    for &k in idx.incoming.of(i) {
                        add_to(a, &m[k as usize * dw..(k as usize + 1) * dw]);
                    }
                    let w: T = self.weight(&idx.incoming, i);
                    if self.mode.mean {
                        a.iter_mut().for_each(|v| *v = *v * w);
                    }
                    if self.mode.bidirectional {
                        for &k in idx.outgoing.of(i) {
                            add_to(b, &m[k as usize * dw..(k as usize + 1) * dw]);
                        }
                        let w: T = self.weight(&idx.outgoing, i);
                        if self.mode.mean {
                            b.iter_mut().for_each(|v| *v = *v * w);
                        }
                    }
                }
            });
        let out = flex_tensor(out, vec![idx.num_nodes, cols]);
        Some((out, keep.then(|| ScatterTape { op: self.clone() })))
    }
}

impl<T: Real> Backward<Flex, 1> for ScatterNode<T> {
    type State = Arc<ScatterTape>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let op = &ops.state.op;
        let d_out = contiguous::<T>(grads.consume::<Flex>(&ops.node))
            .expect("the output gradient has the op's dtype");
        let g = slice_of::<T>(&d_out);
        let [parent] = &ops.parents;
        let Some(parent) = parent else { return };
        let (dw, cols, idx) = (op.width, op.cols(), &*op.index);
        let mut dm = vec![T::ZERO; idx.num_edges() * dw];
        dm.par_chunks_mut(dw * 1024)
            .enumerate()
            .for_each(|(c, chunk)| {
                for (r, row) in chunk.chunks_mut(dw).enumerate() {
                    let k = c * 1024 + r;
                    let i = idx.targets[k] as usize;
                    let w: T = op.weight(&idx.incoming, i);
                    let gi = &g[i * cols..i * cols + dw];
                    for q in 0..dw {
                        row[q] = gi[q] * w;
                    }
                    if op.mode.bidirectional {
                        let j = idx.sources[k] as usize;
                        let w: T = op.weight(&idx.outgoing, j);
                        let gj = &g[j * cols + dw..(j + 1) * cols];
                        for q in 0..dw {
                            row[q] += gj[q] * w;
                        }
                    }
                }
            });
        grads.register::<Flex>(parent.id, flex_tensor(dm, vec![idx.num_edges(), dw]));
    }
}

/// The aggregate of the edge `messages` onto the nodes (see the module formulas), as one autodiff
/// node; `None` where the kernel does not apply.
///
/// # Shapes
/// - `messages`: `[E, D]`; output `[N, D]`, or `[N, 2D]` (incoming, then outgoing) when
///   bidirectional
pub fn scatter(
    messages: &Tensor<2>,
    index: &Arc<EdgeIndex>,
    mode: ScatterMode,
) -> Option<Tensor<2>> {
    let [edges, width] = messages.dims();
    if edges != index.num_edges() || width == 0 {
        return None;
    }
    ScatterOp {
        mode,
        index: index.clone(),
        width,
    }
    .run([messages.clone()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gnn::{Aggregation, aggregate};
    use crate::gradcheck::{GradCheckOptions, check_module, to_f64};
    use crate::mlp::MlpConfig;
    use burn::module::Param;
    use burn::tensor::Distribution;

    /// A random graph with repeated edges, self-loops and isolated nodes (the last two nodes).
    fn graph(n: usize, edges: usize, seed: u64) -> (Vec<i64>, Vec<i64>) {
        let mut s = seed;
        let mut next = |m: usize| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) % m as u64) as i64
        };
        let live = n - 2;
        let mut src: Vec<i64> = (0..edges).map(|_| next(live)).collect();
        let mut dst: Vec<i64> = (0..edges).map(|_| next(live)).collect();
        // A repeated edge and a self-loop.
        src[1] = src[0];
        dst[1] = dst[0];
        dst[2] = src[2];
        (src, dst)
    }

    fn values(t: Tensor<2>) -> Vec<f64> {
        t.into_data()
            .convert::<f64>()
            .try_to_vec::<f64>()
            .expect("floats")
    }

    fn close(what: &str, a: &[f64], b: &[f64], rtol: f64) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-6);
        for (k, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= rtol * scale,
                "{what}[{k}]: fused {x} vs plain {y} (scale {scale})"
            );
        }
    }

    struct Case {
        n: usize,
        edges: usize,
        layer_norm: bool,
        residual: bool,
        mean: bool,
        bidirectional: bool,
        with_e: bool,
    }

    /// Fused edge MLP + scatter against the plain burn graph: outputs and every gradient.
    fn compare(case: &Case) {
        let device = Device::flex().autodiff();
        device.seed(5);
        let (f, h) = (5, 6);
        let de = if case.with_e { 4 } else { 0 };
        let dout = if case.residual { de } else { 3 };
        let (src, dst) = graph(case.n, case.edges, 11);
        let index = Arc::new(EdgeIndex::new(&src, &dst, case.n).expect("valid index"));
        let mlp = MlpConfig::new(vec![2 * f + de, h, dout])
            .with_layer_norm(case.layer_norm)
            .init(&device);
        // Non-trivial LayerNorm parameters.
        let mlp = if case.layer_norm {
            let mut mlp = mlp;
            let g = Tensor::<1>::random([h], Distribution::Uniform(0.5, 1.5), &device);
            let b = Tensor::<1>::random([h], Distribution::Uniform(-0.3, 0.3), &device);
            mlp.norms[0].gamma = Param::from_tensor(g);
            mlp.norms[0].beta = Some(Param::from_tensor(b));
            mlp
        } else {
            mlp
        };
        let x = Tensor::<2>::random([case.n, f], Distribution::Default, &device).require_grad();
        let e = case.with_e.then(|| {
            Tensor::<2>::random([case.edges, de], Distribution::Default, &device).require_grad()
        });
        let cols = dout * if case.bidirectional { 2 } else { 1 };
        let wy = Tensor::<2>::random([case.edges, dout], Distribution::Default, &device);
        let wa = Tensor::<2>::random([case.n, cols], Distribution::Default, &device);
        let mode = ScatterMode {
            mean: case.mean,
            bidirectional: case.bidirectional,
        };

        let fused = || {
            let y = edge_mlp(&mlp, &x, e.as_ref(), &index, case.residual).expect("kernel applies");
            let a = scatter(&y, &index, mode).expect("kernel applies");
            (y, a)
        };
        let plain = || {
            let ti = Tensor::<1, Int>::from_ints(dst.as_slice(), &device);
            let si = Tensor::<1, Int>::from_ints(src.as_slice(), &device);
            let mut parts = vec![
                x.clone().select(0, ti.clone()),
                x.clone().select(0, si.clone()),
            ];
            parts.extend(e.clone());
            let mut y = mlp.forward(Tensor::cat(parts, 1));
            if case.residual {
                y = y + e.clone().expect("residual with edge features");
            }
            let agg = if case.mean {
                Aggregation::Mean
            } else {
                Aggregation::Sum
            };
            let mut a = vec![aggregate(y.clone(), ti, case.n, agg)];
            if case.bidirectional {
                a.push(aggregate(y.clone(), si, case.n, agg));
            }
            (y, Tensor::cat(a, 1))
        };
        let mut results = Vec::new();
        for run in [&fused as &dyn Fn() -> (Tensor<2>, Tensor<2>), &plain] {
            let (y, a) = run();
            let loss = (y.clone() * wy.clone()).sum() + (a.clone() * wa.clone()).sum();
            let grads = loss.backward();
            let g = |t: Tensor<2>| t.grad(&grads).map(values);
            let g1 = |t: Tensor<1>| t.grad(&grads).map(|g| values(g.unsqueeze_dim(0)));
            let mut all = vec![
                ("y", Some(values(y))),
                ("aggregate", Some(values(a))),
                ("x", g(x.clone())),
                ("W1", g(mlp.layers[0].weight.val())),
                ("b1", g1(mlp.layers[0].bias.as_ref().expect("bias").val())),
                ("W2", g(mlp.layers[1].weight.val())),
                ("b2", g1(mlp.layers[1].bias.as_ref().expect("bias").val())),
            ];
            if let Some(e) = &e {
                all.push(("e", g(e.clone())));
            }
            if case.layer_norm {
                all.push(("gamma", g1(mlp.norms[0].gamma.val())));
                all.push(("beta", g1(mlp.norms[0].beta.as_ref().expect("beta").val())));
            }
            results.push(all);
        }
        for ((name, a), (_, b)) in results[0].iter().zip(&results[1]) {
            let (Some(a), Some(b)) = (a, b) else {
                panic!(
                    "{name}: gradient missing (fused {}, plain {})",
                    a.is_some(),
                    b.is_some()
                );
            };
            close(name, a, b, 1e-4);
        }
    }

    #[test]
    fn fused_matches_plain_in_every_configuration() {
        for layer_norm in [false, true] {
            for residual in [false, true] {
                for mean in [false, true] {
                    for bidirectional in [false, true] {
                        compare(&Case {
                            n: 9,
                            edges: 23,
                            layer_norm,
                            residual,
                            mean,
                            bidirectional,
                            with_e: true,
                        });
                    }
                }
            }
        }
        // No edge features (an encoder), and several blocks and threads.
        for (n, edges, with_e) in [(9, 23, false), (60, 3 * BLOCK + 17, true)] {
            compare(&Case {
                n,
                edges,
                layer_norm: true,
                residual: with_e,
                mean: true,
                bidirectional: true,
                with_e,
            });
        }
    }

    /// The node MLP φ([x, m]) against `mlp.forward(cat[x, m])`: output and gradients.
    #[test]
    fn node_mlp_matches_plain() {
        let device = Device::flex().autodiff();
        device.seed(8);
        let (n, f, d, h) = (2 * BLOCK + 9, 5, 6, 7);
        for layer_norm in [false, true] {
            let mlp = MlpConfig::new(vec![f + d, h, f])
                .with_layer_norm(layer_norm)
                .init(&device);
            let x = Tensor::<2>::random([n, f], Distribution::Default, &device).require_grad();
            let m = Tensor::<2>::random([n, d], Distribution::Default, &device).require_grad();
            let w = Tensor::<2>::random([n, f], Distribution::Default, &device);
            let run = |y: Tensor<2>| {
                let grads = (y.clone() * w.clone()).sum().backward();
                let g = |t: Tensor<2>| t.grad(&grads).map(values).expect("gradient");
                vec![
                    values(y),
                    g(x.clone()),
                    g(m.clone()),
                    g(mlp.layers[0].weight.val()),
                    g(mlp.layers[1].weight.val()),
                ]
            };
            let fused = run(node_mlp(&mlp, &x, &m).expect("kernel applies"));
            let plain = run(mlp.forward(Tensor::cat(vec![x.clone(), m.clone()], 1)));
            for (k, (a, b)) in fused.iter().zip(&plain).enumerate() {
                close(
                    &format!("node mlp {k} (layer_norm {layer_norm})"),
                    a,
                    b,
                    1e-4,
                );
            }
        }
    }

    #[derive(Module, Debug)]
    struct Probe {
        mlp: Mlp,
        x: Param<Tensor<2>>,
        e: Param<Tensor<2>>,
    }

    #[test]
    fn f64_gradients_match_finite_differences() {
        let device = Device::flex().autodiff();
        device.seed(3);
        let (n, edges, f, de, h) = (6, 14, 3, 2, 5);
        let (src, dst) = graph(n, edges, 4);
        let index = Arc::new(EdgeIndex::new(&src, &dst, n).expect("valid index"));
        for layer_norm in [false, true] {
            let probe = Probe {
                mlp: MlpConfig::new(vec![2 * f + de, h, de])
                    .with_layer_norm(layer_norm)
                    .init(&device),
                x: Param::from_tensor(Tensor::random([n, f], Distribution::Default, &device)),
                e: Param::from_tensor(Tensor::random([edges, de], Distribution::Default, &device)),
            };
            let w = Tensor::<2>::random([n, 2 * de], Distribution::Default, &device);
            let report = check_module(
                &probe,
                |p| {
                    let y = edge_mlp(&p.mlp, &p.x.val(), Some(&p.e.val()), &index, true)
                        .expect("kernel applies to f64");
                    let a = scatter(
                        &y,
                        &index,
                        ScatterMode {
                            mean: true,
                            bidirectional: true,
                        },
                    )
                    .expect("kernel applies to f64");
                    y.sin().sum() + (a * to_f64(w.clone())).sum()
                },
                &GradCheckOptions::default(),
            );
            assert!(report.passed(), "layer_norm {layer_norm}: {report:?}");
        }
    }

    #[test]
    fn flex_tensors_are_recognised() {
        let device = Device::flex();
        assert!(on_flex(&Tensor::<2>::zeros([2, 2], &device)));
        assert!(on_flex(&Tensor::<2>::zeros([2, 2], &device.autodiff())));
    }

    #[test]
    fn out_of_range_indices_are_refused() {
        assert!(EdgeIndex::new(&[0, 3], &[1, 2], 3).is_none());
        assert!(EdgeIndex::new(&[0, -1], &[1, 2], 3).is_none());
        assert!(EdgeIndex::new(&[0], &[1, 2], 3).is_none());
        assert!(EdgeIndex::new(&[0, 2], &[1, 2], 3).is_some());
    }
}
