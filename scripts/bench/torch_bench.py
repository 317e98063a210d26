#!/usr/bin/env python3
"""PyTorch CPU twin of bin/swap-bench: training-step throughput of the same model at the same batch and threads.

Usage: torch_bench.py --model {mlp,cnn,resnet9,resnet18,resnet20,vgg11} [--width W] --batch B --threads T --steps S [--warmup N] [--eval]
                      [--precision fp32|bf16] [--channels-last]
A step is opt.zero_grad(set_to_none=True); CrossEntropyLoss(model(x), y).backward(); opt.step() with SGD
(lr 0.01, momentum 0.9, Nesterov, weight decay 5e-4) on seeded random data, timed with perf_counter after the
warm-up steps; with --eval it is model(x) in eval mode under torch.no_grad(). Prints one key=value line ending
in images_per_s=..., like swap-bench.
--precision bf16 runs the forward (and so the matching backward) under torch.autocast("cpu", dtype=torch.bfloat16),
PyTorch's own mixed precision; --channels-last converts the model and the input to channels_last, as PyTorch's CPU
performance guide advises for convolutions (with bf16 that is what runs oneDNN's blocked bf16 kernels).

Model definitions are python/swap_torch.py, the PyTorch twins the oracle tests compare our engine with.
"""
import argparse
import contextlib
import os
import resource
import sys
import time

import torch
import torch.nn as nn


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from swap_torch import build_model  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval", action="store_true")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    ap.add_argument("--channels-last", action="store_true")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    shape = (1, 28, 28) if a.model in ("mlp", "cnn") else (3, 32, 32)
    model = build_model(a.model, shape, 10, a.width)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.randn(a.batch, *shape)
    y = torch.randint(0, 10, (a.batch,))
    lossf = nn.CrossEntropyLoss()
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    def amp():
        if a.precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def step():
        opt.zero_grad(set_to_none=True)
        with amp():
            loss = lossf(model(x), y)
        loss.backward()
        opt.step()
        return loss

    if a.eval:
        model.eval()

        def step():  # noqa: F811
            with torch.no_grad(), amp():
                model(x)
            return torch.zeros(())

    for _ in range(a.warmup):
        step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(a.steps):
        loss = step()
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    params = sum(p.numel() for p in model.parameters())
    label = a.model if a.model in ("mlp", "cnn") else f"{a.model}w{a.width}"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"torch model={label} mode={'eval' if a.eval else 'train'} precision={a.precision} "
          f"channels_last={int(a.channels_last)} batch={a.batch} threads={a.threads} params={params} steps={a.steps} "
          f"loss={loss.item():.4f} step_ms={1e3 * dt / a.steps:.2f} cpu_ms={1e3 * dc / a.steps:.2f} "
          f"peak_rss_mib={rss:.0f} version={torch.__version__} "
          f"images_per_s={a.batch * a.steps / dt:.1f}")


if __name__ == "__main__":
    main()
