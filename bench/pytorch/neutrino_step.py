#!/usr/bin/env python3
"""PyTorch CPU twin of `bench/benches/neutrino.rs`: the two-view neutrino CNN's training step.

Batch 32 of two 1x64x48 views; each through its own tower conv5x5 1->8 (pad 2) -> ReLU -> maxpool 2
-> conv3x3 8->16 (pad 1) -> ReLU -> maxpool 2 -> conv3x3 16->32 (pad 1) -> ReLU -> maxpool 2; both
flattened and concatenated -> linear 3072->64 -> ReLU -> linear 64->3; cross-entropy, Adam (lr 1e-3).
Prints one JSON line: {"name": "neutrino_cnn_train_step", "ms": ..., "runs": ..., "threads": ...}

With `--cpu-time` the line also has `cpu_ms`: process CPU time (all threads) per run over the
timed runs, comparable to `cargo run --release -p hepnn-bench --example cnn_cpu_time`.

Usage: python3 bench/pytorch/neutrino_step.py [--threads 2] [--runs 50] [--warmup 10] [--cpu-time]
"""

import argparse
import json
import statistics
import time

import torch
from torch import nn


def tower() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
    )


class TwoViewCnn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.xz, self.yz = tower(), tower()
        self.head = nn.Sequential(nn.Linear(2 * 32 * 8 * 6, 64), nn.ReLU(), nn.Linear(64, 3))

    def forward(self, xz: torch.Tensor, yz: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.xz(xz), self.yz(yz)], 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--cpu-time", action="store_true", help="also print CPU ms per run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = TwoViewCnn()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    xz, yz = torch.rand(32, 1, 64, 48), torch.rand(32, 1, 64, 48)
    labels = torch.arange(32) % 3

    def step() -> float:
        optimiser.zero_grad()
        loss = loss_fn(model(xz, yz), labels)
        loss.backward()
        optimiser.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    times = []
    cpu_start = time.process_time()
    for _ in range(args.runs):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    cpu_ms = (time.process_time() - cpu_start) / args.runs * 1e3
    record = {
        "name": "neutrino_cnn_train_step",
        "ms": round(statistics.median(times) * 1e3, 4),
        "runs": args.runs,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if args.cpu_time:
        record["cpu_ms"] = round(cpu_ms, 3)
    print(json.dumps(record))


if __name__ == "__main__":
    main()
