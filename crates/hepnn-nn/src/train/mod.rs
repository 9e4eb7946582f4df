//! The training loop every hepnn model uses.
//!
//! A model's trainer implements [`TrainTask`] (the loss of a batch, optional validation figures);
//! [`Trainer::fit`] does the rest:
//!
//! - shuffles the training items each epoch with a seeded ChaCha8 generator (seed, epoch), so the
//!   same seed gives the same numbers, interrupted or not;
//! - steps burn's optimizer with a learning rate from burn's schedulers (one step per batch);
//! - shows a progress bar (indicatif: epoch, loss, items/s, ETA) when stderr is a terminal;
//! - logs every epoch's figures to `metrics.csv` and draws `training.png` (loss curves);
//! - writes a checkpoint after every epoch, atomically ([`checkpoint`]), and `--resume`s from the
//!   last one with the same weights as an uninterrupted run;
//! - stops with [`NnError::NonFiniteLoss`] on a NaN/inf loss, keeping the last good checkpoint.

pub mod checkpoint;
pub mod metrics;

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::lr_scheduler::LrSchedulerConfig;
use burn::optim::lr_scheduler::module_lr_scheduler::{ModuleLrScheduler, ModuleLrSchedulerConfig};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use checkpoint::{Checkpoint, CheckpointState};
pub use metrics::EpochRecord;

use crate::{NnError, Result};

/// What a model's trainer provides to [`Trainer::fit`].
pub trait TrainTask {
    /// The model being trained (a burn module on an autodiff device).
    type Model: Module + Clone;

    /// Number of training items (events, images, graphs…).
    fn num_items(&self) -> usize;

    /// The loss on the training items `batch` (indices into 0..num_items), a scalar `[1]`.
    fn loss(&self, model: &Self::Model, batch: &[usize]) -> Tensor<1>;

    /// Validation figures after an epoch, e.g. `[("valid_loss", 0.12)]`; empty by default.
    fn validate(&self, _model: &Self::Model) -> Vec<(String, f64)> {
        Vec::new()
    }
}

/// Settings of a training run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Number of passes over the training items.
    pub epochs: usize,
    /// Items per optimizer step.
    pub batch_size: usize,
    /// Seed of the shuffling (and of the device's random numbers, re-seeded every epoch).
    pub seed: u64,
    /// The learning-rate schedule (burn's), stepped once per batch.
    pub learning_rate: LrSchedulerConfig,
    /// Show the progress bar (only drawn when stderr is a terminal).
    #[serde(default = "default_true")]
    pub progress: bool,
}

fn default_true() -> bool {
    true
}

impl TrainConfig {
    /// A run of `epochs` epochs with batches of `batch_size` and a constant learning rate.
    pub fn new(epochs: usize, batch_size: usize, learning_rate: f64, seed: u64) -> Self {
        Self {
            epochs,
            batch_size,
            seed,
            learning_rate: LrSchedulerConfig::Constant(learning_rate),
            progress: true,
        }
    }

    /// A run whose learning rate follows a cosine from `learning_rate` down to 1% of it over
    /// the whole run (Loshchilov & Hutter, SGDR, arXiv:1608.03983, without restarts):
    /// η_t = η_min + ½(η₀ − η_min)(1 + cos(π t / T)), T = epochs · ⌈num_items / batch_size⌉.
    pub fn cosine(
        epochs: usize,
        batch_size: usize,
        learning_rate: f64,
        seed: u64,
        num_items: usize,
    ) -> Self {
        let steps = epochs * num_items.div_ceil(batch_size.max(1));
        Self {
            learning_rate: LrSchedulerConfig::Cosine(
                burn::optim::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig::new(
                    learning_rate,
                    steps.max(1),
                )
                .with_min_lr(learning_rate * 0.01),
            ),
            ..Self::new(epochs, batch_size, learning_rate, seed)
        }
    }

    /// Checks the settings before any work.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(invalid("epochs", self.epochs, "at least 1"));
        }
        if self.batch_size == 0 {
            return Err(invalid("batch_size", self.batch_size, "at least 1"));
        }
        self.schedule().map(|_| ())
    }

    fn schedule(&self) -> Result<ModuleLrScheduler> {
        ModuleLrSchedulerConfig::new(self.learning_rate.clone())
            .init()
            .map_err(|expected| NnError::InvalidConfig {
                field: "learning_rate",
                value: format!("{:?}", self.learning_rate),
                expected,
            })
    }
}

fn invalid(field: &'static str, value: impl std::fmt::Display, expected: &str) -> NnError {
    NnError::InvalidConfig {
        field,
        value: value.to_string(),
        expected: expected.into(),
    }
}

/// The result of [`Trainer::fit`].
pub struct TrainOutcome<M> {
    /// The trained model.
    pub model: M,
    /// One record per epoch, including those before a resume.
    pub history: Vec<EpochRecord>,
    /// Epochs run by this call (0 when a resumed run was already complete).
    pub epochs_run: usize,
}

/// Runs the training loop and writes its outputs under one folder:
/// `checkpoint/` (see [`checkpoint`]), `metrics.csv`, `training.png`.
pub struct Trainer {
    config: TrainConfig,
    out_dir: PathBuf,
}

impl Trainer {
    /// A trainer writing under `out_dir`; the configuration is checked here.
    pub fn new(config: TrainConfig, out_dir: impl Into<PathBuf>) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            out_dir: out_dir.into(),
        })
    }

    /// The folder holding the checkpoints.
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.out_dir.join("checkpoint")
    }

    /// Trains `model` with `optimizer` on `task`, on `device` (autodiff enabled).
    ///
    /// With `resume`, the last checkpoint under `out_dir` (if any) gives the model weights, the
    /// optimizer state, the epoch reached and the history; training continues from there and ends
    /// with the same weights as an uninterrupted run with the same seed.
    pub fn fit<T: TrainTask>(
        &self,
        task: &T,
        mut model: T::Model,
        mut optimizer: ModuleOptimizer,
        device: &Device,
        resume: bool,
    ) -> Result<TrainOutcome<T::Model>> {
        let config = &self.config;
        let n = task.num_items();
        if n == 0 {
            return Err(invalid(
                "training items",
                0,
                "at least one item to train on",
            ));
        }
        let store = Checkpoint::new(self.checkpoint_dir());
        let mut schedule = config.schedule()?;
        let mut history = Vec::new();
        let mut first_epoch = 1;
        let mut iteration = 0usize;
        if let Some(state) = if resume { store.latest()? } else { None } {
            (model, optimizer) = store.load(&state, model, optimizer)?;
            history = state.history.clone();
            first_epoch = state.epoch + 1;
            iteration = state.iteration;
            // The schedule is a pure function of the step count: replay it.
            for _ in 0..iteration {
                schedule.step();
            }
        }
        let batches_per_epoch = n.div_ceil(config.batch_size);
        let mut epochs_run = 0;
        for epoch in first_epoch..=config.epochs {
            let start = Instant::now();
            device.seed(config.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ epoch as u64);
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(
                config.seed ^ (epoch as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
            ));
            let bar = progress_bar(config, epoch, n);
            let (mut loss_sum, mut lr) = (0.0f64, 0.0f64);
            for (step, batch) in order.chunks(config.batch_size).enumerate() {
                let loss = task.loss(&model, batch);
                let value = f64::from(loss.clone().into_scalar::<f32>());
                if !value.is_finite() {
                    bar.abandon();
                    return Err(NnError::NonFiniteLoss {
                        epoch,
                        step,
                        value,
                        last_good: store
                            .latest()?
                            .map_or("none".into(), |s| store.dir_of(&s).display().to_string()),
                    });
                }
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                let rate = schedule.step();
                lr = rate.base();
                model = optimizer.step(rate, model, grads);
                iteration += 1;
                loss_sum += value;
                bar.inc(batch.len() as u64);
                bar.set_message(format!("loss {:.4e}", loss_sum / (step + 1) as f64));
            }
            bar.finish_and_clear();
            let record = EpochRecord {
                epoch,
                train_loss: loss_sum / batches_per_epoch as f64,
                learning_rate: lr,
                seconds: start.elapsed().as_secs_f64(),
                items_per_second: n as f64 / start.elapsed().as_secs_f64().max(1e-9),
                extra: task.validate(&model),
            };
            history.push(record);
            let state = CheckpointState {
                epoch,
                iteration,
                seed: config.seed,
                history: history.clone(),
            };
            store.save(&state, &model, &optimizer)?;
            metrics::write_csv(&self.out_dir.join("metrics.csv"), &history)?;
            epochs_run += 1;
        }
        if !history.is_empty() {
            metrics::plot(&self.out_dir.join("training.png"), &history)?;
        }
        Ok(TrainOutcome {
            model,
            history,
            epochs_run,
        })
    }

    /// The output folder.
    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }
}

fn progress_bar(config: &TrainConfig, epoch: usize, items: usize) -> indicatif::ProgressBar {
    if !config.progress {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(items as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} {msg} {per_sec} ETA {eta}",
        )
        .expect("the template is valid")
        .progress_chars("=> "),
    );
    bar.set_prefix(format!("epoch {epoch}/{}", config.epochs));
    bar
}

#[cfg(test)]
mod tests;
