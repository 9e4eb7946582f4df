//! Process CPU time (user + system, all threads, from `/proc/self/stat`) and wall time per LSTM
//! training step, for hepnn's kernel LSTM, the same cell as a step-by-step burn graph, and burn's
//! `nn::Lstm` (`hepnn_bench::lstm`). On a shared machine CPU time is less disturbed by the other
//! jobs than wall time; run it with `RAYON_NUM_THREADS=1` beside
//! `python3 bench/pytorch/bench_steps.py --threads 1 --only lstm_train_step --cpu-time`.
//!
//! Usage: `cargo run --release -p hepnn-bench --example lstm_cpu_time [steps] [warmup] [name]`
//! (default 40 and 5; `name`: only that model). Prints one JSON line per model: CPU ms per step,
//! wall ms per step (mean and median; the PyTorch script prints the median) and the number of
//! chunks the LSTM kernel splits its batch into (one per rayon thread, `RAYON_NUM_THREADS`).

use burn::prelude::*;
use hepnn_bench::lstm::{LastState, LstmBench, StepGraphLstm, burn_lstm, hepnn_lstm};
use hepnn_bench::timing::time_steps;

fn measure<M: LastState>(name: &str, model: M, device: &Device, steps: usize, warmup: usize) {
    let mut bench = LstmBench::new(model, device);
    let t = time_steps(|| bench.step(), steps, warmup);
    let chunks = hepnn_nn::kernels::lstm::default_chunks(hepnn_bench::lstm::LSTM_SHAPE[0]);
    println!(
        "{{\"name\": \"{name}\", \"cpu_ms\": {:.2}, \"wall_ms\": {:.2}, \"wall_median_ms\": {:.2}, \"kernel_chunks\": {chunks}, \"steps\": {steps}, \"last_loss\": {:.5}}}",
        t.cpu_ms, t.wall_ms, t.wall_median_ms, t.last_loss
    );
}

fn main() {
    let args = hepnn_bench::timing::StepArgs::from_env();
    let (steps, warmup) = (args.steps, args.warmup);
    let run = |name: &str| args.runs(name);
    let device = Device::flex().autodiff();
    device.seed(1);
    if run("lstm_train_step") {
        measure(
            "lstm_train_step",
            hepnn_lstm(&device),
            &device,
            steps,
            warmup,
        );
    }
    if run("lstm_train_step_graph") {
        let graph = StepGraphLstm {
            cell: hepnn_lstm(&device),
        };
        measure("lstm_train_step_graph", graph, &device, steps, warmup);
    }
    if run("lstm_train_step_burn") {
        measure(
            "lstm_train_step_burn",
            burn_lstm(&device),
            &device,
            steps,
            warmup,
        );
    }
}
