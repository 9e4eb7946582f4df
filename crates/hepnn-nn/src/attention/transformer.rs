//! The Transformer encoder–decoder (Vaswani et al. 2017, <https://arxiv.org/abs/1706.03762>);
//! course slides "Transformer", "encodeur", "décodeur".
//!
//! ```text
//! x_0 = √d · Embed(tokens) + PE,   PE(p, 2i) = sin(p / 10000^{2i/d}),  PE(p, 2i+1) = cos(p / 10000^{2i/d})
//! encoder layer:  x = LN(x + MHA(x, x, x; padding mask)),  x = LN(x + FFN(x))
//! decoder layer:  y = LN(y + MHA(y, y, y; causal mask)),
//!                 y = LN(y + MHA(y, memory, memory; source padding mask)),   (cross-attention)
//!                 y = LN(y + FFN(y))
//! FFN(x) = W₂ ReLU(W₁ x + b₁) + b₂,   logits = W_out y
//! ```
//!
//! Post-norm, as in the paper; dropout after each sublayer (active on an autodiff device only).
//! The decoder's queries are compared with the encoder's keys and values; it is run again and again
//! by [`super::decoding`], one token more each time, until the end-of-sequence token.

use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear,
    LinearConfig,
};
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::relu;

use super::mha::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
use super::sdpa::attention_mask;

/// The sinusoidal positional encoding `[positions, d]` (PE(p, 2i) = sin(p/10000^{2i/d}),
/// PE(p, 2i+1) = cos(p/10000^{2i/d})).
pub fn sinusoidal_encoding(positions: usize, d: usize, device: &Device) -> Tensor<2> {
    let mut values = Vec::with_capacity(positions * d);
    for p in 0..positions {
        for j in 0..d {
            let i2 = (j / 2 * 2) as f64;
            let angle = p as f64 / 10000f64.powf(i2 / d as f64);
            values.push(if j % 2 == 0 { angle.sin() } else { angle.cos() } as f32);
        }
    }
    Tensor::from_data(TensorData::new(values, [positions, d]), device)
}

/// Configuration of a [`Transformer`].
#[derive(Config, Debug)]
pub struct TransformerConfig {
    /// Source vocabulary size.
    pub src_vocab: usize,
    /// Target vocabulary size.
    pub tgt_vocab: usize,
    /// Model width d = h · d_k.
    #[config(default = 64)]
    pub d_model: usize,
    /// Attention heads h.
    #[config(default = 4)]
    pub n_heads: usize,
    /// Hidden width of the feed-forward sublayer.
    #[config(default = 128)]
    pub d_ff: usize,
    /// Encoder layers.
    #[config(default = 2)]
    pub n_encoder_layers: usize,
    /// Decoder layers.
    #[config(default = 2)]
    pub n_decoder_layers: usize,
    /// Dropout probability after each sublayer (training only).
    #[config(default = 0.1)]
    pub dropout: f64,
}

impl TransformerConfig {
    /// Builds the model.
    pub fn init(&self, device: &Device) -> Transformer {
        let d = self.d_model;
        let mha = || MultiHeadAttentionConfig::new(d, self.n_heads).init(device);
        let norm = || LayerNormConfig::new(d).init(device);
        let ffn = || FeedForward {
            inner: LinearConfig::new(d, self.d_ff).init(device),
            outer: LinearConfig::new(self.d_ff, d).init(device),
        };
        let dropout = DropoutConfig::new(self.dropout).init();
        Transformer {
            src_embedding: EmbeddingConfig::new(self.src_vocab, d).init(device),
            tgt_embedding: EmbeddingConfig::new(self.tgt_vocab, d).init(device),
            encoder: (0..self.n_encoder_layers)
                .map(|_| EncoderLayer {
                    self_attention: mha(),
                    norm_attention: norm(),
                    feed_forward: ffn(),
                    norm_feed_forward: norm(),
                    dropout: dropout.clone(),
                })
                .collect(),
            decoder: (0..self.n_decoder_layers)
                .map(|_| DecoderLayer {
                    self_attention: mha(),
                    norm_self: norm(),
                    cross_attention: mha(),
                    norm_cross: norm(),
                    feed_forward: ffn(),
                    norm_feed_forward: norm(),
                    dropout: dropout.clone(),
                })
                .collect(),
            generator: LinearConfig::new(d, self.tgt_vocab).init(device),
            dropout,
        }
    }
}

/// FFN(x) = W₂ ReLU(W₁ x + b₁) + b₂.
#[derive(Module, Debug)]
pub struct FeedForward {
    /// W₁, b₁.
    pub inner: Linear,
    /// W₂, b₂.
    pub outer: Linear,
}

impl FeedForward {
    /// Applies the position-wise feed-forward network, `[B, T, d] → [B, T, d]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.outer.forward(relu(self.inner.forward(x)))
    }
}

/// One encoder layer: self-attention then feed-forward, each with a residual and a LayerNorm.
#[derive(Module, Debug)]
pub struct EncoderLayer {
    /// Self-attention.
    pub self_attention: MultiHeadAttention,
    /// LayerNorm after it.
    pub norm_attention: LayerNorm,
    /// Feed-forward.
    pub feed_forward: FeedForward,
    /// LayerNorm after it.
    pub norm_feed_forward: LayerNorm,
    /// Dropout after each sublayer.
    pub dropout: Dropout,
}

impl EncoderLayer {
    /// `[B, S, d] → [B, S, d]`; `mask` hides padding keys.
    pub fn forward(&self, x: Tensor<3>, mask: Option<Tensor<4, Bool>>) -> Tensor<3> {
        let (a, _) = self
            .self_attention
            .forward(MhaInput::self_attention(x.clone(), mask));
        let x = self.norm_attention.forward(x + self.dropout.forward(a));
        let f = self.feed_forward.forward(x.clone());
        self.norm_feed_forward.forward(x + self.dropout.forward(f))
    }
}

/// One decoder layer: causal self-attention, cross-attention to the encoder, feed-forward.
#[derive(Module, Debug)]
pub struct DecoderLayer {
    /// Masked self-attention.
    pub self_attention: MultiHeadAttention,
    /// LayerNorm after it.
    pub norm_self: LayerNorm,
    /// Cross-attention (queries from the decoder, keys and values from the encoder).
    pub cross_attention: MultiHeadAttention,
    /// LayerNorm after it.
    pub norm_cross: LayerNorm,
    /// Feed-forward.
    pub feed_forward: FeedForward,
    /// LayerNorm after it.
    pub norm_feed_forward: LayerNorm,
    /// Dropout after each sublayer.
    pub dropout: Dropout,
}

impl DecoderLayer {
    /// `[B, T, d] → [B, T, d]` and the cross-attention weights `[B, h, T, S]`.
    pub fn forward(
        &self,
        y: Tensor<3>,
        memory: Tensor<3>,
        self_mask: Tensor<4, Bool>,
        memory_mask: Option<Tensor<4, Bool>>,
    ) -> (Tensor<3>, Tensor<4>) {
        let (a, _) = self
            .self_attention
            .forward(MhaInput::self_attention(y.clone(), Some(self_mask)));
        let y = self.norm_self.forward(y + self.dropout.forward(a));
        let (c, weights) =
            self.cross_attention
                .forward(MhaInput::cross(y.clone(), memory, memory_mask));
        let y = self.norm_cross.forward(y + self.dropout.forward(c));
        let f = self.feed_forward.forward(y.clone());
        (
            self.norm_feed_forward.forward(y + self.dropout.forward(f)),
            weights,
        )
    }
}

/// The encoder–decoder Transformer with token embeddings and an output projection.
#[derive(Module, Debug)]
pub struct Transformer {
    /// Source token embedding.
    pub src_embedding: Embedding,
    /// Target token embedding.
    pub tgt_embedding: Embedding,
    /// Encoder layers.
    pub encoder: Vec<EncoderLayer>,
    /// Decoder layers.
    pub decoder: Vec<DecoderLayer>,
    /// Decoder states → target-vocabulary logits.
    pub generator: Linear,
    /// Dropout on the embeddings.
    pub dropout: Dropout,
}

/// An encoded source batch: the encoder's outputs and what the decoder needs to mask padding.
#[derive(Debug, Clone)]
pub struct Memory {
    /// Encoder outputs `[B, S, d]`.
    pub states: Tensor<3>,
    /// Source lengths (padding after them).
    pub lengths: Vec<usize>,
}

impl Transformer {
    fn embed(&self, embedding: &Embedding, tokens: Tensor<2, Int>) -> Tensor<3> {
        let [_, t] = tokens.dims();
        let x = embedding.forward(tokens);
        let d = x.dims()[2];
        let pe = sinusoidal_encoding(t, d, &x.device()).unsqueeze_dim::<3>(0);
        self.dropout.forward(x.mul_scalar((d as f64).sqrt()) + pe)
    }

    /// Encodes a padded source batch.
    ///
    /// # Shapes
    /// - src `[B, S]` token ids, `lengths` B values; memory states `[B, S, d]`
    pub fn encode(&self, src: Tensor<2, Int>, lengths: &[usize]) -> Memory {
        let [batch, s] = src.dims();
        let device = src.device();
        let mask = attention_mask(batch, s, s, Some(lengths), false, &device);
        let mut x = self.embed(&self.src_embedding, src);
        for layer in &self.encoder {
            x = layer.forward(x, Some(mask.clone()));
        }
        Memory {
            states: x,
            lengths: lengths.to_vec(),
        }
    }

    /// Decodes the target prefix `tgt` (starting with the begin-of-sequence token) against
    /// `memory`; returns the next-token logits at every position and the last decoder layer's
    /// cross-attention weights.
    ///
    /// # Shapes
    /// - tgt `[B, T]`; logits `[B, T, V_tgt]`; weights `[B, h, T, S]`
    pub fn decode(&self, memory: &Memory, tgt: Tensor<2, Int>) -> (Tensor<3>, Tensor<4>) {
        let [batch, t] = tgt.dims();
        let device = tgt.device();
        let s = memory.states.dims()[1];
        let causal = attention_mask(1, t, t, None, true, &device);
        let memory_mask = attention_mask(batch, t, s, Some(&memory.lengths), false, &device);
        let mut y = self.embed(&self.tgt_embedding, tgt);
        let mut weights = None;
        for layer in &self.decoder {
            let (out, w) = layer.forward(
                y,
                memory.states.clone(),
                causal.clone(),
                Some(memory_mask.clone()),
            );
            y = out;
            weights = Some(w);
        }
        (
            self.generator.forward(y),
            weights.expect("at least one decoder layer"),
        )
    }

    /// Teacher-forced logits for training: `decode(encode(src), tgt_in)`.
    pub fn forward(
        &self,
        src: Tensor<2, Int>,
        src_lengths: &[usize],
        tgt_in: Tensor<2, Int>,
    ) -> Tensor<3> {
        let memory = self.encode(src, src_lengths);
        self.decode(&memory, tgt_in).0
    }
}
