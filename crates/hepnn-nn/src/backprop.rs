//! Backpropagation and gradient descent (Rumelhart, Hinton & Williams, *Nature* 323 (1986) 533).
//!
//! Course slide "rétropropagation du gradient". The loss on a batch is the half sum of squares
//!
//! ```text
//! L = ½ Σₖ (ŷₖ − yₖ)²,     ∂L/∂ŷₖ = ŷₖ − yₖ
//! ```
//!
//! and every weight moves against its gradient, with a learning rate αₜ that may change with the
//! step t (burn's learning-rate schedulers):
//!
//! ```text
//! w ← w − αₜ ∂L/∂w
//! ```
//!
//! The chain rule that carries ∂L/∂ŷ back through the layers is burn's autodiff; its gradients are
//! checked against finite differences by [`crate::gradcheck`]. [`worked_example`] reproduces the
//! classic two-layer sigmoid example by hand (M. Mazur, *A Step by Step Backpropagation Example*,
//! 2015): loss 0.298371109 before, w₅ = 0.35891648 after one step with α = 0.5.

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::optim::lr_scheduler::LrSchedulerConfig;
use burn::optim::lr_scheduler::module_lr_scheduler::{ModuleLrScheduler, ModuleLrSchedulerConfig};
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;

use crate::NnError;

/// L = ½ Σ (ŷ − y)² over every element of the batch.
///
/// # Shapes
/// - `prediction`, `target`: the same shape `[batch, outputs]`
/// - output: `[1]`
pub fn half_squared_error<const D: usize>(prediction: Tensor<D>, target: Tensor<D>) -> Tensor<1> {
    (prediction - target).powi_scalar(2).sum().mul_scalar(0.5)
}

/// Plain gradient descent `w ← w − αₜ ∂L/∂w` (burn's SGD with no momentum and no weight decay),
/// with αₜ from a burn learning-rate schedule.
pub struct GradientDescent {
    optimizer: ModuleOptimizer,
    schedule: ModuleLrScheduler,
    steps: usize,
}

impl GradientDescent {
    /// Gradient descent whose learning rate follows `schedule` (e.g.
    /// `LrSchedulerConfig::Constant(0.5)` or an exponential decay).
    pub fn new(schedule: LrSchedulerConfig) -> crate::Result<Self> {
        let described = format!("{schedule:?}");
        let schedule = ModuleLrSchedulerConfig::new(schedule)
            .init()
            .map_err(|expected| NnError::InvalidConfig {
                field: "learning_rate",
                value: described,
                expected,
            })?;
        Ok(Self {
            optimizer: SgdConfig::new().init(),
            schedule,
            steps: 0,
        })
    }

    /// Back-propagates `loss` and moves every parameter of `model` one step; returns the updated
    /// model and the learning rate αₜ used.
    pub fn step<M: Module>(&mut self, model: M, loss: Tensor<1>) -> (M, f64) {
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = self.schedule.step();
        let alpha = lr.base();
        self.steps += 1;
        (self.optimizer.step(lr, model, grads), alpha)
    }

    /// Number of steps taken.
    pub fn steps(&self) -> usize {
        self.steps
    }
}

/// The two-layer sigmoid network of the worked example: 2 inputs, 2 hidden, 2 outputs, sigmoid on
/// both layers.
#[derive(Module, Debug)]
pub struct TwoLayerSigmoid {
    /// Input → hidden.
    pub hidden: Linear,
    /// Hidden → output.
    pub output: Linear,
}

impl TwoLayerSigmoid {
    /// o = σ(W₂ σ(W₁ x + b₁) + b₂).
    ///
    /// # Shapes
    /// - input `[batch, 2]`, output `[batch, 2]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        use burn::tensor::activation::sigmoid;
        sigmoid(self.output.forward(sigmoid(self.hidden.forward(x))))
    }
}

/// What [`worked_example`] computes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WorkedExample {
    /// ½Σ(ŷ−y)² before the step (by hand: 0.298371109).
    pub loss_before: f64,
    /// ½Σ(ŷ−y)² after one step. Mazur moves only the weights (0.291027924 by hand); here the
    /// biases move too, so the loss falls further.
    pub loss_after: f64,
    /// w₁…w₈ after one step with α = 0.5 (by hand: 0.149780716, 0.19956143, 0.24975114,
    /// 0.29950229, 0.35891648, 0.408666186, 0.511301270, 0.561370121).
    pub weights_after: [f64; 8],
}

/// Mazur's worked example: inputs (0.05, 0.10), targets (0.01, 0.99), weights w₁…w₈ = 0.15, 0.20,
/// 0.25, 0.30, 0.40, 0.45, 0.50, 0.55, biases 0.35 and 0.60; one gradient-descent step, α = 0.5.
///
/// `device` must have autodiff enabled (`Device::flex().autodiff()`).
pub fn worked_example(device: &Device) -> WorkedExample {
    // burn's Linear computes y = x W + b with W of shape [in, out]: W₁ = [[w1, w3], [w2, w4]].
    let linear = |w: [[f32; 2]; 2], b: f32| {
        let mut layer = LinearConfig::new(2, 2).init(device);
        layer.weight = Param::from_tensor(Tensor::<2>::from_floats(w, device));
        layer.bias = Some(Param::from_tensor(Tensor::<1>::from_floats([b, b], device)));
        layer
    };
    let mut model = TwoLayerSigmoid {
        hidden: linear([[0.15, 0.25], [0.20, 0.30]], 0.35),
        output: linear([[0.40, 0.50], [0.45, 0.55]], 0.60),
    };
    let x = Tensor::<2>::from_floats([[0.05, 0.10]], device);
    let y = Tensor::<2>::from_floats([[0.01, 0.99]], device);
    let loss = half_squared_error(model.forward(x.clone()), y.clone());
    let loss_before = f64::from(loss.clone().into_scalar::<f32>());
    let mut descent =
        GradientDescent::new(LrSchedulerConfig::Constant(0.5)).expect("0.5 is a valid rate");
    (model, _) = descent.step(model, loss);
    let loss_after = f64::from(half_squared_error(model.forward(x), y).into_scalar::<f32>());
    let read =
        |t: Tensor<2>| -> Vec<f32> { t.into_data().try_to_vec::<f32>().expect("f32 weights") };
    let w1 = read(model.hidden.weight.val());
    let w2 = read(model.output.weight.val());
    WorkedExample {
        loss_before,
        loss_after,
        weights_after: [w1[0], w1[2], w1[1], w1[3], w2[0], w2[2], w2[1], w2[3]].map(f64::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_matches_the_hand_computation() {
        let ex = worked_example(&Device::flex().autodiff());
        assert!(
            (ex.loss_before - 0.298_371_109).abs() < 1e-6,
            "{}",
            ex.loss_before
        );
        let by_hand = [
            0.149_780_716,
            0.199_561_43,
            0.249_751_14,
            0.299_502_29,
            0.358_916_48,
            0.408_666_186,
            0.511_301_270,
            0.561_370_121,
        ];
        for (i, (got, want)) in ex.weights_after.iter().zip(by_hand).enumerate() {
            assert!(
                (got - want).abs() < 2e-6,
                "w{} = {got}, by hand {want}",
                i + 1
            );
        }
        assert!(ex.loss_after < ex.loss_before);
    }

    #[test]
    fn half_squared_error_by_hand() {
        let device = Device::flex();
        let l = half_squared_error(
            Tensor::<2>::from_floats([[1.0, 2.0], [3.0, 4.0]], &device),
            Tensor::<2>::from_floats([[0.0, 2.0], [1.0, 1.0]], &device),
        );
        // ½(1 + 0 + 4 + 9) = 7
        assert_eq!(l.into_scalar::<f32>(), 7.0);
    }

    #[test]
    fn learning_rate_follows_the_schedule() {
        use burn::optim::lr_scheduler::exponential::ExponentialLrSchedulerConfig;
        let device = Device::flex().autodiff();
        let mut model = crate::mlp::MlpConfig::new(vec![2, 3, 1]).init(&device);
        let mut gd =
            GradientDescent::new(ExponentialLrSchedulerConfig::new(0.1, 0.5).into()).unwrap();
        let x = Tensor::<2>::ones([4, 2], &device);
        let mut rates = vec![];
        for _ in 0..3 {
            let loss = half_squared_error(model.forward(x.clone()), Tensor::zeros([4, 1], &device));
            let (m, lr) = gd.step(model, loss);
            model = m;
            rates.push(lr);
        }
        assert_eq!(rates, vec![0.1, 0.05, 0.025]);
        // A decay factor above one is refused with the field named.
        let err = GradientDescent::new(ExponentialLrSchedulerConfig::new(0.1, 2.0).into())
            .err()
            .expect("gamma = 2 must be refused");
        assert!(err.to_string().contains("learning_rate"), "{err}");
    }
}
