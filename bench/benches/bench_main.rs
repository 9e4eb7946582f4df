//! Criterion benchmarks of one training step and one forward pass of the course's two reference
//! networks on burn's `flex` CPU backend, with the same shapes as `bench/pytorch/bench_steps.py`.
//!
//! - `mlp_train_step`: `hepnn_nn::mlp::Mlp` 784-256-256-10 (ReLU), batch 256, cross-entropy, Adam
//!   (lr 1e-3): forward + backward + optimiser update.
//! - `mlp_forward`: the same MLP, forward only, on a device without autodiff.
//! - `cnn_train_step`: batch 64 of 1×28×28 images, conv3×3 1→16 (pad 1) → ReLU → maxpool 2 →
//!   conv3×3 16→32 (pad 1) → ReLU → maxpool 2 → flatten → linear 32·7·7→10, cross-entropy, Adam.
//!   Each conv → ReLU → maxpool runs as one operation of hepnn's convolution kernel
//!   (`hepnn_nn::kernels::conv`; `HEPNN_NO_CONV_KERNEL=1` runs burn's conv2d, relu, max_pool2d).
//! - `cnn_forward`: the same CNN, forward only, on a device without autodiff.
//! - `lstm_train_step`: hepnn's LSTM (`hepnn_nn::rnn::LstmCell`, the whole sequence as one
//!   autodiff node, `hepnn_nn::kernels::lstm`), batch 64 of 50 steps, input 16, hidden 128, MSE of
//!   the last hidden state against a random target, Adam: forward + backward + update
//!   (`hepnn_bench::lstm`). `lstm_train_step_graph` is the same cell run as the step-by-step burn
//!   graph (the version before the kernel), `lstm_train_step_burn` the same step with burn's
//!   `nn::Lstm` (four gate controllers, two linear maps each per step), for comparison.
//!
//! Every timed iteration reads a scalar back to the host (`into_scalar`), so the step has really
//! completed when the clock stops. The thread count of flex's rayon pool is set by
//! `RAYON_NUM_THREADS` (default: one thread per core). Run with
//! `cargo bench -p hepnn-bench --bench bench_main`; `bench/compare` prints the table beside PyTorch.

use std::hint::black_box;
use std::time::Duration;

use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::Distribution;
use criterion::{Criterion, criterion_group, criterion_main};
use hepnn_bench::cnn::MnistCnn;
use hepnn_bench::lstm::{LastState, LstmBench, StepGraphLstm, burn_lstm, hepnn_lstm};
use hepnn_nn::mlp::{Mlp, MlpConfig};

/// Seed of every random tensor and weight in the benchmarks.
const SEED: u64 = 1;
/// Adam learning rate, the same as in the PyTorch reference.
const LEARNING_RATE: f64 = 1e-3;
/// Number of classes of both networks' outputs.
const NUM_CLASSES: usize = 10;
/// Batch size of the MLP benchmarks.
const MLP_BATCH: usize = 256;
/// Batch size of the CNN benchmarks.
const CNN_BATCH: usize = 64;

/// The MLP 784-256-256-10 of `hepnn_nn` (ReLU on the hidden layers, logits out).
fn mnist_mlp(device: &Device) -> Mlp {
    MlpConfig::new(vec![784, 256, 256, NUM_CLASSES]).init(device)
}

/// A model that maps an input batch to class logits.
trait Classifier<const D: usize>: Module {
    fn logits(&self, input: Tensor<D>) -> Tensor<2>;
}

impl Classifier<2> for Mlp {
    fn logits(&self, input: Tensor<2>) -> Tensor<2> {
        self.forward(input)
    }
}

impl Classifier<4> for MnistCnn {
    fn logits(&self, input: Tensor<4>) -> Tensor<2> {
        self.forward(input)
    }
}

/// Model, optimiser state and one fixed batch: everything one training step needs.
struct Trainer<M: Classifier<D>, const D: usize> {
    /// `None` only while a step has moved the model into the optimiser.
    model: Option<M>,
    optim: ModuleOptimizer,
    loss: CrossEntropyLoss,
    input: Tensor<D>,
    labels: Tensor<1, Int>,
}

impl<M: Classifier<D>, const D: usize> Trainer<M, D> {
    fn new(model: M, input: Tensor<D>, labels: Tensor<1, Int>, device: &Device) -> Self {
        Self {
            model: Some(model),
            // PyTorch's defaults: betas (0.9, 0.999), eps 1e-8 (burn's default eps is 1e-5).
            optim: AdamConfig::new().with_epsilon(1e-8).init(),
            loss: CrossEntropyLossConfig::new().init(device),
            input,
            labels,
        }
    }

    /// Forward, cross-entropy, backward and Adam update; returns the loss read back on the host.
    fn step(&mut self) -> f32 {
        let model = self
            .model
            .take()
            .expect("the model is put back after every step");
        let logits = model.logits(self.input.clone());
        let loss = self.loss.forward(logits, self.labels.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.model = Some(self.optim.step(LEARNING_RATE, model, grads));
        loss.into_scalar::<f32>()
    }
}

/// Uniform pixels in [0, 1) of the given shape.
fn random_pixels<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Default, device)
}

/// Uniform class labels in 0..NUM_CLASSES.
fn random_labels(batch: usize, device: &Device) -> Tensor<1, Int> {
    Tensor::<1>::random(
        [batch],
        Distribution::Uniform(0.0, NUM_CLASSES as f64),
        device,
    )
    .floor()
    .int()
    .clamp(0, NUM_CLASSES as i64 - 1)
}

fn train_device() -> Device {
    let device = Device::flex().autodiff();
    device.seed(SEED);
    device
}

/// Checks that one untimed step gives a finite loss near ln 10 (random labels, fresh weights), so
/// the benchmark times a working training step.
fn check_first_step<M: Classifier<D>, const D: usize>(trainer: &mut Trainer<M, D>, name: &str) {
    let loss = trainer.step();
    assert!(
        loss.is_finite() && (1.5..3.5).contains(&loss),
        "{name}: first cross-entropy {loss} is not near ln 10 = 2.30"
    );
}

fn inference_device() -> Device {
    let device = Device::flex();
    device.seed(SEED);
    device
}

fn mlp_train_step(c: &mut Criterion) {
    let device = train_device();
    let mut trainer = Trainer::new(
        mnist_mlp(&device),
        random_pixels([MLP_BATCH, 784], &device),
        random_labels(MLP_BATCH, &device),
        &device,
    );
    check_first_step(&mut trainer, "mlp_train_step");
    c.bench_function("mlp_train_step", |b| b.iter(|| black_box(trainer.step())));
}

fn mlp_forward(c: &mut Criterion) {
    let device = inference_device();
    let model = mnist_mlp(&device);
    let pixels = random_pixels([MLP_BATCH, 784], &device);
    c.bench_function("mlp_forward", |b| {
        b.iter(|| black_box(model.forward(pixels.clone()).sum().into_scalar::<f32>()))
    });
}

fn cnn_train_step(c: &mut Criterion) {
    let device = train_device();
    let mut trainer = Trainer::new(
        MnistCnn::new(NUM_CLASSES, &device),
        random_pixels([CNN_BATCH, 1, 28, 28], &device),
        random_labels(CNN_BATCH, &device),
        &device,
    );
    check_first_step(&mut trainer, "cnn_train_step");
    c.bench_function("cnn_train_step", |b| b.iter(|| black_box(trainer.step())));
}

fn cnn_forward(c: &mut Criterion) {
    let device = inference_device();
    let model = MnistCnn::new(NUM_CLASSES, &device);
    let images = random_pixels([CNN_BATCH, 1, 28, 28], &device);
    c.bench_function("cnn_forward", |b| {
        b.iter(|| black_box(model.forward(images.clone()).sum().into_scalar::<f32>()))
    });
}

fn bench_lstm<M: LastState>(c: &mut Criterion, name: &str, model: M, device: &Device) {
    let mut bench = LstmBench::new(model, device);
    let first = bench.step();
    assert!(
        first.is_finite() && first > 0.0,
        "{name}: first loss {first}"
    );
    c.bench_function(name, |b| b.iter(|| black_box(bench.step())));
}

fn lstm_train_step(c: &mut Criterion) {
    let device = train_device();
    bench_lstm(c, "lstm_train_step", hepnn_lstm(&device), &device);
}

fn lstm_train_step_graph(c: &mut Criterion) {
    let device = train_device();
    let model = StepGraphLstm {
        cell: hepnn_lstm(&device),
    };
    bench_lstm(c, "lstm_train_step_graph", model, &device);
}

fn lstm_train_step_burn(c: &mut Criterion) {
    let device = train_device();
    bench_lstm(c, "lstm_train_step_burn", burn_lstm(&device), &device);
}

/// Modest sampling so that the whole suite runs in a few minutes on a 2-core machine.
fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
}

criterion_group! {
    name = mlp_benches;
    config = config();
    targets = mlp_train_step, mlp_forward
}
criterion_group! {
    name = cnn_benches;
    config = config();
    targets = cnn_train_step, cnn_forward
}
criterion_group! {
    name = lstm_benches;
    config = config();
    targets = lstm_train_step, lstm_train_step_graph, lstm_train_step_burn
}
criterion_main!(mlp_benches, cnn_benches, lstm_benches);
