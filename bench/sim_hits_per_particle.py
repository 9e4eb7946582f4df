#!/usr/bin/env python3
"""Hits per particle of simulated events against the TrackML particles files' `nhits`
(analysis aid for the tracker simulation's absorption fit, not the product).

For the primaries (vertex within 10 mm of the beam line, |eta| < 2.5) in bins of pT: the files'
mean nhits and share of particles with 1-8 hits, then the same for each folder of simulated
events (made by `hepnn simulate --particles DATA`, which keeps the particle ids); last row, the
simulated hits of all particles over the files' nhits sum.

    python3 bench/sim_hits_per_particle.py EVENTS SIMDIR [SIMDIR ...] [--data ../shared/data/trackml]

EVENTS: comma-separated event numbers, e.g. 1002,1003,1004,1006,1007,1008.
"""
import argparse
import collections
import csv
import math

BINS = [0.1, 0.2, 0.3, 0.5, 1.0, 2.0, math.inf]


def read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("events")
    ap.add_argument("sims", nargs="+")
    ap.add_argument("--data", default="../shared/data/trackml")
    args = ap.parse_args()
    k = len(args.sims)
    count = collections.Counter()
    hits = collections.defaultdict(lambda: [0.0] * (k + 1))
    short = collections.defaultdict(lambda: [0.0] * (k + 1))
    totals = [0] * (k + 1)
    for number in args.events.split(","):
        name = f"event{int(number):09d}-particles.csv"
        real = read(f"{args.data}/{name}")
        sims = [{r["particle_id"]: int(r["nhits"]) for r in read(f"{d}/{name}")} for d in args.sims]
        for r in real:
            n = [int(r["nhits"])] + [s[r["particle_id"]] for s in sims]
            for i, v in enumerate(n):
                totals[i] += v
            px, py, pz = float(r["px"]), float(r["py"]), float(r["pz"])
            pt = math.hypot(px, py)
            if pt < BINS[0] or abs(math.asinh(pz / pt)) > 2.5:
                continue
            if math.hypot(float(r["vx"]), float(r["vy"])) > 10.0:
                continue
            b = max(i for i in range(len(BINS) - 1) if pt >= BINS[i])
            count[b] += 1
            for i, v in enumerate(n):
                hits[b][i] += v
                short[b][i] += 0 < v < 9
    print("| pT (GeV) | particles | files' nhits | " + " | ".join(args.sims) + " |")
    for b in range(len(BINS) - 1):
        n = count[b]
        cells = [f"{hits[b][i] / n:.2f} / {short[b][i] / n:.3f}" for i in range(k + 1)]
        print(f"| {BINS[b]}-{BINS[b + 1]} | {n} | " + " | ".join(cells) + " |")
    print("| all hits, simulated / files' sum | | | "
          + " | ".join(f"{totals[i + 1] / totals[0]:.3f}" for i in range(k)) + " |")


if __name__ == "__main__":
    main()
