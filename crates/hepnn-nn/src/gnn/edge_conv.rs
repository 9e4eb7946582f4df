//! EdgeConv, Wang et al., *Dynamic graph CNN for learning on point clouds*, ACM TOG 38 (2019)
//! (arXiv:1801.07829).
//!
//! ```text
//! x_i' = max_{j ∈ N(i)} h_Θ([x_i, x_j − x_i])
//! ```

use burn::prelude::*;

use super::aggregate::Aggregation;
use super::message_passing::MessagePassing;
use crate::mlp::{Mlp, MlpConfig};
use crate::neuron::Activation;

/// Configuration of an [`EdgeConv`].
#[derive(Config, Debug)]
pub struct EdgeConvConfig {
    /// Input node features F.
    pub d_input: usize,
    /// Hidden width of h_Θ.
    pub d_hidden: usize,
    /// Output node features F'.
    pub d_output: usize,
    /// ⊕ (max in the paper).
    #[config(default = "Aggregation::Max")]
    pub aggregation: Aggregation,
}

/// One EdgeConv layer.
#[derive(Module, Debug)]
pub struct EdgeConv {
    /// h_Θ: `[2F]` → hidden → F' (ReLU between, and after).
    pub h: Mlp,
    /// ⊕.
    #[module(skip)]
    pub aggregation: Aggregation,
}

impl EdgeConvConfig {
    /// Builds the layer.
    pub fn init(&self, device: &Device) -> EdgeConv {
        EdgeConv {
            h: MlpConfig::new(vec![2 * self.d_input, self.d_hidden, self.d_output]).init(device),
            aggregation: self.aggregation,
        }
    }
}

impl MessagePassing for EdgeConv {
    fn message(&self, x_i: Tensor<2>, x_j: Tensor<2>, _e: Option<Tensor<2>>) -> Tensor<2> {
        Activation::Relu.forward(self.h.forward(Tensor::cat(vec![x_i.clone(), x_j - x_i], 1)))
    }
    fn aggregation(&self) -> Aggregation {
        self.aggregation
    }
    fn update(&self, aggregated: Tensor<2>, _x: Tensor<2>) -> Tensor<2> {
        aggregated
    }
}

impl EdgeConv {
    /// x_i' = ⊕_j h([x_i, x_j − x_i]).
    ///
    /// # Shapes
    /// - `x`: `[N, F]`, `edge_index`: `[2, E]`; output `[N, F']`
    pub fn forward(&self, x: Tensor<2>, edge_index: &Tensor<2, Int>) -> Tensor<2> {
        self.propagate(x, edge_index, None)
    }
}
