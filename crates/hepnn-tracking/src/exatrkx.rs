//! The Exa.TrkX edge-classifier GNN (Ju et al., *Performance of a geometric deep learning pipeline
//! for HL-LHC particle tracking*, Eur. Phys. J. C 81 (2021) 876, arXiv:2103.06995), course slides
//! "réseaux de neurones sur graphes", with its trained weights read from the ONNX file the
//! Exa.TrkX inference service deploys.
//!
//! The network is the residual attention GNN of the Exa.TrkX pipeline code (an `EdgeNetwork` and a
//! `NodeNetwork` built with `make_mlp`, messages summed with `torch_scatter.scatter_add`). With x the
//! node inputs (r/1000, φ/π, z/1000), `[s_k, t_k]` the two ends of edge k, and every MLP made of
//! `Linear → LayerNorm(ε = 1e-5) → ReLU` blocks:
//!
//! ```text
//! h⁰   = [ I(x), x ]                                     I: 3 blocks 3 → 64 → 64 → 64
//! for l = 0 … 7 (one set of weights for all iterations):
//!   w_k   = σ( E([h_{s_k}, h_{t_k}]) )                   E: 3 blocks 134 → 67 → 67 → 67, Linear 67 → 1
//!   m_i   = Σ_{k: t_k = i} w_k h_{s_k} + Σ_{k: s_k = i} w_k h_{t_k}
//!   h^{l+1} = h^l + [ N([m, h^l]), x ]                   N: 2 blocks 134 → 64 → 64, Linear 64 → 64
//! z_k  = E([h_{s_k}, h_{t_k}])                           the edge logit (score σ(z_k))
//! ```
//!
//! Every node vector carries the raw inputs x in its last three places, so the residual adds x at
//! each iteration (after l iterations those places hold (l + 1)·x); this is what the export does.
//!
//! The aggregation is a true sum, PyTorch's `scatter_add` with which the network was trained and
//! which reproduces the service's outputs. The ONNX export (opset 12) writes it as
//! `ScatterElements` without reduction, whose result for a node receiving several messages is one
//! of them, not their sum: running the `.onnx` graph literally (e.g. with onnxruntime) gives other
//! logits. Only the weights are taken from the file.
//!
//! ```no_run
//! use burn::prelude::*;
//! use hepnn_tracking::exatrkx::ExaTrkxGnn;
//! let device = Device::flex();
//! let gnn = ExaTrkxGnn::from_onnx("data/exatrkx/gnn.onnx", &device)?;
//! // hits: r/1000, φ/π, z/1000; edges: (source, target) hit indices.
//! let hits = [0.032_f32, 0.1, 0.05, 0.072, 0.1, 0.11];
//! let graph = hepnn_nn::gnn::Graph::from_host(&hits, 2, &[0], &[1], None, None, &device)?;
//! let logits = gnn.forward(&graph); // [E]
//! # Ok::<(), hepnn_tracking::TrackingError>(())
//! ```

use std::path::Path;

use burn::module::Param;
use burn::nn::{LayerNorm, LayerNormConfig, Linear};
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::{relu, sigmoid};
use hepnn_core::io::onnx::OnnxModel;
use hepnn_nn::gnn::Graph;
use hepnn_nn::gnn::aggregate::{Aggregation, aggregate};

use crate::TrackingError;

/// Configuration of an [`ExaTrkxGnn`]; the defaults are those of the deployed Exa.TrkX model.
#[derive(Config, Debug)]
pub struct ExaTrkxGnnConfig {
    /// Node input features (r/1000, φ/π, z/1000).
    #[config(default = 3)]
    pub d_input: usize,
    /// Width of the input and node networks; node vectors are `d_hidden + d_input` wide.
    #[config(default = 64)]
    pub d_hidden: usize,
    /// Linear + LayerNorm + ReLU blocks of the input network.
    #[config(default = 3)]
    pub input_layers: usize,
    /// Linear + LayerNorm + ReLU blocks of the edge network, before its Linear to one logit.
    #[config(default = 3)]
    pub edge_layers: usize,
    /// Linear + LayerNorm + ReLU blocks of the node network, before its last Linear.
    #[config(default = 2)]
    pub node_layers: usize,
    /// Message-passing iterations (the weights are shared between them).
    #[config(default = 8)]
    pub iterations: usize,
    /// ε of every LayerNorm.
    #[config(default = 1e-5)]
    pub layer_norm_epsilon: f64,
}

/// A stack of `Linear → LayerNorm → ReLU` blocks, optionally ended by a plain `Linear`.
#[derive(Module, Debug)]
pub struct NormMlp {
    /// The linear layers, in order.
    pub linears: Vec<Linear>,
    /// One LayerNorm per block: `norms[k]` follows `linears[k]`; a last linear without norm is the
    /// output layer.
    pub norms: Vec<LayerNorm>,
}

impl NormMlp {
    /// Builds the stack with widths `widths` (`widths.len() - 1` linears) and LayerNorm + ReLU
    /// after the first `blocks` of them. The weights are placeholders until loaded.
    fn init(widths: &[usize], blocks: usize, epsilon: f64, device: &Device) -> Self {
        let linears = widths
            .windows(2)
            .map(|w| linear_from(vec![0.0; w[0] * w[1]], vec![0.0; w[1]], w[0], w[1], device))
            .collect();
        let norms = widths[1..=blocks]
            .iter()
            .map(|&d| LayerNormConfig::new(d).with_epsilon(epsilon).init(device))
            .collect();
        Self { linears, norms }
    }

    /// `h ↦ ReLU(LN_k(W_k h + b_k))` for each block, then the last linear if it has no norm.
    ///
    /// # Shapes
    /// - `input`: `[R, widths[0]]`; output `[R, widths.last()]`
    pub fn forward(&self, input: Tensor<2>) -> Tensor<2> {
        self.linears
            .iter()
            .enumerate()
            .fold(input, |h, (k, linear)| {
                let h = linear.forward(h);
                match self.norms.get(k) {
                    Some(norm) => relu(norm.forward(h)),
                    None => h,
                }
            })
    }

    /// Copies the weights of a PyTorch `nn.Sequential` of `Linear, LayerNorm, ReLU` triples named
    /// `{prefix}.{3k}` (Linear, weight `[out, in]`) and `{prefix}.{3k+1}` (LayerNorm) from `onnx`.
    fn load(
        mut self,
        onnx: &OnnxModel,
        prefix: &str,
        device: &Device,
    ) -> Result<Self, TrackingError> {
        for (k, linear) in self.linears.iter_mut().enumerate() {
            let [d_in, d_out] = linear.weight.dims();
            let name = format!("{prefix}.{}", 3 * k);
            let weight_out_in = onnx.float_tensor(&format!("{name}.weight"), &[d_out, d_in])?;
            let bias = onnx.float_tensor(&format!("{name}.bias"), &[d_out])?;
            // PyTorch and ONNX Gemm (transB = 1) hold W as [out, in]; burn's Linear as [in, out].
            let mut weight = vec![0.0f32; d_in * d_out];
            for (o, row) in weight_out_in.chunks_exact(d_in).enumerate() {
                for (i, &w) in row.iter().enumerate() {
                    weight[i * d_out + o] = w;
                }
            }
            *linear = linear_from(weight, bias, d_in, d_out, device);
        }
        for (k, norm) in self.norms.iter_mut().enumerate() {
            let [d] = norm.gamma.dims();
            let name = format!("{prefix}.{}", 3 * k + 1);
            let gamma = onnx.float_tensor(&format!("{name}.weight"), &[d])?;
            let beta = onnx.float_tensor(&format!("{name}.bias"), &[d])?;
            norm.gamma = vector_param(gamma, device);
            norm.beta = Some(vector_param(beta, device));
        }
        Ok(self)
    }
}

/// A burn `Linear` holding `weight` (row-major `[d_in, d_out]`) and `bias` (`[d_out]`).
fn linear_from(
    weight: Vec<f32>,
    bias: Vec<f32>,
    d_in: usize,
    d_out: usize,
    device: &Device,
) -> Linear {
    Linear {
        weight: Param::from_tensor(Tensor::<2>::from_data(
            TensorData::new(weight, [d_in, d_out]),
            device,
        )),
        bias: Some(vector_param(bias, device)),
    }
}

fn vector_param(values: Vec<f32>, device: &Device) -> Param<Tensor<1>> {
    let n = values.len();
    Param::from_tensor(Tensor::<1>::from_data(TensorData::new(values, [n]), device))
}

/// The Exa.TrkX GNN: input network, `iterations` rounds of attention-weighted message passing
/// with residual node updates, and the edge network's logit for every edge.
#[derive(Module, Debug)]
pub struct ExaTrkxGnn {
    /// I: x → first `d_hidden` node features.
    pub input_network: NormMlp,
    /// E: [h_source, h_target] → edge logit (its sigmoid weighs the messages).
    pub edge_network: NormMlp,
    /// N: [m, h] → node update (`d_hidden` wide).
    pub node_network: NormMlp,
    /// Message-passing iterations.
    #[module(skip)]
    pub iterations: usize,
}

impl ExaTrkxGnnConfig {
    /// Builds the network with placeholder (zero) weights; [`ExaTrkxGnn::from_onnx`] fills them.
    pub fn init(&self, device: &Device) -> ExaTrkxGnn {
        let (x, h) = (self.d_input, self.d_hidden);
        let width = h + x;
        let eps = self.layer_norm_epsilon;
        let input: Vec<usize> = std::iter::once(x)
            .chain(std::iter::repeat_n(h, self.input_layers))
            .collect();
        let edge: Vec<usize> = std::iter::once(2 * width)
            .chain(std::iter::repeat_n(width, self.edge_layers))
            .chain(std::iter::once(1))
            .collect();
        let node: Vec<usize> = std::iter::once(2 * width)
            .chain(std::iter::repeat_n(h, self.node_layers + 1))
            .collect();
        ExaTrkxGnn {
            input_network: NormMlp::init(&input, self.input_layers, eps, device),
            edge_network: NormMlp::init(&edge, self.edge_layers, eps, device),
            node_network: NormMlp::init(&node, self.node_layers, eps, device),
            iterations: self.iterations,
        }
    }
}

impl ExaTrkxGnn {
    /// Loads the trained network from an Exa.TrkX GNN exported to ONNX by PyTorch
    /// (initializers `input_network.{0,1,3,4,…}`, `edge_network.network.*`,
    /// `node_network.network.*`).
    ///
    /// The widths and the numbers of layers are read from the initializers' shapes, the number of
    /// iterations from the graph (two `ScatterElements` per iteration). Errors name the file and,
    /// where one is at fault, the initializer: unreadable or not ONNX, an initializer missing or
    /// of the wrong shape.
    pub fn from_onnx(path: impl AsRef<Path>, device: &Device) -> Result<Self, TrackingError> {
        let onnx = OnnxModel::read(path)?;
        let config = Self::config_of(&onnx)?;
        let model = config.init(device);
        Ok(Self {
            input_network: model.input_network.load(&onnx, "input_network", device)?,
            edge_network: model
                .edge_network
                .load(&onnx, "edge_network.network", device)?,
            node_network: model
                .node_network
                .load(&onnx, "node_network.network", device)?,
            iterations: config.iterations,
        })
    }

    /// The architecture of the exported model, from its initializer shapes and operators.
    pub fn config_of(onnx: &OnnxModel) -> Result<ExaTrkxGnnConfig, TrackingError> {
        let first = "input_network.0.weight";
        let (d_hidden, d_input) = match onnx.tensor(first)?.dims[..] {
            [h, x] => (h, x),
            ref other => {
                return Err(onnx
                    .error(
                        first,
                        format!("expected a matrix [hidden, inputs], found {other:?}"),
                    )
                    .into());
            }
        };
        // Blocks of a Sequential: Linear weights at 0, 3, 6, …; LayerNorms at 1, 4, 7, ….
        let count = |prefix: &str, of: usize| {
            (0..)
                .take_while(|k| {
                    onnx.initializers
                        .contains_key(&format!("{prefix}.{}.weight", 3 * k + of))
                })
                .count()
        };
        let edge_layers = count("edge_network.network", 1);
        let node_layers = count("node_network.network", 1);
        let scatters = onnx.count_ops("ScatterElements");
        if scatters == 0 || !scatters.is_multiple_of(2) {
            return Err(hepnn_core::CoreError::Onnx {
                path: onnx.path.clone(),
                initializer: None,
                message: format!(
                    "expected two ScatterElements per message-passing iteration, found {scatters}"
                ),
            }
            .into());
        }
        Ok(ExaTrkxGnnConfig::new()
            .with_d_input(d_input)
            .with_d_hidden(d_hidden)
            .with_input_layers(count("input_network", 1))
            .with_edge_layers(edge_layers)
            .with_node_layers(node_layers)
            .with_iterations(scatters / 2))
    }

    /// The edge network's input `[h_s, h_t]` for every edge.
    fn edge_inputs(h: &Tensor<2>, sources: &Tensor<1, Int>, targets: &Tensor<1, Int>) -> Tensor<2> {
        Tensor::cat(
            vec![
                h.clone().select(0, sources.clone()),
                h.clone().select(0, targets.clone()),
            ],
            1,
        )
    }

    /// Edge logits z (scores σ(z)) for a hit graph.
    ///
    /// # Shapes
    /// - `graph.x`: `[N, d_input]` (r/1000, φ/π, z/1000), `graph.edge_index`: `[2, E]` (row 0
    ///   sources, row 1 targets); output `[E]`
    pub fn forward(&self, graph: &Graph) -> Tensor<1> {
        let x = graph.x.clone();
        let n = graph.num_nodes();
        let edges = graph.num_edges();
        let sources = graph.sources();
        let targets = graph.targets();
        let mut h = Tensor::cat(vec![self.input_network.forward(x.clone()), x.clone()], 1);
        for _ in 0..self.iterations {
            let weights = sigmoid(
                self.edge_network
                    .forward(Self::edge_inputs(&h, &sources, &targets)),
            );
            let from_sources = h.clone().select(0, sources.clone()) * weights.clone();
            let from_targets = h.clone().select(0, targets.clone()) * weights;
            let messages = aggregate(from_sources, targets.clone(), n, Aggregation::Sum)
                + aggregate(from_targets, sources.clone(), n, Aggregation::Sum);
            let update = self
                .node_network
                .forward(Tensor::cat(vec![messages, h.clone()], 1));
            h = h + Tensor::cat(vec![update, x.clone()], 1);
        }
        self.edge_network
            .forward(Self::edge_inputs(&h, &sources, &targets))
            .reshape([edges])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_widths_are_the_deployed_models() {
        let device = Device::flex();
        let gnn = ExaTrkxGnnConfig::new().init(&device);
        let dims = |mlp: &NormMlp| {
            mlp.linears
                .iter()
                .map(|l| l.weight.dims())
                .collect::<Vec<_>>()
        };
        assert_eq!(dims(&gnn.input_network), [[3, 64], [64, 64], [64, 64]]);
        assert_eq!(
            dims(&gnn.edge_network),
            [[134, 67], [67, 67], [67, 67], [67, 1]]
        );
        assert_eq!(dims(&gnn.node_network), [[134, 64], [64, 64], [64, 64]]);
        assert_eq!(
            (
                gnn.input_network.norms.len(),
                gnn.edge_network.norms.len(),
                gnn.node_network.norms.len()
            ),
            (3, 3, 2)
        );
    }

    #[test]
    fn norm_mlp_by_hand() {
        // One block 2 → 2 then a linear 2 → 1: W = I, b = (0, 1), LN(γ = 1, β = 0), then
        // z = 2·a₀ − a₁ + 0.5.
        let device = Device::flex();
        let mut mlp = NormMlp::init(&[2, 2, 1], 1, 1e-5, &device);
        mlp.linears[0] = linear_from(vec![1.0, 0.0, 0.0, 1.0], vec![0.0, 1.0], 2, 2, &device);
        mlp.linears[1] = linear_from(vec![2.0, -1.0], vec![0.5], 2, 1, &device);
        // Input (3, 0) → (3, 1) → LN: mean 2, sd 1 → (1, −1) → ReLU (1, 0) → z = 2.5.
        let input = Tensor::<2>::from_data(TensorData::new(vec![3.0f32, 0.0], [1, 2]), &device);
        let z = mlp
            .forward(input)
            .into_data()
            .convert::<f64>()
            .try_to_vec::<f64>()
            .expect("f64 data");
        assert!((z[0] - 2.5).abs() < 1e-4, "{z:?}");
    }
}
