//! `hepnn examples backprop`: backpropagation by hand, then an MLP trained by backpropagation to
//! measure a track's q/pT from three pixel hits in the 2 T solenoid, side by side with the
//! classical circle fit through the same hits.

use burn::optim::AdamConfig;
use burn::optim::lr_scheduler::LrSchedulerConfig;
use burn::optim::lr_scheduler::exponential::ExponentialLrSchedulerConfig;
use burn::prelude::*;
use clap::Args;
use hepnn_nn::backprop::{half_squared_error, worked_example};
use hepnn_nn::mlp::{Mlp, MlpConfig};
use hepnn_nn::neuron::Activation;
use hepnn_nn::plot::{LinePlot, Series};
use hepnn_nn::train::{TrainConfig, TrainTask, Trainer};
use hepnn_sim::tracker::three_hit::{ThreeHitConfig, ThreeHitSample, beam_constrained_q_over_pt};

use crate::Common;
use crate::summary::{Summary, prepare_out};

/// Options of the backprop example.
#[derive(Debug, Clone, Args)]
pub struct BackpropOptions {
    /// Training epochs of the q/pT MLP.
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    /// Simulated training tracks.
    #[arg(long, default_value_t = 20_000)]
    pub train_tracks: usize,
    /// Simulated test tracks.
    #[arg(long, default_value_t = 10_000)]
    pub test_tracks: usize,
    /// Continue from the last checkpoint in OUT/pt_mlp.
    #[arg(long)]
    pub resume: bool,
}

impl Default for BackpropOptions {
    fn default() -> Self {
        Self {
            epochs: 30,
            train_tracks: 20_000,
            test_tracks: 10_000,
            resume: false,
        }
    }
}

/// Input features of one track: the six hit coordinates, x scaled by 1/100 mm and y by 1/4 mm
/// (the first hit is rotated onto the x axis, so y carries the bending).
pub fn features(sample: &ThreeHitSample) -> Vec<f32> {
    sample
        .hits
        .iter()
        .flat_map(|h| {
            h.iter()
                .flat_map(|[x, y]| [(x / 100.0) as f32, (y / 4.0) as f32])
        })
        .collect()
}

/// The q/pT regression as a [`TrainTask`]: loss ½Σ(ŷ − q/pT)² / batch.
pub struct PtTask {
    x: Tensor<2>,
    y: Tensor<2>,
    n: usize,
}

impl PtTask {
    /// Tensors of the sample on `device`.
    pub fn new(sample: &ThreeHitSample, device: &Device) -> Self {
        let n = sample.len();
        let x = Tensor::<1>::from_floats(features(sample).as_slice(), device).reshape([n, 6]);
        let y: Vec<f32> = sample.q_over_pt.iter().map(|&v| v as f32).collect();
        let y = Tensor::<1>::from_floats(y.as_slice(), device).reshape([n, 1]);
        Self { x, y, n }
    }
}

impl TrainTask for PtTask {
    type Model = Mlp;
    fn num_items(&self) -> usize {
        self.n
    }
    fn loss(&self, model: &Mlp, batch: &[usize]) -> Tensor<1> {
        let idx: Vec<i64> = batch.iter().map(|&i| i as i64).collect();
        let idx = Tensor::<1, Int>::from_ints(idx.as_slice(), &self.x.device());
        half_squared_error(
            model.forward(self.x.clone().select(0, idx.clone())),
            self.y.clone().select(0, idx),
        )
        .div_scalar(batch.len() as f64)
    }
}

/// σ of residuals (RMS about zero).
fn rms(residuals: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = residuals.fold((0.0, 0usize), |(s, n), r| (s + r * r, n + 1));
    (sum / n.max(1) as f64).sqrt()
}

/// Runs the example; writes `pt_mlp/` (checkpoints, metrics.csv, training.png),
/// `pt_resolution.png` and `summary.json`.
pub fn run(common: &Common, options: &BackpropOptions) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    let device = crate::device::parse(&common.device)?.autodiff();
    let mut s = Summary::new();

    let ex = worked_example(&device);
    s.set("backprop_worked_loss_before", ex.loss_before);
    s.set("backprop_worked_loss_after", ex.loss_after);
    s.set("backprop_worked_w5_after", ex.weights_after[4]);

    let sim = ThreeHitConfig::default();
    let train = ThreeHitSample::simulate(&sim, options.train_tracks, common.seed);
    let test = ThreeHitSample::simulate(&sim, options.test_tracks, common.seed.wrapping_add(1));
    let task = PtTask::new(&train, &device);
    device.seed(common.seed);
    let model = MlpConfig::new(vec![6, 64, 64, 1])
        .with_activation(Activation::Tanh)
        .init(&device);
    let config = TrainConfig {
        epochs: options.epochs,
        batch_size: 128,
        seed: common.seed,
        // The learning rate changes over time: ×0.999 per step.
        learning_rate: LrSchedulerConfig::Exponential(ExponentialLrSchedulerConfig::new(
            3e-3, 0.9995,
        )),
        progress: true,
    };
    let start = std::time::Instant::now();
    let outcome = Trainer::new(config, common.out.join("pt_mlp"))?.fit(
        &task,
        model,
        AdamConfig::new().init(),
        &device,
        options.resume,
    )?;
    let train_seconds = start.elapsed().as_secs_f64();

    let n = test.len();
    let x = Tensor::<1>::from_floats(features(&test).as_slice(), &device).reshape([n, 6]);
    let predicted: Vec<f64> = outcome
        .model
        .forward(x)
        .into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .map_err(|e| anyhow::anyhow!("reading predictions: {e:?}"))?;
    let circle = test.circle_fit_q_over_pt(sim.bz);
    let constrained: Vec<f64> = test
        .hits
        .iter()
        .map(|h| beam_constrained_q_over_pt(h, sim.bz))
        .collect();
    let sigma_constrained = rms(constrained.iter().zip(&test.q_over_pt).map(|(p, t)| p - t));
    let sigma_mlp = rms(predicted.iter().zip(&test.q_over_pt).map(|(p, t)| p - t));
    let sigma_fit = rms(circle.iter().zip(&test.q_over_pt).map(|(p, t)| p - t));
    let charge_ok = predicted
        .iter()
        .zip(&test.q_over_pt)
        .filter(|(p, t)| p.signum() == t.signum())
        .count() as f64
        / n as f64;

    // Resolution in bins of true pT.
    let edges = [1.0, 1.5, 2.5, 4.0, 6.0, 10.0, 20.0];
    let mut mlp_bins = vec![];
    let mut fit_bins = vec![];
    let mut constrained_bins = vec![];
    for w in edges.windows(2) {
        let sel: Vec<usize> = (0..n)
            .filter(|&i| {
                let pt = 1.0 / test.q_over_pt[i].abs();
                pt >= w[0] && pt < w[1]
            })
            .collect();
        if sel.is_empty() {
            continue;
        }
        let centre = (w[0] * w[1]).sqrt();
        mlp_bins.push((
            centre,
            rms(sel.iter().map(|&i| predicted[i] - test.q_over_pt[i])),
        ));
        fit_bins.push((
            centre,
            rms(sel.iter().map(|&i| circle[i] - test.q_over_pt[i])),
        ));
        constrained_bins.push((
            centre,
            rms(sel.iter().map(|&i| constrained[i] - test.q_over_pt[i])),
        ));
    }
    LinePlot::new(
        "q/pT resolution from three pixel hits (2 T)",
        "true pT [GeV]",
        "σ(q/pT) [1/GeV]",
    )
    .with(Series::markers("MLP (backprop)", mlp_bins))
    .with(Series::markers("circle through the 3 hits", fit_bins))
    .with(Series::markers(
        "circle through beam line + 3 hits",
        constrained_bins,
    ))
    .save_png(&common.out.join("pt_resolution.png"))?;

    let last = outcome.history.last();
    s.set("pt_train_tracks", train.len());
    s.set("pt_test_tracks", n);
    s.set("pt_epochs", outcome.history.len());
    s.set(
        "pt_final_train_loss",
        last.map_or(f64::NAN, |r| r.train_loss),
    );
    s.set(
        "pt_final_learning_rate",
        last.map_or(f64::NAN, |r| r.learning_rate),
    );
    s.set("pt_mlp_sigma_q_over_pt", sigma_mlp);
    s.set("pt_circle_fit_sigma_q_over_pt", sigma_fit);
    s.set("pt_mlp_over_circle_fit", sigma_mlp / sigma_fit);
    s.set("pt_beam_constrained_fit_sigma_q_over_pt", sigma_constrained);
    s.set(
        "pt_mlp_over_beam_constrained_fit",
        sigma_mlp / sigma_constrained,
    );
    s.set("pt_mlp_charge_correct_fraction", charge_ok);
    s.set("pt_train_seconds", train_seconds);
    s.report(
        &common.out,
        "Backpropagation: worked example and q/pT from three hits",
    )?;
    Ok(s)
}
