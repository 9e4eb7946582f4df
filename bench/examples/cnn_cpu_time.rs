//! Process CPU time (user + system, all threads, from `/proc/self/stat`) and wall time per CNN
//! training step: the foundation's CNN (batch 64 of 1×28×28, `bench_main`'s `cnn_train_step`)
//! and the neutrino classifier (batch 32 of two 1×64×48 views, `benches/neutrino.rs`). On a
//! shared machine CPU time is less disturbed by the other jobs than wall time; run it with
//! `RAYON_NUM_THREADS=1` beside `python3 bench/pytorch/bench_steps.py --threads 1 --only
//! cnn_train_step --cpu-time` and `python3 bench/pytorch/neutrino_step.py --threads 1`.
//! `HEPNN_NO_CONV_KERNEL=1` times burn's own convolution instead of hepnn's kernel.
//!
//! Usage: `cargo run --release -p hepnn-bench --example cnn_cpu_time [steps] [warmup] [name]`
//! (default 40 and 5; `name`: `cnn_train_step` or `neutrino_cnn_train_step` only). Prints one
//! JSON line per model.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use hepnn_bench::cnn::{MnistCnn, neutrino_step};
use hepnn_bench::timing::time_steps;

fn measure(name: &str, step: impl FnMut() -> f32, steps: usize, warmup: usize) {
    let t = time_steps(step, steps, warmup);
    println!(
        "{{\"name\": \"{name}\", \"cpu_ms\": {:.2}, \"wall_ms\": {:.2}, \"wall_median_ms\": {:.2}, \"steps\": {steps}, \"last_loss\": {:.5}}}",
        t.cpu_ms, t.wall_ms, t.wall_median_ms, t.last_loss
    );
}

/// The foundation CNN's step (batch 64, 10 random classes, Adam lr 1e-3 eps 1e-8).
fn mnist_step(device: &Device) -> impl FnMut() -> f32 + use<> {
    const BATCH: usize = 64;
    let mut model = Some(MnistCnn::new(10, device));
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let images = Tensor::<4>::random([BATCH, 1, 28, 28], Distribution::Default, device);
    let labels = Tensor::<1, Int>::from_ints(
        (0..BATCH as i64)
            .map(|i| i % 10)
            .collect::<Vec<_>>()
            .as_slice(),
        device,
    );
    move || {
        let m = model
            .take()
            .expect("the model is put back after every step");
        let loss = loss_fn.forward(m.forward(images.clone()), labels.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        model = Some(optim.step(1e-3, m, grads));
        loss.into_scalar::<f32>()
    }
}

fn main() {
    let args = hepnn_bench::timing::StepArgs::from_env();
    let (steps, warmup) = (args.steps, args.warmup);
    let run = |name: &str| args.runs(name);
    let device = Device::flex().autodiff();
    device.seed(1);
    if run("cnn_train_step") {
        measure("cnn_train_step", mnist_step(&device), steps, warmup);
    }
    if run("neutrino_cnn_train_step") {
        measure(
            "neutrino_cnn_train_step",
            neutrino_step(&device),
            steps,
            warmup,
        );
    }
}
