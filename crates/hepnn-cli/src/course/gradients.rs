//! `hepnn examples gradients`: ‖∂L/∂h_t‖ against the time lag for the simple RNN (spectral
//! radius below and above 1) and the LSTM, with a log-scale plot.

use hepnn_nn::plot::{LinePlot, Series};
use hepnn_nn::rnn::gradients::{DemoOptions, vanishing_gradient_demo};

use crate::Common;
use crate::summary::{Summary, prepare_out};

/// Measures and writes `gradients.png` and `summary.json`.
pub fn run(common: &Common) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    let device = crate::device::parse(&common.device)?.autodiff();
    let options = DemoOptions {
        seed: common.seed,
        ..DemoOptions::default()
    };
    let profiles = vanishing_gradient_demo(&options, &device);
    let mut s = Summary::new();
    let mut plot = LinePlot::new(
        "Vanishing and exploding gradients over 50 steps",
        "time lag T − t",
        "‖∂L/∂h_t‖ / ‖∂L/∂h_T‖",
    )
    .log_y();
    let keys = [
        "rnn_small_radius",
        "rnn_large_radius",
        "lstm_forget_open",
        "lstm_forget_0",
    ];
    let last = options.steps - 1;
    for (key, p) in keys.iter().zip(&profiles) {
        s.set(format!("{key}_label"), p.label.clone());
        s.set(format!("{key}_ratio_lag10"), p.ratio(10));
        s.set(format!("{key}_ratio_lag{last}"), p.ratio(last));
        plot = plot.with(Series::line(
            p.label.clone(),
            (0..p.norms.len()).map(|l| (l as f64, p.ratio(l))).collect(),
        ));
    }
    plot.save_png(&common.out.join("gradients.png"))?;
    s.report(&common.out, "Vanishing gradients: RNN vs LSTM")?;
    Ok(s)
}
