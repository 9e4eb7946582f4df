//! `hepnn examples filters`: fixed horizontal and vertical edge filters (Sobel, Prewitt) on a
//! picture of a house — the roof's eave and the ground line answer the horizontal filters, the
//! walls, door and windows the vertical ones — and on a simulated νμ CC event's XZ view.

use burn::prelude::*;
use hepnn_nn::cnn::filters::{EdgeFilter, apply_filter, house_image};
use hepnn_nn::cnn::image::{Palette, save_image_png};
use hepnn_sim::neutrino::{Interaction, SimulationConfig, simulate_event};

use crate::Common;
use crate::summary::{Summary, prepare_out};

/// Picture size (rows, columns).
const HEIGHT: usize = 96;
const WIDTH: usize = 128;

fn to_vec(t: Tensor<4>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 image")
}

/// Mean |response| over the interior pixels of a filtered image.
fn mean_abs(x: &[f32], rows: usize, columns: usize) -> f64 {
    let mut sum = 0.0;
    for r in 1..rows - 1 {
        for c in 1..columns - 1 {
            sum += f64::from(x[r * columns + c].abs());
        }
    }
    sum / ((rows - 2) * (columns - 2)) as f64
}

/// Runs the example; writes `house.png`, `house_<filter>.png`, `event_numu_xz.png`,
/// `event_numu_xz_<filter>.png` and `summary.json`.
pub fn run(common: &Common) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    let device = crate::device::parse(&common.device)?;
    let mut summary = Summary::new();
    let house = house_image(HEIGHT, WIDTH);
    save_image_png(
        &common.out.join("house.png"),
        "house",
        &house,
        HEIGHT,
        WIDTH,
        4,
        Palette::Grey,
    )?;
    let image = Tensor::<1>::from_floats(house.as_slice(), &device).reshape([
        1,
        1,
        HEIGHT as i32,
        WIDTH as i32,
    ]);
    for filter in EdgeFilter::ALL {
        let out = to_vec(apply_filter(image.clone(), filter));
        let name = format!("house_{}.png", filter.name());
        save_image_png(
            &common.out.join(&name),
            &format!("house, {} (red +, blue −)", filter.name()),
            &out,
            HEIGHT,
            WIDTH,
            4,
            Palette::Diverging,
        )?;
        summary.set(
            format!("house_mean_abs_{}", filter.name()),
            mean_abs(&out, HEIGHT, WIDTH),
        );
    }
    // The same filters on a detector view: a muon track along the beam is a horizontal line.
    let config = SimulationConfig::default();
    let (planes, cells) = (config.detector.planes_per_view(), config.detector.cells);
    let event = simulate_event(&config, Interaction::NumuCc, common.seed, 0);
    let view: Vec<f32> = event.xz.iter().map(|&e| (1.0 + e).ln()).collect();
    // Rows = cells (x), columns = planes (z): the beam runs left to right.
    let mut transposed = vec![0.0f32; view.len()];
    for p in 0..planes {
        for c in 0..cells {
            transposed[c * planes + p] = view[p * cells + c];
        }
    }
    save_image_png(
        &common.out.join("event_numu_xz.png"),
        "νμ CC, XZ view, ln(1 + E/MeV)",
        &transposed,
        cells,
        planes,
        8,
        Palette::Heat,
    )?;
    let tensor = Tensor::<1>::from_floats(transposed.as_slice(), &device).reshape([
        1,
        1,
        cells as i32,
        planes as i32,
    ]);
    for filter in [EdgeFilter::SobelHorizontal, EdgeFilter::SobelVertical] {
        let out = to_vec(apply_filter(tensor.clone(), filter));
        save_image_png(
            &common
                .out
                .join(format!("event_numu_xz_{}.png", filter.name())),
            &format!("νμ CC XZ view, {}", filter.name()),
            &out,
            cells,
            planes,
            8,
            Palette::Diverging,
        )?;
        summary.set(
            format!("event_mean_abs_{}", filter.name()),
            mean_abs(&out, cells, planes),
        );
    }
    summary.report(
        &common.out,
        "Edge filters: horizontal (roofs) and vertical (façades)",
    )?;
    Ok(summary)
}
