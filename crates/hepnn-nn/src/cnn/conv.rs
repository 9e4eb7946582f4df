//! burn's [`Conv2d`] layer run by the hand-written convolution kernel
//! ([`crate::kernels::conv`]: im2col + one GEMM per image, its own backward, optionally fused with
//! ReLU and max-pooling), falling back to burn's own operations where the kernel does not apply
//! (stride, dilation or groups ≠ 1, asymmetric padding, a backend other than Flex). The layer's
//! parameters stay burn's, so checkpoints do not change.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;

use crate::kernels::conv::{Epilogue, conv2d as conv_kernel};

/// The symmetric padding `[p_h, p_w]` of `conv`, when the kernel applies to the layer (stride, dilation and groups 1).
fn kernel_padding(conv: &Conv2d) -> Option<[usize; 2]> {
    if conv.stride != [1, 1] || conv.dilation != [1, 1] || conv.groups != 1 {
        return None;
    }
    let [kh, kw] = conv.kernel_size;
    match conv.padding {
        PaddingConfig2d::Valid => Some([0, 0]),
        // At stride 1, "same" pads k − 1 in all, symmetric for odd kernels.
        PaddingConfig2d::Same => (kh % 2 == 1 && kw % 2 == 1).then_some([kh / 2, kw / 2]),
        PaddingConfig2d::Explicit(top, left, bottom, right) => {
            (top == bottom && left == right).then_some([top, left])
        }
    }
}

fn run(conv: &Conv2d, x: &Tensor<4>, epilogue: Epilogue) -> Option<Tensor<4>> {
    let padding = kernel_padding(conv)?;
    let bias = conv.bias.as_ref().map(|b| b.val());
    conv_kernel(x, &conv.weight.val(), bias.as_ref(), padding, epilogue)
}

/// `conv.forward(x)`, by the kernel where it applies.
///
/// # Shapes
/// - `x`: `[batch, in_channels, height, width]`
/// - output: `[batch, out_channels, height', width']` (as [`Conv2d::forward`])
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    run(conv, &x, Epilogue::NONE).unwrap_or_else(|| conv.forward(x))
}

/// `maxpool_p(ReLU(conv.forward(x)))` (pooling window and stride `pool`, no padding; 1: no
/// pooling), as one operation where the kernel applies.
///
/// # Shapes
/// - `x`: `[batch, in_channels, height, width]`
/// - output: `[batch, out_channels, ⌊height'/pool⌋, ⌊width'/pool⌋]`
pub fn conv2d_relu_pool(conv: &Conv2d, x: Tensor<4>, pool: usize) -> Tensor<4> {
    let pool = pool.max(1);
    let epilogue = Epilogue { relu: true, pool };
    run(conv, &x, epilogue).unwrap_or_else(|| {
        let y = relu(conv.forward(x));
        if pool > 1 {
            max_pool2d(y, MaxPoolOptions::new([pool, pool]))
        } else {
            y
        }
    })
}
