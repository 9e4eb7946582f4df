//! Criterion benchmark of the GNN workload of issue 4 ("compass" table), the same shapes as
//! `bench/pytorch/gnn_step.py`:
//!
//! N = 50,000 nodes (3 features), E = 400,000 random edges, hidden 64; node encoder 3→64→64,
//! edge encoder [h_i, h_j] 128→64→64; 4 iterations of edge MLP [h_i, h_j, e] 192→64→64, sum
//! aggregation onto targets, node MLP [h, a] 128→64→64; edge classifier 64→1; BCE with logits,
//! Adam (lr 1e-3). MLPs are Linear–ReLU–Linear.
//!
//! - `gnn_train_step`: forward + backward + Adam update.
//! - `gnn_forward`: forward only (no autodiff).
//!
//! Run: `cargo bench -p hepnn-bench --bench gnn` (each step takes seconds: 10 samples).

use std::time::Duration;

use burn::nn::loss::BinaryCrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use criterion::{Criterion, criterion_group, criterion_main};
use hepnn_nn::gnn::{Aggregation, aggregate};
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

    let device = Device::flex().autodiff();
    let (x, sources, targets, labels) = inputs(&device);
    let mut model = Some(Workload::new(&device));
    let mut optim = AdamConfig::new().init();
    let bce = BinaryCrossEntropyLossConfig::new()
        .with_logits(true)
        .init(&device);
    group.bench_function("gnn_train_step", |b| {
        b.iter(|| {
            let m = model.take().expect("model present between steps");
            let loss = bce.forward(m.forward(x.clone(), &sources, &targets), labels.clone());
            let value = loss.clone().into_scalar::<f32>();
            let grads = GradientsParams::from_grads(loss.backward(), &m);
            model = Some(optim.step(1e-3, m, grads));
            value
        })
    });

    let device = Device::flex();
    let (x, sources, targets, _) = inputs(&device);
    let model = Workload::new(&device);
    group.bench_function("gnn_forward", |b| {
        b.iter(|| {
            model
                .forward(x.clone(), &sources, &targets)
                .sum()
                .into_scalar::<f32>()
        })
    });
    group.finish();
}

criterion_group!(benches, gnn);
criterion_main!(benches);
