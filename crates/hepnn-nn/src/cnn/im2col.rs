//! Convolution as im2col + GEMM (stride 1, square kernel, zero padding): the input's k × k
//! shifted copies are stacked into columns and the convolution becomes one batched matrix product,
//!
//! ```text
//! cols[b, (c, m, n), (i, j)] = x_pad[b, c, i + m, j + n]
//! y[b, :, (i, j)] = W[:, (c, m, n)] · cols[b, (c, m, n), (i, j)] + bias
//! ```
//!
//! Built from burn's differentiable slices, stack and matmul, so its backward is the transpose
//! GEMMs (∂W = ∂y · colsᵀ, ∂cols = Wᵀ · ∂y) plus the scatter of the shifted slices — instead of
//! burn flex's weight gradient computed as a second convolution over swapped axes. Checked against
//! burn's `conv2d` (values and gradients) in the tests.

use burn::prelude::*;

/// `conv2d(x, weight, bias)` with stride 1 and `padding` zeros on each side, by im2col + GEMM.
///
/// # Shapes
/// - `x`: `[batch, c_in, height, width]`
/// - `weight`: `[c_out, c_in, k, k]`
/// - `bias`: `[c_out]`
/// - output: `[batch, c_out, height + 2·padding − k + 1, width + 2·padding − k + 1]`
pub fn conv2d_im2col(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    padding: usize,
) -> Tensor<4> {
    let [batch, c_in, height, width] = x.dims();
    let [c_out, _, k, _] = weight.dims();
    let x = if padding > 0 {
        x.pad(
            [(0, 0), (0, 0), (padding, padding), (padding, padding)],
            burn::tensor::ops::PadMode::Constant(0.0),
        )
    } else {
        x
    };
    let (h_out, w_out) = (height + 2 * padding + 1 - k, width + 2 * padding + 1 - k);
    let mut shifted = Vec::with_capacity(k * k);
    for m in 0..k {
        for n in 0..k {
            shifted.push(
                x.clone()
                    .slice([0..batch, 0..c_in, m..m + h_out, n..n + w_out]),
            );
        }
    }
    // [batch, c_in, k², h_out, w_out] → [batch, c_in·k², h_out·w_out]
    let cols: Tensor<3> =
        Tensor::stack::<5>(shifted, 2).reshape([batch, c_in * k * k, h_out * w_out]);
    let w: Tensor<3> = weight.reshape([1, c_out, c_in * k * k]);
    let mut y = w.matmul(cols);
    if let Some(b) = bias {
        y = y + b.reshape([1, c_out, 1]);
    }
    y.reshape([batch, c_out, h_out, w_out])
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;

    use super::*;

    fn host(t: Tensor<4>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32")
    }

    #[test]
    fn im2col_matches_burns_conv2d_values_and_gradients() {
        let device = Device::flex().autodiff();
        device.seed(3);
        for (c_in, c_out, k, p) in [(1, 4, 5, 2), (3, 5, 3, 1), (2, 3, 3, 0)] {
            let x = Tensor::<4>::random([2, c_in, 9, 7], Distribution::Normal(0.0, 1.0), &device)
                .require_grad();
            let w =
                Tensor::<4>::random([c_out, c_in, k, k], Distribution::Normal(0.0, 1.0), &device)
                    .require_grad();
            let b = Tensor::<1>::random([c_out], Distribution::Normal(0.0, 1.0), &device)
                .require_grad();
            let ours = conv2d_im2col(x.clone(), w.clone(), Some(b.clone()), p);
            let theirs = conv2d(
                x.clone(),
                w.clone(),
                Some(b.clone()),
                ConvOptions::new([1, 1], [p, p], [1, 1], 1),
            );
            assert_eq!(ours.dims(), theirs.dims());
            for (a, e) in host(ours.clone()).iter().zip(host(theirs.clone())) {
                assert!((a - e).abs() < 1e-4, "{a} vs {e}");
            }
            // Gradients of Σ y·r for a fixed random r.
            let r = Tensor::<4>::random(ours.dims(), Distribution::Normal(0.0, 1.0), &device);
            let g1 = (ours * r.clone()).sum().backward();
            let g2 = (theirs * r).sum().backward();
            for (t1, t2) in [(x.grad(&g1), x.grad(&g2)), (w.grad(&g1), w.grad(&g2))] {
                let (a, e) = (t1.expect("a gradient"), t2.expect("a gradient"));
                for (u, v) in host(a).iter().zip(host(e)) {
                    assert!((u - v).abs() < 1e-3, "{u} vs {v}");
                }
            }
            let (gb1, gb2) = (b.grad(&g1).expect("grad"), b.grad(&g2).expect("grad"));
            let d = (gb1 - gb2).abs().max().into_scalar::<f32>();
            assert!(d < 1e-3);
        }
    }

    /// Timing of forward + backward for the neutrino tower's layers (run with `--ignored`).
    #[test]
    #[ignore]
    fn im2col_timing_against_burns_conv2d() {
        let device = Device::flex().autodiff();
        for (c_in, c_out, k, h, w) in [(1, 8, 5, 64, 48), (8, 16, 3, 32, 24), (16, 32, 3, 16, 12)] {
            let x = Tensor::<4>::random([32, c_in, h, w], Distribution::Default, &device);
            let wt = Tensor::<4>::random([c_out, c_in, k, k], Distribution::Default, &device)
                .require_grad();
            let time = |f: &dyn Fn() -> Tensor<4>| {
                let start = std::time::Instant::now();
                for _ in 0..10 {
                    let g = f().sum().backward();
                    let _ = wt.grad(&g);
                }
                start.elapsed().as_secs_f64() * 100.0
            };
            let p = k / 2;
            let ours = time(&|| conv2d_im2col(x.clone(), wt.clone(), None, p));
            let theirs = time(&|| {
                conv2d(
                    x.clone(),
                    wt.clone(),
                    None,
                    ConvOptions::new([1, 1], [p, p], [1, 1], 1),
                )
            });
            eprintln!(
                "{c_in}->{c_out} k{k} {h}x{w}: im2col {ours:.2} ms, burn conv2d {theirs:.2} ms"
            );
        }
    }
}
