//! CC and walk: connected components, then a greedy walk through the components with junctions.

use std::collections::HashMap;

use super::components::components;
use super::{BuildingConfig, BuildingError, ScoredGraph, TrackCandidate};

/// GNN4ITk's "CC and walk" (ATLAS ITk GNN tracking, Torres et al., CTD 2023, doi:10.5281/zenodo.15178159; acorn's `CCandWalk`).
///
/// 1. Keep the edges with `score ≥ score_cut` (a duplicated hit pair counts once, with its best
///    score) and direct each one inner → outer: from the hit of smaller `hit_order` to the larger
///    (equal keys: smaller index first). GNN4ITk directs by the transverse radius r (mm); the
///    distance from the origin √(r² + z²) (mm) also orders the two hits that a track leaves on
///    overlapping modules of one endcap disk, where r can fall by a fraction of a millimetre.
/// 2. Find the connected components of the kept edges.
/// 3. A component in which every hit has at most one kept incoming and one kept outgoing edge is a
///    simple path: it is one candidate as it is, hits ordered inner → outer.
/// 4. A component with a junction (a hit with more than one kept incoming or outgoing edge) is
///    walked on its edges with `score ≥ walk_score_cut`: take the innermost hit not yet used, and
///    from it repeatedly follow the highest-score outgoing edge to an unused hit; mark the walked
///    hits used; the walked path is one candidate. Where every successor of the current hit is
///    already used (a hit shared by two crossing tracks, taken by the first walk), the walk steps
///    over the best-scored used successor, without taking it, to that hit's best unused
///    successor, so the second track keeps its outer hits. Then the unused *siblings* of the walked
///    hits join the path: a hit with kept walk edges from the previous and into the next hit of
///    the path (one edge at the path's ends) — the second hit that a particle leaves where two
///    modules of a layer overlap. Repeat until every hit is used.
/// 5. Candidates with fewer than `min_hits` hits are dropped (their hits stay unassigned).
///
/// Candidates are disjoint and ordered by component (smallest hit), then by walk order.
pub fn walkthrough(
    graph: &ScoredGraph<'_>,
    hit_order: &[f64],
    config: &BuildingConfig,
) -> Result<Vec<TrackCandidate>, BuildingError> {
    let n = graph.num_hits();
    if hit_order.len() != n {
        return Err(BuildingError::OrderLength {
            expected: n,
            got: hit_order.len(),
        });
    }
    let inner_first = |a: usize, b: usize| hit_order[a].total_cmp(&hit_order[b]).then(a.cmp(&b));

    // Step 1: directed, deduplicated kept edges.
    let mut best_score: HashMap<(usize, usize), f64> = HashMap::new();
    for (source, target, score) in graph.kept_edges(config.score_cut) {
        let pair = if inner_first(source, target).is_lt() {
            (source, target)
        } else {
            (target, source)
        };
        let entry = best_score.entry(pair).or_insert(score);
        *entry = entry.max(score);
    }
    let mut in_degree = vec![0usize; n];
    let mut successors: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    let mut predecessors: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    for (&(inner, outer), &score) in &best_score {
        in_degree[outer] += 1;
        successors[inner].push((outer, score));
        predecessors[outer].push((inner, score));
    }
    // Highest score first; equal scores: smaller index first (deterministic).
    for list in successors.iter_mut().chain(predecessors.iter_mut()) {
        list.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    }

    let mut candidates = Vec::new();
    let mut used = vec![false; n];
    // Step 2.
    for mut hits in components(graph, config.score_cut) {
        hits.sort_by(|&a, &b| inner_first(a, b));
        let simple_path = hits
            .iter()
            .all(|&hit| in_degree[hit] <= 1 && successors[hit].len() <= 1);
        if simple_path {
            // Step 3: inner → outer order is the path order.
            if hits.len() >= config.min_hits {
                candidates.push(TrackCandidate { hits });
            }
            continue;
        }
        // Step 4.
        for &start in &hits {
            if used[start] {
                continue;
            }
            let mut path = walk_from(start, &successors, config.walk_score_cut, &mut used);
            absorb_siblings(
                &mut path,
                &successors,
                &predecessors,
                config.walk_score_cut,
                &mut used,
            );
            if path.len() >= config.min_hits {
                candidates.push(TrackCandidate { hits: path });
            }
        }
    }
    Ok(candidates)
}

/// Adds to a walked path the unused hits that sit *beside* one of its hits: an unused hit `h` is a
/// sibling of `path[i]` when kept walk edges join `path[i − 1] → h` and `h → path[i + 1]` (only
/// the one that exists at the ends of the path). A particle crossing two overlapping modules of
/// one layer leaves two hits there, each joined to the hits of the neighbouring layers; the walk
/// takes one of them, and without this step the other hits of such layers form a second,
/// parallel path, which splits the particle's hits between two candidates.
fn absorb_siblings(
    path: &mut Vec<usize>,
    successors: &[Vec<(usize, f64)>],
    predecessors: &[Vec<(usize, f64)>],
    walk_cut: f64,
    used: &mut [bool],
) {
    if path.len() < 2 {
        return;
    }
    let above = |list: &[(usize, f64)]| -> Vec<usize> {
        list.iter()
            .filter(|&&(_, score)| score >= walk_cut)
            .map(|&(h, _)| h)
            .collect()
    };
    let last = path.len() - 1;
    let mut out = Vec::with_capacity(path.len() + 4);
    for i in 0..=last {
        out.push(path[i]);
        // Hits joined to both neighbours of path[i] (to the one neighbour at an end).
        let mut siblings = if i > 0 {
            above(&successors[path[i - 1]])
        } else {
            above(&predecessors[path[1]])
        };
        if i > 0 && i < last {
            let into_next = above(&predecessors[path[i + 1]]);
            siblings.retain(|h| into_next.contains(h));
        }
        for h in siblings {
            if !used[h] {
                used[h] = true;
                out.push(h);
            }
        }
    }
    *path = out;
}

/// One greedy walk from `start` along the best edges with `score ≥ walk_cut` to unused hits,
/// stepping over one used hit where needed; marks the walked hits used.
fn walk_from(
    start: usize,
    successors: &[Vec<(usize, f64)>],
    walk_cut: f64,
    used: &mut [bool],
) -> Vec<usize> {
    let best_unused = |hit: usize, used: &[bool]| {
        successors[hit]
            .iter()
            .take_while(|&&(_, score)| score >= walk_cut)
            .map(|&(next, _)| next)
            .find(|&next| !used[next])
    };
    let mut path = vec![start];
    used[start] = true;
    let mut current = start;
    loop {
        let next = best_unused(current, used).or_else(|| {
            successors[current]
                .iter()
                .take_while(|&&(_, score)| score >= walk_cut)
                .find_map(|&(over, _)| best_unused(over, used))
        });
        match next {
            Some(next) => {
                path.push(next);
                used[next] = true;
                current = next;
            }
            None => return path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(score_cut: f64, walk_score_cut: f64, min_hits: usize) -> BuildingConfig {
        BuildingConfig {
            score_cut,
            walk_score_cut,
            min_hits,
        }
    }

    #[test]
    fn y_junction_is_split_into_two_tracks() {
        // Stem 0→1→2, branch 2→3→4 (scores 0.9) and branch 2→5→6→7 joined by a weak edge 2→5.
        let graph = ScoredGraph::new(
            8,
            &[0, 1, 2, 3, 2, 5, 6],
            &[1, 2, 3, 4, 5, 6, 7],
            &[0.9, 0.9, 0.9, 0.9, 0.4, 0.9, 0.9],
        )
        .expect("a valid graph");
        let r = [10.0, 20.0, 30.0, 40.0, 50.0, 41.0, 51.0, 61.0];
        let tracks = walkthrough(&graph, &r, &config(0.3, 0.5, 3)).expect("one key a hit");
        let hits: Vec<_> = tracks.iter().map(|t| t.hits.clone()).collect();
        assert_eq!(hits, [vec![0, 1, 2, 3, 4], vec![5, 6, 7]]);
    }

    #[test]
    fn simple_path_is_kept_whatever_the_walk_cut() {
        // One path whose middle edge is below the walk cut: no junction, so no walk.
        let graph =
            ScoredGraph::new(4, &[0, 1, 2], &[1, 2, 3], &[0.9, 0.35, 0.9]).expect("a valid graph");
        let r = [1.0, 2.0, 3.0, 4.0];
        let tracks = walkthrough(&graph, &r, &config(0.3, 0.5, 3)).expect("one key a hit");
        assert_eq!(tracks.len(), 1);
        assert_eq!(tracks[0].hits, [0, 1, 2, 3]);
        // Edges given outer → inner are turned around; duplicates count once.
        let reversed = ScoredGraph::new(4, &[1, 2, 3, 3], &[0, 1, 2, 2], &[0.9, 0.9, 0.9, 0.8])
            .expect("a valid graph");
        let tracks = walkthrough(&reversed, &r, &config(0.3, 0.5, 3)).expect("one key a hit");
        assert_eq!(tracks[0].hits, [0, 1, 2, 3]);
        assert_eq!(
            walkthrough(&graph, &r[..3], &config(0.3, 0.5, 3)),
            Err(BuildingError::OrderLength {
                expected: 4,
                got: 3
            })
        );
    }
}
