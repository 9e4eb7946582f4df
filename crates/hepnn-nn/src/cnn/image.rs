//! Images and feature maps as PNG heat maps (plotters' bitmap backend, written atomically).

use std::path::Path;

use plotters::prelude::*;

use crate::plot::atomic_write_with;
use crate::{NnError, Result};

/// Colour scale of [`save_image_png`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Palette {
    /// Black (lowest) to white (highest).
    Grey,
    /// Signed: blue (negative) – white (0) – red (positive), symmetric about 0.
    Diverging,
    /// White (0) through yellow and red to black: for energy deposits, empty cells white.
    Heat,
}

fn colour(v: f32, lo: f32, hi: f32, palette: Palette) -> RGBColor {
    match palette {
        Palette::Grey => {
            let t = ((v - lo) / (hi - lo).max(1e-12)).clamp(0.0, 1.0);
            let g = (255.0 * t) as u8;
            RGBColor(g, g, g)
        }
        Palette::Diverging => {
            let m = lo.abs().max(hi.abs()).max(1e-12);
            let t = (v / m).clamp(-1.0, 1.0);
            let fade = (255.0 * (1.0 - t.abs())) as u8;
            if t >= 0.0 {
                RGBColor(255, fade, fade)
            } else {
                RGBColor(fade, fade, 255)
            }
        }
        Palette::Heat => {
            if v <= 0.0 {
                return RGBColor(255, 255, 255);
            }
            let t = ((v - lo.max(0.0)) / (hi - lo.max(0.0)).max(1e-12)).clamp(0.0, 1.0);
            let (r, g, b) = if t < 0.5 {
                (255.0, 255.0 - 160.0 * t * 2.0, 120.0 * (1.0 - 2.0 * t))
            } else {
                (
                    255.0 * (1.0 - (t - 0.5)),
                    95.0 * (1.0 - (t - 0.5) * 2.0),
                    0.0,
                )
            };
            RGBColor(r as u8, g as u8, b as u8)
        }
    }
}

/// Writes a `rows × columns` image (row-major, row 0 at the top) as a PNG, each pixel drawn as a
/// `scale × scale` square, with a title line above.
pub fn save_image_png(
    path: &Path,
    title: &str,
    pixels: &[f32],
    rows: usize,
    columns: usize,
    scale: u32,
    palette: Palette,
) -> Result<()> {
    if pixels.len() != rows * columns || rows == 0 || columns == 0 {
        return Err(NnError::Shape {
            what: "save_image_png",
            expected: vec![rows, columns],
            got: vec![pixels.len()],
        });
    }
    crate::plot::register_font();
    let lo = pixels.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = pixels.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let header = 24u32;
    let (w, h) = (
        (columns as u32 * scale).max(160),
        rows as u32 * scale + header,
    );
    let plot_err = |e: String| NnError::Plot {
        path: path.to_path_buf(),
        message: e,
    };
    atomic_write_with(path, |tmp| {
        let root = BitMapBackend::new(tmp, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_err(e.to_string()))?;
        root.draw(&Text::new(
            title.to_string(),
            (4, 4),
            ("sans-serif", 14).into_font(),
        ))
        .map_err(|e| plot_err(e.to_string()))?;
        for r in 0..rows {
            for c in 0..columns {
                let x0 = (c as u32 * scale) as i32;
                let y0 = (r as u32 * scale + header) as i32;
                let fill = colour(pixels[r * columns + c], lo, hi, palette);
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + scale as i32, y0 + scale as i32)],
                    fill.filled(),
                ))
                .map_err(|e| plot_err(e.to_string()))?;
            }
        }
        root.present().map_err(|e| plot_err(e.to_string()))
    })
}
