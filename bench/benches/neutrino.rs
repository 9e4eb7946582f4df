//! The neutrino classifier's training step (issue 10), beside its PyTorch twin
//! `bench/pytorch/neutrino_step.py` (same shapes, same thread count):
//!
//! - `neutrino_cnn_train_step`: batch 32 of two 1×64×48 views; each view through its own tower
//!   conv5×5 1→8 → ReLU → maxpool 2 → conv3×3 8→16 → ReLU → maxpool 2 → conv3×3 16→32 → ReLU →
//!   maxpool 2 (pads keep the size); the two 32×8×6 maps flattened and concatenated → linear
//!   3072→64 → ReLU → linear 64→3; cross-entropy, Adam (lr 1e-3), forward + backward + update
//!   (`hepnn_bench::cnn::neutrino_step`). Each conv → ReLU → maxpool runs as one operation of
//!   hepnn's convolution kernel (`HEPNN_NO_CONV_KERNEL=1`: burn's conv2d, relu, max_pool2d).
//!
//! Run: `cargo bench -p hepnn-bench --bench neutrino`; `python3 bench/pytorch/neutrino_step.py`.

use std::hint::black_box;
use std::time::Duration;

use burn::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};
use hepnn_bench::cnn::neutrino_step;

fn neutrino_cnn_train_step(c: &mut Criterion) {
    let device = Device::flex().autodiff();
    device.seed(1);
    let mut step = neutrino_step(&device);
    let first = step();
    assert!(
        (0.5..2.5).contains(&first),
        "first loss {first} not near ln 3"
    );
    c.bench_function("neutrino_cnn_train_step", |b| b.iter(|| black_box(step())));
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
}

criterion_group! {
    name = neutrino_benches;
    config = config();
    targets = neutrino_cnn_train_step
}
criterion_main!(neutrino_benches);
