"""PyTorch CPU reference of bench/benches/gnn.rs: the same GNN workload (issue 4's compass table).

N = 50,000 nodes (3 features), E = 400,000 random edges, hidden 64; node encoder 3->64->64, edge
encoder [h_i, h_j] 128->64->64; 4 iterations of edge MLP [h_i, h_j, e] 192->64->64, sum aggregation
onto targets (index_add_), node MLP [h, a] 128->64->64; edge classifier 64->1; BCE with logits, Adam.

Prints one JSON line per benchmark: {"name": ..., "ms": median, "torch": version}.
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn

N, E, H, K = 50_000, 400_000, 64, 4


def mlp(i, o):
    return nn.Sequential(nn.Linear(i, H), nn.ReLU(), nn.Linear(H, o))


class Workload(nn.Module):
    def __init__(self):
        super().__init__()
        self.node_encoder = mlp(3, H)
        self.edge_encoder = mlp(2 * H, H)
        self.edge_mlps = nn.ModuleList(mlp(3 * H, H) for _ in range(K))
        self.node_mlps = nn.ModuleList(mlp(2 * H, H) for _ in range(K))
        self.classifier = nn.Linear(H, 1)

    def forward(self, x, src, dst):
        h = self.node_encoder(x)
        e = self.edge_encoder(torch.cat([h[dst], h[src]], 1))
        for k in range(K):
            e = self.edge_mlps[k](torch.cat([h[dst], h[src], e], 1))
            a = torch.zeros(N, H).index_add_(0, dst, e)
            h = self.node_mlps[k](torch.cat([h, a], 1))
        return self.classifier(e).squeeze(1)


def median_ms(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    x = torch.rand(N, 3)
    src = torch.randint(0, N, (E,))
    dst = torch.randint(0, N, (E,))
    y = torch.randint(0, 2, (E,)).float()
    model = Workload()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x, src, dst), y)
        loss.backward()
        opt.step()
        return loss.item()

    def forward():
        with torch.inference_mode():
            return model(x, src, dst).sum().item()

    for name, fn in [("gnn_train_step", step), ("gnn_forward", forward)]:
        ms = median_ms(fn, 1, a.runs)
        print(json.dumps({"name": name, "ms": ms, "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
