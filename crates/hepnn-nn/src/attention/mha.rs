//! Multi-head attention (Vaswani et al. 2017, <https://arxiv.org/abs/1706.03762>, §3.2.2);
//! course slide "attention multi-tête".
//!
//! ```text
//! head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V),   i = 1…h,   d_model = h · d_k
//! MultiHead(Q, K, V) = Concat(head_1, …, head_h) W^O
//! ```
//!
//! The h heads run in parallel: the three projections are `d_model → d_model` linear maps whose
//! outputs are split into h blocks of d_k features. Self-attention passes the same sequence as
//! query, key and value; the decoder's cross-attention passes its own states as queries and the
//! encoder's outputs as keys and values. Same weights as PyTorch's `nn.MultiheadAttention`
//! (in_proj = [W^Q; W^K; W^V]ᵀ, out_proj = W^Oᵀ), checked against it in the tests.

use burn::module::Param;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::prelude::*;

use super::sdpa::scaled_dot_product_attention;

/// Configuration of a [`MultiHeadAttention`].
#[derive(Config, Debug)]
pub struct MultiHeadAttentionConfig {
    /// Model width d_model (a multiple of `n_heads`).
    pub d_model: usize,
    /// Number of heads h.
    pub n_heads: usize,
}

impl MultiHeadAttentionConfig {
    /// Builds the layer (Xavier-uniform weights, zero biases, as PyTorch).
    ///
    /// # Panics
    /// When `d_model` is not a multiple of `n_heads`.
    pub fn init(&self, device: &Device) -> MultiHeadAttention {
        assert!(
            self.n_heads > 0 && self.d_model.is_multiple_of(self.n_heads),
            "d_model = {} must be a multiple of n_heads = {}",
            self.d_model,
            self.n_heads
        );
        let linear = || {
            let mut l = LinearConfig::new(self.d_model, self.d_model)
                .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                .init(device);
            l.bias = Some(Param::from_tensor(Tensor::zeros([self.d_model], device)));
            l
        };
        MultiHeadAttention {
            query: linear(),
            key: linear(),
            value: linear(),
            output: linear(),
            n_heads: self.n_heads,
        }
    }
}

/// Multi-head attention.
#[derive(Module, Debug)]
pub struct MultiHeadAttention {
    /// W^Q (all heads).
    pub query: Linear,
    /// W^K.
    pub key: Linear,
    /// W^V.
    pub value: Linear,
    /// W^O.
    pub output: Linear,
    /// h.
    #[module(skip)]
    pub n_heads: usize,
}

/// The inputs of [`MultiHeadAttention::forward`].
#[derive(Debug, Clone)]
pub struct MhaInput {
    /// Queries `[B, T_q, d_model]`.
    pub query: Tensor<3>,
    /// Keys `[B, T_k, d_model]`.
    pub key: Tensor<3>,
    /// Values `[B, T_k, d_model]`.
    pub value: Tensor<3>,
    /// True where a query may not attend to a key, `[B or 1, 1, T_q, T_k]`.
    pub mask: Option<Tensor<4, Bool>>,
}

impl MhaInput {
    /// Self-attention: the same sequence is query, key and value.
    pub fn self_attention(x: Tensor<3>, mask: Option<Tensor<4, Bool>>) -> Self {
        Self {
            query: x.clone(),
            key: x.clone(),
            value: x,
            mask,
        }
    }

    /// Cross-attention: queries from the decoder, keys and values from the encoder's `memory`.
    pub fn cross(query: Tensor<3>, memory: Tensor<3>, mask: Option<Tensor<4, Bool>>) -> Self {
        Self {
            query,
            key: memory.clone(),
            value: memory,
            mask,
        }
    }
}

impl MultiHeadAttention {
    /// Attends; returns the outputs and the attention weights of every head.
    ///
    /// # Shapes
    /// - input: see [`MhaInput`]
    /// - output `[B, T_q, d_model]`, weights `[B, h, T_q, T_k]`
    pub fn forward(&self, input: MhaInput) -> (Tensor<3>, Tensor<4>) {
        let [batch, t_q, d_model] = input.query.dims();
        let heads = |x: Tensor<3>| {
            let [b, t, _] = x.dims();
            x.reshape([b, t, self.n_heads, d_model / self.n_heads])
                .swap_dims(1, 2)
        };
        let q = heads(self.query.forward(input.query));
        let k = heads(self.key.forward(input.key));
        let v = heads(self.value.forward(input.value));
        let (context, weights) = scaled_dot_product_attention(q, k, v, input.mask);
        let context = context.swap_dims(1, 2).reshape([batch, t_q, d_model]);
        (self.output.forward(context), weights)
    }
}
