use super::*;
use crate::backprop::half_squared_error;
use crate::mlp::{Mlp, MlpConfig};
use crate::neuron::Activation;
use burn::optim::AdamConfig;
use burn::tensor::Distribution;

/// Regression y = sin(x₀) + x₁² on 64 seeded points.
struct Toy {
    x: Tensor<2>,
    y: Tensor<2>,
    /// Return NaN from this epoch's batches on (to test the guard).
    poison_from_epoch: Option<usize>,
    calls: std::cell::Cell<usize>,
}

impl Toy {
    fn new(device: &Device) -> Self {
        device.seed(11);
        let x = Tensor::<2>::random([64, 2], Distribution::Uniform(-1.0, 1.0), device);
        let y =
            x.clone().slice([0..64, 0..1]).sin() + x.clone().slice([0..64, 1..2]).powi_scalar(2);
        Self {
            x,
            y,
            poison_from_epoch: None,
            calls: std::cell::Cell::new(0),
        }
    }
}

impl TrainTask for Toy {
    type Model = Mlp;
    fn num_items(&self) -> usize {
        64
    }
    fn loss(&self, model: &Mlp, batch: &[usize]) -> Tensor<1> {
        self.calls.set(self.calls.get() + 1);
        let device = self.x.device();
        let idx = Tensor::<1, Int>::from_ints(
            batch
                .iter()
                .map(|&i| i as i64)
                .collect::<Vec<_>>()
                .as_slice(),
            &device,
        );
        let loss = half_squared_error(
            model.forward(self.x.clone().select(0, idx.clone())),
            self.y.clone().select(0, idx),
        );
        // 4 batches per epoch: calls 1..=4 are epoch 1.
        match self.poison_from_epoch {
            Some(e) if self.calls.get() > (e - 1) * 4 => loss.mul_scalar(f64::NAN),
            _ => loss,
        }
    }
    fn validate(&self, model: &Mlp) -> Vec<(String, f64)> {
        let l = half_squared_error(model.forward(self.x.clone()), self.y.clone());
        vec![("valid_loss".into(), f64::from(l.into_scalar::<f32>()))]
    }
}

fn model(device: &Device) -> Mlp {
    device.seed(5);
    MlpConfig::new(vec![2, 16, 1])
        .with_activation(Activation::Tanh)
        .init(device)
}

fn weights(m: &Mlp) -> Vec<f32> {
    m.layers
        .iter()
        .flat_map(|l| {
            l.weight
                .val()
                .into_data()
                .try_to_vec::<f32>()
                .expect("f32 weights")
        })
        .collect()
}

fn config(epochs: usize) -> TrainConfig {
    let mut c = TrainConfig::new(epochs, 16, 1e-2, 42);
    c.progress = false;
    c
}

#[test]
fn training_lowers_the_loss_and_writes_metrics_plot_and_checkpoint() {
    let device = Device::flex().autodiff();
    let dir = tempfile::tempdir().unwrap();
    let task = Toy::new(&device);
    let out = Trainer::new(config(6), dir.path())
        .unwrap()
        .fit(
            &task,
            model(&device),
            AdamConfig::new().init(),
            &device,
            false,
        )
        .unwrap();
    assert_eq!(out.history.len(), 6);
    assert!(
        out.history[5].train_loss < 0.5 * out.history[0].train_loss,
        "{:?}",
        out.history
    );
    let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    assert!(csv.starts_with("epoch,train_loss,learning_rate,seconds,items_per_second,valid_loss"));
    assert_eq!(csv.lines().count(), 7);
    assert!(dir.path().join("training.png").exists());
    let state = Checkpoint::new(dir.path().join("checkpoint"))
        .latest()
        .unwrap()
        .unwrap();
    assert_eq!((state.epoch, state.iteration), (6, 24));
    // Only the two newest epochs are kept.
    assert!(!dir.path().join("checkpoint/epoch-0004").exists());
    assert!(dir.path().join("checkpoint/epoch-0005").exists());
}

#[test]
fn resume_ends_with_the_same_weights_as_an_uninterrupted_run() {
    let device = Device::flex().autodiff();
    let task = Toy::new(&device);
    // One initial model for both runs: burn seeds its generator per backend, not per thread, so
    // another test drawing random numbers in parallel could change a second draw.
    let initial = model(&device);
    let full_dir = tempfile::tempdir().unwrap();
    let full = Trainer::new(config(5), full_dir.path())
        .unwrap()
        .fit(
            &task,
            initial.clone(),
            AdamConfig::new().init(),
            &device,
            false,
        )
        .unwrap();

    // Interrupted after epoch 2, then resumed to 5 by a new process-like run.
    let dir = tempfile::tempdir().unwrap();
    Trainer::new(config(2), dir.path())
        .unwrap()
        .fit(&task, initial, AdamConfig::new().init(), &device, false)
        .unwrap();
    let fresh = MlpConfig::new(vec![2, 16, 1])
        .with_activation(Activation::Tanh)
        .init(&device); // other initial weights: they must be replaced by the checkpoint's
    let resumed = Trainer::new(config(5), dir.path())
        .unwrap()
        .fit(&task, fresh, AdamConfig::new().init(), &device, true)
        .unwrap();
    assert_eq!(resumed.epochs_run, 3);
    assert_eq!(resumed.history.len(), 5);
    assert_eq!(weights(&resumed.model), weights(&full.model));
    let losses = |h: &[EpochRecord]| h.iter().map(|r| r.train_loss).collect::<Vec<_>>();
    assert_eq!(losses(&resumed.history), losses(&full.history));
}

#[test]
fn a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint() {
    let device = Device::flex().autodiff();
    let mut task = Toy::new(&device);
    task.poison_from_epoch = Some(3);
    let dir = tempfile::tempdir().unwrap();
    let err = Trainer::new(config(5), dir.path())
        .unwrap()
        .fit(
            &task,
            model(&device),
            AdamConfig::new().init(),
            &device,
            false,
        )
        .err()
        .expect("NaN must stop training");
    match &err {
        NnError::NonFiniteLoss {
            epoch, last_good, ..
        } => {
            assert_eq!(*epoch, 3);
            assert!(last_good.ends_with("epoch-0002"), "{last_good}");
        }
        other => panic!("wrong error {other}"),
    }
    assert!(err.to_string().contains("NaN"), "{err}");
    let store = Checkpoint::new(dir.path().join("checkpoint"));
    let state = store.latest().unwrap().unwrap();
    assert_eq!(state.epoch, 2);
    // The kept checkpoint loads and holds finite weights.
    let (m, _) = store
        .load(&state, model(&device), AdamConfig::new().init())
        .unwrap();
    assert!(weights(&m).iter().all(|w| w.is_finite()));
}

#[test]
fn bad_settings_are_refused_before_any_work() {
    assert!(Trainer::new(config(0), "unused").is_err());
    let mut c = config(1);
    c.batch_size = 0;
    assert!(Trainer::new(c, "unused").is_err());
}

#[test]
fn a_corrupt_checkpoint_is_a_clear_error() {
    let device = Device::flex().autodiff();
    let dir = tempfile::tempdir().unwrap();
    let task = Toy::new(&device);
    Trainer::new(config(1), dir.path())
        .unwrap()
        .fit(
            &task,
            model(&device),
            AdamConfig::new().init(),
            &device,
            false,
        )
        .unwrap();
    std::fs::write(
        dir.path().join("checkpoint/epoch-0001/model.bpk"),
        b"garbage",
    )
    .unwrap();
    let err = Trainer::new(config(2), dir.path())
        .unwrap()
        .fit(
            &task,
            model(&device),
            AdamConfig::new().init(),
            &device,
            true,
        )
        .err()
        .expect("a corrupt checkpoint must be refused");
    assert!(err.to_string().contains("model.bpk"), "{err}");
}
