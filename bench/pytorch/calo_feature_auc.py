#!/usr/bin/env python3
"""Which shower features tell generated showers from reference ones? (analysis aid, not the product)

For each feature set, a small MLP (2 hidden layers of 256, LeakyReLU, Adam 1e-3, 40 epochs, the
challenge's 60/20/20 split, best validation loss kept) separates the reference showers from the
generated ones; the test AUC says how much that feature set alone gives away. Both files are in
the CaloChallenge layout (`incident_energies` N×1 MeV, `showers` N×6480 MeV, 45 layers × 144).

    python3 bench/pytorch/calo_feature_auc.py REFERENCE.npz GENERATED.npz \
        [--features voxels,layers,nz,nzlayer,etot] [--seed 0]

Feature sets: voxels (voxel/E_inc, as the challenge's classifier), layers (45 layer energies),
nz (number of non-zero voxels), nzlayer (non-zero voxels per layer), etot (E_total/E_inc); each
with log10 E_inc.
"""
import argparse

import numpy as np
import torch


def features(x, e, kind):
    layers = x.reshape(len(x), 45, 144)
    loge = np.log10(e)[:, None]
    if kind == "voxels":
        return np.concatenate([loge, x / x.mean()], 1)
    if kind == "layers":
        s = layers.sum(2)
        return np.concatenate([loge, s / s.mean()], 1)
    if kind == "nz":
        return np.concatenate([loge, (x > 0).sum(1, keepdims=True) / 1000.0], 1)
    if kind == "nzlayer":
        return np.concatenate([loge, (layers > 0).sum(2) / 50.0], 1)
    if kind == "etot":
        return np.concatenate([loge, x.sum(1, keepdims=True)], 1)
    raise SystemExit(f"unknown feature set {kind!r}")


def auc(y, s):
    order = np.argsort(s)
    ranks = np.empty(len(s))
    ranks[order] = np.arange(len(s))
    n1 = y.sum()
    n0 = len(y) - n1
    return (ranks[y == 1].sum() - n1 * (n1 - 1) / 2) / (n1 * n0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reference")
    ap.add_argument("generated")
    ap.add_argument("--features", default="voxels,layers,nz,nzlayer,etot")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    files = [np.load(args.reference), np.load(args.generated)]
    samples = []
    for f in files:
        e = f["incident_energies"][:, 0]
        samples.append((f["showers"] / e[:, None], e))
    for name, (x, e) in zip(["reference", "generated"], samples):
        layers = x.reshape(len(x), 45, 144).sum(2)
        empty = " ".join(f"{k}:{(layers[:, k] == 0).mean():.2f}" for k in (0, 2, 10, 25, 35, 44))
        print(f"{name:9s} fraction of showers with an empty layer (layer:fraction) {empty}")
        mid = (e > 20_000) & (e < 100_000)
        depth = (layers[mid] * np.arange(45)).sum(1) / layers[mid].sum(1)
        print(f"{name:9s} shower depth at 20-100 GeV (layers): mean {depth.mean():.2f}, s.d. {depth.std():.2f}")
    for kind in args.features.split(","):
        fa, fb = (features(x, e, kind) for x, e in samples)
        x = np.concatenate([fa, fb]).astype(np.float32)
        y = np.concatenate([np.zeros(len(fa)), np.ones(len(fb))])
        if kind != "voxels":
            x = (x - x.mean(0)) / (x.std(0) + 1e-6)
        idx = rng.permutation(len(x))
        n_train, n_valid = int(0.6 * len(x)), int(0.2 * len(x))
        train, valid, test = idx[:n_train], idx[n_train:n_train + n_valid], idx[n_train + n_valid:]
        xt, yt = torch.tensor(x), torch.tensor(y, dtype=torch.float32)
        model = torch.nn.Sequential(
            torch.nn.Linear(x.shape[1], 256), torch.nn.LeakyReLU(),
            torch.nn.Linear(256, 256), torch.nn.LeakyReLU(),
            torch.nn.Linear(256, 1))
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        best = (float("inf"), 0.5)
        for _ in range(40):
            perm = torch.tensor(train)[torch.randperm(len(train))]
            for i in range(0, len(perm), 64):
                b = perm[i:i + 64]
                loss = bce(model(xt[b])[:, 0], yt[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
            with torch.no_grad():
                lv = bce(model(xt[valid])[:, 0], yt[valid]).item()
                if lv < best[0]:
                    best = (lv, auc(y[test], model(xt[test])[:, 0].numpy()))
        print(f"{kind:8s} test AUC {best[1]:.3f} (validation loss {best[0]:.3f})")


if __name__ == "__main__":
    main()
