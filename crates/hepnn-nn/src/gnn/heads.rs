//! Classification heads for nodes, edges and whole graphs, and graph pooling.

use burn::prelude::*;

use super::aggregate::{Aggregation, aggregate};
use super::graph::Graph;
use crate::mlp::{Mlp, MlpConfig};

/// Pools node features into one row per graph: ⊕ over the nodes of each graph.
///
/// # Shapes
/// - `x`: `[N, F]`, `batch`: `[N]`; output `[B, F]`
pub fn pool(
    x: Tensor<2>,
    batch: Tensor<1, Int>,
    num_graphs: usize,
    aggregation: Aggregation,
) -> Tensor<2> {
    aggregate(x, batch, num_graphs, aggregation)
}

/// Node classification: an MLP on each node's features → class logits `[N, C]`.
pub fn node_head(d_input: usize, d_hidden: usize, classes: usize, device: &Device) -> Mlp {
    MlpConfig::new(vec![d_input, d_hidden, classes]).init(device)
}

/// Edge classification: an MLP on [x_i, x_j, e_ji] → one logit per edge `[E]`.
#[derive(Module, Debug)]
pub struct EdgeHead {
    /// The MLP.
    pub mlp: Mlp,
}

impl EdgeHead {
    /// A head for node width `d_node`, edge width `d_edge`.
    pub fn new(d_node: usize, d_edge: usize, d_hidden: usize, device: &Device) -> Self {
        Self {
            mlp: MlpConfig::new(vec![2 * d_node + d_edge, d_hidden, 1]).init(device),
        }
    }

    /// Logits `[E]`.
    pub fn forward(&self, x: Tensor<2>, graph: &Graph, e: Option<Tensor<2>>) -> Tensor<1> {
        let mut parts = vec![
            x.clone().select(0, graph.targets()),
            x.select(0, graph.sources()),
        ];
        parts.extend(e);
        let edges = graph.num_edges();
        self.mlp.forward(Tensor::cat(parts, 1)).reshape([edges])
    }
}

/// Graph classification: pool the nodes of each graph, then an MLP → class logits `[B, C]`.
#[derive(Module, Debug)]
pub struct GraphHead {
    /// The MLP on the pooled features.
    pub mlp: Mlp,
    /// The pooling ⊕.
    #[module(skip)]
    pub pooling: Aggregation,
}

impl GraphHead {
    /// A head for node width `d_node` and `classes` classes.
    pub fn new(
        d_node: usize,
        d_hidden: usize,
        classes: usize,
        pooling: Aggregation,
        device: &Device,
    ) -> Self {
        Self {
            mlp: MlpConfig::new(vec![d_node, d_hidden, classes]).init(device),
            pooling,
        }
    }

    /// Logits `[B, C]`.
    pub fn forward(&self, x: Tensor<2>, graph: &Graph) -> Tensor<2> {
        self.mlp
            .forward(pool(x, graph.batch.clone(), graph.num_graphs, self.pooling))
    }
}
