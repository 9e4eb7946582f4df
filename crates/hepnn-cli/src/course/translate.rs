//! `hepnn examples translate`: a Transformer learns French → English from a small grammar and
//! translates "Je mange un kiwi" (never seen in training) to "I am eating a kiwi"; held-out
//! exact match, beam search, and cross-attention maps as PNG.

use std::time::Instant;

use clap::Args;
use hepnn_nn::attention::corpus::{Combination, tokenize};
use hepnn_nn::attention::translate::{TranslateOptions, save_attention_png, train_translator};

use crate::Common;
use crate::summary::{Summary, prepare_out};

/// Options of the translation example.
#[derive(Debug, Clone, Args)]
pub struct TranslateArgs {
    /// Training sentence pairs drawn from the grammar (6336 in all).
    #[arg(long, default_value_t = 3000)]
    pub train_pairs: usize,
    /// Held-out pairs: combinations never seen in training ("je mange un kiwi" is one).
    #[arg(long, default_value_t = 500)]
    pub heldout_pairs: usize,
    /// Training epochs.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Pairs per optimizer step.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Model width d = h·d_k.
    #[arg(long, default_value_t = 64)]
    pub d_model: usize,
    /// Beam width of the beam-search translations.
    #[arg(long, default_value_t = 4)]
    pub beam: usize,
    /// A French sentence to translate besides the kiwi.
    #[arg(long)]
    pub sentence: Option<String>,
}

/// Trains, evaluates and writes `summary.json`, `translator/{metrics.csv,training.png}` and
/// `attention_*.png`.
pub fn run(common: &Common, args: &TranslateArgs) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    if args.train_pairs == 0 || args.heldout_pairs == 0 || !args.d_model.is_multiple_of(4) {
        anyhow::bail!(
            "--train-pairs and --heldout-pairs must be positive and --d-model a multiple of 4 (4 heads)"
        );
    }
    let device = crate::device::parse(&common.device)?;
    let options = TranslateOptions {
        n_train: args.train_pairs,
        n_heldout: args.heldout_pairs,
        epochs: args.epochs,
        batch_size: args.batch_size,
        d_model: args.d_model,
        seed: common.seed,
        ..TranslateOptions::default()
    };
    let start = Instant::now();
    let outcome = train_translator(&options, &common.out.join("translator"), &device, true)?;
    let train_seconds = start.elapsed().as_secs_f64();
    let t = &outcome.translator;
    let mut s = Summary::new();
    s.set("train_pairs", outcome.train.len());
    s.set("heldout_pairs", outcome.heldout.len());
    s.set("epochs", args.epochs);
    s.set("train_seconds", train_seconds);
    s.set(
        "final_train_loss",
        outcome.history.last().map_or(f64::NAN, |r| r.train_loss),
    );
    let start = Instant::now();
    s.set("exact_match_heldout", t.exact_match(&outcome.heldout));
    s.set("greedy_heldout_seconds", start.elapsed().as_secs_f64());
    let train_sample: Vec<Combination> = outcome.train.iter().take(500).copied().collect();
    s.set("exact_match_train_sample", t.exact_match(&train_sample));
    let beam_sample: Vec<&Combination> = outcome.heldout.iter().take(100).collect();
    let beam_hits = beam_sample
        .iter()
        .filter(|c| t.translate_beam(&c.french().join(" "), args.beam) == c.english().join(" "))
        .count();
    s.set(
        "exact_match_heldout_beam_first100",
        beam_hits as f64 / beam_sample.len().max(1) as f64,
    );
    let kiwi = "Je mange un kiwi";
    s.set("kiwi_translation", t.translate(kiwi));
    s.set("kiwi_translation_beam", t.translate_beam(kiwi, args.beam));
    s.set(
        "kiwi_in_training_set",
        outcome
            .train
            .iter()
            .any(|c| c.french() == tokenize("je mange un kiwi")),
    );
    let mut shown = vec![kiwi.to_string()];
    shown.extend(
        outcome
            .heldout
            .iter()
            .skip(1)
            .take(2)
            .map(|c| c.french().join(" ").replace("' ", "'")),
    );
    if let Some(extra) = &args.sentence {
        s.set("sentence_translation", t.translate(extra));
        shown.push(extra.clone());
    }
    for (i, sentence) in shown.iter().enumerate() {
        let (src, tgt, weights) = t.attention(sentence);
        let name = format!("attention_{i}.png");
        save_attention_png(
            &common.out.join(&name),
            &format!("cross-attention: {sentence}"),
            &src,
            &tgt,
            &weights,
        )?;
        s.set(format!("attention_{i}_sentence"), sentence.clone());
        s.set(format!("attention_{i}_translation"), tgt.join(" "));
    }
    s.report(&common.out, "Transformer: French → English")?;
    Ok(s)
}
