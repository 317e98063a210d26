#!/usr/bin/env python3
"""Is PyTorch's bf16 step ahead of ours because of its convolution kernels? Forward bf16 convolutions of the
ResNet-9 shapes, run through PyTorch's oneDNN twice: channels_last (nhwc), the layout of PyTorch's autocast +
channels_last path (oneDNN 2.6 picks `brgconv:avx512_core_bf16`), and the blocked nChw16c layout our engine hands
oneDNN (`jit_bf16:avx512_core_bf16`, reached here through torch.utils.mkldnn). Same library, same process, the two
alternating; CPU seconds per call on one thread, best of 3 rounds of 0.5 s each.

  scripts/bench/torch_conv_kernels.py [--images N] [--width 16|64]

Prints GFLOP per CPU-second (direct count, 2*Ci*9*H*W per output channel and image). Calls from Python pay a
dispatch cost of some microseconds per call that the engine does not: with few images per call read the blocked
column as a lower bound. `ONEDNN_VERBOSE=1` shows which kernel ran.
"""
import argparse
import time

import torch
import torch.nn as nn
from torch.utils import mkldnn


def shapes(width):
    w = width
    # (in channels, out channels, plane): ResNet-9's 3x3 convolutions after the first, at their input planes
    return [(w, 2 * w, 32), (2 * w, 2 * w, 16), (2 * w, 4 * w, 16), (4 * w, 8 * w, 8), (8 * w, 8 * w, 4)]


def per_call(f):
    t, k = time.process_time(), 0
    while time.process_time() - t < 0.5:
        f()
        k += 1
    return (time.process_time() - t) / k


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--width", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, 1 thread, {a.images} images per call, resnet9 width {a.width}")
    for ci, co, hw in shapes(a.width):
        x = torch.randn(a.images, ci, hw, hw)
        nhwc = nn.Conv2d(ci, co, 3, padding=1, bias=False).eval().to(memory_format=torch.channels_last).bfloat16()
        x_nhwc = x.to(memory_format=torch.channels_last).bfloat16()
        blocked = mkldnn.to_mkldnn(nn.Conv2d(ci, co, 3, padding=1, bias=False).eval(), torch.bfloat16)
        x_blocked = x.bfloat16().to_mkldnn()
        runs = {"nhwc": lambda: nhwc(x_nhwc), "blocked": lambda: blocked(x_blocked)}
        best = {}
        with torch.no_grad():
            for f in runs.values():
                for _ in range(3):
                    f()
            for _ in range(3):
                for name, f in runs.items():
                    best[name] = min(best.get(name, float("inf")), per_call(f))
        flops = 2 * a.images * co * hw * hw * ci * 9
        print(f"{ci:4d} -> {co:4d} at {hw:2d}x{hw:<2d}  " +
              "  ".join(f"{name} {flops / s / 1e9:5.0f}" for name, s in best.items()) + "  GFLOP per CPU-second")


if __name__ == "__main__":
    main()
