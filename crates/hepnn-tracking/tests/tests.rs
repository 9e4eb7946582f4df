//! The trained Exa.TrkX GNN (arXiv:2103.06995) run from `shared/data/exatrkx/gnn.onnx` reproduces
//! the inference service's logits for event 1000, and bad ONNX files give errors that say what is
//! wrong.
//!
//! `cargo test --release -p hepnn-tracking --test tests -- --nocapture` prints the largest
//! difference from the reference logits and the time of one forward pass.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use hepnn_core::io::onnx::proto;
use hepnn_nn::gnn::Graph;
use hepnn_tracking::exatrkx::ExaTrkxGnn;
use prost::Message;

/// `shared/data/exatrkx`, or `None` (with a note) when this checkout has no shared data.
fn data_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/exatrkx");
    if dir.join("gnn.onnx").is_file() {
        Some(dir)
    } else {
        eprintln!("skipped: no Exa.TrkX data in {}", dir.display());
        None
    }
}

/// Rows of a comma-separated file of numbers.
fn read_rows(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            line.split(',')
                .map(|v| {
                    v.trim()
                        .parse::<f64>()
                        .unwrap_or_else(|e| panic!("{}: `{v}`: {e}", path.display()))
                })
                .collect()
        })
        .collect()
}

/// Node indices stored as floats (`3.000000000000000000e+00`).
fn indices(row: &[f64]) -> Vec<usize> {
    row.iter()
        .map(|&v| {
            assert!(v >= 0.0 && v.fract() == 0.0, "not a node index: {v}");
            v as usize
        })
        .collect()
}

#[test]
fn exatrkx_gnn_reproduces_the_services_logits_for_event_1000() {
    let Some(dir) = data_dir() else { return };
    let device = Device::flex();
    let started = Instant::now();
    let gnn = ExaTrkxGnn::from_onnx(dir.join("gnn.onnx"), &device).expect("the model loads");
    let load_time = started.elapsed();

    let hits = read_rows(&dir.join("in_e1000.csv"));
    assert!(hits.iter().all(|h| h.len() == 3), "r/1000, φ/π, z/1000");
    let x: Vec<f32> = hits.iter().flatten().map(|&v| v as f32).collect();
    let edge_list = read_rows(&dir.join("stage_io/applyfilter_output_EDGE_LIST_AFTER_FILTER.csv"));
    assert_eq!(edge_list.len(), 2, "rows: sources, targets");
    let (sources, targets) = (indices(&edge_list[0]), indices(&edge_list[1]));
    let expected: Vec<f64> = read_rows(&dir.join("stage_io/gnn_output_OUTPUT__0.csv"))
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(expected.len(), sources.len(), "one logit per edge");
    let graph = Graph::from_host(&x, hits.len(), &sources, &targets, None, None, &device)
        .expect("edge indices are below the number of hits");

    let mut times = Vec::new();
    let mut logits = Vec::new();
    for _ in 0..11 {
        let started = Instant::now();
        logits = gnn
            .forward(&graph)
            .into_data()
            .convert::<f64>()
            .try_to_vec::<f64>()
            .expect("f64 data");
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let max_diff = logits
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "Exa.TrkX GNN, event 1000: {} hits, {} edges, {} iterations; max |Δ logit| = {max_diff:.2e}",
        hits.len(),
        sources.len(),
        gnn.iterations
    );
    println!(
        "load {:.1} ms; forward: first {:.1} ms, median of 11 {:.1} ms",
        load_time.as_secs_f64() * 1e3,
        times[0],
        sorted[5]
    );
    assert_eq!(logits.len(), expected.len());
    assert!(max_diff < 1e-3, "max |Δ logit| = {max_diff}");
}

#[test]
fn edge_list_rows_are_sources_then_targets() {
    // The edge network reads [h_source, h_target]: with the rows swapped the logits differ, so the
    // match above pins the orientation (row 0 sources, row 1 targets).
    let Some(dir) = data_dir() else { return };
    let device = Device::flex();
    let gnn = ExaTrkxGnn::from_onnx(dir.join("gnn.onnx"), &device).expect("the model loads");
    let hits = read_rows(&dir.join("in_e1000.csv"));
    let x: Vec<f32> = hits.iter().flatten().map(|&v| v as f32).collect();
    let edge_list = read_rows(&dir.join("stage_io/applyfilter_output_EDGE_LIST_AFTER_FILTER.csv"));
    let (sources, targets) = (indices(&edge_list[0]), indices(&edge_list[1]));
    let expected: Vec<f64> = read_rows(&dir.join("stage_io/gnn_output_OUTPUT__0.csv"))
        .into_iter()
        .flatten()
        .collect();
    let swapped = Graph::from_host(&x, hits.len(), &targets, &sources, None, None, &device)
        .expect("valid indices");
    let logits = gnn
        .forward(&swapped)
        .into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .expect("f64 data");
    let max_diff = logits
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        max_diff > 0.1,
        "swapped rows give max |Δ logit| = {max_diff}"
    );
}

/// Decodes the real model, changes it with `edit`, writes it to a temporary file and loads it.
fn load_edited(edit: impl FnOnce(&mut proto::GraphProto)) -> Option<String> {
    let dir = data_dir()?;
    let bytes = std::fs::read(dir.join("gnn.onnx")).expect("readable");
    let mut model = proto::ModelProto::decode(bytes.as_slice()).expect("valid ONNX");
    edit(model.graph.as_mut().expect("a graph"));
    let folder = tempfile::tempdir().expect("a temporary folder");
    let path = folder.path().join("edited.onnx");
    std::fs::write(&path, model.encode_to_vec()).expect("writable");
    let error = ExaTrkxGnn::from_onnx(&path, &Device::flex()).expect_err("the edit breaks it");
    Some(error.to_string())
}

#[test]
fn missing_initializer_is_named() {
    let Some(message) = load_edited(|graph| {
        graph
            .initializer
            .retain(|t| t.name != "node_network.network.3.bias");
    }) else {
        return;
    };
    assert!(
        message.contains("initializer `node_network.network.3.bias`: missing from the model")
            && message.contains("edited.onnx"),
        "{message}"
    );
}

#[test]
fn wrong_shape_is_named() {
    let Some(message) = load_edited(|graph| {
        let weight = graph
            .initializer
            .iter_mut()
            .find(|t| t.name == "edge_network.network.0.weight")
            .expect("present");
        weight.dims = vec![134, 67];
    }) else {
        return;
    };
    assert!(
        message.contains(
            "initializer `edge_network.network.0.weight`: expected shape [67, 134], found [134, 67]"
        ),
        "{message}"
    );
}

#[test]
fn truncated_or_garbage_onnx_is_a_clear_error() {
    let Some(dir) = data_dir() else { return };
    let bytes = std::fs::read(dir.join("gnn.onnx")).expect("readable");
    let folder = tempfile::tempdir().expect("a temporary folder");
    let device = Device::flex();
    for (name, content) in [
        ("truncated.onnx", bytes[..bytes.len() / 2].to_vec()),
        (
            "garbage.onnx",
            b"\xde\xad\xbe\xef this is not a model".to_vec(),
        ),
        ("empty.onnx", Vec::new()),
    ] {
        let path = folder.path().join(name);
        std::fs::write(&path, content).expect("writable");
        let message = ExaTrkxGnn::from_onnx(&path, &device)
            .expect_err("not a model")
            .to_string();
        println!("{name}: {message}");
        assert!(message.contains(name), "names the file: {message}");
        assert!(
            message.contains("not a valid ONNX model") || message.contains("no graph"),
            "{message}"
        );
    }
    let absent = ExaTrkxGnn::from_onnx(folder.path().join("absent.onnx"), &device)
        .expect_err("no file")
        .to_string();
    assert!(absent.contains("absent.onnx"), "{absent}");
}
