#!/usr/bin/python3
"""Write a small learnable HDF5 dataset file (the dataset = "hdf5" contract) for the tests, then optionally break
it in one named way.

  make_h5data.py OUT.h5 --hw 40x40 --channels 3 --classes 7 --train 1024 --test 256 [--label-dtype int16]
                 [--classes-names] [--norm] [--break CASE]

Each class is a bright 8x8 square at its own place on noise, so a few epochs learn it."""
import argparse
import h5py
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--hw", default="40x40")
p.add_argument("--channels", type=int, default=3)
p.add_argument("--classes", type=int, default=7)
p.add_argument("--train", type=int, default=1024)
p.add_argument("--test", type=int, default=256)
p.add_argument("--label-dtype", default="int16")
p.add_argument("--class-names", action="store_true")
p.add_argument("--norm", action="store_true")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--break", dest="brk", default="")
a = p.parse_args()
H, W = (int(v) for v in a.hw.split("x"))
C, K = a.channels, a.classes
rng = np.random.default_rng(a.seed)


def make(n):
    y = np.arange(n) % K  # every class present
    rng.shuffle(y)
    x = rng.integers(0, 80, (n, H, W, C)).astype(np.int32)
    s = max(1, min(8, H // 3, W // 3))
    for i in range(n):
        k = int(y[i])
        r, c = (k * 5) % max(1, H - s), (k * 11) % max(1, W - s)
        x[i, r:r + s, c:c + s, :] += 150
    return x.clip(0, 255).astype(np.uint8), y.astype(a.label_dtype)


with h5py.File(a.out, "w") as f:
    for split, n in (("train", a.train), ("test", a.test)):
        x, y = make(n)
        f[f"{split}/images"] = x
        f[f"{split}/labels"] = y
    if a.class_names:
        f["classes"] = [f"class-{k}" for k in range(K)]
    if a.norm:
        f["train/images"].attrs["mean"] = np.full(C, 50.0)
        f["train/images"].attrs["std"] = np.full(C, 40.0)
    b = a.brk
    if b == "missing-group":
        del f["test"]
    elif b == "missing-dataset":
        del f["train/labels"]
    elif b == "float-images":
        x = f["train/images"][()]
        del f["train/images"]
        f["train/images"] = x.astype(np.float32)
    elif b == "rank3-images":
        x = f["test/images"][()]
        del f["test/images"]
        f["test/images"] = x[..., 0]
    elif b == "float-labels":
        y = f["train/labels"][()]
        del f["train/labels"]
        f["train/labels"] = y.astype(np.float64)
    elif b == "n-mismatch":
        y = f["train/labels"][()]
        del f["train/labels"]
        f["train/labels"] = y[:-3]
    elif b == "negative-label":
        f["train/labels"][5] = -1
    elif b == "label-out-of-range":  # with /classes: K names, a label K
        f["test/labels"][2] = K
    elif b == "zero-images":
        del f["test/images"], f["test/labels"]
        f.create_dataset("test/images", shape=(0, H, W, C), dtype=np.uint8)
        f.create_dataset("test/labels", shape=(0,), dtype=np.int16)
    elif b == "bad-channels":
        x = f["train/images"][()]
        del f["train/images"]
        f["train/images"] = np.concatenate([x, x[..., :1]], axis=3)[..., :2]
    elif b:
        raise SystemExit(f"unknown --break {b}")
