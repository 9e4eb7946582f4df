use burn::module::Param;
use burn::nn::LstmConfig;
use burn::prelude::*;
use burn::tensor::Distribution;

use super::gradients::{DemoOptions, vanishing_gradient_demo};
use super::*;

fn max_abs_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    (a - b).abs().max().into_scalar::<f32>()
}

/// The fused LSTM gives burn's `Lstm` outputs when it holds the same weights.
#[test]
fn fused_lstm_matches_burns_lstm() {
    let device = Device::flex();
    device.seed(3);
    let (d_in, h) = (5, 7);
    let reference = LstmConfig::new(d_in, h, true)
        .with_batch_first(true)
        .init(&device);
    let gates = [
        &reference.input_gate,
        reference.forget_gate.as_ref().expect("forget gate"),
        &reference.cell_gate,
        &reference.output_gate,
    ];
    let cat_w = |f: &dyn Fn(&burn::nn::GateController) -> Tensor<2>| {
        Tensor::cat(gates.iter().map(|g| f(g)).collect(), 1)
    };
    let cat_b = |f: &dyn Fn(&burn::nn::GateController) -> Tensor<1>| {
        Tensor::cat(gates.iter().map(|g| f(g)).collect(), 0)
    };
    let mut fused = LstmCellConfig::new(d_in, h).init(&device);
    fused.input.weight = Param::from_tensor(cat_w(&|g| g.input_transform.weight.val()));
    fused.hidden.weight = Param::from_tensor(cat_w(&|g| g.hidden_transform.weight.val()));
    fused.input.bias = Some(Param::from_tensor(cat_b(&|g| {
        g.input_transform.bias.as_ref().expect("bias").val()
    })));
    fused.hidden.bias = Some(Param::from_tensor(cat_b(&|g| {
        g.hidden_transform.bias.as_ref().expect("bias").val()
    })));
    let x = Tensor::<3>::random([3, 6, d_in], Distribution::Normal(0.0, 1.0), &device);
    let (want, want_state) = reference.forward(x.clone(), None);
    let (got, got_state) = fused.run(x, None, false, None);
    assert!(max_abs_diff(want, got) < 1e-5);
    assert!(max_abs_diff(want_state.cell, got_state.cell.expect("cell")) < 1e-5);
}

/// A padded batch gives each sequence the outputs and final state it has alone.
#[test]
fn padded_batch_equals_sequences_run_alone() {
    let device = Device::flex();
    device.seed(5);
    for kind in [CellKind::Elman, CellKind::Lstm, CellKind::Gru] {
        let net = RecurrentConfig::new(kind, 3, 6)
            .with_num_layers(2)
            .with_bidirectional(true)
            .init(&device);
        let lengths = [6, 2, 4];
        let x = Tensor::<3>::random([3, 6, 3], Distribution::Normal(0.0, 1.0), &device);
        let (out, last) = net.forward(x.clone(), Some(&lengths));
        assert_eq!(out.dims(), [3, 6, 12]);
        for (b, &len) in lengths.iter().enumerate() {
            let alone = x.clone().slice(s![b..b + 1, 0..len, ..]);
            let (out_alone, last_alone) = net.forward(alone, None);
            let out_b = out.clone().slice(s![b..b + 1, 0..len, ..]);
            assert!(
                max_abs_diff(out_b, out_alone) < 1e-5,
                "{kind:?} outputs, seq {b}"
            );
            let last_b = last.clone().slice(s![b..b + 1, ..]);
            assert!(
                max_abs_diff(last_b, last_alone) < 1e-5,
                "{kind:?} state, seq {b}"
            );
            if len < 6 {
                let pad = out.clone().slice(s![b..b + 1, len.., ..]);
                assert_eq!(pad.abs().max().into_scalar::<f32>(), 0.0);
            }
        }
    }
}

/// The backward direction is the forward cell run on the time-reversed sequence.
#[test]
fn backward_direction_reads_the_sequence_reversed() {
    let device = Device::flex();
    device.seed(9);
    let cell = GruCellConfig::new(2, 4).init(&device);
    let x = Tensor::<3>::random([2, 5, 2], Distribution::Normal(0.0, 1.0), &device);
    let (out_rev, state_rev) = cell.run(x.clone(), None, true, None);
    let (out_fwd, state_fwd) = cell.run(x.flip([1]), None, false, None);
    assert!(max_abs_diff(state_rev.hidden, state_fwd.hidden) < 1e-6);
    assert!(max_abs_diff(out_rev, out_fwd.flip([1])) < 1e-6);
}

/// The simple RNN's gradient over 50 steps shrinks by more than 10³ for ρ < 1, grows for
/// ρ > 1; the LSTM's (forget gate open) shrinks by less than 10³.
#[test]
fn rnn_gradient_vanishes_over_fifty_steps_where_the_lstm_does_not() {
    let device = Device::flex().autodiff();
    let profiles = vanishing_gradient_demo(&DemoOptions::default(), &device);
    for p in &profiles {
        eprintln!(
            "{}: lag 10 {:.3e}, lag 49 {:.3e}",
            p.label,
            p.ratio(10),
            p.ratio(49)
        );
    }
    assert!(profiles[0].ratio(49) < 1e-3, "{}", profiles[0].ratio(49));
    assert!(profiles[1].ratio(49) > 10.0, "{}", profiles[1].ratio(49));
    assert!(profiles[2].ratio(49) > 1e-3, "{}", profiles[2].ratio(49));
}
