//! Attention and the Transformer (Vaswani et al. 2017, <https://arxiv.org/abs/1706.03762>).
//!
//! Course slides "l'attention", "Transformer": embedding with positions; queries, keys and
//! values by learned matrices; score q·k/√d, softmax, weighted sum of values ([`sdpa`]); h heads
//! in parallel with d = h·d_k ([`mha`]); an encoder, and a decoder that compares its queries with
//! the encoder's keys and values ([`transformer`]) and repeats until the end-of-sequence token
//! ([`decoding`]: greedy and beam search). [`corpus`] and [`translate`] hold the
//! "Je mange un kiwi" → "I am eating a kiwi" demo.

pub mod corpus;
pub mod decoding;
pub mod mha;
pub mod sdpa;
pub mod transformer;
pub mod translate;

pub use mha::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
pub use sdpa::{attention_mask, scaled_dot_product_attention};
pub use transformer::{Transformer, TransformerConfig, sinusoidal_encoding};
