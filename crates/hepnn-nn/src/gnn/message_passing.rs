//! The message-passing scheme, PyG's `MessagePassing` (suffix `_i` = target, `_j` = source).

use burn::prelude::*;

use super::aggregate::{Aggregation, aggregate};

/// A message-passing layer: implement `message` (φ), choose an `aggregation` (⊕), implement
/// `update` (γ); `propagate` runs the three.
pub trait MessagePassing {
    /// φ(x_i, x_j, e_ji) for every edge.
    ///
    /// # Shapes
    /// - `x_i`, `x_j`: `[E, F]`; `edge_attr`: `[E, F_e]`; output `[E, F_m]`
    fn message(&self, x_i: Tensor<2>, x_j: Tensor<2>, edge_attr: Option<Tensor<2>>) -> Tensor<2>;

    /// ⊕: how messages into a node are combined.
    fn aggregation(&self) -> Aggregation;

    /// γ(x_i, a_i) for every node.
    ///
    /// # Shapes
    /// - `aggregated`: `[N, F_m]`, `x`: `[N, F]`; output `[N, F']`
    fn update(&self, aggregated: Tensor<2>, x: Tensor<2>) -> Tensor<2>;

    /// message → aggregate → update over `edge_index` `[2, E]` (row 0 sources, row 1 targets).
    fn propagate(
        &self,
        x: Tensor<2>,
        edge_index: &Tensor<2, Int>,
        edge_attr: Option<Tensor<2>>,
    ) -> Tensor<2> {
        let [n, _] = x.dims();
        let [_, e] = edge_index.dims();
        let sources = edge_index.clone().slice([0..1, 0..e]).reshape([e]);
        let targets = edge_index.clone().slice([1..2, 0..e]).reshape([e]);
        let x_j = x.clone().select(0, sources);
        let x_i = x.clone().select(0, targets.clone());
        let messages = self.message(x_i, x_j, edge_attr);
        let aggregated = aggregate(messages, targets, n, self.aggregation());
        self.update(aggregated, x)
    }
}
