//! Connected components of the kept edges (petgraph's union-find).

use petgraph::unionfind::UnionFind;

use super::{ScoredGraph, TrackCandidate};

/// Groups the hits of `graph` into connected components over the edges with `score ≥ score_cut`
/// (edge direction ignored) and returns every component with at least `min_hits` hits as one
/// candidate, hits in increasing index order; candidates are ordered by their smallest hit.
pub fn connected_components(
    graph: &ScoredGraph<'_>,
    score_cut: f64,
    min_hits: usize,
) -> Vec<TrackCandidate> {
    components(graph, score_cut)
        .into_iter()
        .filter(|hits| hits.len() >= min_hits)
        .map(|hits| TrackCandidate { hits })
        .collect()
}

/// The components with at least one kept edge (isolated hits left out), each as its hits in
/// increasing order, ordered by smallest hit.
pub(super) fn components(graph: &ScoredGraph<'_>, score_cut: f64) -> Vec<Vec<usize>> {
    let n = graph.num_hits();
    let mut union_find = UnionFind::<usize>::new(n);
    let mut touched = vec![false; n];
    for (source, target, _) in graph.kept_edges(score_cut) {
        union_find.union(source, target);
        touched[source] = true;
        touched[target] = true;
    }
    let labels = union_find.into_labeling();
    // Component of each root, numbered in order of first (smallest) hit.
    let mut slot_of_root = vec![usize::MAX; n];
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for hit in (0..n).filter(|&hit| touched[hit]) {
        let root = labels[hit];
        if slot_of_root[root] == usize::MAX {
            slot_of_root[root] = groups.len();
            groups.push(Vec::new());
        }
        groups[slot_of_root[root]].push(hit);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_components_an_isolated_edge_and_noise() {
        // 0-1-2 and 3-4-5 (the edge 2-3 is below the cut), 6-7 an isolated edge, 8 a lone hit.
        let graph = ScoredGraph::new(
            9,
            &[0, 1, 2, 3, 4, 6],
            &[1, 2, 3, 4, 5, 7],
            &[0.9, 0.8, 0.2, 0.7, 0.6, 0.9],
        )
        .expect("a valid graph");
        let all = components(&graph, 0.5);
        assert_eq!(all, [vec![0, 1, 2], vec![3, 4, 5], vec![6, 7]]);
        let tracks = connected_components(&graph, 0.5, 3);
        assert_eq!(tracks.len(), 2);
        assert_eq!(tracks[1].hits, [3, 4, 5]);
        // A looser cut joins the two tracks.
        assert_eq!(connected_components(&graph, 0.1, 3)[0].hits.len(), 6);
    }
}
