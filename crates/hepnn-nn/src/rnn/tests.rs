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

/// Values of a tensor as f64 (for comparisons).
fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .expect("float data")
}

fn assert_close(what: &str, a: Vec<f64>, b: Vec<f64>, tol: f64) {
    assert_eq!(a.len(), b.len(), "{what}: sizes");
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    assert!(worst < tol, "{what}: max |kernel − graph| = {worst:e}");
}

/// The LSTM sequence kernel (one autodiff node, hand-written backward) gives the step-by-step
/// burn graph's outputs, final states and the gradients of every input and parameter, forwards
/// and backwards in time, with and without padding, from a non-zero initial state.
#[test]
fn lstm_kernel_matches_the_step_graph_values_and_gradients() {
    let device = Device::flex().autodiff();
    device.seed(21);
    let (batch, steps, d_in, h) = (3, 7, 4, 5);
    let cell = LstmCellConfig::new(d_in, h).init(&device);
    let normal = Distribution::Normal(0.0, 1.0);
    let x = Tensor::<3>::random([batch, steps, d_in], normal, &device);
    let h0 = Tensor::<2>::random([batch, h], normal, &device);
    let c0 = Tensor::<2>::random([batch, h], normal, &device);
    let r_out = Tensor::<3>::random([batch, steps, h], normal, &device);
    let r_h = Tensor::<2>::random([batch, h], normal, &device);
    let r_c = Tensor::<2>::random([batch, h], normal, &device);
    let lengths = [7usize, 3, 5];
    for reverse in [false, true] {
        for lengths in [None, Some(&lengths[..])] {
            let run = |fused: bool| {
                let x = x.clone().require_grad();
                let h0 = h0.clone().require_grad();
                let c0 = c0.clone().require_grad();
                let initial = Some(CellState {
                    hidden: h0.clone(),
                    cell: Some(c0.clone()),
                });
                let (out, state) = if fused {
                    cell.run_fused(x.clone(), lengths, reverse, initial)
                        .expect("the kernel applies on Flex autodiff")
                } else {
                    run_steps(&cell, x.clone(), lengths, reverse, initial)
                };
                let c = state.cell.expect("cell state");
                let loss = (out.clone() * r_out.clone()).sum()
                    + (state.hidden.clone() * r_h.clone()).sum()
                    + (c.clone() * r_c.clone()).sum();
                let grads = loss.backward();
                let g1 = |t: &Tensor<1>| values(t.grad(&grads).expect("grad"));
                let g2 = |t: &Tensor<2>| values(t.grad(&grads).expect("grad"));
                let bias = |l: &burn::nn::Linear| l.bias.as_ref().expect("bias").val();
                vec![
                    ("outputs", values(out)),
                    ("final h", values(state.hidden)),
                    ("final c", values(c)),
                    ("∂x", values(x.grad(&grads).expect("x grad"))),
                    ("∂h0", g2(&h0)),
                    ("∂c0", g2(&c0)),
                    ("∂W_ih", g2(&cell.input.weight.val())),
                    ("∂b_ih", g1(&bias(&cell.input))),
                    ("∂W_hh", g2(&cell.hidden.weight.val())),
                    ("∂b_hh", g1(&bias(&cell.hidden))),
                ]
            };
            for ((what, got), (_, want)) in run(true).into_iter().zip(run(false)) {
                assert_close(
                    &format!("{what} (reverse {reverse}, lengths {lengths:?})"),
                    got,
                    want,
                    2e-5,
                );
            }
        }
    }
    // Inference on the plain device takes the kernel's forward-only path.
    let plain = Device::flex();
    let cell = cell.valid();
    let x = Tensor::<3>::from_data(x.into_data(), &plain);
    let fused = cell
        .run_fused(x.clone(), Some(&lengths), false, None)
        .expect("the kernel applies on plain Flex");
    let graph = run_steps(&cell, x, Some(&lengths), false, None);
    assert_close("inference outputs", values(fused.0), values(graph.0), 2e-5);
}

/// The kernel's hand-written backward against central finite differences in float64.
#[test]
fn lstm_kernel_gradients_match_finite_differences() {
    use crate::gradcheck::{GradCheckOptions, check_module, to_f64};
    let device = Device::flex().autodiff();
    device.seed(22);
    let cell = LstmCellConfig::new(3, 4).init(&device);
    let x = Tensor::<3>::random([2, 6, 3], Distribution::Normal(0.0, 1.0), &device);
    let r = Tensor::<3>::random([2, 6, 4], Distribution::Normal(0.0, 1.0), &device);
    let lengths = [6usize, 4];
    for reverse in [false, true] {
        let report = check_module(
            &cell,
            |m| {
                let input = to_f64(x.clone());
                assert!(m.run_fused(input.clone(), None, reverse, None).is_some());
                let (out, state) = m.run(input, Some(&lengths), reverse, None);
                (out * to_f64(r.clone())).sum() + state.hidden.sum()
            },
            &GradCheckOptions::default(),
        );
        assert!(report.passed(), "reverse {reverse}: {report:?}");
    }
}
