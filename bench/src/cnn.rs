//! The two CNN training steps timed against PyTorch: the foundation's MNIST-sized CNN
//! (`bench_main`'s `cnn_train_step`, `bench/pytorch/bench_steps.py`) and the neutrino classifier
//! (`benches/neutrino.rs`, `bench/pytorch/neutrino_step.py`).

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use hepnn_neutrino::model::TwoViewCnnConfig;
use hepnn_nn::cnn::conv2d_relu_pool;

/// The small MNIST CNN of the course: two conv3×3 + ReLU + maxpool-2 blocks, then a linear head.
#[derive(Module, Debug)]
pub struct MnistCnn {
    conv1: Conv2d,
    conv2: Conv2d,
    head: Linear,
}

impl MnistCnn {
    /// Fresh weights (burn's default initialisation), `classes` outputs.
    pub fn new(classes: usize, device: &Device) -> Self {
        let conv3x3 = |channels_in, channels_out| {
            Conv2dConfig::new([channels_in, channels_out], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        Self {
            conv1: conv3x3(1, 16),
            conv2: conv3x3(16, 32),
            head: LinearConfig::new(32 * 7 * 7, classes).init(device),
        }
    }

    /// `[batch, 1, 28, 28]` images → `[batch, classes]` logits.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        // maxpool₂(ReLU(conv(x))) as one operation (hepnn's convolution kernel).
        let x = conv2d_relu_pool(&self.conv1, images, 2);
        let x = conv2d_relu_pool(&self.conv2, x, 2);
        self.head.forward(x.flatten(1, 3))
    }
}

/// Batch size of the neutrino classifier's step.
pub const NEUTRINO_BATCH: usize = 32;

/// One training step as a closure returning the loss: cross-entropy of `logits(model)` (a
/// fixed batch of `batch` inputs, captured by `logits`) against the labels i mod `classes`,
/// then an Adam step (lr 1e-3, ε 1e-8). Both CNN steps timed against PyTorch are this.
pub fn cross_entropy_step<M: Module + 'static, F: Fn(&M) -> Tensor<2> + 'static>(
    model: M,
    logits: F,
    batch: usize,
    classes: i64,
    device: &Device,
) -> impl FnMut() -> f32 + use<M, F> {
    let mut model = Some(model);
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let labels = Tensor::<1, Int>::from_ints(
        (0..batch as i64)
            .map(|i| i % classes)
            .collect::<Vec<_>>()
            .as_slice(),
        device,
    );
    move || {
        let m = model
            .take()
            .expect("the model is put back after every step");
        let loss = loss_fn.forward(logits(&m), labels.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        model = Some(optim.step(1e-3, m, grads));
        loss.into_scalar::<f32>()
    }
}

/// One training step of the neutrino classifier (batch [`NEUTRINO_BATCH`] of two random 1×64×48
/// views, 3 classes; [`cross_entropy_step`]).
pub fn neutrino_step(device: &Device) -> impl FnMut() -> f32 + use<> {
    let view = || Tensor::<4>::random([NEUTRINO_BATCH, 1, 64, 48], Distribution::Default, device);
    let (xz, yz) = (view(), view());
    cross_entropy_step(
        TwoViewCnnConfig::new().init(device),
        move |m: &hepnn_neutrino::model::TwoViewCnn| m.forward(xz.clone(), yz.clone()),
        NEUTRINO_BATCH,
        3,
        device,
    )
}

/// One training step of the foundation's CNN (batch 64 of random 1×28×28 images, 10 classes;
/// [`cross_entropy_step`]).
pub fn mnist_step(device: &Device) -> impl FnMut() -> f32 + use<> {
    const BATCH: usize = 64;
    let images = Tensor::<4>::random([BATCH, 1, 28, 28], Distribution::Default, device);
    cross_entropy_step(
        MnistCnn::new(10, device),
        move |m: &MnistCnn| m.forward(images.clone()),
        BATCH,
        10,
        device,
    )
}
