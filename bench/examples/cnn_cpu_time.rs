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

use burn::prelude::*;
use hepnn_bench::cnn::{mnist_step, neutrino_step};
use hepnn_bench::timing::time_steps;

fn measure(name: &str, step: impl FnMut() -> f32, steps: usize, warmup: usize) {
    let t = time_steps(step, steps, warmup);
    println!(
        "{{\"name\": \"{name}\", \"cpu_ms\": {:.2}, \"wall_ms\": {:.2}, \"wall_median_ms\": {:.2}, \"steps\": {steps}, \"last_loss\": {:.5}}}",
        t.cpu_ms, t.wall_ms, t.wall_median_ms, t.last_loss
    );
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
