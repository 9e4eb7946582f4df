//! Scaled dot-product attention (Vaswani et al. 2017, "Attention is all you need",
//! <https://arxiv.org/abs/1706.03762>, eq. 1); course slide "l'attention".
//!
//! ```text
//! Attention(Q, K, V) = softmax(Q Kᵀ / √d_k + M) V
//! ```
//!
//! Each query is compared with every key (score q·k/√d_k), the scores become weights by a
//! softmax over the keys, and the output is the weighted sum of the values. The mask M is −∞
//! (here −10⁹, so a fully masked row stays finite) where a query may not look: padding keys,
//! and future positions in a decoder (the causal mask).

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::softmax;

/// The value given to masked scores before the softmax.
pub const MASKED_SCORE: f32 = -1.0e9;

/// Scaled dot-product attention; returns the outputs and the attention weights.
///
/// `mask` is true where query i may NOT attend to key j; it is broadcast over heads (and batch)
/// when its dimension there is 1.
///
/// # Shapes
/// - query `[B, h, T_q, d_k]`, key `[B, h, T_k, d_k]`, value `[B, h, T_k, d_v]`
/// - mask `[B or 1, h or 1, T_q, T_k]`
/// - output `[B, h, T_q, d_v]`, weights `[B, h, T_q, T_k]` (each row sums to 1)
pub fn scaled_dot_product_attention(
    query: Tensor<4>,
    key: Tensor<4>,
    value: Tensor<4>,
    mask: Option<Tensor<4, Bool>>,
) -> (Tensor<4>, Tensor<4>) {
    let d_k = query.dims()[3];
    let scores = query
        .matmul(key.swap_dims(2, 3))
        .div_scalar((d_k as f64).sqrt());
    let scores = match mask {
        Some(mask) => {
            let dims = scores.dims();
            scores.mask_fill(mask.expand(dims), MASKED_SCORE)
        }
        None => scores,
    };
    let weights = softmax(scores, 3);
    (weights.clone().matmul(value), weights)
}

/// The attention mask `[B, 1, T_q, T_k]`: true where key j is padding (j ≥ `key_lengths[b]`)
/// or, with `causal`, in the future of query i (j > i).
pub fn attention_mask(
    batch: usize,
    t_query: usize,
    t_key: usize,
    key_lengths: Option<&[usize]>,
    causal: bool,
    device: &Device,
) -> Tensor<4, Bool> {
    let mut values = Vec::with_capacity(batch * t_query * t_key);
    for b in 0..batch {
        let len = key_lengths.map_or(t_key, |l| l[b]);
        for i in 0..t_query {
            for j in 0..t_key {
                values.push(j >= len || (causal && j > i));
            }
        }
    }
    Tensor::from_data(TensorData::new(values, [batch, 1, t_query, t_key]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One query, two keys worked by hand: scores (1·1, 1·0)/√1 → weights (e/(1+e), 1/(1+e)).
    #[test]
    fn two_keys_by_hand() {
        let device = Device::flex();
        let q = Tensor::<4>::from_floats([[[[1.0]]]], &device);
        let k = Tensor::<4>::from_floats([[[[1.0], [0.0]]]], &device);
        let v = Tensor::<4>::from_floats([[[[10.0], [20.0]]]], &device);
        let (out, w) = scaled_dot_product_attention(q, k, v, None);
        let e = std::f32::consts::E;
        let w0 = e / (1.0 + e);
        let w = w
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32");
        assert!((w[0] - w0).abs() < 1e-6 && (w[1] - (1.0 - w0)).abs() < 1e-6);
        let out = out.into_scalar::<f32>();
        assert!((out - (10.0 * w0 + 20.0 * (1.0 - w0))).abs() < 1e-4);
    }

    /// A causal, padded mask gives zero weight to future and padding keys.
    #[test]
    fn masked_keys_get_zero_weight() {
        let device = Device::flex();
        let q = Tensor::<4>::ones([2, 1, 3, 4], &device);
        let mask = attention_mask(2, 3, 3, Some(&[3, 2]), true, &device);
        let (_, w) = scaled_dot_product_attention(q.clone(), q.clone(), q, Some(mask));
        let w = w
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32");
        // batch 0: row i attends to keys 0..=i equally
        assert_eq!(&w[0..3], &[1.0, 0.0, 0.0]);
        assert!((w[3] - 0.5).abs() < 1e-6 && w[5] == 0.0);
        // batch 1, query 2: key 2 is padding
        assert!((w[9 + 6] - 0.5).abs() < 1e-6 && w[9 + 8] == 0.0);
    }
}
