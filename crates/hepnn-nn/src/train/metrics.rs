//! Per-epoch metrics: the record, `metrics.csv` and the training-curve plot.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::plot::{LinePlot, Series, atomic_write};
use crate::{NnError, Result};

/// The figures of one epoch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpochRecord {
    /// Epoch number (1-based).
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Learning rate of the epoch's last step.
    pub learning_rate: f64,
    /// Wall time of the epoch in seconds.
    pub seconds: f64,
    /// Training items per second.
    pub items_per_second: f64,
    /// Validation figures from [`super::TrainTask::validate`], by name.
    pub extra: Vec<(String, f64)>,
}

/// Writes the history as CSV (one row per epoch; the validation figures as extra columns),
/// atomically.
pub fn write_csv(path: &Path, history: &[EpochRecord]) -> Result<()> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let extra_names: Vec<&str> = history
        .first()
        .map(|r| r.extra.iter().map(|(n, _)| n.as_str()).collect())
        .unwrap_or_default();
    let csv_err = |e: csv::Error| NnError::io(path, std::io::Error::other(e));
    let mut header = vec![
        "epoch",
        "train_loss",
        "learning_rate",
        "seconds",
        "items_per_second",
    ];
    header.extend(&extra_names);
    writer.write_record(&header).map_err(csv_err)?;
    for r in history {
        let mut row = vec![
            r.epoch.to_string(),
            r.train_loss.to_string(),
            r.learning_rate.to_string(),
            format!("{:.4}", r.seconds),
            format!("{:.1}", r.items_per_second),
        ];
        row.extend(r.extra.iter().map(|(_, v)| v.to_string()));
        writer.write_record(&row).map_err(csv_err)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| NnError::io(path, std::io::Error::other(e.to_string())))?;
    atomic_write(path, &bytes)
}

/// Draws the training loss (and every validation figure whose name ends in `loss`) per epoch.
pub fn plot(path: &Path, history: &[EpochRecord]) -> Result<()> {
    let mut plot = LinePlot::new("Training", "epoch", "loss").with(Series::line(
        "train loss",
        history
            .iter()
            .map(|r| (r.epoch as f64, r.train_loss))
            .collect(),
    ));
    if let Some(first) = history.first() {
        for (k, (name, _)) in first.extra.iter().enumerate() {
            if name.ends_with("loss") {
                plot = plot.with(Series::line(
                    name.clone(),
                    history
                        .iter()
                        .filter_map(|r| r.extra.get(k).map(|(_, v)| (r.epoch as f64, *v)))
                        .collect(),
                ));
            }
        }
    }
    if history.iter().all(|r| r.train_loss > 0.0) {
        plot = plot.log_y();
    }
    plot.save_png(path)
}
