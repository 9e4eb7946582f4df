//! `hepnn examples neuron`: McCulloch–Pitts logic, the 4-bit adder, activation functions.

use hepnn_nn::neuron::{
    Activation, NEURONS_PER_FULL_ADDER, adder_cases_passed, gates, ripple_carry_add4,
};
use hepnn_nn::plot::{LinePlot, Series};

use crate::Common;
use crate::summary::{Summary, prepare_out};

/// Runs the example; writes `neuron_activations.png` and `summary.json`.
pub fn run(common: &Common) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    let mut s = Summary::new();
    let mut gate_rows = 0;
    let mut gate_ok = 0;
    for a in [false, true] {
        gate_ok += usize::from(gates::not().fire(&[a]) != a);
        gate_rows += 1;
        for b in [false, true] {
            gate_ok += usize::from(gates::and().fire(&[a, b]) == (a && b))
                + usize::from(gates::or().fire(&[a, b]) == (a || b))
                + usize::from(gates::nand().fire(&[a, b]) != (a && b))
                + usize::from(gates::xor(a, b) == (a ^ b));
            gate_rows += 4;
        }
    }
    s.set("gate_truth_table_rows", gate_rows);
    s.set("gate_truth_table_rows_correct", gate_ok);
    s.set("adder_cases_passed", adder_cases_passed());
    s.set("adder_neurons", 4 * NEURONS_PER_FULL_ADDER);
    let (sum, carry) = ripple_carry_add4(11, 6);
    s.set("adder_11_plus_6", u32::from(sum) + 16 * u32::from(carry));

    let mut plot = LinePlot::new("Activation functions f(z)", "z", "f(z)");
    for act in Activation::all() {
        if act == Activation::Identity {
            continue;
        }
        let points = (0..=200)
            .map(|i| {
                let z = -4.0 + 8.0 * f64::from(i) / 200.0;
                (z, act.eval(z))
            })
            .collect();
        plot = plot.with(Series::line(act.name(), points));
    }
    plot.save_png(&common.out.join("neuron_activations.png"))?;
    s.report(&common.out, "Formal neurons (McCulloch–Pitts 1943)")?;
    Ok(s)
}
