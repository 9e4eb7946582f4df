//! A full graph-network block, Battaglia et al., *Relational inductive biases, deep learning, and
//! graph networks*, arXiv:1806.01261 (2018), Algorithm 1: edges, then nodes, then the global vector.
//!
//! ```text
//! e_k' = φ_e([e_k, x_{r_k}, x_{s_k}, u])
//! x_i' = φ_v([x_i, Σ_{k: r_k = i} e_k', u])
//! u'   = φ_u([u, mean_i x_i', mean_k e_k'])          (per graph of a batch)
//! ```

use burn::prelude::*;

use super::aggregate::{Aggregation, aggregate};
use super::graph::Graph;
use crate::mlp::{Mlp, MlpConfig};

/// Configuration of a [`GraphNetworkBlock`].
#[derive(Config, Debug)]
pub struct GraphNetworkConfig {
    /// Node width.
    pub d_node: usize,
    /// Edge width.
    pub d_edge: usize,
    /// Global width.
    pub d_global: usize,
    /// Hidden width of φ_e, φ_v, φ_u.
    pub d_hidden: usize,
}

/// One GN block (widths preserved).
#[derive(Module, Debug)]
pub struct GraphNetworkBlock {
    /// φ_e.
    pub edge: Mlp,
    /// φ_v.
    pub node: Mlp,
    /// φ_u.
    pub global: Mlp,
}

impl GraphNetworkConfig {
    /// Builds the block.
    pub fn init(&self, device: &Device) -> GraphNetworkBlock {
        let (n, e, g, h) = (self.d_node, self.d_edge, self.d_global, self.d_hidden);
        GraphNetworkBlock {
            edge: MlpConfig::new(vec![e + 2 * n + g, h, e]).init(device),
            node: MlpConfig::new(vec![n + e + g, h, n]).init(device),
            global: MlpConfig::new(vec![g + n + e, h, g]).init(device),
        }
    }
}

impl GraphNetworkBlock {
    /// Updates the edge, node and global features of `graph` (which must carry edge and global
    /// features); returns (x', e', u').
    ///
    /// # Shapes
    /// - x `[N, d_node]`, e `[E, d_edge]`, u `[B, d_global]`; outputs the same shapes
    pub fn forward(
        &self,
        graph: &Graph,
        x: Tensor<2>,
        e: Tensor<2>,
        u: Tensor<2>,
    ) -> (Tensor<2>, Tensor<2>, Tensor<2>) {
        let (n, b) = (graph.num_nodes(), graph.num_graphs);
        let targets = graph.targets();
        let edge_batch = graph.edge_batch();
        let e_new = self.edge.forward(Tensor::cat(
            vec![
                e,
                x.clone().select(0, targets.clone()),
                x.clone().select(0, graph.sources()),
                u.clone().select(0, edge_batch.clone()),
            ],
            1,
        ));
        let incoming = aggregate(e_new.clone(), targets, n, Aggregation::Sum);
        let x_new = self.node.forward(Tensor::cat(
            vec![x, incoming, u.clone().select(0, graph.batch.clone())],
            1,
        ));
        let node_mean = aggregate(x_new.clone(), graph.batch.clone(), b, Aggregation::Mean);
        let edge_mean = aggregate(e_new.clone(), edge_batch, b, Aggregation::Mean);
        let u_new = self
            .global
            .forward(Tensor::cat(vec![u, node_mean, edge_mean], 1));
        (x_new, e_new, u_new)
    }
}
