//! Fixed edge filters: Sobel and Prewitt kernels for horizontal and vertical edges, applied with
//! burn's `conv2d` (course: "simple filters extract horizontal (roofs) and vertical (façades)
//! features").
//!
//! A horizontal-edge kernel differentiates along the rows (vertical gradient) and smooths along
//! the columns; its transpose finds vertical edges:
//!
//! ```text
//! Sobel horizontal   [-1 -2 -1]      Sobel vertical   [-1  0  1]
//!                    [ 0  0  0]                       [-2  0  2]
//!                    [ 1  2  1]                       [-1  0  1]
//! ```

use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

/// A fixed 3 × 3 edge filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeFilter {
    /// Sobel, horizontal edges (responds to a change from one row to the next).
    SobelHorizontal,
    /// Sobel, vertical edges.
    SobelVertical,
    /// Prewitt, horizontal edges (no centre weighting).
    PrewittHorizontal,
    /// Prewitt, vertical edges.
    PrewittVertical,
}

impl EdgeFilter {
    /// All four filters.
    pub const ALL: [EdgeFilter; 4] = [
        EdgeFilter::SobelHorizontal,
        EdgeFilter::SobelVertical,
        EdgeFilter::PrewittHorizontal,
        EdgeFilter::PrewittVertical,
    ];

    /// The kernel, row-major.
    pub fn kernel(self) -> [[f32; 3]; 3] {
        let horizontal = |side: f32| [[-1.0, -side, -1.0], [0.0; 3], [1.0, side, 1.0]];
        let transpose = |k: [[f32; 3]; 3]| {
            let mut t = [[0.0; 3]; 3];
            for (i, row) in k.iter().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    t[j][i] = *v;
                }
            }
            t
        };
        match self {
            EdgeFilter::SobelHorizontal => horizontal(2.0),
            EdgeFilter::SobelVertical => transpose(horizontal(2.0)),
            EdgeFilter::PrewittHorizontal => horizontal(1.0),
            EdgeFilter::PrewittVertical => transpose(horizontal(1.0)),
        }
    }

    /// A short name for files: `sobel_horizontal`, ….
    pub fn name(self) -> &'static str {
        match self {
            EdgeFilter::SobelHorizontal => "sobel_horizontal",
            EdgeFilter::SobelVertical => "sobel_vertical",
            EdgeFilter::PrewittHorizontal => "prewitt_horizontal",
            EdgeFilter::PrewittVertical => "prewitt_vertical",
        }
    }

    /// The kernel as a conv2d weight `[1, 1, 3, 3]`.
    pub fn weight(self, device: &Device) -> Tensor<4> {
        let k: Vec<f32> = self.kernel().iter().flatten().copied().collect();
        Tensor::<1>::from_floats(k.as_slice(), device).reshape([1, 1, 3, 3])
    }
}

/// Applies `filter` to every image of `images` with zero padding (same size out):
/// `y[i, j] = Σ_{m,n} k[m, n] · x[i + m − 1, j + n − 1]` (cross-correlation, as in every deep
/// learning library).
///
/// # Shapes
/// - `images`: `[batch, 1, height, width]`
/// - output: `[batch, 1, height, width]`
pub fn apply_filter(images: Tensor<4>, filter: EdgeFilter) -> Tensor<4> {
    let weight = filter.weight(&images.device());
    conv2d(
        images,
        weight,
        None,
        ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
    )
}

/// A synthetic grey-level picture of a house (a pitched roof with a horizontal eave, walls, a
/// door and two windows) on a light sky, `height × width`, values in [0, 1]: the course's example
/// of roofs (horizontal edges) and façades (vertical edges).
pub fn house_image(height: usize, width: usize) -> Vec<f32> {
    let mut img = vec![0.9f32; height * width];
    let (h, w) = (height as f32, width as f32);
    for i in 0..height {
        for j in 0..width {
            let (y, x) = (i as f32 / h, j as f32 / w);
            let mut v = if y > 0.85 { 0.35 } else { 0.9 }; // ground
            // Walls from the eave (y = 0.45) to the ground, x in [0.2, 0.8].
            if (0.45..0.85).contains(&y) && (0.2..0.8).contains(&x) {
                v = 0.6;
            }
            // Roof: a triangle above the eave.
            if (0.15..0.45).contains(&y) && (x - 0.5).abs() < 0.35 * (y - 0.15) / 0.3 {
                v = 0.2;
            }
            // Door and windows.
            if (0.62..0.85).contains(&y) && (0.45..0.55).contains(&x) {
                v = 0.1;
            }
            if (0.52..0.64).contains(&y) && ((0.26..0.36).contains(&x) || (0.64..0.74).contains(&x))
            {
                v = 0.95;
            }
            img[i * width + j] = v;
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_vec(t: Tensor<4>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32")
    }

    #[test]
    fn horizontal_filters_see_roofs_vertical_filters_see_facades() {
        let device = Device::flex();
        let (h, w) = (8usize, 8usize);
        // A bright horizontal bar (rows 3-4) and, separately, a bright vertical bar.
        let mut bar_h = vec![0.0f32; h * w];
        let mut bar_v = vec![0.0f32; h * w];
        for k in 0..8 {
            bar_h[3 * w + k] = 1.0;
            bar_h[4 * w + k] = 1.0;
            bar_v[k * w + 3] = 1.0;
            bar_v[k * w + 4] = 1.0;
        }
        let image =
            |p: &[f32]| Tensor::<1>::from_floats(p, &device).reshape([1, 1, h as i32, w as i32]);
        let energy = |x: Vec<f32>| {
            // Interior pixels only (padding makes the border respond to anything).
            let mut e = 0.0;
            for i in 1..h - 1 {
                for j in 1..w - 1 {
                    e += x[i * w + j].abs();
                }
            }
            e
        };
        for (hf, vf) in [
            (EdgeFilter::SobelHorizontal, EdgeFilter::SobelVertical),
            (EdgeFilter::PrewittHorizontal, EdgeFilter::PrewittVertical),
        ] {
            let hh = energy(to_vec(apply_filter(image(&bar_h), hf)));
            let hv = energy(to_vec(apply_filter(image(&bar_h), vf)));
            let vv = energy(to_vec(apply_filter(image(&bar_v), vf)));
            let vh = energy(to_vec(apply_filter(image(&bar_v), hf)));
            assert!(hh > 10.0 && hv == 0.0, "{hh} {hv}");
            assert!(vv > 10.0 && vh == 0.0, "{vv} {vh}");
        }
    }

    #[test]
    fn sobel_response_to_a_step_is_four_times_the_step() {
        let device = Device::flex();
        let mut p = vec![0.0f32; 25];
        p[15..].iter_mut().for_each(|v| *v = 0.5);
        let t = Tensor::<1>::from_floats(p.as_slice(), &device).reshape([1, 1, 5, 5]);
        let out = to_vec(apply_filter(t, EdgeFilter::SobelHorizontal));
        // Row 2 sees the step below it: (1 + 2 + 1) × 0.5.
        assert!((out[2 * 5 + 2] - 2.0).abs() < 1e-6);
        assert_eq!(out[5 + 2], 0.0);
    }
}
