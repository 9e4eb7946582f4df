//! Learned convolutions: a convolution block (conv → ReLU → max-pool), configurable deep stacks
//! with an AlexNet-style preset (Krizhevsky, Sutskever, Hinton, "ImageNet Classification with
//! Deep Convolutional Neural Networks", NeurIPS 2012), and GoogLeNet's inception block (Szegedy et
//! al., "Going deeper with convolutions", arXiv:1409.4842) — course slides "AlexNet (2012)" and
//! "GoogLeNet (2014)".

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;

/// One convolution block: `y = maxpool_p(ReLU(W ⋆ x + b))`.
#[derive(Config, Debug)]
pub struct ConvBlockConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels (number of learned filters).
    pub out_channels: usize,
    /// Square kernel size.
    #[config(default = 3)]
    pub kernel_size: usize,
    /// Convolution stride.
    #[config(default = 1)]
    pub stride: usize,
    /// Zero padding on each side (kernel_size / 2 keeps the size at stride 1).
    #[config(default = 1)]
    pub padding: usize,
    /// Max-pooling window and stride after the ReLU (1: no pooling).
    #[config(default = 2)]
    pub pool: usize,
}

impl ConvBlockConfig {
    /// A block with "same" padding for its kernel and the given pooling.
    pub fn same(in_channels: usize, out_channels: usize, kernel_size: usize, pool: usize) -> Self {
        Self::new(in_channels, out_channels)
            .with_kernel_size(kernel_size)
            .with_padding(kernel_size / 2)
            .with_pool(pool)
    }

    /// Output (height, width) for an input of (height, width).
    pub fn output_size(&self, height: usize, width: usize) -> (usize, usize) {
        let conv =
            |n: usize| (n + 2 * self.padding).saturating_sub(self.kernel_size) / self.stride + 1;
        let pool = |n: usize| n / self.pool.max(1);
        (pool(conv(height)), pool(conv(width)))
    }

    /// Trainable parameters: c_out · c_in · k² + c_out.
    pub fn param_count(&self) -> usize {
        self.out_channels * self.in_channels * self.kernel_size * self.kernel_size
            + self.out_channels
    }

    /// The block, initialised (Kaiming uniform, burn's default).
    pub fn init(&self, device: &Device) -> ConvBlock {
        ConvBlock {
            conv: Conv2dConfig::new(
                [self.in_channels, self.out_channels],
                [self.kernel_size, self.kernel_size],
            )
            .with_stride([self.stride, self.stride])
            .with_padding(PaddingConfig2d::Explicit(
                self.padding,
                self.padding,
                self.padding,
                self.padding,
            ))
            .init(device),
            pool: self.pool.max(1),
        }
    }
}

/// A convolution block, see [`ConvBlockConfig`].
#[derive(Module, Debug)]
pub struct ConvBlock {
    /// The learned filters.
    pub conv: Conv2d,
    /// Pooling window (1: none).
    #[module(skip)]
    pub pool: usize,
}

impl ConvBlock {
    /// `maxpool(ReLU(conv(x)))`, as one fused operation ([`super::conv2d_relu_pool`]) where the
    /// hand-written kernel applies, burn's convolution, ReLU and max-pool otherwise.
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, height, width]`
    /// - output: `[batch, out_channels, height', width']` ([`ConvBlockConfig::output_size`])
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        super::conv2d_relu_pool(&self.conv, x, self.pool)
    }
}

/// A stack of convolution blocks.
#[derive(Config, Debug)]
pub struct ConvStackConfig {
    /// The blocks, in order (each block's input channels = the previous block's output).
    pub blocks: Vec<ConvBlockConfig>,
}

impl ConvStackConfig {
    /// A plain stack: `channels[0]` in, one "same" block per following entry, each with a
    /// `kernel_size` kernel and 2 × 2 pooling.
    pub fn plain(channels: &[usize], kernel_size: usize) -> Self {
        Self::new(
            channels
                .windows(2)
                .map(|c| ConvBlockConfig::same(c[0], c[1], kernel_size, 2))
                .collect(),
        )
    }

    /// AlexNet's five convolutions (96 11×11/4 → pool, 256 5×5 → pool, 384, 384, 256 3×3 → pool),
    /// channel counts multiplied by `width` (1.0: the paper's, ungrouped; 3 × 224 × 224 input).
    /// Pooling here is 2 × 2 (the paper: overlapping 3 × 3, stride 2).
    pub fn alexnet(in_channels: usize, width: f64) -> Self {
        let c = |n: usize| ((n as f64 * width).round() as usize).max(1);
        Self::new(vec![
            ConvBlockConfig::new(in_channels, c(96))
                .with_kernel_size(11)
                .with_stride(4)
                .with_padding(2)
                .with_pool(2),
            ConvBlockConfig::same(c(96), c(256), 5, 2),
            ConvBlockConfig::same(c(256), c(384), 3, 1),
            ConvBlockConfig::same(c(384), c(384), 3, 1),
            ConvBlockConfig::same(c(384), c(256), 3, 2),
        ])
    }

    /// Output (channels, height, width) for an input of (height, width).
    pub fn output_shape(&self, height: usize, width: usize) -> (usize, usize, usize) {
        let (mut h, mut w) = (height, width);
        let mut c = self.blocks.first().map_or(0, |b| b.in_channels);
        for b in &self.blocks {
            (h, w) = b.output_size(h, w);
            c = b.out_channels;
        }
        (c, h, w)
    }

    /// Trainable parameters.
    pub fn param_count(&self) -> usize {
        self.blocks.iter().map(ConvBlockConfig::param_count).sum()
    }

    /// The stack, initialised.
    pub fn init(&self, device: &Device) -> ConvStack {
        ConvStack {
            blocks: self.blocks.iter().map(|b| b.init(device)).collect(),
        }
    }
}

/// A stack of convolution blocks, see [`ConvStackConfig`].
#[derive(Module, Debug)]
pub struct ConvStack {
    /// The blocks.
    pub blocks: Vec<ConvBlock>,
}

impl ConvStack {
    /// The blocks applied in turn.
    ///
    /// # Shapes
    /// - `x`: `[batch, channels, height, width]`
    /// - output: `[batch, c', h', w']` ([`ConvStackConfig::output_shape`])
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.blocks.iter().fold(x, |x, b| b.forward(x))
    }
}

/// GoogLeNet's inception block: four parallel branches concatenated along the channels,
/// `[1×1 | 1×1 → 3×3 | 1×1 → 5×5 | 3×3 max-pool → 1×1]`, each followed by a ReLU; the 1 × 1
/// "reductions" keep the 3 × 3 and 5 × 5 convolutions cheap.
#[derive(Config, Debug)]
pub struct InceptionBlockConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Channels of the 1 × 1 branch.
    pub c1x1: usize,
    /// Channels of the 1 × 1 reduction before the 3 × 3.
    pub c3x3_reduce: usize,
    /// Channels of the 3 × 3 branch.
    pub c3x3: usize,
    /// Channels of the 1 × 1 reduction before the 5 × 5.
    pub c5x5_reduce: usize,
    /// Channels of the 5 × 5 branch.
    pub c5x5: usize,
    /// Channels of the 1 × 1 projection after the 3 × 3 max-pool.
    pub pool_proj: usize,
}

impl InceptionBlockConfig {
    /// GoogLeNet's block "3a" (192 channels in, 256 out).
    pub fn googlenet_3a() -> Self {
        Self::new(192, 64, 96, 128, 16, 32, 32)
    }

    /// Output channels: the four branches together.
    pub fn out_channels(&self) -> usize {
        self.c1x1 + self.c3x3 + self.c5x5 + self.pool_proj
    }

    /// The block, initialised.
    pub fn init(&self, device: &Device) -> InceptionBlock {
        let conv = |i: usize, o: usize, k: usize| ConvBlockConfig::same(i, o, k, 1).init(device);
        InceptionBlock {
            branch1: conv(self.in_channels, self.c1x1, 1),
            branch3_reduce: conv(self.in_channels, self.c3x3_reduce, 1),
            branch3: conv(self.c3x3_reduce, self.c3x3, 3),
            branch5_reduce: conv(self.in_channels, self.c5x5_reduce, 1),
            branch5: conv(self.c5x5_reduce, self.c5x5, 5),
            pool_proj: conv(self.in_channels, self.pool_proj, 1),
        }
    }
}

/// An inception block, see [`InceptionBlockConfig`].
#[derive(Module, Debug)]
pub struct InceptionBlock {
    /// 1 × 1 branch.
    pub branch1: ConvBlock,
    /// 1 × 1 reduction of the 3 × 3 branch.
    pub branch3_reduce: ConvBlock,
    /// 3 × 3 branch.
    pub branch3: ConvBlock,
    /// 1 × 1 reduction of the 5 × 5 branch.
    pub branch5_reduce: ConvBlock,
    /// 5 × 5 branch.
    pub branch5: ConvBlock,
    /// 1 × 1 projection of the pooled input.
    pub pool_proj: ConvBlock,
}

impl InceptionBlock {
    /// The four branches, concatenated along the channels.
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, height, width]`
    /// - output: `[batch, out_channels, height, width]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let pooled = max_pool2d(
            x.clone(),
            MaxPoolOptions::new([3, 3])
                .with_stride([1, 1])
                .with_padding([1, 1]),
        );
        Tensor::cat(
            vec![
                self.branch1.forward(x.clone()),
                self.branch3.forward(self.branch3_reduce.forward(x.clone())),
                self.branch5.forward(self.branch5_reduce.forward(x)),
                self.pool_proj.forward(pooled),
            ],
            1,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_and_stack_shapes_follow_the_formula() {
        let device = Device::flex();
        let stack = ConvStackConfig::plain(&[1, 4, 8], 3);
        assert_eq!(stack.output_shape(64, 48), (8, 16, 12));
        let y = stack
            .init(&device)
            .forward(Tensor::zeros([2, 1, 64, 48], &device));
        assert_eq!(y.dims(), [2, 8, 16, 12]);
        assert_eq!(stack.param_count(), (4 * 9 + 4) + (8 * 4 * 9 + 8));
    }

    #[test]
    fn alexnet_preset_has_the_papers_conv_parameters_and_shapes() {
        let config = ConvStackConfig::alexnet(3, 1.0);
        // Ungrouped AlexNet convolutions: 34,944 + 614,656 + 885,120 + 1,327,488 + 884,992.
        assert_eq!(config.param_count(), 3_747_200);
        // 224 → conv 11/4 pad 2: 55 → pool: 27 → 13 → 13 → 13 → pool: 6.
        assert_eq!(config.output_shape(224, 224), (256, 6, 6));
        let device = Device::flex();
        let small = ConvStackConfig::alexnet(1, 0.05);
        let y = small
            .init(&device)
            .forward(Tensor::zeros([1, 1, 64, 64], &device));
        assert_eq!(y.dims()[1], 13);
        assert_eq!(small.init(&device).num_params(), small.param_count());
    }

    #[test]
    fn inception_block_concatenates_its_branches() {
        let device = Device::flex();
        let config = InceptionBlockConfig::new(8, 4, 4, 6, 2, 3, 5);
        let block = config.init(&device);
        let y = block.forward(Tensor::ones([2, 8, 9, 7], &device));
        assert_eq!(y.dims(), [2, 18, 9, 7]);
        assert_eq!(InceptionBlockConfig::googlenet_3a().out_channels(), 256);
        // Every branch ends in a ReLU.
        let min = y.min().into_scalar::<f32>();
        assert!(min >= 0.0);
    }
}
