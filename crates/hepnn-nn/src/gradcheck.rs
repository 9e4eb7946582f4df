//! Finite-difference gradient checking, reused by every model's tests.
//!
//! For a scalar loss L(θ) the central difference
//!
//! ```text
//! ∂L/∂θᵢ ≈ (L(θ + εeᵢ) − L(θ − εeᵢ)) / 2ε          (error O(ε²))
//! ```
//!
//! is compared with the gradient burn's autodiff computes. Both run in float64: the module is cast
//! to f64 first (so ε can be 1e-6 without drowning in rounding), which is why the loss closure
//! must cast its own inputs with [`to_f64`]. An entry passes when
//! `|numeric − analytic| ≤ atol + rtol · max(|numeric|, |analytic|)`.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::prelude::*;
use burn::tensor::{DType, TensorData};

/// Options of [`check_module`].
#[derive(Debug, Clone)]
pub struct GradCheckOptions {
    /// The step ε of the central difference.
    pub epsilon: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// At most this many entries are checked per parameter tensor (evenly spaced); all when the
    /// tensor is smaller.
    pub max_entries_per_param: usize,
}

impl Default for GradCheckOptions {
    fn default() -> Self {
        Self {
            epsilon: 1e-6,
            rtol: 1e-5,
            atol: 1e-8,
            max_entries_per_param: 16,
        }
    }
}

/// What [`check_module`] found.
#[derive(Debug, Clone)]
pub struct GradCheckReport {
    /// Number of gradient entries compared.
    pub checked: usize,
    /// Number of entries outside the tolerance.
    pub failed: usize,
    /// Largest |numeric − analytic|.
    pub max_abs_error: f64,
    /// Largest |numeric − analytic| / max(|numeric|, |analytic|, 1e-12).
    pub max_rel_error: f64,
    /// The worst entry: (parameter index in visiting order, flat index, numeric, analytic).
    pub worst: Option<(usize, usize, f64, f64)>,
}

impl GradCheckReport {
    /// True when every checked entry is within tolerance and at least one was checked.
    pub fn passed(&self) -> bool {
        self.checked > 0 && self.failed == 0
    }
}

/// Casts a tensor to float64 (use inside the loss closure for inputs and targets).
pub fn to_f64<const D: usize>(tensor: Tensor<D>) -> Tensor<D> {
    tensor.cast(DType::F64)
}

struct CastToF64;

impl ModuleMapper for CastToF64 {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        // A fresh leaf: the cast must not hide the parameter behind a non-leaf node.
        param.map(|t| t.cast(DType::F64).detach().require_grad())
    }
}

/// Collects (id, flat values) of every float parameter, in visiting order.
#[derive(Default)]
struct Collect {
    params: Vec<(ParamId, Vec<f64>)>,
}

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let values = param
            .val()
            .into_data()
            .convert::<f64>()
            .try_to_vec::<f64>()
            .expect("float parameter converts to f64");
        self.params.push((param.id, values));
    }
}

/// Adds `delta` to entry `index` of the parameter `id`.
struct Nudge {
    id: ParamId,
    index: usize,
    delta: f64,
}

impl ModuleMapper for Nudge {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if param.id != self.id {
            return param;
        }
        let (index, delta) = (self.index, self.delta);
        param.map(|t| {
            let device = t.device();
            let shape = t.shape();
            let mut values = t.into_data().try_to_vec::<f64>().expect("f64 parameter");
            values[index] += delta;
            Tensor::from_data(TensorData::new(values, shape), (&device, DType::F64))
        })
    }
}

/// Compares burn's autodiff gradient of `loss(module)` with central finite differences, for a
/// sample of entries of every parameter.
///
/// `module` must live on an autodiff device; `loss` must return a scalar (`[1]`) and cast its
/// inputs to f64 with [`to_f64`].
pub fn check_module<M, F>(module: &M, loss: F, options: &GradCheckOptions) -> GradCheckReport
where
    M: Module + Clone,
    F: Fn(&M) -> Tensor<1>,
{
    let module64 = module.clone().map(&mut CastToF64);
    let grads = loss(&module64).backward();
    let mut params = Collect::default();
    module64.visit(&mut params);

    let value = |m: &M| -> f64 {
        loss(m)
            .into_data()
            .convert::<f64>()
            .try_to_vec::<f64>()
            .expect("scalar loss")[0]
    };
    let mut report = GradCheckReport {
        checked: 0,
        failed: 0,
        max_abs_error: 0.0,
        max_rel_error: 0.0,
        worst: None,
    };
    let mut analytic_by_id = Analytic {
        grads: &grads,
        found: Vec::new(),
    };
    module64.visit(&mut analytic_by_id);

    for (p, ((id, values), analytic)) in params.params.iter().zip(&analytic_by_id.found).enumerate()
    {
        let n = values.len();
        let count = n.min(options.max_entries_per_param.max(1));
        for k in 0..count {
            let index = k * n / count;
            let eps = options.epsilon;
            let plus = module64.clone().map(&mut Nudge {
                id: *id,
                index,
                delta: eps,
            });
            let minus = module64.clone().map(&mut Nudge {
                id: *id,
                index,
                delta: -eps,
            });
            let numeric = (value(&plus) - value(&minus)) / (2.0 * eps);
            let analytic = analytic.as_ref().map_or(0.0, |g| g[index]);
            let abs = (numeric - analytic).abs();
            let rel = abs / numeric.abs().max(analytic.abs()).max(1e-12);
            report.checked += 1;
            if abs > options.atol + options.rtol * numeric.abs().max(analytic.abs()) {
                report.failed += 1;
            }
            if abs >= report.max_abs_error {
                report.worst = Some((p, index, numeric, analytic));
            }
            report.max_abs_error = report.max_abs_error.max(abs);
            report.max_rel_error = report.max_rel_error.max(rel);
        }
    }
    report
}

/// Reads each parameter's autodiff gradient (None where it received none).
struct Analytic<'a> {
    grads: &'a burn::tensor::Gradients,
    found: Vec<Option<Vec<f64>>>,
}

impl ModuleVisitor for Analytic<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let grad = param.val().grad(self.grads).map(|g| {
            g.into_data()
                .convert::<f64>()
                .try_to_vec::<f64>()
                .expect("f64 gradient")
        });
        self.found.push(grad);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backprop::half_squared_error;
    use crate::mlp::MlpConfig;
    use crate::neuron::Activation;

    #[test]
    fn burn_autodiff_matches_finite_differences_on_an_mlp() {
        let device = Device::flex().autodiff();
        device.seed(7);
        let mlp = MlpConfig::new(vec![3, 5, 4, 2])
            .with_activation(Activation::Tanh)
            .init(&device);
        let x = Tensor::<2>::random([6, 3], burn::tensor::Distribution::Default, &device);
        let y = Tensor::<2>::random([6, 2], burn::tensor::Distribution::Default, &device);
        let report = check_module(
            &mlp,
            |m| half_squared_error(m.forward(to_f64(x.clone())), to_f64(y.clone())),
            &GradCheckOptions::default(),
        );
        assert!(report.passed(), "{report:?}");
        assert!(report.checked >= 40, "{report:?}");
        assert!(report.max_rel_error < 1e-6, "{report:?}");
    }

    #[test]
    fn a_wrong_gradient_is_caught() {
        // The loss uses detach() on the first layer's output: autodiff then gives the first
        // layer no gradient, but finite differences see it move the loss. The check must fail.
        let device = Device::flex().autodiff();
        device.seed(3);
        let mlp = MlpConfig::new(vec![2, 3, 1]).init(&device);
        let x = Tensor::<2>::random([4, 2], burn::tensor::Distribution::Default, &device);
        let report = check_module(
            &mlp,
            |m| {
                let h = m.layers[0].forward(to_f64(x.clone())).detach();
                m.layers[1].forward(m.activation.forward(h)).sum()
            },
            &GradCheckOptions::default(),
        );
        assert!(!report.passed(), "{report:?}");
    }
}
