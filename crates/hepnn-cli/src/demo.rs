//! `hepnn demo`: everything hepnn has, on embedded defaults, into one report folder.

use std::fmt::Write as _;

use anyhow::Context;

use crate::Common;
use crate::course;
use crate::summary::{Summary, prepare_out};

/// Runs every example into `OUT/`, then writes `OUT/report.md` and the merged `OUT/summary.json`.
pub fn run(common: &Common) -> anyhow::Result<()> {
    prepare_out(&common.out)?;
    let start = std::time::Instant::now();
    let mut all = Summary::new();
    all.set("seed", common.seed);
    // The headline: the GNN tracking chain, simulated events to tracks.
    let tracking = crate::tracking::demo(common)?;
    all.extend_prefixed("tracking_", &tracking);
    let neuron = course::neuron::run(common)?;
    let approx = course::approx::run(common)?;
    let backprop = course::backprop::run(common, &course::backprop::BackpropOptions::default())?;
    let karate = course::gnn::run(common)?;
    let trigger = course::gnn::run_trigger(common)?;
    let param_count = hepnn_nn::mlp::MlpConfig::new(vec![10, 10, 10, 2]).param_count();
    all.set("param_count", param_count);
    for part in [&neuron, &approx, &backprop, &karate, &trigger] {
        all.extend(part);
    }
    all.set("demo_seconds", start.elapsed().as_secs_f64());
    all.write(&common.out)?;

    let mut md = String::new();
    let f = |s: &Summary, k: &str| {
        s.get(k)
            .map(|v| v.to_string())
            .unwrap_or_else(|| "—".into())
    };
    writeln!(
        md,
        "# hepnn demo report\n\nSeed {}. Every figure is also in `summary.json`.\n",
        common.seed
    )?;
    writeln!(md, "## GNN track reconstruction\n")?;
    writeln!(
        md,
        "The tracking chain on simulated TrackML-detector events at ⟨μ⟩ = {}: a module map \
         (GNN4ITk) learned from simulated events builds the candidate hit pairs ({} module pairs); \
         an interaction network ({} parameters, 8 message-passing steps) trained for {} s on \
         {} η/φ regions scores them; connected components and a walk through junctions build \
         the tracks. On {} held-out events, for particles with pT > 1 GeV and ≥ 3 hits:\n\n\
         | figure | value |\n|---|---|\n\
         | track efficiency | **{}** |\n| fake rate | {} |\n| duplicate rate | {} |\n\
         | TrackML score | {} |\n| edge efficiency / purity | {} / {} |\n\
         | graph construction efficiency (pT > 1 GeV pairs) | {} |\n\
         | seconds per event (all stages) | {} |\n\n\
         Model and config: `tracking/model/`; submission: `tracking/submission.csv`.\n\n\
         ![efficiency vs pT](tracking/efficiency_vs_pt.png)\n\
         ![efficiency vs eta](tracking/efficiency_vs_eta.png)\n\
         ![event display](tracking/event_display.png)\n\
         ![training](tracking/model/training.png)\n",
        f(&tracking, "tracking_pileup"),
        f(&tracking, "tracking_module_map_pairs"),
        f(&tracking, "tracking_param_count"),
        f(&tracking, "tracking_train_seconds"),
        f(&tracking, "tracking_train_regions"),
        f(&tracking, "events"),
        f(&tracking, "track_efficiency"),
        f(&tracking, "fake_rate"),
        f(&tracking, "duplicate_rate"),
        f(&tracking, "trackml_score"),
        f(&tracking, "edge_efficiency"),
        f(&tracking, "edge_purity"),
        f(&tracking, "graph_edge_efficiency_pt_min"),
        f(&tracking, "seconds_per_event"),
    )?;
    writeln!(md, "## Formal neurons\n")?;
    writeln!(
        md,
        "McCulloch–Pitts neurons (y = H(Σwᵢxᵢ − θ)) make AND, OR, NOT, NAND and XOR; a 4-bit \
         ripple-carry adder of {} neurons adds all 256 input pairs correctly: **{} / 256**.\n\n\
         ![activations](neuron_activations.png)\n",
        f(&neuron, "adder_neurons"),
        f(&neuron, "adder_cases_passed")
    )?;
    writeln!(md, "## Universal approximation\n")?;
    writeln!(
        md,
        "max |sin x − f_N(x)| on [0, 2π] for f_N a sum of N shifted ReLUs:\n"
    )?;
    writeln!(
        md,
        "| N | interpolant | trained (Adam) | Gaussian bump |\n|---|---|---|---|"
    )?;
    for n in course::approx::NS {
        writeln!(
            md,
            "| {n} | {} | {} | {} |",
            f(&approx, &format!("approx_max_error_sin_n{n}")),
            f(&approx, &format!("approx_max_error_sin_trained_n{n}")),
            f(&approx, &format!("approx_max_error_gauss_n{n}"))
        )?;
    }
    writeln!(
        md,
        "\n![approximations](approx_sin.png)\n![errors](approx_error.png)\n"
    )?;
    writeln!(md, "## MLP and backpropagation\n")?;
    writeln!(
        md,
        "An MLP with n = p = q = 10 and two outputs has (n+1)p + (p+1)q + (q+1)·2 = **{param_count}** \
         parameters.\n\nWorked example (Mazur 2015): loss ½Σ(ŷ−y)² = {} before and {} after one \
         gradient-descent step (α = 0.5); w₅ = {} (by hand 0.35891648).\n\n\
         Physics: an MLP 6-64-64-1 learns q/pT from three pixel hits (2 T, σ = 14.4 µm), trained \
         by backpropagation with Adam and an exponentially decaying learning rate. On {} test \
         tracks σ(q/pT) = {} GeV⁻¹ against {} GeV⁻¹ for the circle through the three hits (ratio {}) \
         and {} GeV⁻¹ for the circle through the beam line and the three hits (ratio {}): the MLP \
         learns the beam-line constraint from the data.\n\n\
         ![resolution](pt_resolution.png)\n![training](pt_mlp/training.png)\n",
        f(&backprop, "backprop_worked_loss_before"),
        f(&backprop, "backprop_worked_loss_after"),
        f(&backprop, "backprop_worked_w5_after"),
        f(&backprop, "pt_test_tracks"),
        f(&backprop, "pt_mlp_sigma_q_over_pt"),
        f(&backprop, "pt_circle_fit_sigma_q_over_pt"),
        f(&backprop, "pt_mlp_over_circle_fit"),
        f(&backprop, "pt_beam_constrained_fit_sigma_q_over_pt"),
        f(&backprop, "pt_mlp_over_beam_constrained_fit"),
    )?;
    writeln!(md, "## Graph neural networks\n")?;
    writeln!(
        md,
        "Zachary's karate club (34 members, 78 friendships): a two-layer GCN (Kipf & Welling 2017) \
         trained on the faction of the instructor and of the officer only predicts the faction of \
         the other 32 members with accuracy **{}** (misclassified: {}).\n",
        f(&karate, "karate_accuracy"),
        f(&karate, "karate_misclassified"),
    )?;
    writeln!(
        md,
        "Graph classification, a track trigger: the three pixel hits of a simulated track form a \
         small graph; two EdgeConv layers and a mean-pooling head decide pT > 3 GeV with accuracy \
         **{}** on {} test tracks, against {} for the same cut on the three-point circle fit.\n",
        f(&trigger, "trigger_gnn_accuracy"),
        f(&trigger, "trigger_test_tracks"),
        f(&trigger, "trigger_circle_fit_accuracy"),
    )?;
    let path = common.out.join("report.md");
    hepnn_nn::plot::atomic_write(&path, md.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    println!("{}", all.table("hepnn demo"));
    println!("report: {}", path.display());
    Ok(())
}
