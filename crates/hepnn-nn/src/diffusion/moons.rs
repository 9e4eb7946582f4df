//! The 2-D example: two interleaved half circles ("two moons", as scikit-learn's `make_moons`)
//! and the energy distance that tells whether generated points follow them.
//!
//! Energy distance (Székely & Rizzo 2013, "Energy statistics"): for samples X, Y,
//!
//! ```text
//! D²(X, Y) = 2 E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖ ≥ 0,
//! ```
//!
//! zero if and only if the distributions are equal; the V-statistic below (all pairs,
//! including i = j) is biased upwards by O(1/n) for two finite samples of the same law.
//!
//! ```
//! use hepnn_nn::diffusion::moons::{energy_distance, two_moons};
//! let (a, _) = two_moons(400, 0.05, 1);
//! let (b, _) = two_moons(400, 0.05, 2);
//! let shifted: Vec<[f64; 2]> = b.iter().map(|p| [p[0] + 1.0, p[1]]).collect();
//! assert!(energy_distance(&a, &b) < 0.02);
//! assert!(energy_distance(&a, &shifted) > 0.3);
//! ```

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// `n` points on two moons with Gaussian noise of standard deviation `noise` (before scaling),
/// and each point's moon (0: upper, 1: lower). The moons of `make_moons` (x ∈ [−1, 2],
/// y ∈ [−0.5, 1]) are standardised by the fixed map x' = (x − 0.5)/0.87, y' = (y − 0.25)/0.5, so
/// both coordinates have mean ≈ 0 and standard deviation ≈ 1.
pub fn two_moons(n: usize, noise: f64, seed: u64) -> (Vec<[f64; 2]>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let gauss = Normal::new(0.0, noise.max(0.0)).expect("a non-negative standard deviation");
    let mut points = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let moon = i % 2;
        let angle = std::f64::consts::PI * rng.random::<f64>();
        let (x, y) = if moon == 0 {
            (angle.cos(), angle.sin())
        } else {
            (1.0 - angle.cos(), 0.5 - angle.sin())
        };
        let (x, y) = (x + gauss.sample(&mut rng), y + gauss.sample(&mut rng));
        points.push([(x - 0.5) / 0.87, (y - 0.25) / 0.5]);
        labels.push(moon);
    }
    (points, labels)
}

fn mean_distance(a: &[[f64; 2]], b: &[[f64; 2]]) -> f64 {
    let mut sum = 0.0;
    for p in a {
        for q in b {
            sum += ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt();
        }
    }
    sum / (a.len() * b.len()).max(1) as f64
}

/// The energy distance D²(X, Y) (V-statistic) between two 2-D samples.
pub fn energy_distance(x: &[[f64; 2]], y: &[[f64; 2]]) -> f64 {
    2.0 * mean_distance(x, y) - mean_distance(x, x) - mean_distance(y, y)
}

/// The energy distance between two samples of any dimension (rows of `dim` values).
pub fn energy_distance_nd(x: &[f32], y: &[f32], dim: usize) -> f64 {
    let mean = |a: &[f32], b: &[f32]| {
        let mut sum = 0.0f64;
        for p in a.chunks(dim) {
            for q in b.chunks(dim) {
                let d2: f64 = p.iter().zip(q).map(|(u, v)| f64::from(u - v).powi(2)).sum();
                sum += d2.sqrt();
            }
        }
        sum / ((a.len() / dim) * (b.len() / dim)).max(1) as f64
    };
    2.0 * mean(x, y) - mean(x, x) - mean(y, y)
}

/// Training items for a [`Diffusion`](super::Diffusion) on vector data: the data rows and
/// optional condition rows, both on the training (autodiff) device.
pub struct VectorTask<'a> {
    /// The process (schedule, conditioning).
    pub diffusion: &'a super::Diffusion,
    /// `[items, dim]`.
    pub data: burn::prelude::Tensor<2>,
    /// `[items, condition_dim]`, or `None`.
    pub condition: Option<burn::prelude::Tensor<2>>,
}

impl VectorTask<'_> {
    /// Items `batch` of `rows`.
    fn rows(rows: &burn::prelude::Tensor<2>, batch: &[usize]) -> burn::prelude::Tensor<2> {
        let index: Vec<i64> = batch.iter().map(|&i| i as i64).collect();
        let index = burn::prelude::Tensor::<1, burn::prelude::Int>::from_ints(
            index.as_slice(),
            &rows.device(),
        );
        rows.clone().select(0, index)
    }
}

impl crate::train::TrainTask for VectorTask<'_> {
    type Model = super::MlpDenoiser;

    fn num_items(&self) -> usize {
        self.data.dims()[0]
    }

    fn loss(&self, model: &Self::Model, batch: &[usize]) -> burn::prelude::Tensor<1> {
        let x0 = Self::rows(&self.data, batch);
        let c = self.condition.as_ref().map(|c| Self::rows(c, batch));
        self.diffusion.loss(model, x0, c)
    }
}

/// Points as a `[n, 2]` tensor.
pub fn to_tensor(points: &[[f64; 2]], device: &burn::prelude::Device) -> burn::prelude::Tensor<2> {
    let flat: Vec<f32> = points
        .iter()
        .flat_map(|p| [p[0] as f32, p[1] as f32])
        .collect();
    burn::prelude::Tensor::<2>::from_data(
        burn::tensor::TensorData::new(flat, [points.len(), 2]),
        device,
    )
}

/// A `[n, 2]` tensor back to points.
pub fn from_tensor(samples: burn::prelude::Tensor<2>) -> Vec<[f64; 2]> {
    let values: Vec<f32> = samples
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("a float tensor reads back as f32");
    values
        .chunks(2)
        .map(|p| [f64::from(p[0]), f64::from(p[1])])
        .collect()
}

/// Settings of the two-moons example (`hepnn examples diffusion`).
#[derive(Debug, Clone, PartialEq)]
pub struct MoonsConfig {
    /// Training points.
    pub points: usize,
    /// Gaussian noise of the moons (before standardising).
    pub noise: f64,
    /// Diffusion steps T (cosine schedule).
    pub steps: usize,
    /// Width of the denoiser's residual blocks.
    pub hidden: usize,
    /// Training epochs.
    pub epochs: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Initial learning rate (cosine-annealed to 0 over the run).
    pub learning_rate: f64,
    /// Condition on the moon label (+1 upper, −1 lower) with classifier-free guidance
    /// (drop probability 0.2).
    pub conditional: bool,
}

impl Default for MoonsConfig {
    fn default() -> Self {
        Self {
            points: 4_000,
            noise: 0.05,
            steps: 100,
            hidden: 128,
            epochs: 40,
            batch_size: 128,
            learning_rate: 3e-3,
            conditional: false,
        }
    }
}

/// Trains a denoiser on two moons drawn with `seed`, writing the training outputs under
/// `out_dir`; returns the process and the trained model (off the autodiff device).
pub fn train(
    config: &MoonsConfig,
    out_dir: &std::path::Path,
    seed: u64,
    device: &burn::prelude::Device,
) -> crate::Result<(super::Diffusion, super::MlpDenoiser)> {
    use burn::module::Module;
    use burn::optim::AdamConfig;
    use burn::optim::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
    let ad = device.clone().autodiff();
    ad.seed(seed);
    let conditioning = if config.conditional {
        super::Conditioning::ClassifierFree {
            drop_probability: 0.2,
        }
    } else {
        super::Conditioning::None
    };
    let diffusion = super::Diffusion::new(
        super::NoiseSchedule::new(super::ScheduleKind::cosine(), config.steps)?,
        conditioning,
    )?;
    let (points, labels) = two_moons(config.points, config.noise, seed);
    let condition = config.conditional.then(|| {
        let c: Vec<f32> = labels
            .iter()
            .map(|&l| if l == 0 { 1.0 } else { -1.0 })
            .collect();
        burn::prelude::Tensor::<1>::from_floats(c.as_slice(), &ad).reshape([labels.len(), 1])
    });
    let model = super::MlpDenoiserConfig::new(2)
        .with_condition_dim(conditioning.input_dim(1))
        .with_hidden(config.hidden)
        .init(&ad);
    let task = VectorTask {
        diffusion: &diffusion,
        data: to_tensor(&points, &ad),
        condition,
    };
    let iterations = config.epochs * config.points.div_ceil(config.batch_size.max(1));
    let mut train_config = crate::train::TrainConfig::new(
        config.epochs,
        config.batch_size,
        config.learning_rate,
        seed,
    );
    train_config.learning_rate =
        CosineAnnealingLrSchedulerConfig::new(config.learning_rate, iterations.max(1)).into();
    train_config.progress = false;
    let outcome = crate::train::Trainer::new(train_config, out_dir)?.fit(
        &task,
        model,
        AdamConfig::new().init(),
        &ad,
        false,
    )?;
    Ok((diffusion, outcome.model.valid()))
}
