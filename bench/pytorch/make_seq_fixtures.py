#!/usr/bin/env python3
"""PyTorch reference outputs and gradients for hepnn's LSTM, GRU and multi-head attention.

Writes crates/hepnn-nn/tests/fixtures/{lstm,gru,mha}.json: the random weights, the inputs, the
outputs and the gradients of L = sum(output * R) (R a fixed random tensor) with respect to the
inputs and every weight, in float64 printed to 9 significant digits. The Rust tests
(crates/hepnn-nn/tests/parity.rs) load the same weights and compare to 1e-5; they do not need
Python.

PyTorch layouts (rows = outputs): LSTM/GRU weight_ih [G*H, I], weight_hh [G*H, H], gate order
i, f, g, o (LSTM) and r, z, n (GRU); MultiheadAttention in_proj_weight [3d, d] = [W_q; W_k; W_v],
out_proj.weight [d, d].

Usage: python3 bench/pytorch/make_seq_fixtures.py
"""

import json
import pathlib

import torch

OUT = pathlib.Path(__file__).resolve().parents[2] / "crates/hepnn-nn/tests/fixtures"


def flat(t):
    return [float(f"{x:.9g}") for x in t.detach().reshape(-1).tolist()]


def tensor(t):
    return {"shape": list(t.shape), "data": flat(t)}


def recurrent(kind, batch=2, steps=5, d_input=3, d_hidden=4, seed=0):
    torch.manual_seed(seed)
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    net = cls(d_input, d_hidden, batch_first=True)
    x = torch.randn(batch, steps, d_input, requires_grad=True)
    out, _ = net(x)
    r = torch.randn_like(out)
    (out * r).sum().backward()
    params = dict(net.named_parameters())
    return {
        "d_input": d_input,
        "d_hidden": d_hidden,
        "input": tensor(x),
        "r": tensor(r),
        "output": tensor(out),
        "grad_input": tensor(x.grad),
        "weights": {k: tensor(v) for k, v in params.items()},
        "grads": {k: tensor(v.grad) for k, v in params.items()},
    }


def mha(batch=2, t_query=3, t_key=4, d_model=8, n_heads=2, seed=1):
    torch.manual_seed(seed)
    net = torch.nn.MultiheadAttention(d_model, n_heads, batch_first=True)
    with torch.no_grad():  # non-zero biases, so that they are tested too
        net.in_proj_bias.normal_(0, 0.1)
        net.out_proj.bias.normal_(0, 0.1)
    q = torch.randn(batch, t_query, d_model, requires_grad=True)
    k = torch.randn(batch, t_key, d_model, requires_grad=True)
    v = torch.randn(batch, t_key, d_model, requires_grad=True)
    key_lengths = [t_key, t_key - 1]
    pad = torch.tensor([[j >= n for j in range(t_key)] for n in key_lengths])
    out, _ = net(q, k, v, key_padding_mask=pad, need_weights=False)
    r = torch.randn_like(out)
    (out * r).sum().backward()
    params = dict(net.named_parameters())
    return {
        "d_model": d_model,
        "n_heads": n_heads,
        "key_lengths": key_lengths,
        "query": tensor(q),
        "key": tensor(k),
        "value": tensor(v),
        "r": tensor(r),
        "output": tensor(out),
        "grad_query": tensor(q.grad),
        "grad_key": tensor(k.grad),
        "grad_value": tensor(v.grad),
        "weights": {k_: tensor(p) for k_, p in params.items()},
        "grads": {k_: tensor(p.grad) for k_, p in params.items()},
    }


def main():
    torch.set_default_dtype(torch.float64)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in [("lstm", recurrent("lstm")), ("gru", recurrent("gru")), ("mha", mha())]:
        data["torch"] = torch.__version__
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(data))
        print(f"{path}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
