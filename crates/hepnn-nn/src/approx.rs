//! Universal approximation by a sum of shifted ReLUs (Cybenko 1989; Hornik 1991; Leshno et al.
//! 1993 for non-polynomial activations such as the ReLU).
//!
//! Course slide "approximation universelle". On [a, b] a continuous f is approximated by
//!
//! ```text
//! f_N(x) = c + Σ_{k=0}^{N−1} w_k · ReLU(x − b_k)
//! ```
//!
//! — one hidden layer of N ReLU neurons with unit input weight and bias −b_k, and a linear
//! output. The constructive proof ([`ReluSum::interpolate`]): put the shifts on N + 1 equally
//! spaced knots x₀ … x_N and choose w_k as the change of slope at x_k; f_N is then the
//! piecewise-linear interpolant of f and
//!
//! ```text
//! max |f − f_N| ≤ h² / 8 · max |f''|,    h = (b − a) / N
//! ```
//!
//! so the error falls as 1/N². [`ReluSum::fit`] then trains all 2N + 1 numbers (shifts included)
//! by gradient descent (Adam) on the squared error over a dense grid, on burn.
//!
//! ```
//! use hepnn_nn::approx::ReluSum;
//! let f = |x: f64| x.sin();
//! let tau = std::f64::consts::TAU;
//! let e4 = ReluSum::interpolate(f, 0.0, tau, 4).max_error(f, 0.0, tau, 2001);
//! let e64 = ReluSum::interpolate(f, 0.0, tau, 64).max_error(f, 0.0, tau, 2001);
//! assert!(e64 < 1.3e-3 && e64 < e4 / 100.0);
//! ```

use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use serde::Serialize;

/// f_N(x) = c + Σ_k w_k · ReLU(x − b_k).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReluSum {
    /// The shifts b_k.
    pub shifts: Vec<f64>,
    /// The output weights w_k.
    pub weights: Vec<f64>,
    /// The constant c.
    pub offset: f64,
}

impl ReluSum {
    /// The constructive approximation: the piecewise-linear interpolant of `f` on `n` equal
    /// intervals of [lo, hi], written as `n` shifted ReLUs.
    ///
    /// # Panics
    /// When `n` is zero or `hi <= lo`.
    pub fn interpolate(f: impl Fn(f64) -> f64, lo: f64, hi: f64, n: usize) -> Self {
        assert!(
            n > 0 && hi > lo,
            "need n ≥ 1 intervals on a non-empty range"
        );
        let h = (hi - lo) / n as f64;
        let knots: Vec<f64> = (0..=n).map(|k| lo + h * k as f64).collect();
        let values: Vec<f64> = knots.iter().map(|&x| f(x)).collect();
        let slopes: Vec<f64> = values.windows(2).map(|v| (v[1] - v[0]) / h).collect();
        let weights = (0..n)
            .map(|k| {
                if k == 0 {
                    slopes[0]
                } else {
                    slopes[k] - slopes[k - 1]
                }
            })
            .collect();
        Self {
            shifts: knots[..n].to_vec(),
            weights,
            offset: values[0],
        }
    }

    /// Number of ReLUs N.
    pub fn len(&self) -> usize {
        self.shifts.len()
    }

    /// True when there is no ReLU.
    pub fn is_empty(&self) -> bool {
        self.shifts.is_empty()
    }

    /// f_N(x).
    pub fn eval(&self, x: f64) -> f64 {
        self.offset
            + self
                .shifts
                .iter()
                .zip(&self.weights)
                .map(|(b, w)| w * (x - b).max(0.0))
                .sum::<f64>()
    }

    /// max |f − f_N| on `samples` equally spaced points of [lo, hi].
    pub fn max_error(&self, f: impl Fn(f64) -> f64, lo: f64, hi: f64, samples: usize) -> f64 {
        grid(lo, hi, samples)
            .map(|x| (f(x) - self.eval(x)).abs())
            .fold(0.0, f64::max)
    }

    /// Trains every shift, weight and the offset by Adam on ½Σ(f_N(x) − f(x))² over a grid of
    /// `samples` points, starting from `self`; `device` must have autodiff enabled.
    pub fn fit(
        &self,
        f: impl Fn(f64) -> f64,
        lo: f64,
        hi: f64,
        options: &FitOptions,
        device: &Device,
    ) -> Self {
        let n = self.len();
        let xs: Vec<f32> = grid(lo, hi, options.samples).map(|x| x as f32).collect();
        let ys: Vec<f32> = grid(lo, hi, options.samples).map(|x| f(x) as f32).collect();
        let m = xs.len();
        let x = Tensor::<1>::from_floats(xs.as_slice(), device).reshape([m, 1]);
        let y = Tensor::<1>::from_floats(ys.as_slice(), device).reshape([m, 1]);
        let mut net = ReluSumNet::from_sum(self, device);
        let mut optim = AdamConfig::new().init();
        for _ in 0..options.steps {
            let loss = crate::backprop::half_squared_error(net.forward(x.clone()), y.clone())
                .div_scalar(m as f64);
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(options.learning_rate, net, grads);
        }
        net.to_sum(n)
    }
}

/// Options of [`ReluSum::fit`].
#[derive(Debug, Clone)]
pub struct FitOptions {
    /// Adam steps (full batch).
    pub steps: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Grid points the squared error is summed over.
    pub samples: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            steps: 300,
            learning_rate: 1e-3,
            samples: 512,
        }
    }
}

fn grid(lo: f64, hi: f64, samples: usize) -> impl Iterator<Item = f64> {
    let n = samples.max(2);
    (0..n).map(move |i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
}

/// The same sum as a burn module: hidden = ReLU(x·1 − b), output = hidden·w + c.
#[derive(Module, Debug)]
struct ReluSumNet {
    hidden: Linear,
    output: Linear,
}

impl ReluSumNet {
    fn from_sum(sum: &ReluSum, device: &Device) -> Self {
        let n = sum.len();
        let to_f32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
        let mut hidden = LinearConfig::new(1, n).init(device);
        hidden.weight = Param::from_tensor(Tensor::<2>::ones([1, n], device));
        let neg_shifts: Vec<f64> = sum.shifts.iter().map(|b| -b).collect();
        hidden.bias = Some(Param::from_tensor(Tensor::<1>::from_floats(
            to_f32(&neg_shifts).as_slice(),
            device,
        )));
        let mut output = LinearConfig::new(n, 1).init(device);
        output.weight = Param::from_tensor(
            Tensor::<1>::from_floats(to_f32(&sum.weights).as_slice(), device).reshape([n, 1]),
        );
        output.bias = Some(Param::from_tensor(Tensor::<1>::from_floats(
            [sum.offset as f32],
            device,
        )));
        Self { hidden, output }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.output
            .forward(burn::tensor::activation::relu(self.hidden.forward(x)))
    }

    /// Back to (b_k, w_k, c), folding the trained input weight a_k into w_k·ReLU(a_k x + β_k):
    /// for a_k > 0 this is w_k a_k · ReLU(x + β_k / a_k) exactly.
    fn to_sum(&self, n: usize) -> ReluSum {
        let read = |t: Tensor<1>| -> Vec<f64> {
            t.into_data()
                .convert::<f64>()
                .try_to_vec::<f64>()
                .expect("f64 values")
        };
        let a = read(self.hidden.weight.val().reshape([n]));
        let beta = read(self.hidden.bias.as_ref().expect("bias").val());
        let w = read(self.output.weight.val().reshape([n]));
        let c = read(self.output.bias.as_ref().expect("bias").val())[0];
        ReluSum {
            shifts: (0..n).map(|k| -beta[k] / a[k]).collect(),
            weights: (0..n).map(|k| w[k] * a[k]).collect(),
            offset: c,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    fn bump(x: f64) -> f64 {
        (-x * x / 2.0).exp()
    }

    #[test]
    fn interpolation_error_obeys_the_h2_bound_and_falls_with_n() {
        let mut previous = f64::INFINITY;
        for n in [4, 8, 16, 32, 64] {
            let h = TAU / n as f64;
            let err =
                ReluSum::interpolate(f64::sin, 0.0, TAU, n).max_error(f64::sin, 0.0, TAU, 4001);
            assert!(err <= h * h / 8.0 * 1.0 + 1e-12, "N={n}: {err} above h²/8");
            assert!(err < previous, "N={n}: error did not fall");
            previous = err;
        }
        // Gaussian bump, max|f''| = 1 on [−4, 4].
        let e64 = ReluSum::interpolate(bump, -4.0, 4.0, 64).max_error(bump, -4.0, 4.0, 4001);
        let e4 = ReluSum::interpolate(bump, -4.0, 4.0, 4).max_error(bump, -4.0, 4.0, 4001);
        assert!(
            e64 < (8.0f64 / 64.0).powi(2) / 8.0 && e64 < e4,
            "{e64} vs {e4}"
        );
    }

    #[test]
    fn the_sum_reproduces_f_at_the_knots() {
        let s = ReluSum::interpolate(f64::sin, 0.0, TAU, 16);
        for k in 0..=16 {
            let x = TAU * k as f64 / 16.0;
            assert!((s.eval(x) - x.sin()).abs() < 1e-12);
        }
    }

    #[test]
    fn training_lowers_the_squared_error() {
        let device = Device::flex().autodiff();
        let start = ReluSum::interpolate(f64::sin, 0.0, TAU, 8);
        let options = FitOptions::default();
        let fitted = start.fit(f64::sin, 0.0, TAU, &options, &device);
        let sse = |s: &ReluSum| {
            grid(0.0, TAU, 512)
                .map(|x| (s.eval(x) - x.sin()).powi(2))
                .sum::<f64>()
        };
        assert!(
            sse(&fitted) < 0.8 * sse(&start),
            "{} vs {}",
            sse(&fitted),
            sse(&start)
        );
    }
}
