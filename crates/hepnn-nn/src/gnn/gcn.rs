//! Graph convolution, Kipf & Welling, *Semi-supervised classification with graph convolutional
//! networks*, ICLR 2017 (arXiv:1609.02907).
//!
//! ```text
//! x_i' = Σ_{j ∈ N(i) ∪ {i}} 1/√(d_i d_j) · W x_j + b,     d_i = 1 + in-degree(i)
//! ```
//!
//! i.e. X' = D̂^{-1/2} Â D̂^{-1/2} X W with Â = A + I.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

use super::aggregate::{Aggregation, in_degree};
use super::message_passing::MessagePassing;

/// Configuration of a [`GcnConv`].
#[derive(Config, Debug)]
pub struct GcnConvConfig {
    /// Input node features F.
    pub d_input: usize,
    /// Output node features F'.
    pub d_output: usize,
}

/// One GCN layer.
#[derive(Module, Debug)]
pub struct GcnConv {
    /// W (no bias: b is added after aggregation).
    pub linear: Linear,
    /// b.
    pub bias: burn::module::Param<Tensor<1>>,
}

impl GcnConvConfig {
    /// Builds the layer.
    pub fn init(&self, device: &Device) -> GcnConv {
        GcnConv {
            linear: LinearConfig::new(self.d_input, self.d_output)
                .with_bias(false)
                .init(device),
            bias: burn::module::Param::from_tensor(Tensor::zeros([self.d_output], device)),
        }
    }
}

impl MessagePassing for GcnConv {
    /// The edge "feature" is the normalisation 1/√(d_i d_j), `[E, 1]`.
    fn message(&self, _x_i: Tensor<2>, x_j: Tensor<2>, edge_attr: Option<Tensor<2>>) -> Tensor<2> {
        x_j * edge_attr.expect("GcnConv::forward passes the normalisation")
    }
    fn aggregation(&self) -> Aggregation {
        Aggregation::Sum
    }
    fn update(&self, aggregated: Tensor<2>, _x: Tensor<2>) -> Tensor<2> {
        aggregated + self.bias.val().unsqueeze_dim(0)
    }
}

impl GcnConv {
    /// X' = D̂^{-1/2} (A + I) D̂^{-1/2} X W + b.
    ///
    /// # Shapes
    /// - `x`: `[N, F]`, `edge_index`: `[2, E]`; output `[N, F']`
    pub fn forward(&self, x: Tensor<2>, edge_index: &Tensor<2, Int>) -> Tensor<2> {
        let [n, _] = x.dims();
        let device = x.device();
        let loops = Tensor::<1, Int>::arange(0..n as i64, &device).unsqueeze_dim::<2>(0);
        let with_loops = Tensor::cat(
            vec![
                edge_index.clone(),
                Tensor::cat(vec![loops.clone(), loops], 0),
            ],
            1,
        );
        let [_, e] = with_loops.dims();
        let sources = with_loops.clone().slice([0..1, 0..e]).reshape([e]);
        let targets = with_loops.clone().slice([1..2, 0..e]).reshape([e]);
        let inv_sqrt = in_degree(targets.clone(), n, &device)
            .cast(x.dtype())
            .powf_scalar(-0.5);
        let norm = inv_sqrt.clone().select(0, sources) * inv_sqrt.select(0, targets);
        self.propagate(
            self.linear.forward(x),
            &with_loops,
            Some(norm.unsqueeze_dim(1)),
        )
    }
}
