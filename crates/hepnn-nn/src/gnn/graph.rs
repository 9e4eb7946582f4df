//! A graph (or a batch of graphs) as tensors, PyG's `Data` / `Batch`.

use burn::prelude::*;

use crate::{NnError, Result};

/// Node features, edges, optional edge and global features, and which graph each node belongs to.
///
/// Edges are directed j → i: `edge_index` row 0 holds the sources j, row 1 the targets i
/// (PyG's `flow="source_to_target"`). An undirected graph stores both directions.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Node features x, `[N, F]`.
    pub x: Tensor<2>,
    /// `[2, E]`: sources (row 0) and targets (row 1).
    pub edge_index: Tensor<2, Int>,
    /// Edge features e, `[E, F_e]`.
    pub edge_attr: Option<Tensor<2>>,
    /// Global features u, `[B, F_g]` (one row per graph).
    pub global: Option<Tensor<2>>,
    /// The graph of each node, `[N]`, values in 0..B.
    pub batch: Tensor<1, Int>,
    /// Number of graphs B.
    pub num_graphs: usize,
}

impl Graph {
    /// One graph from host data: `x` row-major `[num_nodes, features]`, edges as (source, target)
    /// lists, optional edge features row-major `[E, F_e]` and global features `[F_g]`.
    ///
    /// Checks: `x.len()` = N·F, equal source and target counts, every index < N, edge features
    /// E·F_e long, no NaN/inf.
    #[allow(clippy::too_many_arguments)]
    pub fn from_host(
        x: &[f32],
        num_nodes: usize,
        sources: &[usize],
        targets: &[usize],
        edge_attr: Option<(&[f32], usize)>,
        global: Option<&[f32]>,
        device: &Device,
    ) -> Result<Self> {
        if num_nodes == 0 || !x.len().is_multiple_of(num_nodes) {
            return Err(NnError::Shape {
                what: "node features (length must be num_nodes × features)",
                expected: vec![num_nodes],
                got: vec![x.len()],
            });
        }
        let features = x.len() / num_nodes;
        check_finite("node features", x)?;
        if sources.len() != targets.len() {
            return Err(NnError::Shape {
                what: "edge_index (sources and targets)",
                expected: vec![sources.len()],
                got: vec![targets.len()],
            });
        }
        if let Some((k, &bad)) = sources
            .iter()
            .chain(targets)
            .enumerate()
            .find(|(_, i)| **i >= num_nodes)
        {
            return Err(NnError::InvalidConfig {
                field: "edge_index",
                value: format!("node {bad} at position {k}"),
                expected: format!("node indices below the number of nodes, {num_nodes}"),
            });
        }
        let edges = sources.len();
        let to_i64 = |v: &[usize]| v.iter().map(|&i| i as i64).collect::<Vec<_>>();
        let mut index = to_i64(sources);
        index.extend(to_i64(targets));
        let edge_index = Tensor::<1, Int>::from_ints(index.as_slice(), device).reshape([2, edges]);
        let edge_attr = match edge_attr {
            Some((values, f)) => {
                if values.len() != edges * f {
                    return Err(NnError::Shape {
                        what: "edge features",
                        expected: vec![edges, f],
                        got: vec![values.len()],
                    });
                }
                check_finite("edge features", values)?;
                Some(Tensor::<1>::from_floats(values, device).reshape([edges, f]))
            }
            None => None,
        };
        let global = match global {
            Some(u) => {
                check_finite("global features", u)?;
                Some(Tensor::<1>::from_floats(u, device).reshape([1, u.len()]))
            }
            None => None,
        };
        Ok(Self {
            x: Tensor::<1>::from_floats(x, device).reshape([num_nodes, features]),
            edge_index,
            edge_attr,
            global,
            batch: Tensor::<1, Int>::zeros([num_nodes], device),
            num_graphs: 1,
        })
    }

    /// Declares which graph each node belongs to (for many small graphs built as one), checking
    /// that there is one entry per node and each is below `num_graphs`.
    pub fn with_batch(mut self, batch: &[usize], num_graphs: usize) -> Result<Self> {
        if batch.len() != self.num_nodes() {
            return Err(NnError::Shape {
                what: "batch vector (one graph index per node)",
                expected: vec![self.num_nodes()],
                got: vec![batch.len()],
            });
        }
        if let Some(&bad) = batch.iter().find(|&&b| b >= num_graphs) {
            return Err(NnError::InvalidConfig {
                field: "batch",
                value: bad.to_string(),
                expected: format!("graph indices below num_graphs = {num_graphs}"),
            });
        }
        let ints: Vec<i64> = batch.iter().map(|&b| b as i64).collect();
        self.batch = Tensor::<1, Int>::from_ints(ints.as_slice(), &self.x.device());
        self.num_graphs = num_graphs;
        Ok(self)
    }

    /// Number of nodes N.
    pub fn num_nodes(&self) -> usize {
        self.x.dims()[0]
    }

    /// Number of edges E.
    pub fn num_edges(&self) -> usize {
        self.edge_index.dims()[1]
    }

    /// The sources j of the edges, `[E]`.
    pub fn sources(&self) -> Tensor<1, Int> {
        row(&self.edge_index, 0)
    }

    /// The targets i of the edges, `[E]`.
    pub fn targets(&self) -> Tensor<1, Int> {
        row(&self.edge_index, 1)
    }

    /// The graph of each edge (that of its target), `[E]`.
    pub fn edge_batch(&self) -> Tensor<1, Int> {
        self.batch.clone().select(0, self.targets())
    }

    /// Batches graphs into one: node features stacked, each graph's edge indices offset by the
    /// number of nodes before it, `batch` numbering the graphs. All graphs must have the same
    /// feature widths and either all or none of the edge and global features.
    pub fn batch(graphs: &[Graph]) -> Result<Graph> {
        let first = graphs.first().ok_or(NnError::Shape {
            what: "graph batch (needs at least one graph)",
            expected: vec![1],
            got: vec![0],
        })?;
        let device = first.x.device();
        let mut offset = 0i64;
        let mut graph_offset = 0i64;
        let mut edge_index = Vec::with_capacity(graphs.len());
        let mut batch = Vec::with_capacity(graphs.len());
        for g in graphs {
            if g.x.dims()[1] != first.x.dims()[1]
                || g.edge_attr.is_some() != first.edge_attr.is_some()
                || g.global.is_some() != first.global.is_some()
            {
                return Err(NnError::Shape {
                    what: "graph batch (feature widths and optional features must agree)",
                    expected: first.x.dims().to_vec(),
                    got: g.x.dims().to_vec(),
                });
            }
            edge_index.push(g.edge_index.clone().add_scalar(offset));
            batch.push(g.batch.clone().add_scalar(graph_offset));
            offset += g.num_nodes() as i64;
            graph_offset += g.num_graphs as i64;
        }
        let cat_opt = |f: &dyn Fn(&Graph) -> Option<Tensor<2>>| -> Option<Tensor<2>> {
            let parts: Option<Vec<Tensor<2>>> = graphs.iter().map(f).collect();
            parts.map(|p| Tensor::cat(p, 0))
        };
        Ok(Graph {
            x: Tensor::cat(graphs.iter().map(|g| g.x.clone()).collect(), 0),
            edge_index: Tensor::cat(edge_index, 1),
            edge_attr: cat_opt(&|g| g.edge_attr.clone()),
            global: cat_opt(&|g| g.global.clone()),
            batch: Tensor::cat(batch, 0).to_device(&device),
            num_graphs: graph_offset as usize,
        })
    }
}

fn row(edge_index: &Tensor<2, Int>, r: usize) -> Tensor<1, Int> {
    let [_, e] = edge_index.dims();
    edge_index.clone().slice([r..r + 1, 0..e]).reshape([e])
}

fn check_finite(what: &'static str, values: &[f32]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(NnError::NonFinite {
            what,
            index,
            value: f64::from(values[index]),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(t: Tensor<1, Int>) -> Vec<i64> {
        t.into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .expect("ints")
    }

    #[test]
    fn batching_offsets_the_edge_indices() {
        let device = Device::flex();
        let a =
            Graph::from_host(&[1.0, 2.0, 3.0], 3, &[0, 1], &[1, 2], None, None, &device).unwrap();
        let b = Graph::from_host(&[4.0, 5.0], 2, &[1], &[0], None, None, &device).unwrap();
        let g = Graph::batch(&[a, b]).unwrap();
        assert_eq!(g.num_nodes(), 5);
        assert_eq!(g.num_graphs, 2);
        assert_eq!(ints(g.sources()), vec![0, 1, 4]);
        assert_eq!(ints(g.targets()), vec![1, 2, 3]);
        assert_eq!(ints(g.batch.clone()), vec![0, 0, 0, 1, 1]);
        assert_eq!(ints(g.edge_batch()), vec![0, 0, 1]);
    }

    #[test]
    fn bad_graphs_give_clear_errors() {
        let device = Device::flex();
        let err =
            Graph::from_host(&[1.0, 2.0], 2, &[0, 5], &[1, 0], None, None, &device).unwrap_err();
        assert!(err.to_string().contains("node 5"), "{err}");
        let err =
            Graph::from_host(&[1.0, 2.0, 3.0], 2, &[0], &[1], None, None, &device).unwrap_err();
        assert!(err.to_string().contains("node features"), "{err}");
        let err = Graph::from_host(&[1.0, 2.0], 2, &[0], &[1, 0], None, None, &device).unwrap_err();
        assert!(err.to_string().contains("edge_index"), "{err}");
        let err =
            Graph::from_host(&[1.0, f32::NAN], 2, &[0], &[1], None, None, &device).unwrap_err();
        assert!(err.to_string().contains("non-finite"), "{err}");
        let err = Graph::from_host(
            &[1.0, 2.0],
            2,
            &[0],
            &[1],
            Some((&[1.0, 2.0, 3.0], 2)),
            None,
            &device,
        )
        .unwrap_err();
        assert!(err.to_string().contains("edge features"), "{err}");
    }
}
