//! `hepnn examples approx`: a function as a sum of N shifted ReLUs; the error falls as N grows.

use std::f64::consts::TAU;

use hepnn_nn::approx::{FitOptions, ReluSum};
use hepnn_nn::plot::{LinePlot, Series};

use crate::Common;
use crate::summary::{Summary, prepare_out};

/// The N values shown.
pub const NS: [usize; 5] = [4, 8, 16, 32, 64];

/// Runs the example on sin x over [0, 2π] and a Gaussian bump over [−4, 4]; writes
/// `approx_sin.png`, `approx_error.png` and `summary.json`.
pub fn run(common: &Common) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    let device = crate::device::parse(&common.device)?.autodiff();
    device.seed(common.seed);
    let bump = |x: f64| (-x * x / 2.0).exp();
    let mut s = Summary::new();
    let mut err_sin = vec![];
    let mut err_bump = vec![];
    let mut err_fit = vec![];
    let mut curves =
        LinePlot::new("sin x as a sum of N shifted ReLUs", "x", "y").with(Series::line(
            "sin x",
            (0..=400)
                .map(|i| {
                    let x = TAU * f64::from(i) / 400.0;
                    (x, x.sin())
                })
                .collect(),
        ));
    for n in NS {
        let sum = ReluSum::interpolate(f64::sin, 0.0, TAU, n);
        let e = sum.max_error(f64::sin, 0.0, TAU, 4001);
        let fitted = sum.fit(f64::sin, 0.0, TAU, &FitOptions::default(), &device);
        let e_fit = fitted.max_error(f64::sin, 0.0, TAU, 4001);
        let eb = ReluSum::interpolate(bump, -4.0, 4.0, n).max_error(bump, -4.0, 4.0, 4001);
        s.set(format!("approx_max_error_sin_n{n}"), e);
        s.set(format!("approx_max_error_sin_trained_n{n}"), e_fit);
        s.set(format!("approx_max_error_gauss_n{n}"), eb);
        err_sin.push((n as f64, e));
        err_fit.push((n as f64, e_fit));
        err_bump.push((n as f64, eb));
        if n == 4 || n == 16 {
            curves = curves.with(Series::line(
                format!("N = {n}"),
                (0..=400)
                    .map(|i| {
                        let x = TAU * f64::from(i) / 400.0;
                        (x, sum.eval(x))
                    })
                    .collect(),
            ));
        }
    }
    let bound: Vec<(f64, f64)> = NS
        .iter()
        .map(|&n| (n as f64, (TAU / n as f64).powi(2) / 8.0))
        .collect();
    curves.save_png(&common.out.join("approx_sin.png"))?;
    LinePlot::new(
        "Universal approximation: max |f − f_N|",
        "N (ReLUs)",
        "max error",
    )
    .with(Series::markers("sin, interpolant", err_sin))
    .with(Series::markers("sin, trained (Adam)", err_fit))
    .with(Series::markers("Gaussian bump, interpolant", err_bump))
    .with(Series::line("bound h²/8·max|f''| (sin)", bound))
    .log_y()
    .save_png(&common.out.join("approx_error.png"))?;
    s.report(&common.out, "Universal approximation by shifted ReLUs")?;
    Ok(s)
}
