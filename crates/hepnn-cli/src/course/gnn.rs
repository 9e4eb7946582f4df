//! `hepnn examples karate`: node classification by message passing on Zachary's karate club.

use hepnn_nn::gnn::karate;

use crate::Common;
use crate::summary::{Summary, prepare_out};

/// Trains a two-layer GCN from one labelled member per faction and reports the accuracy on the
/// other 32 members.
pub fn run(common: &Common) -> anyhow::Result<Summary> {
    prepare_out(&common.out)?;
    let device = crate::device::parse(&common.device)?.autodiff();
    let result = karate::train_split(200, common.seed, &device);
    let mut s = Summary::new();
    s.set("karate_nodes", karate::NUM_NODES);
    s.set("karate_edges", karate::EDGES.len());
    s.set("karate_accuracy", result.accuracy);
    s.set(
        "karate_misclassified",
        serde_json::to_value(
            (0..karate::NUM_NODES)
                .filter(|&i| result.predicted[i] != karate::factions()[i])
                .collect::<Vec<_>>(),
        )?,
    );
    s.report(
        &common.out,
        "GCN on Zachary's karate club (2 labelled members)",
    )?;
    Ok(s)
}

/// `hepnn examples trigger`: graph classification — a track trigger. Each simulated track's
/// three pixel hits form a small graph (a chain, both directions); two EdgeConv layers and a
/// mean-pooling graph head decide whether the track's pT is above 3 GeV, compared with the same
/// cut on the classical circle fit through the hits.
pub fn run_trigger(common: &Common) -> anyhow::Result<Summary> {
    use burn::nn::loss::CrossEntropyLossConfig;
    use burn::optim::{AdamConfig, GradientsParams};
    use burn::prelude::*;
    use hepnn_nn::gnn::edge_conv::{EdgeConv, EdgeConvConfig};
    use hepnn_nn::gnn::heads::GraphHead;
    use hepnn_nn::gnn::{Aggregation, Graph};
    use hepnn_sim::tracker::three_hit::{ThreeHitConfig, ThreeHitSample};

    #[derive(Module, Debug)]
    struct TriggerGnn {
        conv1: EdgeConv,
        conv2: EdgeConv,
        head: GraphHead,
    }
    impl TriggerGnn {
        fn forward(&self, g: &Graph) -> Tensor<2> {
            let h = self.conv1.forward(g.x.clone(), &g.edge_index);
            let h = self.conv2.forward(h, &g.edge_index);
            self.head.forward(h, g)
        }
    }
    const PT_CUT: f64 = 3.0;
    let to_graph = |sample: &ThreeHitSample, range: std::ops::Range<usize>, device: &Device| {
        let n = range.len();
        let mut x = Vec::with_capacity(6 * n);
        let (mut src, mut dst, mut batch) = (vec![], vec![], vec![]);
        for (k, i) in range.clone().enumerate() {
            for [hx, hy] in sample.hits[i] {
                x.extend([(hx / 100.0) as f32, (hy / 4.0) as f32]);
                batch.push(k);
            }
            for (a, b) in [(0, 1), (1, 2)] {
                src.extend([3 * k + a, 3 * k + b]);
                dst.extend([3 * k + b, 3 * k + a]);
            }
        }
        let labels: Vec<i64> = range
            .map(|i| i64::from(1.0 / sample.q_over_pt[i].abs() > PT_CUT))
            .collect();
        let graph =
            Graph::from_host(&x, 3 * n, &src, &dst, None, None, device)?.with_batch(&batch, n)?;
        Ok::<_, anyhow::Error>((
            graph,
            Tensor::<1, Int>::from_ints(labels.as_slice(), device),
            labels,
        ))
    };

    prepare_out(&common.out)?;
    let device = crate::device::parse(&common.device)?.autodiff();
    device.seed(common.seed);
    let sim = ThreeHitConfig::default();
    let train = ThreeHitSample::simulate(&sim, 8192, common.seed);
    let test = ThreeHitSample::simulate(&sim, 4000, common.seed.wrapping_add(1));
    let mut model = TriggerGnn {
        conv1: EdgeConvConfig::new(2, 32, 32).init(&device),
        conv2: EdgeConvConfig::new(32, 32, 32).init(&device),
        head: GraphHead::new(32, 32, 2, Aggregation::Mean, &device),
    };
    let batches: Vec<_> = (0..train.len() / 256)
        .map(|b| to_graph(&train, b * 256..(b + 1) * 256, &device))
        .collect::<anyhow::Result<_>>()?;
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut optim = AdamConfig::new().init();
    let epochs = 15;
    for _ in 0..epochs {
        for (graph, labels, _) in &batches {
            let loss = loss_fn.forward(model.forward(graph), labels.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(3e-3, model, grads);
        }
    }
    let (graph, _, labels) = to_graph(&test, 0..test.len(), &device)?;
    let predicted: Vec<i64> = model
        .forward(&graph)
        .argmax(1)
        .reshape([test.len()])
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .map_err(|e| anyhow::anyhow!("reading predictions: {e:?}"))?;
    let circle = test.circle_fit_q_over_pt(sim.bz);
    let accuracy = |pred: &dyn Fn(usize) -> i64| {
        (0..test.len()).filter(|&i| pred(i) == labels[i]).count() as f64 / test.len() as f64
    };
    let gnn_accuracy = accuracy(&|i| predicted[i]);
    let fit_accuracy = accuracy(&|i| i64::from(circle[i] != 0.0 && 1.0 / circle[i].abs() > PT_CUT));
    let mut s = Summary::new();
    s.set("trigger_pt_cut_gev", PT_CUT);
    s.set("trigger_test_tracks", test.len());
    s.set("trigger_gnn_accuracy", gnn_accuracy);
    s.set("trigger_circle_fit_accuracy", fit_accuracy);
    s.report(
        &common.out,
        "Graph classification: a pT > 3 GeV track trigger (EdgeConv + pooling)",
    )?;
    Ok(s)
}
