#!/usr/bin/env python3
"""At which stage does the GNN tracking chain lose each particle? (analysis aid, not the product)

For every reconstructable particle (pT > PT_MIN GeV, >= 3 hits) that no track candidate matches
under the TrackML double-majority rule, the first stage that made it unfindable:

- graph:    the graph's edges between the particle's own hits leave no connected set holding
            more than half of its hits (graph construction lost it);
- score:    the graph has such a set, but not among the edges scored >= CUT (the classifier);
- building: the scored edges hold such a set, but the candidates do not (track building and the
            fit) -- `unassigned` when most of its hits are in no candidate, `split` or `impure`
            otherwise.

Particles are split into primaries (production vertex within 10 mm of the beam line) and
secondaries, and by the number of distinct layers their hits are on.

    hepnn reconstruct --model M --events EV --only LIST --stop-after classification --out EDGES
    hepnn evaluate tracking --model M --events EV --only LIST --out EVAL
    python3 bench/tracking_losses.py EV EDGES EVAL [--cut 0.7] [--pt-min 1.0]

EV: the TrackML event folder (hits, truth, particles CSV); EDGES: the folder with
edges_<event>.csv (hit_id_inner,hit_id_outer,score); EVAL: the folder with submission.csv.
"""
import argparse
import collections
import csv
import math


def largest_component(nodes, edges):
    parent = {n: n for n in nodes}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        parent[find(a)] = find(b)
    sizes = collections.Counter(find(n) for n in nodes)
    return max(sizes.values()) if sizes else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("events")
    ap.add_argument("edges")
    ap.add_argument("evaluation")
    ap.add_argument("--cut", type=float, default=0.7, help="the building stage's score cut")
    ap.add_argument("--pt-min", type=float, default=1.0)
    args = ap.parse_args()

    submission = collections.defaultdict(dict)
    with open(f"{args.evaluation}/submission.csv") as f:
        for r in csv.DictReader(f):
            submission[int(r["event_id"])][int(r["hit_id"])] = int(r["track_id"])

    totals = collections.Counter()
    lost = collections.Counter()
    for event in sorted(submission):
        name = f"event{event:09d}"
        with open(f"{args.events}/{name}-truth.csv") as f:
            truth = {int(r["hit_id"]): int(r["particle_id"]) for r in csv.DictReader(f)}
        with open(f"{args.events}/{name}-hits.csv") as f:
            layer = {int(r["hit_id"]): (r["volume_id"], r["layer_id"]) for r in csv.DictReader(f)}
        with open(f"{args.events}/{name}-particles.csv") as f:
            particles = {
                int(r["particle_id"]): (
                    math.hypot(float(r["px"]), float(r["py"])),
                    math.hypot(float(r["vx"]), float(r["vy"])),
                )
                for r in csv.DictReader(f)
            }
        hits_of = collections.defaultdict(list)
        for h, p in truth.items():
            if p:
                hits_of[p].append(h)
        own_edges = collections.defaultdict(list)
        with open(f"{args.edges}/edges_{name}.csv") as f:
            for r in csv.DictReader(f):
                a, b = int(r["hit_id_inner"]), int(r["hit_id_outer"])
                if truth[a] and truth[a] == truth[b]:
                    own_edges[truth[a]].append((a, b, float(r["score"])))
        tracks = collections.defaultdict(list)
        for h, t in submission[event].items():
            if t:
                tracks[t].append(h)
        matched = set()
        for hs in tracks.values():
            p, n = collections.Counter(truth[h] for h in hs).most_common(1)[0]
            if p and 2 * n > len(hs) and 2 * n > len(hits_of[p]):
                matched.add(p)
        for p, hs in hits_of.items():
            if p not in particles or particles[p][0] <= args.pt_min or len(hs) < 3:
                continue
            kind = "primary" if particles[p][1] <= 10.0 else "secondary"
            layers = min(len({layer[h] for h in hs}), 6)
            totals[(kind, layers)] += 1
            if p in matched:
                continue
            n = len(hs)
            edges = own_edges[p]
            if 2 * largest_component(hs, [(a, b) for a, b, _ in edges]) <= n:
                stage = "graph"
            elif 2 * largest_component(hs, [(a, b) for a, b, s in edges if s >= args.cut]) <= n:
                stage = "score"
            else:
                t, m = collections.Counter(submission[event][h] for h in hs).most_common(1)[0]
                stage = "building/unassigned" if t == 0 else (
                    "building/split" if 2 * m <= n else "building/impure")
            lost[(kind, layers, stage)] += 1

    stages = ["graph", "score", "building/unassigned", "building/split", "building/impure"]
    all_particles = sum(totals.values())
    all_lost = sum(lost.values())
    print(f"reconstructable {all_particles}, lost {all_lost}, "
          f"efficiency {1 - all_lost / max(all_particles, 1):.4f}")
    print(f"{'particles':>12} {'layers':>6} {'total':>6} " + " ".join(f"{s:>20}" for s in stages))
    for kind in ["primary", "secondary"]:
        for layers in range(1, 7):
            total = totals[(kind, layers)]
            if total:
                row = " ".join(f"{lost[(kind, layers, s)]:>20}" for s in stages)
                label = f"{layers}" if layers < 6 else ">=6"
                print(f"{kind:>12} {label:>6} {total:>6} {row}")
    for kind in ["primary", "secondary"]:
        row = " ".join(f"{sum(v for k, v in lost.items() if k[0] == kind and k[2] == s):>20}"
                       for s in stages)
        print(f"{kind:>12} {'all':>6} {sum(v for k, v in totals.items() if k[0] == kind):>6} {row}")


if __name__ == "__main__":
    main()
