//! Classification figures: confusion matrix, per-class efficiency and purity, the νe selection's
//! efficiency at a required purity, ROC curves (one class against the rest), and their plots.
//!
//! For class k: efficiency = N(true k, selected k) / N(true k); purity = N(true k, selected k) /
//! N(selected k). Purities depend on the class mix: the samples here hold the three classes in
//! equal numbers.

use std::path::Path;

use hepnn_nn::plot::{LinePlot, Series, atomic_write_with};
use hepnn_nn::{NnError, Result};
use plotters::prelude::*;

/// Class names in label order.
pub const CLASS_NAMES: [&str; 3] = ["numu_cc", "nue_cc", "nc"];
/// Class names for plots.
pub const CLASS_TITLES: [&str; 3] = ["νμ CC", "νe CC", "NC"];

/// Figures of an argmax classification.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassMetrics {
    /// Events per (true class, predicted class).
    pub confusion: [[usize; 3]; 3],
    /// Efficiency per class.
    pub efficiency: [f64; 3],
    /// Purity per class.
    pub purity: [f64; 3],
    /// Fraction of events classified correctly.
    pub accuracy: f64,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The argmax class of each score row, compared with the labels.
pub fn classify(scores: &[[f64; 3]], labels: &[usize]) -> ClassMetrics {
    let mut confusion = [[0usize; 3]; 3];
    for (s, &y) in scores.iter().zip(labels) {
        let predicted = (0..3)
            .max_by(|&a, &b| s[a].total_cmp(&s[b]))
            .expect("three classes");
        if y < 3 {
            confusion[y][predicted] += 1;
        }
    }
    predicted_metrics(confusion)
}

/// Efficiency, purity and accuracy of a confusion matrix.
pub fn predicted_metrics(confusion: [[usize; 3]; 3]) -> ClassMetrics {
    let mut efficiency = [0.0; 3];
    let mut purity = [0.0; 3];
    for k in 0..3 {
        let true_k: usize = confusion[k].iter().sum();
        let selected_k: usize = (0..3).map(|t| confusion[t][k]).sum();
        efficiency[k] = ratio(confusion[k][k], true_k);
        purity[k] = ratio(confusion[k][k], selected_k);
    }
    let total: usize = confusion.iter().flatten().sum();
    ClassMetrics {
        confusion,
        efficiency,
        purity,
        accuracy: ratio((0..3).map(|k| confusion[k][k]).sum(), total),
    }
}

/// One working point of a selection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkingPoint {
    /// The cut: events with a score ≥ threshold are selected.
    pub threshold: f64,
    /// Selected signal / all signal.
    pub efficiency: f64,
    /// Selected signal / selected.
    pub purity: f64,
}

/// Efficiency and purity of "score ≥ t" for every distinct score t, highest first.
pub fn selection_curve(score: &[f64], is_signal: &[bool]) -> Vec<WorkingPoint> {
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let signal = is_signal.iter().filter(|&&s| s).count();
    let mut curve = Vec::new();
    let (mut tp, mut selected) = (0usize, 0usize);
    for (k, &i) in order.iter().enumerate() {
        selected += 1;
        tp += usize::from(is_signal[i]);
        let last_of_tie = order.get(k + 1).is_none_or(|&j| score[j] != score[i]);
        if last_of_tie {
            curve.push(WorkingPoint {
                threshold: score[i],
                efficiency: ratio(tp, signal),
                purity: ratio(tp, selected),
            });
        }
    }
    curve
}

/// The most efficient working point whose purity is at least `min_purity`.
pub fn efficiency_at_purity(curve: &[WorkingPoint], min_purity: f64) -> Option<WorkingPoint> {
    curve
        .iter()
        .filter(|p| p.purity >= min_purity)
        .max_by(|a, b| a.efficiency.total_cmp(&b.efficiency))
        .copied()
}

/// ROC of one class against the rest: (false-positive rate, true-positive rate) points and the
/// area under the curve.
pub fn roc(score: &[f64], is_signal: &[bool]) -> (Vec<(f64, f64)>, f64) {
    let signal = is_signal.iter().filter(|&&s| s).count();
    let background = is_signal.len() - signal;
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut points = vec![(0.0, 0.0)];
    for (k, &i) in order.iter().enumerate() {
        if is_signal[i] {
            tp += 1;
        } else {
            fp += 1;
        }
        if order.get(k + 1).is_none_or(|&j| score[j] != score[i]) {
            points.push((ratio(fp, background), ratio(tp, signal)));
        }
    }
    let auc = points
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * 0.5 * (w[1].1 + w[0].1))
        .sum();
    (points, auc)
}

/// Draws the confusion matrix (rows: true class, columns: predicted class; each row normalised,
/// counts written in the cells).
pub fn plot_confusion(path: &Path, title: &str, confusion: &[[usize; 3]; 3]) -> Result<()> {
    let plot_err = |e: String| NnError::Plot {
        path: path.to_path_buf(),
        message: e,
    };
    hepnn_nn::plot::register_font();
    atomic_write_with(path, |tmp| {
        let root = BitMapBackend::new(tmp, (560, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_err(e.to_string()))?;
        let font = ("sans-serif", 16).into_font();
        let draw = |t: String, x: i32, y: i32| {
            root.draw(&Text::new(t, (x, y), font.clone()))
                .map_err(|e| plot_err(e.to_string()))
        };
        draw(title.to_string(), 10, 8)?;
        draw("predicted →".into(), 260, 40)?;
        draw("true ↓".into(), 10, 40)?;
        let (x0, y0, cell) = (130, 90, 130);
        for (k, name) in CLASS_TITLES.iter().enumerate() {
            let offset = k as i32 * cell;
            draw((*name).into(), x0 + offset + 40, y0 - 24)?;
            draw((*name).into(), 40, y0 + offset + 55)?;
        }
        for (t, row) in confusion.iter().enumerate() {
            let total: usize = row.iter().sum();
            for (p, &n) in row.iter().enumerate() {
                let f = ratio(n, total);
                let shade = (255.0 * (1.0 - 0.75 * f)) as u8;
                let (x, y) = (x0 + p as i32 * cell, y0 + t as i32 * cell);
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell - 2, y + cell - 2)],
                    RGBColor(shade, shade, 255).filled(),
                ))
                .map_err(|e| plot_err(e.to_string()))?;
                draw(format!("{f:.3}"), x + 38, y + 48)?;
                draw(format!("({n})"), x + 40, y + 72)?;
            }
        }
        root.present().map_err(|e| plot_err(e.to_string()))
    })
}

/// Draws the ROC curve of each class against the rest.
pub fn plot_roc(path: &Path, title: &str, curves: &[(String, Vec<(f64, f64)>)]) -> Result<()> {
    let mut plot = LinePlot::new(
        title,
        "false-positive rate (background selected)",
        "efficiency",
    );
    for (name, points) in curves {
        plot = plot.with(Series::line(name.clone(), points.clone()));
    }
    plot.save_png(path)
}
