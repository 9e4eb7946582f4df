//! Convolutional networks (course: "convolutional neural networks").
//!
//! An MLP suits images badly: a 64 × 48 image into 100 hidden units already takes 307,300
//! weights, and a pattern learned at one place is not recognised one pixel further. A convolution
//! instead slides one small filter over the image, each output pixel computed from its neighbours:
//!
//! ```text
//! y[c_out, i, j] = b[c_out] + Σ_{c_in, m, n} w[c_out, c_in, m, n] · x[c_in, i·s + m − p, j·s + n − p]
//! ```
//!
//! so the weights are shared across positions (translation equivariance) and few
//! (c_out · c_in · k² + c_out). Fixed filters pick out simple features — horizontal edges (roofs)
//! and vertical edges (façades), [`filters`] — and a network *learns* its filters, stacking
//! convolution, ReLU and pooling ([`blocks`]): AlexNet (Krizhevsky, Sutskever, Hinton, NeurIPS
//! 2012) and GoogLeNet's inception block (Szegedy et al., arXiv:1409.4842) are available as
//! configurations. [`image`] writes images and feature maps as PNG. The learned convolutions run
//! on hepnn's own kernel ([`conv`], [`crate::kernels::conv`]: im2col + GEMM with a hand-written
//! backward, fused with ReLU and max-pooling) where it applies, on burn's `conv2d` otherwise.
//!
//! ```
//! use burn::prelude::*;
//! use hepnn_nn::cnn::filters::{EdgeFilter, apply_filter};
//! let device = Device::flex();
//! // A 5 × 5 image, dark on top, bright below: one horizontal edge.
//! let mut pixels = vec![0.0f32; 25];
//! pixels[15..].iter_mut().for_each(|p| *p = 1.0);
//! let image = Tensor::<1>::from_floats(pixels.as_slice(), &device).reshape([1, 1, 5, 5]);
//! let h: Vec<f32> = apply_filter(image.clone(), EdgeFilter::SobelHorizontal).into_data().try_to_vec().unwrap();
//! let v: Vec<f32> = apply_filter(image, EdgeFilter::SobelVertical).into_data().try_to_vec().unwrap();
//! assert_eq!(h[2 * 5 + 2], 4.0); // the horizontal filter fires on the edge (row 2 → 3)
//! assert_eq!(v[2 * 5 + 2], 0.0); // the vertical one does not
//! ```

pub mod blocks;
pub mod conv;
pub mod filters;
pub mod im2col;
pub mod image;

pub use blocks::{
    ConvBlock, ConvBlockConfig, ConvStack, ConvStackConfig, InceptionBlock, InceptionBlockConfig,
};
pub use conv::{conv2d, conv2d_relu_pool};
pub use filters::{EdgeFilter, apply_filter};
