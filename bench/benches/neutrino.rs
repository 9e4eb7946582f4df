//! The neutrino classifier's training step (issue 10), beside its PyTorch twin
//! `bench/pytorch/neutrino_step.py` (same shapes, same thread count):
//!
//! - `neutrino_cnn_train_step`: batch 32 of two 1×64×48 views; each view through its own tower
//!   conv5×5 1→8 → ReLU → maxpool 2 → conv3×3 8→16 → ReLU → maxpool 2 → conv3×3 16→32 → ReLU →
//!   maxpool 2 (pads keep the size); the two 32×8×6 maps flattened and concatenated → linear
//!   3072→64 → ReLU → linear 64→3; cross-entropy, Adam (lr 1e-3), forward + backward + update.
//!
//! Run: `cargo bench -p hepnn-bench --bench neutrino`; `python3 bench/pytorch/neutrino_step.py`.

use std::hint::black_box;
use std::time::Duration;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use criterion::{Criterion, criterion_group, criterion_main};
use hepnn_neutrino::model::TwoViewCnnConfig;

const BATCH: usize = 32;

fn neutrino_cnn_train_step(c: &mut Criterion) {
    let device = Device::flex().autodiff();
    device.seed(1);
    let mut model = Some(TwoViewCnnConfig::new().init(&device));
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let xz = Tensor::<4>::random([BATCH, 1, 64, 48], Distribution::Default, &device);
    let yz = Tensor::<4>::random([BATCH, 1, 64, 48], Distribution::Default, &device);
    let labels = Tensor::<1, Int>::from_ints(
        (0..BATCH as i64)
            .map(|i| i % 3)
            .collect::<Vec<_>>()
            .as_slice(),
        &device,
    );
    let mut step = || {
        let m = model
            .take()
            .expect("the model is put back after every step");
        let loss = loss_fn.forward(m.forward(xz.clone(), yz.clone()), labels.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        model = Some(optim.step(1e-3, m, grads));
        loss.into_scalar::<f32>()
    };
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
