//! Edge-classification figures of merit.
//!
//! ```text
//! efficiency = TP / (TP + FN)      (true edges kept)
//! purity     = TP / (TP + FP)      (kept edges that are true)
//! AUC        = P(score of a random true edge > score of a random false edge)
//! ```
//!
//! The AUC is the Mann–Whitney statistic over the ranks of the scores (ties counted half).

use serde::Serialize;

/// Edge efficiency, purity and AUC at a score cut.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EdgeMetrics {
    /// The score cut (edges with score ≥ cut are kept).
    pub threshold: f64,
    /// TP / (TP + FN).
    pub efficiency: f64,
    /// TP / (TP + FP).
    pub purity: f64,
    /// Area under the ROC curve.
    pub auc: f64,
    /// Number of edges.
    pub edges: usize,
    /// Number of true edges.
    pub true_edges: usize,
}

/// Computes the metrics of `scores` (in [0, 1]) against `labels` (1 = true) at `threshold`.
pub fn edge_metrics(scores: &[f64], labels: &[bool], threshold: f64) -> EdgeMetrics {
    let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
    for (&s, &y) in scores.iter().zip(labels) {
        match (s >= threshold, y) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fneg += 1,
            (false, false) => {}
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    EdgeMetrics {
        threshold,
        efficiency: ratio(tp, tp + fneg),
        purity: ratio(tp, tp + fp),
        auc: auc(scores, labels),
        edges: scores.len(),
        true_edges: labels.iter().filter(|&&y| y).count(),
    }
}

/// ROC AUC by ranks (Mann–Whitney U / (n₊ n₋)); 0.5 when one class is empty.
pub fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut positives) = (0.0, 0usize);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mid_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            if labels[k] {
                rank_sum += mid_rank;
                positives += 1;
            }
        }
        i = j + 1;
    }
    let negatives = scores.len() - positives;
    if positives == 0 || negatives == 0 {
        return 0.5;
    }
    (rank_sum - (positives * (positives + 1)) as f64 / 2.0) / (positives as f64 * negatives as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        let scores = [0.9, 0.8, 0.4, 0.3, 0.6, 0.1];
        let labels = [true, true, true, false, false, false];
        let m = edge_metrics(&scores, &labels, 0.5);
        assert_eq!((m.efficiency, m.purity), (2.0 / 3.0, 2.0 / 3.0));
        // Pairs (true, false) ordered right: 0.9>all 3, 0.8>all 3, 0.4>0.3,0.1 → 8 of 9.
        assert!((m.auc - 8.0 / 9.0).abs() < 1e-12);
        assert_eq!(auc(&[0.5, 0.5], &[true, false]), 0.5);
    }
}
