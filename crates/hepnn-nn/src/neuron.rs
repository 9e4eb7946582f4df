//! The formal neuron: McCulloch & Pitts (1943) and the general neuron.
//!
//! Course slide "le neurone formel". Paper: W. S. McCulloch and W. Pitts, *A logical calculus of
//! the ideas immanent in nervous activity*, Bull. Math. Biophys. 5 (1943) 115.
//!
//! **McCulloch–Pitts neuron**: boolean inputs xᵢ ∈ {0, 1}, integer weights wᵢ and a threshold θ,
//!
//! ```text
//! y = H(Σᵢ wᵢ xᵢ − θ),      H(z) = 1 if z ≥ 0, else 0   (Heaviside)
//! ```
//!
//! One such neuron computes AND, OR, NOT or NAND; XOR needs two layers. Because NAND alone is
//! universal, networks of these neurons compute any boolean function: [`ripple_carry_add4`] is a
//! 4-bit adder made of nothing but neurons (the slide's "Turing-complete assembly", concretely).
//!
//! **General neuron**: real inputs, a bias w₀ and a non-linear activation f,
//!
//! ```text
//! y = f(w₀ + Σᵢ wᵢ xᵢ)
//! ```
//!
//! ```
//! use hepnn_nn::neuron::{gates, ripple_carry_add4};
//! assert!(gates::and().fire(&[true, true]));
//! assert!(!gates::xor(true, true));
//! assert_eq!(ripple_carry_add4(9, 8), (1, true)); // 9 + 8 = 17 = 16 + 1
//! ```

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// The Heaviside step H(z) = 1 for z ≥ 0, else 0.
pub fn heaviside(z: f64) -> f64 {
    if z >= 0.0 { 1.0 } else { 0.0 }
}

/// A McCulloch–Pitts neuron: `y = H(Σ wᵢ xᵢ − θ)` on boolean inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McCullochPitts {
    /// One integer weight per input (+1 excitatory, −1 inhibitory in the classic gates).
    pub weights: Vec<i32>,
    /// The firing threshold θ.
    pub threshold: i32,
}

impl McCullochPitts {
    /// A neuron with the given weights and threshold.
    pub fn new(weights: Vec<i32>, threshold: i32) -> Self {
        Self { weights, threshold }
    }

    /// Fires (returns `true`) when `Σ wᵢ xᵢ ≥ θ`.
    ///
    /// # Panics
    /// When `inputs.len()` differs from the number of weights: wiring a circuit wrongly is a
    /// programming error, not bad data.
    pub fn fire(&self, inputs: &[bool]) -> bool {
        assert_eq!(
            inputs.len(),
            self.weights.len(),
            "McCulloch–Pitts neuron wired with the wrong number of inputs"
        );
        let sum: i32 = self
            .weights
            .iter()
            .zip(inputs)
            .map(|(w, &x)| if x { *w } else { 0 })
            .sum();
        heaviside(f64::from(sum - self.threshold)) > 0.5
    }
}

/// Logic gates, each one McCulloch–Pitts neuron or a small network of them.
pub mod gates {
    use super::McCullochPitts;

    /// AND: w = (1, 1), θ = 2.
    pub fn and() -> McCullochPitts {
        McCullochPitts::new(vec![1, 1], 2)
    }
    /// OR: w = (1, 1), θ = 1.
    pub fn or() -> McCullochPitts {
        McCullochPitts::new(vec![1, 1], 1)
    }
    /// NOT: w = (−1), θ = 0.
    pub fn not() -> McCullochPitts {
        McCullochPitts::new(vec![-1], 0)
    }
    /// NAND: w = (−1, −1), θ = −1.
    pub fn nand() -> McCullochPitts {
        McCullochPitts::new(vec![-1, -1], -1)
    }
    /// XOR is not linearly separable: two layers, `AND(OR(a, b), NAND(a, b))` — three neurons.
    pub fn xor(a: bool, b: bool) -> bool {
        and().fire(&[or().fire(&[a, b]), nand().fire(&[a, b])])
    }
    /// Majority of three: w = (1, 1, 1), θ = 2 — the carry of a full adder in one neuron.
    pub fn majority3() -> McCullochPitts {
        McCullochPitts::new(vec![1, 1, 1], 2)
    }
}

/// Number of neurons in one [`full_adder`]: two XORs (3 each) and one majority neuron.
pub const NEURONS_PER_FULL_ADDER: usize = 7;

/// A one-bit full adder made of neurons: `(sum, carry_out)` of `a + b + carry_in`.
///
/// sum = XOR(XOR(a, b), c), carry = majority(a, b, c).
pub fn full_adder(a: bool, b: bool, carry_in: bool) -> (bool, bool) {
    let sum = gates::xor(gates::xor(a, b), carry_in);
    let carry = gates::majority3().fire(&[a, b, carry_in]);
    (sum, carry)
}

/// A 4-bit ripple-carry adder made only of McCulloch–Pitts neurons (4 full adders,
/// 4 × [`NEURONS_PER_FULL_ADDER`] neurons). Returns the low 4 bits of `a + b` and the carry out.
/// Only the low 4 bits of `a` and `b` are used.
pub fn ripple_carry_add4(a: u8, b: u8) -> (u8, bool) {
    let mut carry = false;
    let mut sum = 0u8;
    for bit in 0..4 {
        let (s, c) = full_adder((a >> bit) & 1 == 1, (b >> bit) & 1 == 1, carry);
        sum |= u8::from(s) << bit;
        carry = c;
    }
    (sum, carry)
}

/// Checks [`ripple_carry_add4`] against integer addition on all 16 × 16 = 256 input pairs and
/// returns how many are right (256 when the circuit is correct).
pub fn adder_cases_passed() -> usize {
    (0u8..16)
        .flat_map(|a| (0u8..16).map(move |b| (a, b)))
        .filter(|&(a, b)| {
            let (sum, carry) = ripple_carry_add4(a, b);
            u16::from(sum) + 16 * u16::from(carry) == u16::from(a) + u16::from(b)
        })
        .count()
}

/// The activation functions of the course, applied element-wise to a tensor.
///
/// burn's implementations are used where burn has them (sigmoid, tanh, ReLU, leaky ReLU,
/// softplus, SiLU, GELU); Heaviside is a comparison (its derivative is zero almost everywhere,
/// which is why it cannot be trained by gradient descent).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Activation {
    /// H(z) = 1 for z ≥ 0, else 0.
    Heaviside,
    /// σ(z) = 1 / (1 + e^−z).
    Sigmoid,
    /// tanh(z).
    Tanh,
    /// max(0, z).
    #[default]
    Relu,
    /// z for z ≥ 0, slope·z otherwise.
    LeakyRelu {
        /// The slope for negative z (typically 0.01).
        slope: f64,
    },
    /// ln(1 + e^z).
    Softplus,
    /// z·σ(z) (also called swish).
    Silu,
    /// z·Φ(z), Φ the standard normal CDF (exact, erf form).
    Gelu,
    /// The identity (a linear neuron).
    Identity,
}

impl Activation {
    /// Applies the activation element-wise.
    pub fn forward<const D: usize>(&self, z: Tensor<D>) -> Tensor<D> {
        use burn::tensor::activation as act;
        match *self {
            Activation::Heaviside => z.greater_equal_elem(0.0).float(),
            Activation::Sigmoid => act::sigmoid(z),
            Activation::Tanh => act::tanh(z),
            Activation::Relu => act::relu(z),
            Activation::LeakyRelu { slope } => act::leaky_relu(z, slope),
            Activation::Softplus => act::softplus(z, 1.0),
            Activation::Silu => act::silu(z),
            Activation::Gelu => act::gelu(z),
            Activation::Identity => z,
        }
    }

    /// The same function on one number (reference for tests and plots).
    pub fn eval(&self, z: f64) -> f64 {
        match *self {
            Activation::Heaviside => heaviside(z),
            Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
            Activation::Tanh => z.tanh(),
            Activation::Relu => z.max(0.0),
            Activation::LeakyRelu { slope } => {
                if z >= 0.0 {
                    z
                } else {
                    slope * z
                }
            }
            Activation::Softplus => z.max(0.0) + (-z.abs()).exp().ln_1p(),
            Activation::Silu => z / (1.0 + (-z).exp()),
            Activation::Gelu => 0.5 * z * (1.0 + erf(z / std::f64::consts::SQRT_2)),
            Activation::Identity => z,
        }
    }

    /// Every activation, for tables and plots.
    pub fn all() -> [Activation; 9] {
        [
            Activation::Heaviside,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Relu,
            Activation::LeakyRelu { slope: 0.01 },
            Activation::Softplus,
            Activation::Silu,
            Activation::Gelu,
            Activation::Identity,
        ]
    }

    /// A short name ("relu", "leaky_relu", ...).
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Heaviside => "heaviside",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Softplus => "softplus",
            Activation::Silu => "silu",
            Activation::Gelu => "gelu",
            Activation::Identity => "identity",
        }
    }
}

/// The error function (Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7): the scalar
/// reference that tests compare burn's GELU with.
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let y = 1.0 - poly * (-x * x).exp();
    if x >= 0.0 { y } else { -y }
}

/// Configuration of a [`Neuron`].
#[derive(Config, Debug)]
pub struct NeuronConfig {
    /// Number of inputs n.
    pub inputs: usize,
    /// The activation f.
    #[config(default = "Activation::Sigmoid")]
    pub activation: Activation,
}

/// The general neuron `y = f(w₀ + Σᵢ wᵢ xᵢ)`: a [`Linear`] layer with one output (its bias is w₀)
/// followed by an [`Activation`].
#[derive(Module, Debug)]
pub struct Neuron {
    /// Weights w₁…wₙ and bias w₀.
    pub linear: Linear,
    /// The activation f.
    #[module(skip)]
    pub activation: Activation,
}

impl NeuronConfig {
    /// Builds the neuron with burn's default initialisation.
    pub fn init(&self, device: &Device) -> Neuron {
        Neuron {
            linear: LinearConfig::new(self.inputs, 1).init(device),
            activation: self.activation,
        }
    }
}

impl Neuron {
    /// `y = f(w₀ + Σᵢ wᵢ xᵢ)`.
    ///
    /// # Shapes
    /// - input: `[batch, n]`
    /// - output: `[batch, 1]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.activation.forward(self.linear.forward(x))
    }

    /// Sets the weights w₁…wₙ and the bias w₀ (for worked examples).
    pub fn with_weights(mut self, weights: &[f32], bias: f32) -> Self {
        let device = self.linear.weight.device();
        let n = weights.len();
        self.linear.weight = burn::module::Param::from_tensor(
            Tensor::<1>::from_floats(weights, &device).reshape([n, 1]),
        );
        self.linear.bias = Some(burn::module::Param::from_tensor(Tensor::<1>::from_floats(
            [bias],
            &device,
        )));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_truth_tables() {
        for a in [false, true] {
            assert_eq!(gates::not().fire(&[a]), !a);
            for b in [false, true] {
                assert_eq!(gates::and().fire(&[a, b]), a && b);
                assert_eq!(gates::or().fire(&[a, b]), a || b);
                assert_eq!(gates::nand().fire(&[a, b]), !(a && b));
                assert_eq!(gates::xor(a, b), a ^ b);
            }
        }
    }

    #[test]
    fn full_adder_truth_table() {
        for n in 0u8..8 {
            let (a, b, c) = (n & 1 == 1, n & 2 == 2, n & 4 == 4);
            let (s, carry) = full_adder(a, b, c);
            let total = u8::from(a) + u8::from(b) + u8::from(c);
            assert_eq!((u8::from(s), carry), (total % 2, total >= 2));
        }
    }

    #[test]
    fn adder_passes_all_256_pairs() {
        assert_eq!(adder_cases_passed(), 256);
        assert_eq!(ripple_carry_add4(15, 15), (14, true));
        assert_eq!(ripple_carry_add4(3, 4), (7, false));
    }

    #[test]
    fn activations_match_their_formulas() {
        let device = Device::flex();
        let zs = [-3.0f32, -0.5, 0.0, 0.7, 2.5];
        for act in Activation::all() {
            let t = act.forward(Tensor::<1>::from_floats(zs, &device));
            let got: Vec<f32> = t.into_data().try_to_vec::<f32>().expect("f32 data");
            for (z, g) in zs.iter().zip(got) {
                let want = act.eval(f64::from(*z));
                assert!(
                    (f64::from(g) - want).abs() < 1e-5,
                    "{}({z}) = {g}, want {want}",
                    act.name()
                );
            }
        }
        // By hand: σ(0) = ½, softplus(0) = ln 2, GELU(1) = Φ(1) = 0.841345.
        assert!((Activation::Sigmoid.eval(0.0) - 0.5).abs() < 1e-12);
        assert!((Activation::Softplus.eval(0.0) - std::f64::consts::LN_2).abs() < 1e-12);
        assert!((Activation::Gelu.eval(1.0) - 0.841_344_7).abs() < 1e-6);
    }

    #[test]
    fn general_neuron_by_hand() {
        // y = σ(0.5 + 1·1 − 2·1) = σ(−0.5) = 0.377541
        let device = Device::flex();
        let neuron = NeuronConfig::new(2)
            .init(&device)
            .with_weights(&[1.0, -2.0], 0.5);
        let y = neuron.forward(Tensor::<2>::from_floats([[1.0, 1.0]], &device));
        let y: f32 = y.into_scalar();
        assert!((y - 0.377_541).abs() < 1e-5, "{y}");
    }
}
