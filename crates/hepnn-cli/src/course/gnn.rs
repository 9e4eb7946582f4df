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
    s.write(&common.out)?;
    println!(
        "{}",
        s.table("GCN on Zachary's karate club (2 labelled members)")
    );
    Ok(s)
}
