use burn::optim::AdamConfig;
use burn::prelude::*;
use hepnn_nn::train::{TrainConfig, Trainer};
use hepnn_sim::neutrino::{SimulationConfig, simulate_events};

use crate::baseline::{best_cuts, features};
use crate::data::EventSet;
use crate::metrics::{classify, efficiency_at_purity, roc, selection_curve};
use crate::model::TwoViewCnnConfig;
use crate::task::{NeutrinoTask, class_scores};

fn events(n: usize, seed: u64, first: u64) -> EventSet {
    let config = SimulationConfig::default();
    EventSet {
        events: simulate_events(&config, n, seed, first),
        planes: config.detector.planes_per_view(),
        cells: config.detector.cells,
    }
}

#[test]
fn confusion_efficiency_and_purity_by_hand() {
    // Four events: true 0, 0, 1, 2; predicted 0, 1, 1, 1.
    let scores = [
        [0.9, 0.05, 0.05],
        [0.2, 0.7, 0.1],
        [0.1, 0.8, 0.1],
        [0.1, 0.5, 0.4],
    ];
    let m = classify(&scores, &[0, 0, 1, 2]);
    assert_eq!(m.confusion, [[1, 1, 0], [0, 1, 0], [0, 1, 0]]);
    assert_eq!(m.efficiency, [0.5, 1.0, 0.0]);
    assert_eq!(m.purity, [1.0, 1.0 / 3.0, 0.0]);
    assert_eq!(m.accuracy, 0.5);
    let curve = selection_curve(&[0.9, 0.8, 0.3, 0.1], &[true, false, true, false]);
    let at = efficiency_at_purity(&curve, 0.6).expect("a point");
    assert_eq!((at.efficiency, at.purity), (1.0, 2.0 / 3.0));
    let (_, auc) = roc(&[0.9, 0.8, 0.3, 0.1], &[true, false, true, false]);
    assert!((auc - 0.75).abs() < 1e-12);
    let (_, perfect) = roc(&[0.9, 0.8, 0.3], &[true, true, false]);
    assert_eq!(perfect, 1.0);
}

#[test]
fn cut_baseline_selects_electron_showers() {
    let set = events(900, 21, 0);
    let f: Vec<_> = set
        .events
        .iter()
        .map(|e| features(e, set.planes, set.cells))
        .collect();
    let labels = set.labels();
    let mean = |class: usize, get: fn(&crate::baseline::EventFeatures) -> f64| {
        let v: Vec<f64> = f
            .iter()
            .zip(&labels)
            .filter(|(_, l)| **l == class)
            .map(|(x, _)| get(x))
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    for c in 0..3 {
        eprintln!(
            "class {c}: length {:.1} width {:.2} cluster {:.2} energy {:.2}",
            mean(c, |x| x.length_planes),
            mean(c, |x| x.width_cells),
            mean(c, |x| x.cluster_fraction),
            mean(c, |x| x.energy_gev)
        );
    }
    // Muon tracks are long and narrow; electron showers wide.
    assert!(mean(0, |x| x.length_planes) > mean(1, |x| x.length_planes));
    assert!(mean(1, |x| x.width_cells) > 1.3 * mean(0, |x| x.width_cells));
    let (_, point) = best_cuts(&f, &labels, 0.7).expect("cuts reaching purity 0.7");
    assert!(point.efficiency > 0.3, "{point:?}");
}

#[test]
fn two_view_cnn_learns_the_three_classes() {
    let device = Device::flex().autodiff();
    device.seed(5);
    let train = events(600, 31, 0);
    let test = events(300, 31, 1_000_000);
    let config = TwoViewCnnConfig::new();
    let model = config.init(&device);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut train_config = TrainConfig::new(3, 32, 2e-3, 5);
    train_config.progress = false;
    let empty = EventSet {
        events: Vec::new(),
        planes: train.planes,
        cells: train.cells,
    };
    let task = NeutrinoTask {
        train: &train,
        valid: &empty,
        device: device.clone(),
    };
    let outcome = Trainer::new(train_config, dir.path())
        .expect("valid config")
        .fit(&task, model, AdamConfig::new().init(), &device, false)
        .expect("trains");
    let first = outcome.history[0].train_loss;
    let last = outcome.history[2].train_loss;
    assert!(last < 0.8 * first, "loss {first} → {last}");
    let scores = class_scores(&outcome.model, &test, &device);
    let m = classify(&scores, &test.labels());
    assert!(m.accuracy > 0.6, "{m:?}");
}
