#!/usr/bin/env python3
"""PyTorch CPU reference for `bench/benches/bench_main.rs`: the same four measurements, same shapes.

- mlp_train_step: MLP 784-256-256-10 (ReLU), batch 256, cross-entropy, Adam (lr 1e-3),
  forward + backward + optimiser update.
- mlp_forward: the same MLP, forward only (torch.inference_mode).
- cnn_train_step: batch 64 of 1x28x28 images, conv3x3 1->16 (pad 1) -> ReLU -> maxpool 2 ->
  conv3x3 16->32 (pad 1) -> ReLU -> maxpool 2 -> flatten -> linear 32*7*7->10, cross-entropy, Adam.
- cnn_forward: the same CNN, forward only.
- lstm_train_step: nn.LSTM(16, 128, batch_first=True), batch 64 of 50 steps, MSE of the last
  hidden state against a random target, Adam: forward + backward + update.

Each timed run ends by reading a scalar back (`.item()`), as the Rust side does. After a warm-up,
the median of the timed runs is printed, one JSON line per benchmark:

    {"name": "mlp_train_step", "ms": 1.234, "runs": 200, "threads": 2, "torch": "2.15.0"}

With `--cpu-time`, each line also has `cpu_ms`: process CPU time (all threads) per run over the
timed runs, comparable to `cargo run --release -p hepnn-bench --example lstm_cpu_time`.

Usage: python3 bench/pytorch/bench_steps.py [--threads 2] [--runs 200] [--warmup 20] [--seed 1]
       [--only NAME] [--cpu-time]
"""

import argparse
import json
import statistics
import time

import torch
from torch import nn

NUM_CLASSES = 10
MLP_BATCH = 256
CNN_BATCH = 64
LEARNING_RATE = 1e-3
LSTM_BATCH, LSTM_STEPS, LSTM_INPUT, LSTM_HIDDEN = 64, 50, 16, 128


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(784, 256),
        nn.ReLU(),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Linear(256, NUM_CLASSES),
    )


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, NUM_CLASSES),
    )


def train_step_fn(model: nn.Module, pixels: torch.Tensor, labels: torch.Tensor):
    """One forward + cross-entropy + backward + Adam update; returns the loss on the host."""
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> float:
        optimiser.zero_grad(set_to_none=True)
        loss = loss_fn(model(pixels), labels)
        loss.backward()
        optimiser.step()
        return loss.item()

    return step


def lstm_step_fn(sequence: torch.Tensor, target: torch.Tensor):
    """One LSTM forward over the sequence, MSE of the last hidden state, backward, Adam."""
    model = nn.LSTM(LSTM_INPUT, LSTM_HIDDEN, batch_first=True)
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)

    def step() -> float:
        optimiser.zero_grad(set_to_none=True)
        _, (hidden, _) = model(sequence)
        loss = ((hidden[-1] - target) ** 2).mean()
        loss.backward()
        optimiser.step()
        return loss.item()

    return step


def forward_fn(model: nn.Module, pixels: torch.Tensor):
    """Forward only, without autograd bookkeeping; returns the sum of the logits on the host."""
    model.eval()

    def forward() -> float:
        with torch.inference_mode():
            return model(pixels).sum().item()

    return forward


def median_ms(run, runs: int, warmup: int) -> tuple[float, float]:
    """Median wall time of one run, and the mean process CPU time per run (both in ms)."""
    for _ in range(warmup):
        run()
    times = []
    cpu_start = time.process_time()
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    cpu = (time.process_time() - cpu_start) / runs
    return statistics.median(times) * 1e3, cpu * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--runs", type=int, default=200, help="timed runs per benchmark")
    parser.add_argument("--warmup", type=int, default=20, help="untimed runs first")
    parser.add_argument("--seed", type=int, default=1, help="seed of weights and data")
    parser.add_argument("--only", help="run only this benchmark")
    parser.add_argument("--cpu-time", action="store_true", help="also print CPU ms per run")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    mlp_pixels = torch.rand(MLP_BATCH, 784)
    mlp_labels = torch.randint(0, NUM_CLASSES, (MLP_BATCH,))
    cnn_pixels = torch.rand(CNN_BATCH, 1, 28, 28)
    cnn_labels = torch.randint(0, NUM_CLASSES, (CNN_BATCH,))
    lstm_sequence = torch.randn(LSTM_BATCH, LSTM_STEPS, LSTM_INPUT)
    lstm_target = 0.5 * torch.randn(LSTM_BATCH, LSTM_HIDDEN)

    benchmarks = [
        ("mlp_train_step", train_step_fn(mlp(), mlp_pixels, mlp_labels), args.runs),
        ("mlp_forward", forward_fn(mlp(), mlp_pixels), args.runs),
        # The CNN step is ~10x slower than the MLP one: fewer runs keep the script short.
        ("cnn_train_step", train_step_fn(cnn(), cnn_pixels, cnn_labels), max(args.runs // 4, 1)),
        ("cnn_forward", forward_fn(cnn(), cnn_pixels), args.runs),
        ("lstm_train_step", lstm_step_fn(lstm_sequence, lstm_target), max(args.runs // 4, 1)),
    ]
    for name, run, runs in benchmarks:
        if args.only is not None and name != args.only:
            continue
        ms, cpu_ms = median_ms(run, runs, args.warmup)
        record = {
            "name": name,
            "ms": round(ms, 4),
            "runs": runs,
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
        }
        if args.cpu_time:
            record["cpu_ms"] = round(cpu_ms, 3)
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
