//! Criterion benchmark of the GNN workload of issue 4 ("compass" table), the same shapes as
//! `bench/pytorch/gnn_step.py`:
//!
//! N = 50,000 nodes (3 features), E = 400,000 random edges, hidden 64; node encoder 3→64→64,
//! edge encoder [h_i, h_j] 128→64→64; 4 iterations of edge MLP [h_i, h_j, e] 192→64→64, sum
//! aggregation onto targets, node MLP [h, a] 128→64→64; edge classifier 64→1; BCE with logits,
//! Adam (lr 1e-3). MLPs are Linear–ReLU–Linear.
//!
//! - `gnn_train_step`: forward + backward + Adam update, the edge MLPs and the aggregation as
//!   the fused kernels of `hepnn_nn::kernels::gnn` (first layer split into node projections
//!   gathered per edge, no [E, 192] concatenation; the node MLPs likewise without [h, a]; the edge
//!   index sorted once per step, counted).
//! - `gnn_forward`: the same forward only (no autodiff).
//! - `gnn_train_step_plain`, `gnn_forward_plain`: the plain burn graph (`select`, `cat`,
//!   `select_assign`), the same function; the bench checks at start that both give the same
//!   logits.
//!
//! Run: `cargo bench -p hepnn-bench --bench gnn` (each step takes seconds: 10 samples);
//! `-- 'gnn/gnn_(train_step|forward)$'` for the fused ones only. Without criterion, the time of
//! each phase (forward, backward, Adam; wall and process CPU seconds) of n steps:
//! `HEPNN_GNN_STEPS=n [HEPNN_NO_GNN_KERNEL=1] target/release/deps/gnn-<hash> --bench`.

use std::time::Duration;

use burn::nn::loss::BinaryCrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use criterion::{Criterion, criterion_group};
use std::sync::Arc;

use hepnn_nn::gnn::{Aggregation, aggregate};
use hepnn_nn::kernels::gnn::{EdgeIndex, ScatterMode, edge_mlp, node_mlp, scatter};
use hepnn_nn::mlp::{Mlp, MlpConfig};

const NODES: usize = 50_000;
const EDGES: usize = 400_000;
const HIDDEN: usize = 64;
const ITERATIONS: usize = 4;

#[derive(Module, Debug)]
struct Workload {
    node_encoder: Mlp,
    edge_encoder: Mlp,
    edge_mlps: Vec<Mlp>,
    node_mlps: Vec<Mlp>,
    classifier: Linear,
}

impl Workload {
    fn new(device: &Device) -> Self {
        let h = HIDDEN;
        Self {
            node_encoder: MlpConfig::new(vec![3, h, h]).init(device),
            edge_encoder: MlpConfig::new(vec![2 * h, h, h]).init(device),
            edge_mlps: (0..ITERATIONS)
                .map(|_| MlpConfig::new(vec![3 * h, h, h]).init(device))
                .collect(),
            node_mlps: (0..ITERATIONS)
                .map(|_| MlpConfig::new(vec![2 * h, h, h]).init(device))
                .collect(),
            classifier: LinearConfig::new(h, 1).init(device),
        }
    }

    fn forward(
        &self,
        x: Tensor<2>,
        sources: &Tensor<1, Int>,
        targets: &Tensor<1, Int>,
    ) -> Tensor<1> {
        let mut h = self.node_encoder.forward(x);
        let pair = |h: &Tensor<2>| {
            vec![
                h.clone().select(0, targets.clone()),
                h.clone().select(0, sources.clone()),
            ]
        };
        let mut e = self.edge_encoder.forward(Tensor::cat(pair(&h), 1));
        for k in 0..ITERATIONS {
            let mut parts = pair(&h);
            parts.push(e);
            e = self.edge_mlps[k].forward(Tensor::cat(parts, 1));
            let a = aggregate(e.clone(), targets.clone(), NODES, Aggregation::Sum);
            h = self.node_mlps[k].forward(Tensor::cat(vec![h, a], 1));
        }
        self.classifier.forward(e).reshape([EDGES])
    }

    /// The same function with the fused kernels.
    fn forward_fused(&self, x: Tensor<2>, index: &Arc<EdgeIndex>) -> Tensor<1> {
        let mut h = self.node_encoder.forward(x);
        let mut e = edge_mlp(&self.edge_encoder, &h, None, index, false).expect("Flex backend");
        let sum = ScatterMode {
            mean: false,
            bidirectional: false,
        };
        for k in 0..ITERATIONS {
            e = edge_mlp(&self.edge_mlps[k], &h, Some(&e), index, false).expect("Flex backend");
            let a = scatter(&e, index, sum).expect("Flex backend");
            h = node_mlp(&self.node_mlps[k], &h, &a).expect("Flex backend");
        }
        self.classifier.forward(e).reshape([EDGES])
    }
}

/// The edge index on the host (what a data loader holds) and its sorted form.
fn edge_index(sources: &[i64], targets: &[i64]) -> Arc<EdgeIndex> {
    Arc::new(EdgeIndex::new(sources, targets, NODES).expect("indices below NODES"))
}

fn host(t: &Tensor<1, Int>) -> Vec<i64> {
    t.clone()
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .expect("ints")
}

fn inputs(device: &Device) -> (Tensor<2>, Tensor<1, Int>, Tensor<1, Int>, Tensor<1, Int>) {
    device.seed(1);
    let x = Tensor::<2>::random([NODES, 3], Distribution::Default, device);
    let index =
        |d: &Device| Tensor::<1, Int>::random([EDGES], Distribution::Uniform(0.0, NODES as f64), d);
    let labels = Tensor::<1, Int>::random([EDGES], Distribution::Uniform(0.0, 2.0), device);
    (x, index(device), index(device), labels)
}

fn gnn(c: &mut Criterion) {
    let mut group = c.benchmark_group("gnn");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30))
        .warm_up_time(Duration::from_secs(3));

    // Both versions compute the same logits.
    {
        let device = Device::flex();
        let (x, sources, targets, _) = inputs(&device);
        let model = Workload::new(&device);
        let index = edge_index(&host(&sources), &host(&targets));
        let plain = model.forward(x.clone(), &sources, &targets);
        let fused = model.forward_fused(x, &index);
        let diff = (plain.clone() - fused).abs().max().into_scalar::<f32>();
        let scale = plain.abs().max().into_scalar::<f32>();
        assert!(
            diff <= 1e-4 * scale.max(1.0),
            "fused and plain logits differ by {diff} (scale {scale})"
        );
        println!("fused vs plain logits: max |Δ| = {diff:e} (max |logit| {scale})");
    }

    for fused in [true, false] {
        let suffix = if fused { "" } else { "_plain" };
        let device = Device::flex().autodiff();
        let (x, sources, targets, labels) = inputs(&device);
        let (src_host, dst_host) = (host(&sources), host(&targets));
        let mut model = Some(Workload::new(&device));
        let mut optim = AdamConfig::new().init();
        let bce = BinaryCrossEntropyLossConfig::new()
            .with_logits(true)
            .init(&device);
        group.bench_function(format!("gnn_train_step{suffix}"), |b| {
            b.iter(|| {
                let m = model.take().expect("model present between steps");
                let logits = if fused {
                    m.forward_fused(x.clone(), &edge_index(&src_host, &dst_host))
                } else {
                    m.forward(x.clone(), &sources, &targets)
                };
                let loss = bce.forward(logits, labels.clone());
                let value = loss.clone().into_scalar::<f32>();
                let grads = GradientsParams::from_grads(loss.backward(), &m);
                model = Some(optim.step(1e-3, m, grads));
                value
            })
        });

        let device = Device::flex();
        let (x, sources, targets, _) = inputs(&device);
        let (src_host, dst_host) = (host(&sources), host(&targets));
        let model = Workload::new(&device);
        group.bench_function(format!("gnn_forward{suffix}"), |b| {
            b.iter(|| {
                let logits = if fused {
                    model.forward_fused(x.clone(), &edge_index(&src_host, &dst_host))
                } else {
                    model.forward(x.clone(), &sources, &targets)
                };
                logits.sum().into_scalar::<f32>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, gnn);

/// CPU seconds (user + system) of this process so far, from `/proc/self/stat` (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and
    // 13th of them, in clock ticks of 1/100 s.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

/// `HEPNN_GNN_STEPS=n [HEPNN_NO_GNN_KERNEL=1]`: n training steps with the time of each phase (wall
/// and process CPU seconds), then n inference forward passes, without criterion.
fn phases(steps: usize, fused: bool) {
    let device = Device::flex().autodiff();
    let (x, sources, targets, labels) = inputs(&device);
    let (src_host, dst_host) = (host(&sources), host(&targets));
    let mut model = Workload::new(&device);
    let mut optim = AdamConfig::new().init();
    let bce = BinaryCrossEntropyLossConfig::new()
        .with_logits(true)
        .init(&device);
    let clock = || (std::time::Instant::now(), cpu_seconds());
    let since = |(t, c): (std::time::Instant, f64)| {
        format!(
            "{:.3} s ({:.2} CPU s)",
            t.elapsed().as_secs_f64(),
            cpu_seconds() - c
        )
    };
    for step in 0..steps {
        let (all, t0) = (clock(), clock());
        let logits = if fused {
            model.forward_fused(x.clone(), &edge_index(&src_host, &dst_host))
        } else {
            model.forward(x.clone(), &sources, &targets)
        };
        let loss = bce.forward(logits, labels.clone());
        let value = loss.clone().into_scalar::<f32>();
        let forward = since(t0);
        let t1 = clock();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let backward = since(t1);
        let t2 = clock();
        model = optim.step(1e-3, model, grads);
        println!(
            "step {step}: loss {value:.5}  forward {forward}  backward {backward}  adam {}  total {}",
            since(t2),
            since(all)
        );
    }
    // Inference: the same forward on plain tensors.
    let device = Device::flex();
    let (x, sources, targets, _) = inputs(&device);
    let model = Workload::new(&device);
    for step in 0..steps {
        let t0 = clock();
        let logits = if fused {
            model.forward_fused(x.clone(), &edge_index(&src_host, &dst_host))
        } else {
            model.forward(x.clone(), &sources, &targets)
        };
        let value = logits.sum().into_scalar::<f32>();
        println!("inference {step}: sum {value:.4}  forward {}", since(t0));
    }
}

fn main() {
    if let Some(steps) = std::env::var("HEPNN_GNN_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        phases(steps, std::env::var_os("HEPNN_NO_GNN_KERNEL").is_none());
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
