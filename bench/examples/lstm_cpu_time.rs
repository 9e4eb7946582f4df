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

use std::time::Instant;

use burn::prelude::*;
use hepnn_bench::lstm::{LastState, LstmBench, StepGraphLstm, burn_lstm, hepnn_lstm};

/// utime + stime of this process in seconds (`/proc/self/stat` fields 14 and 15).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat (Linux)");
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let after = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields[i].parse::<f64>().expect("clock ticks");
    // Fields 14 and 15 are at 11 and 12 after the state field (field 3 = index 0).
    (ticks(11) + ticks(12)) / 100.0
}

fn measure<M: LastState>(name: &str, model: M, device: &Device, steps: usize, warmup: usize) {
    let mut bench = LstmBench::new(model, device);
    for _ in 0..warmup {
        bench.step();
    }
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    let mut loss = 0.0;
    let mut walls = Vec::with_capacity(steps);
    for _ in 0..steps {
        let start = Instant::now();
        loss = bench.step();
        walls.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let cpu_ms = (cpu_seconds() - cpu0) * 1e3 / steps as f64;
    let wall_ms = wall0.elapsed().as_secs_f64() * 1e3 / steps as f64;
    walls.sort_by(f64::total_cmp);
    // The median step, as `bench_steps.py` reports for PyTorch.
    let median_ms = walls.get(walls.len() / 2).copied().unwrap_or(f64::NAN);
    let chunks = hepnn_nn::kernels::lstm::default_chunks(hepnn_bench::lstm::LSTM_SHAPE[0]);
    println!(
        "{{\"name\": \"{name}\", \"cpu_ms\": {cpu_ms:.2}, \"wall_ms\": {wall_ms:.2}, \"wall_median_ms\": {median_ms:.2}, \"kernel_chunks\": {chunks}, \"steps\": {steps}, \"last_loss\": {loss:.5}}}"
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let steps = args.next().and_then(|a| a.parse().ok()).unwrap_or(40);
    let warmup = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let only = args.next();
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
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
