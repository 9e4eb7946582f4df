//! Zachary's karate club: 34 members, 78 friendships, and the club's split into two factions.
//!
//! W. W. Zachary, *An information flow model for conflict and fission in small groups*,
//! J. Anthropol. Res. 33 (1977) 452. The graph and the faction of each member are a published
//! fact (the same edge list and `club` labels as networkx's `karate_club_graph`).

/// The 78 undirected edges (0-based member numbers).
pub const EDGES: [(usize, usize); 78] = [
    (0, 1),
    (0, 2),
    (0, 3),
    (0, 4),
    (0, 5),
    (0, 6),
    (0, 7),
    (0, 8),
    (0, 10),
    (0, 11),
    (0, 12),
    (0, 13),
    (0, 17),
    (0, 19),
    (0, 21),
    (0, 31),
    (1, 2),
    (1, 3),
    (1, 7),
    (1, 13),
    (1, 17),
    (1, 19),
    (1, 21),
    (1, 30),
    (2, 3),
    (2, 7),
    (2, 8),
    (2, 9),
    (2, 13),
    (2, 27),
    (2, 28),
    (2, 32),
    (3, 7),
    (3, 12),
    (3, 13),
    (4, 6),
    (4, 10),
    (5, 6),
    (5, 10),
    (5, 16),
    (6, 16),
    (8, 30),
    (8, 32),
    (8, 33),
    (9, 33),
    (13, 33),
    (14, 32),
    (14, 33),
    (15, 32),
    (15, 33),
    (18, 32),
    (18, 33),
    (19, 33),
    (20, 32),
    (20, 33),
    (22, 32),
    (22, 33),
    (23, 25),
    (23, 27),
    (23, 29),
    (23, 32),
    (23, 33),
    (24, 25),
    (24, 27),
    (24, 31),
    (25, 31),
    (26, 29),
    (26, 33),
    (27, 33),
    (28, 31),
    (28, 33),
    (29, 32),
    (29, 33),
    (30, 32),
    (30, 33),
    (31, 32),
    (31, 33),
    (32, 33),
];

/// Number of members.
pub const NUM_NODES: usize = 34;

/// The members who followed the instructor, Mr. Hi (member 0); the others followed the
/// officer (member 33).
pub const MR_HI: [usize; 17] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 16, 17, 19, 21];

/// Faction of each member: 0 = Mr. Hi, 1 = Officer.
pub fn factions() -> [usize; NUM_NODES] {
    let mut f = [1; NUM_NODES];
    for &m in &MR_HI {
        f[m] = 0;
    }
    f
}

/// Both directions of every edge, as (sources, targets).
pub fn directed_edges() -> (Vec<usize>, Vec<usize>) {
    EDGES.iter().flat_map(|&(a, b)| [(a, b), (b, a)]).unzip()
}

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;

use super::gcn::{GcnConv, GcnConvConfig};
use super::graph::Graph;
use crate::neuron::Activation;

/// A two-layer GCN for node classification (Kipf & Welling's model): GCN → ReLU → GCN.
#[derive(Module, Debug)]
pub struct TwoLayerGcn {
    /// First graph convolution.
    pub conv1: GcnConv,
    /// Second graph convolution (class logits).
    pub conv2: GcnConv,
}

impl TwoLayerGcn {
    /// Class logits `[N, classes]`.
    pub fn forward(&self, graph: &Graph) -> Tensor<2> {
        let h = Activation::Relu.forward(self.conv1.forward(graph.x.clone(), &graph.edge_index));
        self.conv2.forward(h, &graph.edge_index)
    }
}

/// What [`train_split`] found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KarateResult {
    /// Predicted faction of each member.
    pub predicted: Vec<usize>,
    /// Fraction of the 32 unlabelled members whose faction is predicted right.
    pub accuracy: f64,
    /// Training epochs.
    pub epochs: usize,
}

/// Semi-supervised node classification: the club's split predicted from one labelled member per
/// side (the instructor, 0, and the officer, 33), with a two-layer GCN on one-hot node features,
/// trained by Adam on the cross-entropy of the two labelled nodes only.
pub fn train_split(epochs: usize, seed: u64, device: &Device) -> KarateResult {
    device.seed(seed);
    let (sources, targets) = directed_edges();
    let mut identity = vec![0.0f32; NUM_NODES * NUM_NODES];
    for i in 0..NUM_NODES {
        identity[i * NUM_NODES + i] = 1.0;
    }
    let graph = Graph::from_host(&identity, NUM_NODES, &sources, &targets, None, None, device)
        .expect("the embedded karate graph is valid");
    let mut model = TwoLayerGcn {
        conv1: GcnConvConfig::new(NUM_NODES, 16).init(device),
        conv2: GcnConvConfig::new(16, 2).init(device),
    };
    let labelled = Tensor::<1, Int>::from_ints([0, 33], device);
    let labels = Tensor::<1, Int>::from_ints([0, 1], device);
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let mut optim = AdamConfig::new().init();
    for _ in 0..epochs {
        let logits = model.forward(&graph).select(0, labelled.clone());
        let loss = loss_fn.forward(logits, labels.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(0.01, model, grads);
    }
    let predicted: Vec<usize> = model
        .forward(&graph)
        .argmax(1)
        .reshape([NUM_NODES])
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .expect("class indices")
        .into_iter()
        .map(|c| c as usize)
        .collect();
    let truth = factions();
    let correct = (0..NUM_NODES)
        .filter(|&i| i != 0 && i != 33 && predicted[i] == truth[i])
        .count();
    KarateResult {
        predicted,
        accuracy: correct as f64 / (NUM_NODES - 2) as f64,
        epochs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graph_is_zacharys() {
        assert_eq!(EDGES.len(), 78);
        let f = factions();
        assert_eq!(f.iter().filter(|&&c| c == 0).count(), 17);
        assert_eq!((f[0], f[33]), (0, 1));
        // Degrees of the two leaders: 16 and 17.
        let degree = |n| EDGES.iter().filter(|&&(a, b)| a == n || b == n).count();
        assert_eq!((degree(0), degree(33)), (16, 17));
    }

    #[test]
    fn a_gcn_predicts_the_split_from_one_label_per_side() {
        let device = Device::flex().autodiff();
        let result = train_split(200, 1, &device);
        assert!(result.accuracy >= 0.9, "{result:?}");
    }
}
