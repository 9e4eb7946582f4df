//! The interaction network, Battaglia et al., *Interaction networks for learning about objects,
//! relations and physics*, NeurIPS 2016 (arXiv:1612.00222); for charged-particle tracking,
//! DeZoort et al., *Charged particle tracking via edge-classifying interaction networks*, Comput.
//! Softw. Big Sci. 5 (2021) 26 (arXiv:2103.16701).
//!
//! One interaction step updates every edge from its two nodes, then every node from the sum of its
//! incoming edges (with residual connections when the widths allow):
//!
//! ```text
//! e_ji' = e_ji + φ_R([x_i, x_j, e_ji])          relational (edge) network
//! x_i'  = x_i  + φ_O([x_i, Σ_j e_ji'])           object (node) network
//! ```
//!
//! With `bidirectional`, a node also hears the edges it sends, as in Exa.TrkX's GNN:
//! x_i' = x_i + φ_O([x_i, Σ_j e_ji', Σ_k e_ik']) — information then flows both ways along a
//! track whose edges all point outwards.
//!
//! [`EdgeClassifier`] stacks an encoder, K interaction steps and an edge head giving one logit per
//! edge: the model that keeps or drops the candidate hit pairs of a tracking graph.
//!
//! On the Flex CPU backend the edge networks (φ_R, the edge encoder and the head) and the sum/mean
//! aggregations run as the fused kernels of [`crate::kernels::gnn`] (first layer split into node
//! projections gathered per edge, one autodiff node each, hand-written backward); the same
//! parameters, the same function. Elsewhere, and for max aggregation, the plain burn graph runs.

use std::sync::Arc;

use burn::prelude::*;

use super::aggregate::{Aggregation, aggregate};
use super::graph::Graph;
use crate::kernels::gnn::{EdgeIndex, ScatterMode, edge_mlp, node_mlp, on_flex, scatter};
use crate::mlp::{Mlp, MlpConfig};
use crate::neuron::Activation;

/// Configuration of an [`InteractionNetwork`] step.
#[derive(Config, Debug)]
pub struct InteractionNetworkConfig {
    /// Node feature width (input and output).
    pub d_node: usize,
    /// Edge feature width (input and output).
    pub d_edge: usize,
    /// Hidden width of φ_R and φ_O.
    pub d_hidden: usize,
    /// ⊕ of the edge messages into nodes.
    #[config(default = "Aggregation::Sum")]
    pub aggregation: Aggregation,
    /// Add the input to the output (x' = x + φ, e' = e + φ).
    #[config(default = true)]
    pub residual: bool,
    /// Aggregate outgoing as well as incoming edges into each node.
    #[config(default = false)]
    pub bidirectional: bool,
    /// LayerNorm in the hidden layer of both networks.
    #[config(default = false)]
    pub layer_norm: bool,
}

/// One interaction step.
#[derive(Module, Debug)]
pub struct InteractionNetwork {
    /// φ_R: [x_i, x_j, e] → e'.
    pub relational: Mlp,
    /// φ_O: [x_i, Σ e'] → x'.
    pub object: Mlp,
    /// ⊕.
    #[module(skip)]
    pub aggregation: Aggregation,
    /// Residual connections.
    #[module(skip)]
    pub residual: bool,
    /// Aggregate outgoing edges too.
    #[module(skip)]
    pub bidirectional: bool,
}

impl InteractionNetworkConfig {
    /// Builds the step (ReLU MLPs with one hidden layer).
    pub fn init(&self, device: &Device) -> InteractionNetwork {
        InteractionNetwork {
            relational: MlpConfig::new(vec![
                2 * self.d_node + self.d_edge,
                self.d_hidden,
                self.d_edge,
            ])
            .with_layer_norm(self.layer_norm)
            .init(device),
            object: MlpConfig::new(vec![
                self.d_node + self.d_edge * if self.bidirectional { 2 } else { 1 },
                self.d_hidden,
                self.d_node,
            ])
            .with_layer_norm(self.layer_norm)
            .init(device),
            aggregation: self.aggregation,
            residual: self.residual,
            bidirectional: self.bidirectional,
        }
    }
}

impl InteractionNetwork {
    /// One step: returns (x', e').
    ///
    /// # Shapes
    /// - `x`: `[N, d_node]`, `edge_index`: `[2, E]`, `e`: `[E, d_edge]`; outputs the same shapes
    pub fn forward(
        &self,
        x: Tensor<2>,
        edge_index: &Tensor<2, Int>,
        e: Tensor<2>,
    ) -> (Tensor<2>, Tensor<2>) {
        let [n, _] = x.dims();
        let index = (self.fusable() && on_flex(&x))
            .then(|| EdgeIndex::from_tensor(edge_index, n).map(Arc::new))
            .flatten();
        self.forward_indexed(x, edge_index, index.as_ref(), e)
    }

    /// Whether [`InteractionNetwork::forward_indexed`] can use the fused kernels (sum or mean).
    fn fusable(&self) -> bool {
        self.aggregation != Aggregation::Max
    }

    /// [`InteractionNetwork::forward`] with the edge index already on the host (built once per
    /// graph by the caller): the fused kernels where they apply, else the plain graph.
    ///
    /// # Shapes
    /// - as [`InteractionNetwork::forward`]
    pub fn forward_indexed(
        &self,
        x: Tensor<2>,
        edge_index: &Tensor<2, Int>,
        index: Option<&Arc<EdgeIndex>>,
        e: Tensor<2>,
    ) -> (Tensor<2>, Tensor<2>) {
        if let Some(index) = index.filter(|_| self.fusable())
            && let Some(e_new) = edge_mlp(&self.relational, &x, Some(&e), index, self.residual)
        {
            let mode = ScatterMode {
                mean: self.aggregation == Aggregation::Mean,
                bidirectional: self.bidirectional,
            };
            if let Some(agg) = scatter(&e_new, index, mode) {
                let dx = node_mlp(&self.object, &x, &agg)
                    .unwrap_or_else(|| self.object.forward(Tensor::cat(vec![x.clone(), agg], 1)));
                let x_new = if self.residual { x + dx } else { dx };
                return (x_new, e_new);
            }
        }
        self.forward_plain(x, edge_index, e)
    }

    /// The plain burn graph of [`InteractionNetwork::forward`] (gather with `select`, `cat`,
    /// scatter-add with `select_assign`).
    ///
    /// # Shapes
    /// - as [`InteractionNetwork::forward`]
    pub fn forward_plain(
        &self,
        x: Tensor<2>,
        edge_index: &Tensor<2, Int>,
        e: Tensor<2>,
    ) -> (Tensor<2>, Tensor<2>) {
        let [n, _] = x.dims();
        let [_, edges] = edge_index.dims();
        let sources = edge_index.clone().slice([0..1, 0..edges]).reshape([edges]);
        let targets = edge_index.clone().slice([1..2, 0..edges]).reshape([edges]);
        let x_i = x.clone().select(0, targets.clone());
        let x_j = x.clone().select(0, sources.clone());
        let de = self
            .relational
            .forward(Tensor::cat(vec![x_i, x_j, e.clone()], 1));
        let e_new = if self.residual { e + de } else { de };
        let mut parts = vec![
            x.clone(),
            aggregate(e_new.clone(), targets, n, self.aggregation),
        ];
        if self.bidirectional {
            parts.push(aggregate(e_new.clone(), sources, n, self.aggregation));
        }
        let dx = self.object.forward(Tensor::cat(parts, 1));
        let x_new = if self.residual { x + dx } else { dx };
        (x_new, e_new)
    }
}

/// Configuration of an [`EdgeClassifier`].
#[derive(Config, Debug)]
pub struct EdgeClassifierConfig {
    /// Node input features (3 for r, φ, z).
    pub d_node_in: usize,
    /// Edge input features (0 when the graph has none).
    pub d_edge_in: usize,
    /// Hidden width of every network.
    #[config(default = 64)]
    pub d_hidden: usize,
    /// Number of message-passing steps K.
    #[config(default = 8)]
    pub iterations: usize,
    /// Share one interaction step's weights across the K iterations (as Exa.TrkX does).
    #[config(default = true)]
    pub shared_weights: bool,
    /// ⊕.
    #[config(default = "Aggregation::Sum")]
    pub aggregation: Aggregation,
    /// Nodes aggregate outgoing as well as incoming edges.
    #[config(default = true)]
    pub bidirectional: bool,
    /// LayerNorm in every hidden layer of every network (as Exa.TrkX).
    #[config(default = false)]
    pub layer_norm: bool,
}

/// Encoder → K interaction steps → edge head: one logit per edge.
#[derive(Module, Debug)]
pub struct EdgeClassifier {
    /// Node encoder d_node_in → hidden.
    pub node_encoder: Mlp,
    /// Edge encoder [x_i, x_j, e] → hidden.
    pub edge_encoder: Mlp,
    /// The interaction steps (one when shared).
    pub steps: Vec<InteractionNetwork>,
    /// Edge head [x_i, x_j, e] → 1 logit.
    pub head: Mlp,
    /// K.
    #[module(skip)]
    pub iterations: usize,
}

impl EdgeClassifierConfig {
    /// Builds the model.
    pub fn init(&self, device: &Device) -> EdgeClassifier {
        let h = self.d_hidden;
        let step = InteractionNetworkConfig::new(h, h, h)
            .with_aggregation(self.aggregation)
            .with_bidirectional(self.bidirectional)
            .with_layer_norm(self.layer_norm);
        let n_steps = if self.shared_weights {
            1
        } else {
            self.iterations.max(1)
        };
        EdgeClassifier {
            node_encoder: MlpConfig::new(vec![self.d_node_in, h, h])
                .with_layer_norm(self.layer_norm)
                .init(device),
            edge_encoder: MlpConfig::new(vec![2 * self.d_node_in + self.d_edge_in, h, h])
                .with_layer_norm(self.layer_norm)
                .init(device),
            steps: (0..n_steps).map(|_| step.init(device)).collect(),
            head: MlpConfig::new(vec![3 * h, h, 1])
                .with_layer_norm(self.layer_norm)
                .init(device),
            iterations: self.iterations,
        }
    }
}

impl EdgeClassifier {
    /// Edge logits (apply a sigmoid for scores).
    ///
    /// # Shapes
    /// - graph with `x`: `[N, d_node_in]`, optional `edge_attr`: `[E, d_edge_in]`; output `[E]`
    ///
    /// `HEPNN_NO_GNN_KERNEL=1` in the environment forces the plain burn graph (for before/after
    /// timings; the function is the same).
    pub fn forward(&self, graph: &Graph) -> Tensor<1> {
        if std::env::var_os("HEPNN_NO_GNN_KERNEL").is_some() {
            return self.forward_plain(graph);
        }
        let index = on_flex(&graph.x)
            .then(|| EdgeIndex::from_tensor(&graph.edge_index, graph.num_nodes()).map(Arc::new))
            .flatten();
        if let Some(index) = index
            && let Some(logits) = self.forward_fused(graph, &index)
        {
            return logits;
        }
        self.forward_plain(graph)
    }

    /// [`EdgeClassifier::forward`] with the fused kernels; `None` where they do not apply.
    pub(crate) fn forward_fused(&self, graph: &Graph, index: &Arc<EdgeIndex>) -> Option<Tensor<1>> {
        let edges = graph.num_edges();
        let relu = |t| Activation::Relu.forward(t);
        let mut e = relu(edge_mlp(
            &self.edge_encoder,
            &graph.x,
            graph.edge_attr.as_ref(),
            index,
            false,
        )?);
        let mut x = relu(self.node_encoder.forward(graph.x.clone()));
        for k in 0..self.iterations {
            let step = &self.steps[k % self.steps.len()];
            (x, e) = step.forward_indexed(x, &graph.edge_index, Some(index), e);
        }
        Some(edge_mlp(&self.head, &x, Some(&e), index, false)?.reshape([edges]))
    }

    /// The plain burn graph of [`EdgeClassifier::forward`] (the same function).
    ///
    /// # Shapes
    /// - as [`EdgeClassifier::forward`]
    pub fn forward_plain(&self, graph: &Graph) -> Tensor<1> {
        let edges = graph.num_edges();
        let (sources, targets) = (graph.sources(), graph.targets());
        let pair = |x: &Tensor<2>, e: Option<Tensor<2>>| {
            let mut parts = vec![
                x.clone().select(0, targets.clone()),
                x.clone().select(0, sources.clone()),
            ];
            parts.extend(e);
            Tensor::cat(parts, 1)
        };
        let relu = |t| Activation::Relu.forward(t);
        let mut e = relu(
            self.edge_encoder
                .forward(pair(&graph.x, graph.edge_attr.clone())),
        );
        let mut x = relu(self.node_encoder.forward(graph.x.clone()));
        for k in 0..self.iterations {
            let step = &self.steps[k % self.steps.len()];
            (x, e) = step.forward_plain(x, &graph.edge_index, e);
        }
        self.head.forward(pair(&x, Some(e))).reshape([edges])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{GradCheckOptions, check_module, to_f64};

    #[test]
    fn interaction_step_gradients_are_right() {
        let device = Device::flex().autodiff();
        device.seed(9);
        let step = InteractionNetworkConfig::new(3, 2, 5)
            .with_bidirectional(true)
            .init(&device);
        let g = Graph::from_host(
            &[
                0.1, 0.5, -0.3, 0.7, -0.2, 0.4, 0.0, 0.9, -0.8, 0.3, 0.3, 0.3,
            ],
            4,
            &[0, 1, 2, 3, 0],
            &[1, 2, 3, 0, 2],
            Some((&[0.5, -0.5, 0.1, 0.2, -0.3, 0.8, 0.4, 0.4, 0.9, -0.1], 2)),
            None,
            &device,
        )
        .unwrap();
        let e = g.edge_attr.clone().unwrap();
        let report = check_module(
            &step,
            |m| {
                let (x, e) = m.forward(to_f64(g.x.clone()), &g.edge_index, to_f64(e.clone()));
                x.powi_scalar(2).sum() + e.sin().sum()
            },
            &GradCheckOptions::default(),
        );
        assert!(report.passed(), "{report:?}");
    }

    /// The fused kernels and the plain graph give the same logits and gradients for the tracking
    /// configuration (LayerNorm, mean, bidirectional, residual, shared weights).
    #[test]
    fn fused_edge_classifier_matches_the_plain_graph() {
        use burn::tensor::Distribution;
        let device = Device::flex().autodiff();
        device.seed(21);
        let model = EdgeClassifierConfig::new(3, 2)
            .with_d_hidden(8)
            .with_iterations(3)
            .with_aggregation(Aggregation::Mean)
            .with_layer_norm(true)
            .init(&device);
        let (n, edges) = (12, 40);
        let x: Vec<f32> = (0..n * 3)
            .map(|v| ((v * 37 % 17) as f32 - 8.0) * 0.1)
            .collect();
        // Node 11 isolated, a repeated edge, a self-loop.
        let sources: Vec<usize> = (0..edges).map(|k| (k * 7 + 3) % 11).collect();
        let mut targets: Vec<usize> = (0..edges).map(|k| (k * 5 + 1) % 11).collect();
        targets[0] = sources[0];
        let attr: Vec<f32> = (0..edges * 2)
            .map(|v| ((v * 13 % 7) as f32 - 3.0) * 0.2)
            .collect();
        let g =
            Graph::from_host(&x, n, &sources, &targets, Some((&attr, 2)), None, &device).unwrap();
        let w = Tensor::<1>::random([edges], Distribution::Default, &device);
        let grads_of = |logits: Tensor<1>| {
            let values = logits
                .clone()
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap();
            let grads = (burn::tensor::activation::sigmoid(logits) * w.clone())
                .sum()
                .backward();
            let g2 = |t: Tensor<2>| {
                t.grad(&grads)
                    .unwrap()
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap()
            };
            let g1 = |t: Tensor<1>| {
                t.grad(&grads)
                    .unwrap()
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap()
            };
            let step = &model.steps[0];
            vec![
                values,
                g2(model.node_encoder.layers[0].weight.val()),
                g2(model.edge_encoder.layers[0].weight.val()),
                g2(step.relational.layers[0].weight.val()),
                g1(step.relational.layers[0].bias.as_ref().unwrap().val()),
                g1(step.relational.norms[0].gamma.val()),
                g1(step.relational.norms[0].beta.as_ref().unwrap().val()),
                g2(step.relational.layers[1].weight.val()),
                g2(step.object.layers[0].weight.val()),
                g2(model.head.layers[0].weight.val()),
                g2(model.head.layers[1].weight.val()),
            ]
        };
        let index = Arc::new(EdgeIndex::from_tensor(&g.edge_index, n).unwrap());
        let fused = grads_of(
            model
                .forward_fused(&g, &index)
                .expect("the kernels apply on Flex"),
        );
        let plain = grads_of(model.forward_plain(&g));
        for (k, (a, b)) in fused.iter().zip(&plain).enumerate() {
            let scale = b.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
            for (u, v) in a.iter().zip(b) {
                assert!(
                    (u - v).abs() <= 1e-4 * scale,
                    "tensor {k}: fused {u} vs plain {v}"
                );
            }
        }
    }

    #[test]
    fn edge_classifier_gives_one_logit_per_edge() {
        let device = Device::flex();
        let model = EdgeClassifierConfig::new(3, 4)
            .with_d_hidden(8)
            .with_iterations(2)
            .init(&device);
        let g = Graph::from_host(
            &[0.0; 9],
            3,
            &[0, 1],
            &[1, 2],
            Some((&[0.0; 8], 4)),
            None,
            &device,
        )
        .unwrap();
        assert_eq!(model.forward(&g).dims(), [2]);
    }
}
