//! Training through hepnn-nn's loop: the classifier as a [`TrainTask`] with the cross-entropy
//! loss `L = −(1/B) Σ_i log softmax(z_i)[y_i]`.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use hepnn_nn::train::TrainTask;

use crate::data::EventSet;
use crate::metrics::{classify, efficiency_at_purity, selection_curve};
use crate::model::TwoViewCnn;

/// Events per forward pass when scoring.
const SCORE_BATCH: usize = 128;

/// The classifier's training task.
pub struct NeutrinoTask<'a> {
    /// Training events.
    pub train: &'a EventSet,
    /// Validation events (figures after each epoch; may be empty).
    pub valid: &'a EventSet,
    /// The training device (autodiff).
    pub device: Device,
}

impl TrainTask for NeutrinoTask<'_> {
    type Model = TwoViewCnn;

    fn num_items(&self) -> usize {
        self.train.len()
    }

    fn loss(&self, model: &TwoViewCnn, batch: &[usize]) -> Tensor<1> {
        let (xz, yz, labels) = self.train.batch(batch, &self.device);
        CrossEntropyLossConfig::new()
            .init(&self.device)
            .forward(model.forward(xz, yz), labels)
    }

    fn validate(&self, model: &TwoViewCnn) -> Vec<(String, f64)> {
        if self.valid.is_empty() {
            return Vec::new();
        }
        let scores = class_scores(model, self.valid, &self.device);
        let labels = self.valid.labels();
        let m = classify(&scores, &labels);
        let nue: Vec<f64> = scores.iter().map(|s| s[1]).collect();
        let signal: Vec<bool> = labels.iter().map(|&l| l == 1).collect();
        let at = efficiency_at_purity(&selection_curve(&nue, &signal), 0.8);
        vec![
            ("valid_accuracy".into(), m.accuracy),
            (
                "valid_nue_efficiency_at_purity_0.8".into(),
                at.map_or(0.0, |p| p.efficiency),
            ),
        ]
    }
}

/// Class probabilities (softmax) of every event, in batches.
pub fn class_scores(model: &TwoViewCnn, set: &EventSet, device: &Device) -> Vec<[f64; 3]> {
    let indices: Vec<usize> = (0..set.len()).collect();
    let mut out = Vec::with_capacity(set.len());
    for chunk in indices.chunks(SCORE_BATCH) {
        let (xz, yz, _) = set.batch(chunk, device);
        let p: Vec<f32> = softmax(model.forward(xz, yz), 1)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 probabilities");
        let classes = p.len() / chunk.len();
        for row in p.chunks(classes) {
            let mut s = [0.0; 3];
            for (k, v) in row.iter().take(3).enumerate() {
                s[k] = f64::from(*v);
            }
            out.push(s);
        }
    }
    out
}
