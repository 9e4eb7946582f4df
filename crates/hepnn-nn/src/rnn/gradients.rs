//! Vanishing and exploding gradients, measured: ‖∂L/∂h_t‖ against the time lag T − t.
//!
//! Course slide "le problème du gradient qui disparaît"; Bengio, Simard & Frasconi 1994
//! (<https://doi.org/10.1109/72.279181>), Pascanu, Mikolov & Bengio 2013
//! (<https://arxiv.org/abs/1211.5063>). For the simple cell
//!
//! ```text
//! ∂L/∂h_t = ∂L/∂h_T · Π_{k=t+1..T} diag(1 − h_k²) W_hh
//! ```
//!
//! so with W_hh = ρ·Q (Q orthogonal, spectral radius ρ) the gradient shrinks at least as ρ^{T−t}
//! when ρ < 1 and can grow as ρ^{T−t} when ρ > 1 (as long as tanh is not saturated). The LSTM
//! carries its memory along c_t = f ⊙ c_{t−1} + i ⊙ g, whose Jacobian is diag(f): with the forget
//! gate open (f ≈ 1) the gradient survives 50 steps.
//!
//! The gradient with respect to an intermediate h_t is read by adding a zero leaf tensor δ_t to
//! h_t in the unrolled loop: ∂L/∂δ_t = ∂L/∂h_t.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution as _, StandardNormal};

use super::{ElmanCell, ElmanCellConfig, LstmCellConfig, RecurrentCell};

/// ‖∂L/∂h_t‖ for one network, against the lag T − t.
#[derive(Debug, Clone)]
pub struct GradientProfile {
    /// Legend label, e.g. "RNN, ρ = 0.8".
    pub label: String,
    /// `norms[lag]` = mean over the batch of ‖∂L/∂h_{T−lag}‖, lag = 0…T−1.
    pub norms: Vec<f64>,
}

impl GradientProfile {
    /// ‖∂L/∂h_{T−lag}‖ / ‖∂L/∂h_T‖.
    pub fn ratio(&self, lag: usize) -> f64 {
        self.norms[lag] / self.norms[0]
    }
}

/// Measures ‖∂L/∂h_t‖ for `cell` on `input` `[B, T, I]`, with L = Σ_b u·h_T (u a fixed unit
/// vector of ones/√H): one backward pass, the per-step gradients read from zero leaves δ_t.
/// `device` must be an autodiff device.
pub fn gradient_norms(cell: &dyn RecurrentCell, input: Tensor<3>) -> Vec<f64> {
    let [batch, steps, _] = input.dims();
    let device = input.device();
    let h = cell.d_hidden();
    let mut state = cell.zero_state(batch, &device);
    let mut leaves = Vec::with_capacity(steps);
    for x_t in input.chunk(steps, 1) {
        let p_t = cell.input_projection(x_t).squeeze_dim::<2>(1);
        state = cell.step(p_t, state);
        let delta = Tensor::<2>::zeros([batch, h], &device).require_grad();
        state.hidden = state.hidden + delta.clone();
        leaves.push(delta);
    }
    let loss = state.hidden.sum().div_scalar((h as f64).sqrt());
    let grads = loss.backward();
    leaves
        .iter()
        .rev()
        .map(|delta| {
            delta.grad(&grads).map_or(0.0, |g| {
                let per_seq = g.square().sum_dim(1).sqrt().mean();
                f64::from(per_seq.into_scalar::<f32>())
            })
        })
        .collect()
}

/// An orthogonal `n × n` matrix from a seeded Gaussian one (Gram–Schmidt in f64), row-major.
pub fn random_orthogonal(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows: Vec<Vec<f64>> = Vec::with_capacity(n);
    while rows.len() < n {
        let mut v: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
        for r in &rows {
            let dot: f64 = v.iter().zip(r).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(r).for_each(|(a, b)| *a -= dot * b);
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 1e-6 {
            rows.push(v.into_iter().map(|a| a / norm).collect());
        }
    }
    rows.concat()
}

/// An Elman cell whose recurrent matrix is ρ·Q, Q a seeded random orthogonal matrix (every
/// eigenvalue and singular value of W_hh has modulus ρ), both biases zero (so that small inputs
/// keep tanh in its linear range and the ρ^{T−t} law shows).
pub fn elman_with_radius(
    d_input: usize,
    d_hidden: usize,
    radius: f64,
    seed: u64,
    device: &Device,
) -> ElmanCell {
    let mut cell = ElmanCellConfig::new(d_input, d_hidden).init(device);
    let q: Vec<f32> = random_orthogonal(d_hidden, seed)
        .into_iter()
        .map(|x| (radius * x) as f32)
        .collect();
    cell.hidden.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(q, [d_hidden, d_hidden]),
        device,
    ));
    cell.hidden.bias = Some(Param::from_tensor(Tensor::zeros([d_hidden], device)));
    cell.input.bias = Some(Param::from_tensor(Tensor::zeros([d_hidden], device)));
    cell
}

/// Settings of [`vanishing_gradient_demo`].
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Sequence length T.
    pub steps: usize,
    /// Sequences averaged over.
    pub batch: usize,
    /// Input features.
    pub d_input: usize,
    /// Hidden size.
    pub d_hidden: usize,
    /// Spectral radius below 1 (vanishing).
    pub radius_small: f64,
    /// Spectral radius above 1 (exploding).
    pub radius_large: f64,
    /// Standard deviation of the Gaussian inputs.
    pub input_scale: f64,
    /// The LSTM's forget-gate bias (memory open).
    pub forget_bias: f64,
    /// Seed of the weights and inputs.
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            steps: 50,
            batch: 16,
            d_input: 8,
            d_hidden: 32,
            radius_small: 0.8,
            radius_large: 1.2,
            input_scale: 0.01,
            forget_bias: 3.0,
            seed: 7,
        }
    }
}

/// ‖∂L/∂h_t‖ against the lag for the simple RNN (ρ < 1 and ρ > 1), the LSTM with its forget
/// gate open, and the LSTM at PyTorch's default initialisation, on the same inputs.
/// `device` must be an autodiff device.
pub fn vanishing_gradient_demo(options: &DemoOptions, device: &Device) -> Vec<GradientProfile> {
    let o = options;
    device.seed(o.seed);
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
    let values: Vec<f32> = (0..o.batch * o.steps * o.d_input)
        .map(|_| {
            let z: f64 = StandardNormal.sample(&mut rng);
            (o.input_scale * z) as f32
        })
        .collect();
    let input = Tensor::<3>::from_data(
        TensorData::new(values, [o.batch, o.steps, o.d_input]),
        device,
    );
    let small = elman_with_radius(o.d_input, o.d_hidden, o.radius_small, o.seed, device);
    let large = elman_with_radius(o.d_input, o.d_hidden, o.radius_large, o.seed, device);
    let lstm_open = LstmCellConfig::new(o.d_input, o.d_hidden)
        .with_forget_bias(o.forget_bias)
        .init(device);
    let lstm_default = LstmCellConfig::new(o.d_input, o.d_hidden).init(device);
    vec![
        GradientProfile {
            label: format!("RNN, ρ = {}", o.radius_small),
            norms: gradient_norms(&small, input.clone()),
        },
        GradientProfile {
            label: format!("RNN, ρ = {}", o.radius_large),
            norms: gradient_norms(&large, input.clone()),
        },
        GradientProfile {
            label: format!("LSTM, forget bias {}", o.forget_bias),
            norms: gradient_norms(&lstm_open, input.clone()),
        },
        GradientProfile {
            label: "LSTM, forget bias 0".into(),
            norms: gradient_norms(&lstm_default, input),
        },
    ]
}
