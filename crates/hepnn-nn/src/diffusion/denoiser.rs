//! The network that predicts the noise: ε̂_θ(x_t, t, c).
//!
//! Any burn module implementing [`Denoiser`] can be trained and sampled by
//! [`Diffusion`](super::Diffusion). [`MlpDenoiser`] is a residual MLP for vector data (the 2-D
//! examples, flattened calorimeter showers): the time step enters through the sinusoidal
//! embedding of the Transformer (Vaswani et al. 2017), as in Ho et al. 2020, and is added,
//! together with the condition, inside every residual block.

use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::silu;

/// A noise predictor ε̂_θ(x_t, t, c).
pub trait Denoiser {
    /// The predicted noise.
    ///
    /// # Shapes
    /// - `x_t`: `[batch, data_dim]`, the noised data
    /// - `t`: `[batch, 1]`, the time step t ∈ 1 … T as a float
    /// - `condition`: `[batch, condition_dim]` or `None` for an unconditional model (see
    ///   [`Conditioning::input_dim`](super::Conditioning::input_dim))
    /// - output: `[batch, data_dim]`
    fn predict_noise(
        &self,
        x_t: Tensor<2>,
        t: Tensor<2>,
        condition: Option<Tensor<2>>,
    ) -> Tensor<2>;
}

/// The sinusoidal embedding of the time step: for k < d/2,
/// e_{2k} = sin(t·ω_k), e_{2k+1} = cos(t·ω_k), ω_k = 10000^(−2k/d) (sin block then cos block).
///
/// # Shapes
/// - `t`: `[batch, 1]`
/// - output: `[batch, dim]` (`dim` even)
pub fn timestep_embedding(t: Tensor<2>, dim: usize) -> Tensor<2> {
    let half = (dim / 2).max(1);
    let device = t.device();
    let freqs: Vec<f32> = (0..half)
        .map(|k| (-(10_000f64.ln()) * k as f64 / half as f64).exp() as f32)
        .collect();
    let freqs = Tensor::<1>::from_floats(freqs.as_slice(), &device).reshape([1, half]);
    let angles = t.mul(freqs);
    Tensor::cat(vec![angles.clone().sin(), angles.cos()], 1)
}

/// Configuration of an [`MlpDenoiser`].
#[derive(Config, Debug)]
pub struct MlpDenoiserConfig {
    /// Dimension of the data x.
    pub data_dim: usize,
    /// Dimension of the condition input (0: unconditional; see
    /// [`Conditioning::input_dim`](super::Conditioning::input_dim)).
    #[config(default = 0)]
    pub condition_dim: usize,
    /// Width of the residual blocks.
    #[config(default = 128)]
    pub hidden: usize,
    /// Number of residual blocks.
    #[config(default = 3)]
    pub blocks: usize,
    /// Dimension of the sinusoidal time embedding (even).
    #[config(default = 32)]
    pub time_embedding: usize,
    /// Normalise each block's input with LayerNorm.
    #[config(default = false)]
    pub layer_norm: bool,
}

impl MlpDenoiserConfig {
    /// Builds the denoiser.
    pub fn init(&self, device: &Device) -> MlpDenoiser {
        let h = self.hidden.max(1);
        let embedding_in = self.time_embedding + self.condition_dim;
        MlpDenoiser {
            input: LinearConfig::new(self.data_dim, h).init(device),
            embedding: LinearConfig::new(embedding_in, h).init(device),
            block_in: (0..self.blocks)
                .map(|_| LinearConfig::new(h, h).init(device))
                .collect(),
            block_embedding: (0..self.blocks)
                .map(|_| LinearConfig::new(h, h).init(device))
                .collect(),
            block_out: (0..self.blocks)
                .map(|_| LinearConfig::new(h, h).init(device))
                .collect(),
            norms: if self.layer_norm {
                (0..self.blocks)
                    .map(|_| LayerNormConfig::new(h).init(device))
                    .collect()
            } else {
                Vec::new()
            },
            output: LinearConfig::new(h, self.data_dim).init(device),
            time_embedding: self.time_embedding,
        }
    }
}

/// A residual MLP noise predictor:
///
/// ```text
/// e = SiLU(W_e [emb(t), c]),   h₀ = W_in x_t,
/// h_k = h_{k−1} + W_k^out SiLU(W_k^in SiLU(h_{k−1}) + U_k e),   ε̂ = W_out SiLU(h_K)
/// ```
#[derive(Module, Debug)]
pub struct MlpDenoiser {
    /// W_in.
    pub input: Linear,
    /// W_e.
    pub embedding: Linear,
    /// W_k^in.
    pub block_in: Vec<Linear>,
    /// U_k.
    pub block_embedding: Vec<Linear>,
    /// W_k^out.
    pub block_out: Vec<Linear>,
    /// Optional LayerNorm on each block's input.
    pub norms: Vec<LayerNorm>,
    /// W_out.
    pub output: Linear,
    /// Dimension of the time embedding.
    #[module(skip)]
    pub time_embedding: usize,
}

impl MlpDenoiser {
    /// ε̂_θ(x_t, t, c), see the type's formula.
    ///
    /// # Shapes
    /// - `x_t`: `[batch, data_dim]`, `t`: `[batch, 1]`, `condition`: `[batch, condition_dim]`
    /// - output: `[batch, data_dim]`
    pub fn forward(&self, x_t: Tensor<2>, t: Tensor<2>, condition: Option<Tensor<2>>) -> Tensor<2> {
        let mut e = timestep_embedding(t, self.time_embedding);
        if let Some(c) = condition {
            e = Tensor::cat(vec![e, c], 1);
        }
        let e = silu(self.embedding.forward(e));
        let mut h = self.input.forward(x_t);
        for k in 0..self.block_in.len() {
            let hin = match self.norms.get(k) {
                Some(norm) => norm.forward(h.clone()),
                None => h.clone(),
            };
            let z =
                self.block_in[k].forward(silu(hin)) + self.block_embedding[k].forward(e.clone());
            h = h + self.block_out[k].forward(silu(z));
        }
        self.output.forward(silu(h))
    }
}

impl Denoiser for MlpDenoiser {
    fn predict_noise(
        &self,
        x_t: Tensor<2>,
        t: Tensor<2>,
        condition: Option<Tensor<2>>,
    ) -> Tensor<2> {
        self.forward(x_t, t, condition)
    }
}
