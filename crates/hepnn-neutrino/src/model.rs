//! The two-view CNN event classifier, after NOvA's CVN (Aurisano et al., "A Convolutional Neural
//! Network Neutrino Event Classifier", JINST 11 P09001 (2016), arXiv:1604.01444; course slide
//! "NOvA classifies neutrino events with a CNN").
//!
//! Each view (XZ and YZ) goes through its own convolution tower, as in CVN (whose towers are
//! GoogLeNet-like); the two feature maps are flattened, concatenated and classified by a small
//! MLP:
//!
//! ```text
//! h = [flatten(T_xz(x_xz)) ; flatten(T_yz(x_yz))]
//! p(class) = softmax(W₂ ReLU(W₁ h + b₁) + b₂)       classes νμ CC, νe CC, NC
//! ```
//!
//! The input cells hold ln(1 + E/MeV) / 3, so that a minimum-ionising hit (~ 10 MeV) reads ~ 0.8.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use hepnn_nn::cnn::{ConvBlockConfig, ConvStack, ConvStackConfig};

/// The classifier's shape.
#[derive(Config, Debug)]
pub struct TwoViewCnnConfig {
    /// Planes per view (image height).
    #[config(default = 64)]
    pub planes: usize,
    /// Cells per plane (image width).
    #[config(default = 48)]
    pub cells: usize,
    /// Output channels of the tower's blocks (5 × 5 first, then 3 × 3; 2 × 2 pooling after each).
    #[config(default = "vec![8, 16, 32]")]
    pub channels: Vec<usize>,
    /// Hidden units of the merged MLP.
    #[config(default = 64)]
    pub hidden: usize,
    /// Number of classes.
    #[config(default = 3)]
    pub classes: usize,
}

impl TwoViewCnnConfig {
    /// One view's tower.
    pub fn tower(&self) -> ConvStackConfig {
        let mut blocks = Vec::new();
        let mut c_in = 1;
        for (i, &c) in self.channels.iter().enumerate() {
            blocks.push(ConvBlockConfig::same(
                c_in,
                c,
                if i == 0 { 5 } else { 3 },
                2,
            ));
            c_in = c;
        }
        ConvStackConfig::new(blocks)
    }

    /// Features of one view after its tower.
    pub fn features_per_view(&self) -> usize {
        let (c, h, w) = self.tower().output_shape(self.planes, self.cells);
        c * h * w
    }

    /// The classifier, initialised.
    pub fn init(&self, device: &Device) -> TwoViewCnn {
        let tower = self.tower();
        TwoViewCnn {
            xz_tower: tower.init(device),
            yz_tower: tower.init(device),
            hidden: LinearConfig::new(2 * self.features_per_view(), self.hidden).init(device),
            output: LinearConfig::new(self.hidden, self.classes).init(device),
        }
    }
}

/// The two-view classifier, see [`TwoViewCnnConfig`].
#[derive(Module, Debug)]
pub struct TwoViewCnn {
    /// Convolution tower of the XZ view.
    pub xz_tower: ConvStack,
    /// Convolution tower of the YZ view.
    pub yz_tower: ConvStack,
    /// First layer of the merged MLP.
    pub hidden: Linear,
    /// Class logits.
    pub output: Linear,
}

impl TwoViewCnn {
    /// Class logits of a batch of events.
    ///
    /// # Shapes
    /// - `xz`, `yz`: `[batch, 1, planes, cells]`
    /// - output: `[batch, classes]`
    pub fn forward(&self, xz: Tensor<4>, yz: Tensor<4>) -> Tensor<2> {
        let a: Tensor<2> = self.xz_tower.forward(xz).flatten(1, 3);
        let b: Tensor<2> = self.yz_tower.forward(yz).flatten(1, 3);
        let h = relu(self.hidden.forward(Tensor::cat(vec![a, b], 1)));
        self.output.forward(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn towers_merge_into_class_logits() {
        let device = Device::flex();
        let config = TwoViewCnnConfig::new();
        assert_eq!(config.features_per_view(), 32 * 8 * 6);
        let model = config.init(&device);
        let x = Tensor::zeros([3, 1, 64, 48], &device);
        assert_eq!(model.forward(x.clone(), x).dims(), [3, 3]);
    }
}
