"""PyTorch twin of hepnn's tracking GNN stage (issue 5: "the GNN stage compared in the same run with
the same model in PyTorch").

Reads the archive written by `cargo run --release -p hepnn-bench --example tracking_gnn` (the graph of
a simulated <mu> = 200 event, the shipped interaction network's weights and hepnn's logits), rebuilds
the same model in PyTorch (hepnn_nn::gnn::interaction::EdgeClassifier: encoders, K shared interaction
steps with residuals, mean aggregation of incoming and outgoing edges, LayerNorm + ReLU in every
hidden layer, edge head), checks that its logits agree with hepnn's, and times the stage as hepnn's
chain runs it (tensors from host arrays, forward, sigmoid, scores back to host) under
torch.inference_mode.

    python3 bench/pytorch/tracking_gnn.py /tmp/hepnn_tracking_gnn.npz --threads 2 --runs 3

Prints one JSON line: {"name": "tracking_gnn_stage", "torch_median_s": ..., "hepnn_median_s": ...,
"ratio_hepnn_over_torch": ..., "max_abs_logit_diff": ...}.
"""

import argparse
import json
import statistics
import time

import numpy as np
import torch


def mlp(params, prefix, x, eps):
    """hepnn_nn::mlp::Mlp: Linear (burn weight layout [in, out]) -> LayerNorm -> ReLU per hidden layer."""
    n_layers = sum(1 for k in params if k.startswith(prefix + ".layers.") and k.endswith(".weight"))
    for i in range(n_layers):
        x = x @ params[f"{prefix}.layers.{i}.weight"]
        bias = params.get(f"{prefix}.layers.{i}.bias")
        if bias is not None:
            x = x + bias
        if i < n_layers - 1:
            gamma = params.get(f"{prefix}.norms.{i}.gamma")
            if gamma is not None:
                beta = params.get(f"{prefix}.norms.{i}.beta")
                x = torch.nn.functional.layer_norm(x, (x.shape[1],), gamma, beta, eps)
            x = torch.relu(x)
    return x


def aggregate(messages, index, num_nodes, mean, degree):
    out = torch.zeros(num_nodes, messages.shape[1], dtype=messages.dtype)
    out.index_add_(0, index, messages)
    if mean:
        out = out / degree
    return out


def edge_classifier(params, meta, x_host, e_host, src_host, dst_host):
    x0 = torch.from_numpy(x_host)
    e0 = torch.from_numpy(e_host)
    src = torch.from_numpy(src_host)
    dst = torch.from_numpy(dst_host)
    n = x0.shape[0]
    eps = meta["layer_norm_eps"]
    mean = meta["mean"] > 0
    deg_in = torch.bincount(dst, minlength=n).clamp_min(1).to(x0.dtype).unsqueeze(1)
    deg_out = torch.bincount(src, minlength=n).clamp_min(1).to(x0.dtype).unsqueeze(1)
    e = torch.relu(mlp(params, "edge_encoder", torch.cat([x0[dst], x0[src], e0], 1), eps))
    x = torch.relu(mlp(params, "node_encoder", x0, eps))
    for k in range(int(meta["iterations"])):
        step = f"steps.{k % int(meta['steps'])}"
        de = mlp(params, step + ".relational", torch.cat([x[dst], x[src], e], 1), eps)
        e = e + de if meta["residual"] > 0 else de
        parts = [x, aggregate(e, dst, n, mean, deg_in)]
        if meta["bidirectional"] > 0:
            parts.append(aggregate(e, src, n, mean, deg_out))
        dx = mlp(params, step + ".object", torch.cat(parts, 1), eps)
        x = x + dx if meta["residual"] > 0 else dx
    return mlp(params, "head", torch.cat([x[dst], x[src], e], 1), eps).reshape(-1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archive", nargs="?", default="/tmp/hepnn_tracking_gnn.npz")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data = np.load(args.archive)
    meta = {k[len("meta_"):]: float(data[k][0]) for k in data.files if k.startswith("meta_")}
    skip = {"x", "edge_attr", "sources", "targets", "logits", "hepnn_seconds"}
    params = {
        k: torch.from_numpy(data[k]) for k in data.files if k not in skip and not k.startswith("meta_")
    }
    x, e = data["x"], data["edge_attr"]
    src, dst = data["sources"].astype(np.int64), data["targets"].astype(np.int64)

    def stage():
        with torch.inference_mode():
            logits = edge_classifier(params, meta, x, e, src, dst)
            return torch.sigmoid(logits).double().numpy(), logits

    stage()  # warm-up
    seconds = []
    for _ in range(args.runs):
        start = time.perf_counter()
        stage()
        seconds.append(time.perf_counter() - start)
    _, logits = stage()
    diff = float((logits - torch.from_numpy(data["logits"])).abs().max())
    torch_median = statistics.median(seconds)
    hepnn_median = float(np.median(data["hepnn_seconds"]))
    print(
        json.dumps(
            {
                "name": "tracking_gnn_stage",
                "hits": int(x.shape[0]),
                "edges": int(e.shape[0]),
                "threads": args.threads,
                "torch": torch.__version__,
                "torch_runs_s": [round(s, 4) for s in seconds],
                "torch_median_s": round(torch_median, 4),
                "hepnn_median_s": round(hepnn_median, 4),
                "ratio_hepnn_over_torch": round(hepnn_median / torch_median, 3),
                "max_abs_logit_diff": diff,
            }
        )
    )
    if not diff < 1e-2:
        raise SystemExit(f"logits differ from hepnn's by {diff}: not the same model")


if __name__ == "__main__":
    main()
