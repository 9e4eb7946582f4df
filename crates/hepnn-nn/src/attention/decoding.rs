//! Autoregressive decoding: the decoder is run again with one more token each time, until the
//! end-of-sequence token (course slide "le décodeur répète jusqu'au token de fin").
//!
//! - Greedy: take the most probable next token, arg max_w p(w | prefix, source).
//! - Beam search (width k): keep the k prefixes of highest Σ log p; a hypothesis that emits the
//!   end token is finished; stop when the best finished one beats every live one, or at the
//!   length limit.

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::log_softmax;

use super::transformer::{Memory, Transformer};

/// Special tokens and the length limit of a decoding.
#[derive(Debug, Clone, Copy)]
pub struct DecodeOptions {
    /// Begin-of-sequence token id (first decoder input).
    pub bos: usize,
    /// End-of-sequence token id.
    pub eos: usize,
    /// At most this many tokens are generated (end token included).
    pub max_len: usize,
}

fn tokens_tensor(rows: &[Vec<usize>], device: &Device) -> Tensor<2, Int> {
    let t = rows.first().map_or(0, Vec::len);
    let values: Vec<i64> = rows.iter().flatten().map(|&x| x as i64).collect();
    Tensor::from_data(TensorData::new(values, [rows.len(), t]), device)
}

/// The next-token log-probabilities `[B, V]` after each prefix (all prefixes of one length).
fn next_log_probs(model: &Transformer, memory: &Memory, prefixes: &[Vec<usize>]) -> Vec<Vec<f32>> {
    let device = memory.states.device();
    let (logits, _) = model.decode(memory, tokens_tensor(prefixes, &device));
    let [b, t, v] = logits.dims();
    let last = logits.slice(s![.., t - 1..t, ..]).reshape([b, v]);
    let flat = log_softmax(last, 1)
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 log-probabilities");
    flat.chunks(v).map(<[f32]>::to_vec).collect()
}

/// Greedy decoding of an encoded batch; each output ends before its end token (the end token
/// is not included) or at `max_len` tokens.
pub fn greedy(model: &Transformer, memory: &Memory, options: &DecodeOptions) -> Vec<Vec<usize>> {
    let batch = memory.lengths.len();
    let mut prefixes = vec![vec![options.bos]; batch];
    let mut done = vec![false; batch];
    for _ in 0..options.max_len {
        let log_p = next_log_probs(model, memory, &prefixes);
        for (b, row) in log_p.iter().enumerate() {
            let next = if done[b] { options.eos } else { argmax(row) };
            done[b] |= next == options.eos;
            prefixes[b].push(next);
        }
        if done.iter().all(|&d| d) {
            break;
        }
    }
    prefixes
        .into_iter()
        .map(|p| {
            p.into_iter()
                .skip(1)
                .take_while(|&x| x != options.eos)
                .collect()
        })
        .collect()
}

/// Greedy decoding that also returns the last decoder layer's cross-attention weights averaged
/// over heads, `weights[i][j]` = attention of output token i (the end token included) to source
/// token j; for one sentence (`memory` of batch 1).
pub fn greedy_with_attention(
    model: &Transformer,
    memory: &Memory,
    options: &DecodeOptions,
) -> (Vec<usize>, Vec<Vec<f32>>) {
    let output = greedy(model, memory, options)
        .into_iter()
        .next()
        .unwrap_or_default();
    let mut prefix = vec![options.bos];
    prefix.extend(&output);
    let device = memory.states.device();
    let (_, weights) = model.decode(memory, tokens_tensor(&[prefix], &device));
    let [_, _, t, s] = weights.dims();
    let mean = weights
        .mean_dim(1)
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 weights");
    let source_len = memory.lengths.first().copied().unwrap_or(s);
    let rows = mean
        .chunks(s)
        .take(t)
        .map(|r| r[..source_len].to_vec())
        .collect();
    (output, rows)
}

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

/// Beam search of width `beam` for one encoded sentence (`memory` of batch 1); returns the best
/// finished hypothesis (without the end token) by total log-probability, and its score.
pub fn beam_search(
    model: &Transformer,
    memory: &Memory,
    beam: usize,
    options: &DecodeOptions,
) -> (Vec<usize>, f32) {
    let beam = beam.max(1);
    let mut live: Vec<(Vec<usize>, f32)> = vec![(vec![options.bos], 0.0)];
    let mut finished: Vec<(Vec<usize>, f32)> = Vec::new();
    for _ in 0..options.max_len {
        let k = live.len();
        let expanded = Memory {
            states: memory.states.clone().repeat_dim(0, k),
            lengths: vec![memory.lengths.first().copied().unwrap_or(0); k],
        };
        let prefixes: Vec<Vec<usize>> = live.iter().map(|(p, _)| p.clone()).collect();
        let log_p = next_log_probs(model, &expanded, &prefixes);
        let mut candidates: Vec<(usize, usize, f32)> = Vec::new();
        for (h, row) in log_p.iter().enumerate() {
            let mut best: Vec<usize> = (0..row.len()).collect();
            best.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
            for &w in best.iter().take(beam) {
                candidates.push((h, w, live[h].1 + row[w]));
            }
        }
        candidates.sort_by(|a, b| b.2.total_cmp(&a.2));
        let mut next = Vec::new();
        for (h, w, score) in candidates {
            if next.len() >= beam {
                break;
            }
            let mut prefix = live[h].0.clone();
            prefix.push(w);
            if w == options.eos {
                finished.push((prefix, score));
            } else {
                next.push((prefix, score));
            }
        }
        let best_finished = finished
            .iter()
            .map(|f| f.1)
            .fold(f32::NEG_INFINITY, f32::max);
        // Log-probabilities only decrease: a live prefix below the best finished one is dead.
        next.retain(|(_, s)| *s > best_finished);
        if next.is_empty() {
            break;
        }
        live = next;
    }
    if finished.is_empty() {
        finished = live;
    }
    finished
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(p, s)| {
            (
                p.into_iter()
                    .skip(1)
                    .take_while(|&x| x != options.eos)
                    .collect(),
                s,
            )
        })
        .unwrap_or_default()
}
