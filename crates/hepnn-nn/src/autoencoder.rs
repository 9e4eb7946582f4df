//! Autoencoders: an encoder squeezes x into a small latent z, a decoder rebuilds x̂ from z.
//!
//! Course slide "auto-encodeurs" (uses: dimension reduction, denoising, anomaly detection).
//! Papers: Hinton & Salakhutdinov 2006 (Science 313, 504); variational autoencoder, Kingma &
//! Welling 2014 (arXiv:1312.6114); denoising autoencoder, Vincent et al. 2008 (ICML).
//!
//! - Reconstruction loss: L_rec = mean over batch and inputs of (x̂ − x)² (x̂ = D(E(x))).
//! - Variational option: the encoder gives μ and log σ²; z = μ + σ ⊙ ε, ε ~ N(0, I) (the
//!   reparameterisation trick, so ∂z/∂μ and ∂z/∂σ exist); loss L_rec + β·KL with
//!   KL(N(μ, σ²) ‖ N(0, I)) = −½ Σ_j (1 + log σ_j² − μ_j² − σ_j²), averaged over the batch and
//!   divided by the number of inputs so that β is comparable across input sizes.
//! - Denoising: train on (noisy x, clean x) pairs with [`reconstruction_loss`].
//! - Anomaly score: the per-item reconstruction error ([`Autoencoder::reconstruction_error`]).
//!
//! [`Autoencoder`] is dense (an [`Mlp`] each way); [`ConvAutoencoder`] encodes images with
//! stride-2 convolutions and decodes with transposed convolutions.
//!
//! ```
//! use burn::prelude::*;
//! use hepnn_nn::autoencoder::AutoencoderConfig;
//! let device = Device::flex();
//! let ae = AutoencoderConfig::new(8, vec![16], 2).init(&device);
//! let out = ae.forward(Tensor::<2>::zeros([3, 8], &device));
//! assert_eq!(out.reconstruction.dims(), [3, 8]);
//! assert_eq!(out.latent.dims(), [3, 2]);
//! ```

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::relu;

use crate::mlp::{Mlp, MlpConfig};
use crate::neuron::Activation;

/// Configuration of a dense [`Autoencoder`].
#[derive(Config, Debug)]
pub struct AutoencoderConfig {
    /// Number of inputs (the decoder gives as many outputs).
    pub inputs: usize,
    /// Hidden widths of the encoder; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// Latent dimension.
    pub latent: usize,
    /// Variational: the encoder gives μ and log σ², z is sampled (Kingma & Welling).
    #[config(default = false)]
    pub variational: bool,
    /// Hidden activation.
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
}

impl AutoencoderConfig {
    /// Builds the autoencoder.
    ///
    /// # Panics
    /// When a width is zero.
    pub fn init(&self, device: &Device) -> Autoencoder {
        let encoder_out = if self.variational {
            2 * self.latent
        } else {
            self.latent
        };
        let mut enc = vec![self.inputs];
        enc.extend(&self.hidden);
        enc.push(encoder_out);
        let mut dec = vec![self.latent];
        dec.extend(self.hidden.iter().rev());
        dec.push(self.inputs);
        Autoencoder {
            encoder: MlpConfig::new(enc)
                .with_activation(self.activation)
                .init(device),
            decoder: MlpConfig::new(dec)
                .with_activation(self.activation)
                .init(device),
            latent: self.latent,
            variational: self.variational,
        }
    }
}

/// What an autoencoder's forward pass gives.
#[derive(Debug, Clone)]
pub struct AeOutput {
    /// x̂, `[batch, inputs]` (or the image shape for [`ConvAutoencoder`], flattened).
    pub reconstruction: Tensor<2>,
    /// z (sampled for a VAE), `[batch, latent]`.
    pub latent: Tensor<2>,
    /// μ and log σ² of a VAE, each `[batch, latent]`; `None` for a plain autoencoder.
    pub posterior: Option<(Tensor<2>, Tensor<2>)>,
}

impl AeOutput {
    /// The loss: L_rec against `target` plus β·KL for a VAE (module docs). Returns
    /// (total, reconstruction, KL) as `[1]` tensors.
    pub fn loss(&self, target: Tensor<2>, beta: f64) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
        let rec = reconstruction_loss(self.reconstruction.clone(), target);
        let kl = match &self.posterior {
            Some((mu, log_var)) => kl_divergence(mu.clone(), log_var.clone())
                .div_scalar(self.reconstruction.dims()[1] as f32),
            None => rec.zeros_like(),
        };
        (rec.clone() + kl.clone().mul_scalar(beta as f32), rec, kl)
    }
}

/// Mean squared error over batch and inputs, `[1]`.
pub fn reconstruction_loss(reconstruction: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
    (reconstruction - target).powi_scalar(2).mean()
}

/// KL(N(μ, σ²) ‖ N(0, I)) summed over latent dimensions, averaged over the batch, `[1]`.
pub fn kl_divergence(mu: Tensor<2>, log_var: Tensor<2>) -> Tensor<1> {
    let batch = mu.dims()[0] as f32;
    (log_var.clone().add_scalar(1.0) - mu.powi_scalar(2) - log_var.exp())
        .sum()
        .mul_scalar(-0.5 / batch)
}

fn reparameterise(stats: Tensor<2>, latent: usize) -> (Tensor<2>, (Tensor<2>, Tensor<2>)) {
    let mu = stats.clone().narrow(1, 0, latent);
    let log_var = stats.narrow(1, latent, latent).clamp(-20.0, 10.0);
    let eps = mu.random_like(Distribution::Normal(0.0, 1.0));
    let z = mu.clone() + log_var.clone().mul_scalar(0.5).exp().mul(eps);
    (z, (mu, log_var))
}

/// A dense autoencoder (or VAE): x → encoder MLP → z → decoder MLP → x̂.
#[derive(Module, Debug)]
pub struct Autoencoder {
    /// E: inputs → latent (2 × latent for a VAE: μ then log σ²).
    pub encoder: Mlp,
    /// D: latent → inputs.
    pub decoder: Mlp,
    /// Latent dimension.
    #[module(skip)]
    pub latent: usize,
    /// VAE or not.
    #[module(skip)]
    pub variational: bool,
}

impl Autoencoder {
    /// The latent code: z = E(x) (μ for a VAE, no sampling).
    ///
    /// # Shapes
    /// - `x`: `[batch, inputs]` → `[batch, latent]`
    pub fn encode(&self, x: Tensor<2>) -> Tensor<2> {
        self.encoder.forward(x).narrow(1, 0, self.latent)
    }

    /// x̂ = D(z).
    ///
    /// # Shapes
    /// - `z`: `[batch, latent]` → `[batch, inputs]`
    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        self.decoder.forward(z)
    }

    /// x̂ = D(E(x)), with z = μ + σ ⊙ ε for a VAE.
    ///
    /// # Shapes
    /// - `x`: `[batch, inputs]`; reconstruction `[batch, inputs]`, latent `[batch, latent]`
    pub fn forward(&self, x: Tensor<2>) -> AeOutput {
        let stats = self.encoder.forward(x);
        let (latent, posterior) = if self.variational {
            let (z, p) = reparameterise(stats, self.latent);
            (z, Some(p))
        } else {
            (stats, None)
        };
        AeOutput {
            reconstruction: self.decode(latent.clone()),
            latent,
            posterior,
        }
    }

    /// The anomaly score: per-item mean squared error ‖D(E(x)) − x‖²/inputs, using μ (no
    /// sampling) for a VAE.
    ///
    /// # Shapes
    /// - `x`: `[batch, inputs]` → `[batch]`
    pub fn reconstruction_error(&self, x: Tensor<2>) -> Tensor<1> {
        let rebuilt = self.decode(self.encode(x.clone()));
        (rebuilt - x).powi_scalar(2).mean_dim(1).squeeze_dim(1)
    }
}

/// Configuration of a [`ConvAutoencoder`] for images `[channels, height, width]`.
#[derive(Config, Debug)]
pub struct ConvAutoencoderConfig {
    /// Input channels.
    pub channels: usize,
    /// Image height (divisible by 2^levels, levels = `filters.len()`).
    pub height: usize,
    /// Image width (divisible by 2^levels).
    pub width: usize,
    /// Filters of each stride-2 3×3 convolution (the decoder mirrors them).
    pub filters: Vec<usize>,
    /// Latent dimension.
    pub latent: usize,
}

impl ConvAutoencoderConfig {
    /// The image size after the encoder's convolutions.
    fn reduced(&self) -> (usize, usize) {
        let f = 1 << self.filters.len();
        (self.height / f, self.width / f)
    }

    /// Checks that the image halves evenly `filters.len()` times.
    pub fn validate(&self) -> crate::Result<()> {
        let f = 1 << self.filters.len();
        if self.filters.is_empty()
            || !self.height.is_multiple_of(f)
            || !self.width.is_multiple_of(f)
            || self.latent == 0
            || self.channels == 0
        {
            return Err(crate::NnError::InvalidConfig {
                field: "ConvAutoencoderConfig",
                value: format!(
                    "{}×{}×{}, filters {:?}, latent {}",
                    self.channels, self.height, self.width, self.filters, self.latent
                ),
                expected: "height and width divisible by 2^levels, at least one level".into(),
            });
        }
        Ok(())
    }

    /// Builds the autoencoder.
    ///
    /// # Panics
    /// When [`ConvAutoencoderConfig::validate`] fails.
    pub fn init(&self, device: &Device) -> ConvAutoencoder {
        self.validate()
            .expect("checked by ConvAutoencoderConfig::validate");
        let (h, w) = self.reduced();
        let last = *self.filters.last().expect("at least one level");
        let mut chans = vec![self.channels];
        chans.extend(&self.filters);
        let convs = chans
            .windows(2)
            .map(|c| {
                Conv2dConfig::new([c[0], c[1]], [3, 3])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device)
            })
            .collect();
        let deconvs = chans
            .windows(2)
            .rev()
            .map(|c| {
                // (in − 1)·2 − 2 + 4 = 2·in: each transposed convolution doubles the size.
                ConvTranspose2dConfig::new([c[1], c[0]], [4, 4])
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .init(device)
            })
            .collect();
        ConvAutoencoder {
            convs,
            to_latent: LinearConfig::new(last * h * w, self.latent).init(device),
            from_latent: LinearConfig::new(self.latent, last * h * w).init(device),
            deconvs,
            shape: [self.channels, self.height, self.width, last, h, w],
        }
    }
}

/// A convolutional autoencoder: stride-2 3×3 convolutions + ReLU → linear → z → linear →
/// transposed 4×4 stride-2 convolutions (ReLU between, linear output).
#[derive(Module, Debug)]
pub struct ConvAutoencoder {
    /// Encoder convolutions.
    pub convs: Vec<Conv2d>,
    /// Flattened features → z.
    pub to_latent: Linear,
    /// z → flattened features.
    pub from_latent: Linear,
    /// Decoder transposed convolutions.
    pub deconvs: Vec<ConvTranspose2d>,
    /// channels, height, width, last filters, reduced height, reduced width.
    #[module(skip)]
    pub shape: [usize; 6],
}

impl ConvAutoencoder {
    /// z = E(x).
    ///
    /// # Shapes
    /// - `x`: `[batch, channels, height, width]` → `[batch, latent]`
    pub fn encode(&self, x: Tensor<4>) -> Tensor<2> {
        let h = self.convs.iter().fold(x, |h, conv| relu(conv.forward(h)));
        let batch = h.dims()[0];
        self.to_latent.forward(h.reshape([batch as i64, -1]))
    }

    /// x̂ = D(z).
    ///
    /// # Shapes
    /// - `z`: `[batch, latent]` → `[batch, channels, height, width]`
    pub fn decode(&self, z: Tensor<2>) -> Tensor<4> {
        let batch = z.dims()[0];
        let [_, _, _, f, h, w] = self.shape;
        let mut x = relu(self.from_latent.forward(z)).reshape([batch, f, h, w]);
        let last = self.deconvs.len() - 1;
        for (i, deconv) in self.deconvs.iter().enumerate() {
            x = deconv.forward(x);
            if i < last {
                x = relu(x);
            }
        }
        x
    }

    /// x̂ = D(E(x)) as an [`AeOutput`] with the images flattened to `[batch, c·h·w]`.
    pub fn forward(&self, x: Tensor<4>) -> AeOutput {
        let batch = x.dims()[0];
        let latent = self.encode(x);
        let rebuilt = self.decode(latent.clone());
        AeOutput {
            reconstruction: rebuilt.reshape([batch as i64, -1]),
            latent,
            posterior: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::optim::{AdamConfig, GradientsParams};

    use super::*;

    #[test]
    fn kl_of_the_prior_is_zero_and_grows_with_the_mean() {
        let device = Device::flex();
        let zero = kl_divergence(
            Tensor::<2>::zeros([4, 3], &device),
            Tensor::<2>::zeros([4, 3], &device),
        );
        assert!(zero.into_scalar::<f32>().abs() < 1e-7);
        // μ = 1 in 3 dimensions, σ = 1: KL = ½ Σ μ² = 1.5 per item.
        let kl = kl_divergence(
            Tensor::<2>::ones([4, 3], &device),
            Tensor::<2>::zeros([4, 3], &device),
        );
        assert!((kl.into_scalar::<f32>() - 1.5).abs() < 1e-6);
        // σ² = e: KL = ½ (e − 1 − 1) per dimension.
        let kl = kl_divergence(
            Tensor::<2>::zeros([1, 1], &device),
            Tensor::<2>::ones([1, 1], &device),
        );
        let expected = 0.5 * (std::f32::consts::E - 2.0);
        assert!((kl.into_scalar::<f32>() - expected).abs() < 1e-6);
    }

    /// Points on a line in 8-D through a 1-D latent: the dense AE and the VAE learn to rebuild
    /// them (error ≪ the data variance), the conv AE rebuilds 8×8 images of a moving bar.
    #[test]
    fn autoencoders_learn_a_one_dimensional_manifold() {
        let device = Device::flex().autodiff();
        device.seed(4);
        let n = 256;
        let direction: Vec<f32> = (0..8).map(|i| ((i as f32) * 0.7).sin()).collect();
        let mut rows = Vec::with_capacity(n * 8);
        for k in 0..n {
            let s = -1.0 + 2.0 * k as f32 / n as f32;
            rows.extend(direction.iter().map(|d| s * d + 0.3 * (s * s) * d.abs()));
        }
        let x = Tensor::<2>::from_data(burn::tensor::TensorData::new(rows, [n, 8]), &device);
        let variance = f64::from(
            (x.clone() - x.clone().mean_dim(0))
                .powi_scalar(2)
                .mean()
                .into_scalar::<f32>(),
        );
        for variational in [false, true] {
            let mut ae = AutoencoderConfig::new(8, vec![32, 32], 1)
                .with_variational(variational)
                .init(&device);
            let mut optim = AdamConfig::new().init();
            for _ in 0..400 {
                let (loss, _, _) = ae.forward(x.clone()).loss(x.clone(), 1e-3);
                let grads = GradientsParams::from_grads(loss.backward(), &ae);
                ae = optim.step(3e-3f64, ae, grads);
            }
            let error = f64::from(
                ae.reconstruction_error(x.clone())
                    .mean()
                    .into_scalar::<f32>(),
            );
            assert!(
                error < 0.05 * variance,
                "variational {variational}: error {error} vs variance {variance}"
            );
        }
        // Conv: a vertical bar at column c of an 8×8 image, c = 0…7.
        let mut images = vec![0f32; 64 * 64];
        for b in 0..64 {
            let c = b % 8;
            for r in 0..8 {
                images[b * 64 + r * 8 + c] = 1.0;
            }
        }
        let img = Tensor::<4>::from_data(
            burn::tensor::TensorData::new(images, [64, 1, 8, 8]),
            &device,
        );
        let mut conv = ConvAutoencoderConfig::new(1, 8, 8, vec![8, 16], 4).init(&device);
        let flat = img.clone().reshape([64, 64]);
        let mut optim = AdamConfig::new().init();
        let mut first = None;
        let mut last = 0.0;
        for _ in 0..300 {
            let loss = reconstruction_loss(conv.forward(img.clone()).reconstruction, flat.clone());
            last = f64::from(loss.clone().into_scalar::<f32>());
            first.get_or_insert(last);
            let grads = GradientsParams::from_grads(loss.backward(), &conv);
            conv = optim.step(3e-3f64, conv, grads);
        }
        // The images have mean square 1/8 = 0.125; the mean image alone leaves 0.109.
        assert!(last < 0.02, "conv AE loss {first:?} → {last}");
        assert!(
            ConvAutoencoderConfig::new(1, 6, 8, vec![8, 16], 4)
                .validate()
                .is_err()
        );
    }
}
