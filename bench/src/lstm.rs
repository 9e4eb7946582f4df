//! The LSTM training step of `lstm_train_step` (bench_main) and of the CPU-time example
//! (`examples/lstm_cpu_time.rs`), with the shapes of `bench/pytorch/bench_steps.py`: batch 64 of 50
//! steps, input 16, hidden 128, MSE of the last hidden state against a random target, Adam.

use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::Distribution;
use hepnn_nn::rnn::{LstmCell, LstmCellConfig, RecurrentCell, run_steps};

/// Batch, time steps, input features, hidden size.
pub const LSTM_SHAPE: [usize; 4] = [64, 50, 16, 128];
/// Adam learning rate, the same as in the PyTorch reference.
pub const LEARNING_RATE: f64 = 1e-3;

/// A recurrent model whose last hidden state is regressed.
pub trait LastState: Module {
    /// The final hidden state `[B, H]` of a sequence `[B, T, I]`.
    fn last_state(&self, sequence: Tensor<3>) -> Tensor<2>;
}

/// hepnn's LSTM: the whole sequence as one autodiff node (`hepnn_nn::kernels::lstm`).
impl LastState for LstmCell {
    fn last_state(&self, sequence: Tensor<3>) -> Tensor<2> {
        self.run(sequence, None, false, None).1.hidden
    }
}

/// hepnn's LSTM run as the step-by-step burn graph (`hepnn_nn::rnn::run_steps`), the version
/// before the kernel.
#[derive(Module, Debug)]
pub struct StepGraphLstm {
    /// The cell.
    pub cell: LstmCell,
}

impl LastState for StepGraphLstm {
    fn last_state(&self, sequence: Tensor<3>) -> Tensor<2> {
        run_steps(&self.cell, sequence, None, false, None).1.hidden
    }
}

/// burn's `nn::Lstm` (four gate controllers, two linear maps each per step).
impl LastState for burn::nn::Lstm {
    fn last_state(&self, sequence: Tensor<3>) -> Tensor<2> {
        self.forward(sequence, None).1.hidden
    }
}

/// hepnn's LSTM cell with the benchmark's sizes.
pub fn hepnn_lstm(device: &Device) -> LstmCell {
    let [_, _, input, hidden] = LSTM_SHAPE;
    LstmCellConfig::new(input, hidden).init(device)
}

/// burn's `nn::Lstm` with the benchmark's sizes.
pub fn burn_lstm(device: &Device) -> burn::nn::Lstm {
    let [_, _, input, hidden] = LSTM_SHAPE;
    burn::nn::LstmConfig::new(input, hidden, true)
        .with_batch_first(true)
        .init(device)
}

/// A model, its optimiser and the fixed batch: one [`LstmBench::step`] is one training step.
pub struct LstmBench<M: LastState> {
    model: Option<M>,
    optim: ModuleOptimizer,
    sequence: Tensor<3>,
    target: Tensor<2>,
}

impl<M: LastState> LstmBench<M> {
    /// A random batch (normal sequence, target N(0, 0.5²)) on the model's device.
    pub fn new(model: M, device: &Device) -> Self {
        let [batch, steps, input, hidden] = LSTM_SHAPE;
        let sequence = Tensor::<3>::random(
            [batch, steps, input],
            Distribution::Normal(0.0, 1.0),
            device,
        );
        let target = Tensor::<2>::random([batch, hidden], Distribution::Normal(0.0, 0.5), device);
        Self {
            model: Some(model),
            optim: AdamConfig::new().with_epsilon(1e-8).init(),
            sequence,
            target,
        }
    }

    /// Forward over the sequence, MSE of the last state, backward, Adam; returns the loss (read
    /// back to the host, so the step has completed).
    pub fn step(&mut self) -> f32 {
        let m = self
            .model
            .take()
            .expect("the model is put back after every step");
        let loss = (m.last_state(self.sequence.clone()) - self.target.clone())
            .square()
            .mean();
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        self.model = Some(self.optim.step(LEARNING_RATE, m, grads));
        loss.into_scalar::<f32>()
    }
}
