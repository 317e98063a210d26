#!/usr/bin/env python3
"""PyTorch CPU twin of bin/swap-bench: training-step throughput of the same model at the same batch and threads.

Usage: torch_bench.py --model {mlp,cnn,resnet9} [--width W] --batch B --threads T --steps S [--warmup N]
A step is opt.zero_grad(set_to_none=True); CrossEntropyLoss(model(x), y).backward(); opt.step() with SGD
(lr 0.01, momentum 0.9, Nesterov, weight decay 5e-4) on seeded random data, timed with perf_counter after the
warm-up steps. Prints one key=value line ending in images_per_s=..., like swap-bench.

Model definitions come from tests/py/swap_models.py (the PyTorch twins the oracle tests use) when it provides
make_model(name, width, classes); otherwise from the identical definitions below, so this script runs either way.
"""
import argparse
import os
import resource
import sys
import time

import torch
import torch.nn as nn


def conv_bn(ci, co):
    return nn.Sequential(nn.Conv2d(ci, co, 3, padding=1, bias=False), nn.BatchNorm2d(co), nn.ReLU())


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.res1 = conv_bn(c, c)
        self.res2 = conv_bn(c, c)

    def forward(self, x):
        return x + self.res2(self.res1(x))


class Scale(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s

    def forward(self, x):
        return x * self.s


def _make_model(name, width=64, classes=10):
    """Same layers as src/nn/models.c."""
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                             nn.Linear(256, classes))
    if name == "cnn":
        return nn.Sequential(conv_bn(1, 32), nn.MaxPool2d(2), conv_bn(32, 64), nn.MaxPool2d(2), conv_bn(64, 128),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, classes))
    if name == "resnet9":
        w = width
        return nn.Sequential(conv_bn(3, w),
                             conv_bn(w, 2 * w), nn.MaxPool2d(2), Residual(2 * w),
                             conv_bn(2 * w, 4 * w), nn.MaxPool2d(2),
                             conv_bn(4 * w, 8 * w), nn.MaxPool2d(2), Residual(8 * w),
                             nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(8 * w, classes, bias=False), Scale(0.125))
    raise SystemExit(f"torch_bench.py: unknown model '{name}' (valid: mlp, cnn, resnet9)")


def make_model(name, width, classes):
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "tests", "py"))
    try:
        import swap_models  # noqa: E402  (the oracle tests' twins, when present)
        if hasattr(swap_models, "make_model"):
            return swap_models.make_model(name, width, classes), "tests/py/swap_models.py"
    except ImportError:
        pass
    return _make_model(name, width, classes), "builtin"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model, source = make_model(a.model, a.width, 10)
    model.train()
    shape = (3, 32, 32) if a.model == "resnet9" else (1, 28, 28)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.randn(a.batch, *shape)
    y = torch.randint(0, 10, (a.batch,))
    lossf = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = lossf(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(a.warmup):
        step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(a.steps):
        loss = step()
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    params = sum(p.numel() for p in model.parameters())
    label = f"resnet9w{a.width}" if a.model == "resnet9" else a.model
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"torch model={label} batch={a.batch} threads={a.threads} params={params} steps={a.steps} "
          f"loss={loss.item():.4f} step_ms={1e3 * dt / a.steps:.2f} cpu_ms={1e3 * dc / a.steps:.2f} "
          f"peak_rss_mib={rss:.0f} version={torch.__version__} defs={source} "
          f"images_per_s={a.batch * a.steps / dt:.1f}")


if __name__ == "__main__":
    main()
