//! The multilayer perceptron (Rosenblatt 1958; Rumelhart, Hinton & Williams 1986).
//!
//! Course slide "le perceptron multicouche". Layers ℓ = 1…L of widths n₀ (inputs) … n_L (outputs):
//!
//! ```text
//! h⁰ = x,   hˡ = f(Wˡ hˡ⁻¹ + bˡ) for ℓ < L,   ŷ = W^L h^{L−1} + b^L
//! ```
//!
//! Layer ℓ has (n_{ℓ−1} + 1)·n_ℓ parameters (weights plus one bias per neuron), so an MLP with n
//! inputs, hidden widths p and q and two outputs has (n+1)p + (p+1)q + (q+1)·2 parameters:
//! 242 for n = p = q = 10.
//!
//! ```
//! use burn::prelude::*;
//! use hepnn_nn::mlp::MlpConfig;
//! let config = MlpConfig::new(vec![10, 10, 10, 2]);
//! let mlp = config.init(&Device::flex());
//! assert_eq!(config.param_count(), 242);
//! assert_eq!(mlp.num_params(), 242);
//! ```

use crate::NnError;
use crate::neuron::Activation;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;

/// Configuration of an [`Mlp`].
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// Layer widths from the input to the output: `[n_inputs, hidden..., n_outputs]`
    /// (at least two entries, all positive).
    pub sizes: Vec<usize>,
    /// The activation f after every hidden layer (the output layer is linear).
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
    /// Normalise every hidden layer's pre-activation with LayerNorm (Ba et al.,
    /// arXiv:1607.06450), as Exa.TrkX's networks do: `f(LN(Wx + b))`.
    #[config(default = false)]
    pub layer_norm: bool,
}

impl MlpConfig {
    /// Checks the widths: at least an input and an output, none zero.
    pub fn validate(&self) -> crate::Result<()> {
        if self.sizes.len() < 2 || self.sizes.contains(&0) {
            return Err(NnError::InvalidConfig {
                field: "sizes",
                value: format!("{:?}", self.sizes),
                expected: "at least two layer widths, all positive".into(),
            });
        }
        Ok(())
    }

    /// The number of trainable parameters, Σₗ (n_{ℓ−1} + 1)·n_ℓ.
    pub fn param_count(&self) -> usize {
        self.sizes.windows(2).map(|w| (w[0] + 1) * w[1]).sum()
    }

    /// Builds the MLP (burn's default Kaiming-uniform initialisation).
    ///
    /// # Panics
    /// When the widths are invalid; call [`MlpConfig::validate`] first on user input.
    pub fn init(&self, device: &Device) -> Mlp {
        self.validate()
            .expect("MLP widths checked by MlpConfig::validate");
        Mlp {
            layers: self
                .sizes
                .windows(2)
                .map(|w| LinearConfig::new(w[0], w[1]).init(device))
                .collect(),
            norms: if self.layer_norm {
                self.sizes[1..self.sizes.len() - 1]
                    .iter()
                    .map(|&d| LayerNormConfig::new(d).init(device))
                    .collect()
            } else {
                Vec::new()
            },
            activation: self.activation,
        }
    }
}

/// A multilayer perceptron: linear layers with an activation between them.
#[derive(Module, Debug)]
pub struct Mlp {
    /// The linear layers, input first.
    pub layers: Vec<Linear>,
    /// LayerNorm after each hidden linear layer (empty without `layer_norm`).
    pub norms: Vec<LayerNorm>,
    /// The hidden activation.
    #[module(skip)]
    pub activation: Activation,
}

impl Mlp {
    /// ŷ = W^L f(… f(W¹x + b¹) …) + b^L (with `layer_norm`, f(LN(Wˡh + bˡ)) in every hidden
    /// layer).
    ///
    /// # Shapes
    /// - input: `[batch, n_inputs]`
    /// - output: `[batch, n_outputs]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        self.layers.iter().enumerate().fold(x, |h, (i, layer)| {
            let z = layer.forward(h);
            if i < last {
                let z = match self.norms.get(i) {
                    Some(norm) => norm.forward(z),
                    None => z,
                };
                self.activation.forward(z)
            } else {
                z
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_count_is_242_for_n_p_q_10() {
        let (n, p, q) = (10, 10, 10);
        let config = MlpConfig::new(vec![n, p, q, 2]);
        assert_eq!((n + 1) * p + (p + 1) * q + (q + 1) * 2, 242);
        assert_eq!(config.param_count(), 242);
        assert_eq!(config.init(&Device::flex()).num_params(), 242);
    }

    #[test]
    fn forward_shape_and_linear_output() {
        let device = Device::flex();
        let mlp = MlpConfig::new(vec![3, 5, 2])
            .with_activation(Activation::Tanh)
            .init(&device);
        let y = mlp.forward(Tensor::<2>::ones([4, 3], &device));
        assert_eq!(y.dims(), [4, 2]);
    }

    #[test]
    fn invalid_widths_are_rejected() {
        assert!(MlpConfig::new(vec![3]).validate().is_err());
        assert!(MlpConfig::new(vec![3, 0, 1]).validate().is_err());
    }
}
