//! The tracking chain's GNN stage (edge classification with the interaction network) timed in
//! hepnn, and everything PyTorch needs to run the very same model on the very same graph
//! (`bench/pytorch/tracking_gnn.py`, issue 5: "the GNN stage compared in the same run with the
//! same model in PyTorch").
//!
//! 1. Loads a trained model folder (default `models/tracking`, the shipped ⟨μ⟩ = 200 model).
//! 2. Simulates test event 1 of its config (the first event `hepnn evaluate tracking` uses) and
//!    builds its module-map graph.
//! 3. Times the GNN stage as the chain runs it (`GnnStage::classify`: graph to the device,
//!    forward, sigmoid, scores back to the host), `--runs` times after one warm-up.
//! 4. Writes `--out` (default `/tmp/hepnn_tracking_gnn.npz`): node features `x` [N, 3],
//!    `edge_attr` [E, 5], `sources`/`targets` [E], hepnn's `logits` [E] and `hepnn_seconds`,
//!    the model's settings (`meta_*`) and every weight under its module path
//!    (`steps.0.relational.layers.1.weight`, burn's [in, out] layout).
//!
//! ```bash
//! RAYON_NUM_THREADS=2 cargo run --release -p hepnn-bench --example tracking_gnn -- --runs 3
//! python3 bench/pytorch/tracking_gnn.py /tmp/hepnn_tracking_gnn.npz --threads 2 --runs 3
//! ```

use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use hepnn_core::io::npz::{NpzArray, write_npz};
use hepnn_nn::gnn::Aggregation;
use hepnn_nn::mlp::Mlp;
use hepnn_tracking::features::{EDGE_FEATURES, NODE_FEATURES};
use hepnn_tracking::pipeline::{Stage, load_classifier, load_pipeline};

/// An owned array for the archive.
struct Array {
    name: String,
    shape: Vec<u64>,
    values: Vec<f32>,
}

fn host(t: Tensor<1>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 values")
}

fn mlp_arrays(prefix: &str, mlp: &Mlp, out: &mut Vec<Array>) {
    for (i, layer) in mlp.layers.iter().enumerate() {
        let w = layer.weight.val();
        let [d_in, d_out] = w.dims();
        out.push(Array {
            name: format!("{prefix}.layers.{i}.weight"),
            shape: vec![d_in as u64, d_out as u64],
            values: host(w.reshape([d_in * d_out])),
        });
        if let Some(b) = &layer.bias {
            out.push(Array {
                name: format!("{prefix}.layers.{i}.bias"),
                shape: vec![d_out as u64],
                values: host(b.val()),
            });
        }
    }
    for (i, norm) in mlp.norms.iter().enumerate() {
        let gamma = host(norm.gamma.val());
        out.push(Array {
            name: format!("{prefix}.norms.{i}.gamma"),
            shape: vec![gamma.len() as u64],
            values: gamma,
        });
        if let Some(beta) = &norm.beta {
            let beta = host(beta.val());
            out.push(Array {
                name: format!("{prefix}.norms.{i}.beta"),
                shape: vec![beta.len() as u64],
                values: beta,
            });
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut model_dir = PathBuf::from("models/tracking");
    let mut out = PathBuf::from("/tmp/hepnn_tracking_gnn.npz");
    let mut runs = 3usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--model" => model_dir = value()?.into(),
            "--out" => out = value()?.into(),
            "--runs" => runs = value()?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    // `cargo run -p hepnn-bench` runs in bench/: paths are relative to the workspace root.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let model_dir = if model_dir.is_relative() {
        root.join(model_dir)
    } else {
        model_dir
    };

    let device = Device::flex();
    let (config, pipeline) = load_pipeline(&model_dir, &device)?;
    let model = load_classifier(&model_dir, &device)?;
    let detector = config.events.detector()?;
    let event = hepnn_cli::tracking::simulate_events(&detector, &config.events, 1, 1)
        .pop()
        .ok_or("no event simulated")?;
    let start = Instant::now();
    let graph = pipeline
        .run_until(&event, Stage::Graph)?
        .graph
        .ok_or("no graph")?;
    let graph_seconds = start.elapsed().as_secs_f64();
    let (n, e) = (graph.num_hits, graph.num_edges());
    eprintln!(
        "event 1 of {}: ⟨μ⟩ = {}, {n} hits, {e} edges (graph construction {graph_seconds:.2} s)",
        model_dir.display(),
        config.events.pileup
    );

    pipeline.classifier.classify(&graph)?; // warm-up
    let mut seconds = Vec::with_capacity(runs);
    for run in 0..runs {
        let start = Instant::now();
        let scores = pipeline.classifier.classify(&graph)?;
        seconds.push(start.elapsed().as_secs_f64());
        assert_eq!(scores.len(), e);
        eprintln!("hepnn GNN stage, run {}: {:.3} s", run + 1, seconds[run]);
    }
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all cores".into());
    println!(
        "{{\"name\": \"tracking_gnn_stage\", \"hits\": {n}, \"edges\": {e}, \
         \"threads\": \"{threads}\", \"median_s\": {median:.4}}}"
    );

    let logits = host(model.forward(&graph.to_device(&device)?));
    let mut arrays = vec![
        Array {
            name: "x".into(),
            shape: vec![n as u64, NODE_FEATURES as u64],
            values: graph.node_features.clone(),
        },
        Array {
            name: "edge_attr".into(),
            shape: vec![e as u64, EDGE_FEATURES as u64],
            values: graph.edge_features.clone(),
        },
        Array {
            name: "sources".into(),
            shape: vec![e as u64],
            values: graph.edges.sources.iter().map(|&s| s as f32).collect(),
        },
        Array {
            name: "targets".into(),
            shape: vec![e as u64],
            values: graph.edges.targets.iter().map(|&t| t as f32).collect(),
        },
        Array {
            name: "logits".into(),
            shape: vec![e as u64],
            values: logits,
        },
        Array {
            name: "hepnn_seconds".into(),
            shape: vec![runs as u64],
            values: seconds.iter().map(|&s| s as f32).collect(),
        },
    ];
    // Indices are stored as f32: exact below 2^24 nodes.
    assert!(n < 1 << 24, "too many hits for f32 indices");
    let meta = [
        ("meta_iterations", model.iterations as f32),
        ("meta_steps", model.steps.len() as f32),
        (
            "meta_mean",
            f32::from(u8::from(model.steps[0].aggregation == Aggregation::Mean)),
        ),
        (
            "meta_bidirectional",
            f32::from(u8::from(model.steps[0].bidirectional)),
        ),
        (
            "meta_residual",
            f32::from(u8::from(model.steps[0].residual)),
        ),
        ("meta_layer_norm_eps", 1e-5),
    ];
    for (name, value) in meta {
        arrays.push(Array {
            name: name.into(),
            shape: vec![1],
            values: vec![value],
        });
    }
    mlp_arrays("node_encoder", &model.node_encoder, &mut arrays);
    mlp_arrays("edge_encoder", &model.edge_encoder, &mut arrays);
    for (k, step) in model.steps.iter().enumerate() {
        mlp_arrays(
            &format!("steps.{k}.relational"),
            &step.relational,
            &mut arrays,
        );
        mlp_arrays(&format!("steps.{k}.object"), &step.object, &mut arrays);
    }
    mlp_arrays("head", &model.head, &mut arrays);
    let views: Vec<NpzArray<'_>> = arrays
        .iter()
        .map(|a| NpzArray {
            name: &a.name,
            shape: &a.shape,
            values: &a.values,
        })
        .collect();
    write_npz(&out, &views)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}
