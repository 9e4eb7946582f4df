//! Aggregation ⊕ of messages onto their target nodes: sum, mean, max.
//!
//! ```text
//! sum:  a_i = Σ_{e: target(e) = i} m_e
//! mean: a_i = (1 / deg_i) Σ m_e              (0 where deg_i = 0)
//! max:  a_i = max_e m_e, per feature         (0 where deg_i = 0)
//! ```
//!
//! Sum and mean are a scatter-add (burn's `select_assign` with `Add`, whose gradient is a gather).
//! burn leaves the gradient of a scatter-max with repeated targets undefined, so max is written as
//! a scatter-add of the messages masked to the per-target maxima (ties share the gradient equally):
//! the forward value is the maximum, the gradient flows to the arg-max messages — the subgradient
//! PyG's `scatter_max` gives.

use burn::prelude::*;
use burn::tensor::IndexingUpdateOp;
use serde::{Deserialize, Serialize};

/// The aggregation function ⊕.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Σ over incoming messages.
    #[default]
    Sum,
    /// Mean over incoming messages.
    Mean,
    /// Element-wise maximum over incoming messages.
    Max,
}

/// Aggregates `messages` `[E, F]` onto `num_nodes` nodes by their `targets` `[E]`.
///
/// # Shapes
/// - `messages`: `[E, F]`, `targets`: `[E]` (values in 0..num_nodes)
/// - output: `[num_nodes, F]`
pub fn aggregate(
    messages: Tensor<2>,
    targets: Tensor<1, Int>,
    num_nodes: usize,
    aggregation: Aggregation,
) -> Tensor<2> {
    let [_, features] = messages.dims();
    let device = messages.device();
    let dtype = messages.dtype();
    let zeros = || Tensor::<2>::zeros([num_nodes, features], (&device, dtype));
    match aggregation {
        Aggregation::Sum => zeros().select_assign(0, targets, messages, IndexingUpdateOp::Add),
        Aggregation::Mean => {
            let sum = zeros().select_assign(0, targets.clone(), messages, IndexingUpdateOp::Add);
            let degree = in_degree(targets, num_nodes, &device).cast(dtype);
            sum / degree.clamp_min(1.0).unsqueeze_dim(1)
        }
        Aggregation::Max => {
            let [edges, _] = messages.dims();
            let detached = messages.clone().detach();
            let index = targets
                .clone()
                .unsqueeze_dim::<2>(1)
                .expand([edges, features]);
            let maxima =
                Tensor::<2>::full([num_nodes, features], f64::NEG_INFINITY, (&device, dtype))
                    .scatter(0, index, detached.clone(), IndexingUpdateOp::Max);
            let at_max = detached
                .equal(maxima.select(0, targets.clone()))
                .float()
                .cast(dtype);
            let ties = zeros()
                .select_assign(0, targets.clone(), at_max.clone(), IndexingUpdateOp::Add)
                .clamp_min(1.0);
            zeros().select_assign(0, targets.clone(), messages * at_max, IndexingUpdateOp::Add)
                / ties
        }
    }
}

/// Number of incoming edges of each node, as floats.
pub fn in_degree(targets: Tensor<1, Int>, num_nodes: usize, device: &Device) -> Tensor<1> {
    let [edges] = targets.dims();
    Tensor::<1>::zeros([num_nodes], device).select_assign(
        0,
        targets,
        Tensor::<1>::ones([edges], device),
        IndexingUpdateOp::Add,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{GradCheckOptions, check_module, to_f64};
    use crate::mlp::MlpConfig;

    fn rows(t: Tensor<2>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32")
    }

    #[test]
    fn sum_mean_max_by_hand() {
        let device = Device::flex();
        // Edges into node 0: messages (1, 5) and (3, 2); into node 2: (−4, 7); node 1: none.
        let m = Tensor::<2>::from_floats([[1.0, 5.0], [3.0, 2.0], [-4.0, 7.0]], &device);
        let t = Tensor::<1, Int>::from_ints([0, 0, 2], &device);
        let sum = rows(aggregate(m.clone(), t.clone(), 3, Aggregation::Sum));
        assert_eq!(sum, vec![4.0, 7.0, 0.0, 0.0, -4.0, 7.0]);
        let mean = rows(aggregate(m.clone(), t.clone(), 3, Aggregation::Mean));
        assert_eq!(mean, vec![2.0, 3.5, 0.0, 0.0, -4.0, 7.0]);
        let max = rows(aggregate(m, t, 3, Aggregation::Max));
        assert_eq!(max, vec![3.0, 5.0, 0.0, 0.0, -4.0, 7.0]);
    }

    #[test]
    fn gradients_of_all_three_aggregations_match_finite_differences() {
        let device = Device::flex().autodiff();
        device.seed(2);
        // Messages from an MLP on random edge inputs, aggregated onto 4 nodes with repeats.
        let mlp = MlpConfig::new(vec![3, 6, 2]).init(&device);
        let inputs = Tensor::<2>::random([9, 3], burn::tensor::Distribution::Default, &device);
        let targets = Tensor::<1, Int>::from_ints([0, 1, 1, 3, 0, 3, 3, 1, 0], &device);
        let weights = Tensor::<2>::random([4, 2], burn::tensor::Distribution::Default, &device);
        for aggregation in [Aggregation::Sum, Aggregation::Mean, Aggregation::Max] {
            let report = check_module(
                &mlp,
                |m| {
                    let a = aggregate(
                        m.forward(to_f64(inputs.clone())),
                        targets.clone(),
                        4,
                        aggregation,
                    );
                    (a * to_f64(weights.clone())).sum()
                },
                &GradCheckOptions::default(),
            );
            assert!(report.passed(), "{aggregation:?}: {report:?}");
        }
    }
}
