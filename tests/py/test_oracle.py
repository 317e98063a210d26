"""The C engine against PyTorch: for every preset (mlp, cnn, resnet9, resnet18, resnet20, vgg11) and a user
network (USERNET: stride-2 convolutions, a projection-shortcut residual, a 3x3/1 max pool, average pooling,
biases, a scale layer, odd sizes) the oracle_dump tool trains 5 SGD steps from a
seeded init; the PyTorch twin (python/swap_torch.py, in float64) starts from the same tensors and input
and must reproduce the logits, the loss, every gradient, the BN running statistics and every tensor after
the 5 steps, then eval-mode logits, and BN statistics recomputed over two batches (update_bn) with the
eval logits they give. Error per tensor = max|ours - torch| / max|torch|.
The convolutions run on the engine's default kernels (oneDNN when built with it); one case repeats with the
im2col + GEMM fallback (SWAP_CONV=gemm). Odd cases: batch 1, channel counts that are not multiples of the
kernels' 8/16-channel blocks, a batch that leaves a short last chunk."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import swap_torch  # noqa: E402

TOL = 1e-4
LR, MOMENTUM, WD, STEPS = 0.05, 0.9, 5e-4, 5  # as hard-wired in tests/tools/oracle_dump.c

# (model, width, input CxHxW, batch, seed, label smoothing, convolution kernels)
CASES = [
    ("mlp", 0, (3, 32, 32), 8, 1, 0.0, "default"),
    ("cnn", 0, (1, 28, 28), 8, 2, 0.1, "default"),
    ("resnet9", 8, (3, 32, 32), 8, 3, 0.0, "default"),
    ("resnet9", 8, (3, 32, 32), 8, 3, 0.0, "gemm"),
    ("cnn", 0, (1, 20, 20), 1, 4, 0.0, "default"),
    ("resnet9", 3, (3, 16, 16), 1, 5, 0.0, "default"),
    ("resnet9", 5, (3, 16, 16), 7, 6, 0.1, "default"),
    ("resnet18", 4, (3, 32, 32), 4, 7, 0.0, "default"),
    ("resnet20", 16, (3, 32, 32), 4, 8, 0.1, "default"),
    ("vgg11", 4, (3, 32, 32), 4, 9, 0.0, "default"),
    ("@usernet", 0, (3, 17, 17), 5, 10, 0.1, "default"),
    ("@usernet", 0, (3, 17, 17), 5, 10, 0.1, "gemm"),
]

# A network from the language, in the JSON form the engine builds (what models.json emits for a table model).
USERNET = {"name": "usernet", "layers": [
    {"kind": "conv", "out": 8, "k": 3, "stride": 2, "pad": 1, "bias": True},
    {"kind": "bn"}, {"kind": "relu"},
    {"kind": "residual",
     "body": [{"kind": "conv", "out": 12, "k": 3, "stride": 2, "pad": 1, "bias": False}, {"kind": "bn"},
              {"kind": "relu"}, {"kind": "conv", "out": 12, "k": 3, "pad": 1}],
     "shortcut": [{"kind": "conv", "out": 12, "k": 1, "stride": 2, "pad": 0, "bias": False}, {"kind": "bn"}]},
    {"kind": "relu"},
    {"kind": "maxpool", "k": 3, "stride": 1},
    {"kind": "avgpool", "k": 2, "stride": 1},
    {"kind": "flatten"}, {"kind": "linear", "out": 16}, {"kind": "relu"},
    {"kind": "linear", "out": 10}, {"kind": "scale", "by": 0.5}]}


def find_tool():
    cands = []
    if os.environ.get("SWAP_TOOLS"):
        cands.append(os.path.join(os.environ["SWAP_TOOLS"], "oracle_dump"))
    root = os.environ.get("SWAP_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    cands.append(os.path.join(root, "build", "tools", "oracle_dump"))
    for c in cands:
        if os.access(c, os.X_OK):
            return c
    sys.exit("test_oracle: oracle_dump not found (looked in %s); build first" % ", ".join(cands))


def rel_err(ours, ref, floor=0.0):
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    if ours.shape != ref.shape:
        return float("inf")
    scale = max(np.max(np.abs(ref)) if ref.size else 0.0, floor)
    err = np.max(np.abs(ours - ref)) if ref.size else 0.0
    return err / scale if scale > 0 else err


class Report:
    def __init__(self, model):
        self.model, self.rows, self.failed = model, [], []

    def check(self, what, ours, ref, floor=0.0):
        e = rel_err(ours, ref, floor)
        self.rows.append((e, what))
        if not e <= TOL:
            self.failed.append((e, what))

    def summary(self):
        worst = sorted(self.rows, reverse=True)[:3]
        print("%-30s %3d tensors compared; worst: %s" % (
            self.model, len(self.rows), ", ".join("%s %.2e" % (w, e) for e, w in worst)))
        for e, what in self.failed:
            print("  MISMATCH %s: rel err %.3e > %.0e" % (what, e, TOL))
        return not self.failed


def run_case(tool, tmp, name, width, shape, batch, seed, smoothing, conv):
    out = os.path.join(tmp, "%s_w%d_b%d_s%d_%s" % (name, width, batch, seed, conv))
    os.makedirs(out)
    env = dict(os.environ)
    env.pop("SWAP_CONV", None)
    if conv != "default":
        env["SWAP_CONV"] = conv
    arg = name
    if name == "@usernet":
        arg = "@" + os.path.join(out, "usernet.json")
        with open(arg[1:], "w") as f:
            json.dump(USERNET, f)
    subprocess.run([tool, arg, str(width), "x".join(map(str, shape)), str(batch), str(seed), str(smoothing), out],
                   check=True, env=env)
    init = swap_torch.read_npy_dir(out, "init.")
    grads = swap_torch.read_npy_dir(out, "grad.")
    bn1 = swap_torch.read_npy_dir(out, "bn1.")
    final = swap_torch.read_npy_dir(out, "final.")
    x = np.load(os.path.join(out, "input.npy"))
    y = np.load(os.path.join(out, "labels.npy"))
    assert x.shape == (shape[0], batch, shape[1], shape[2]) and y.shape == (batch,) and y.dtype == np.int32

    # the twin of the network as the engine built it (as from a checkpoint's model_config); for presets, also
    # the one built from the Lua presets by name must have the same tensors
    with open(os.path.join(out, "arch.json")) as f:
        model = swap_torch.build_net(f.read(), shape, 10).double()
    if name != "@usernet":
        byname = swap_torch.build_model(name, shape, 10, width or 64)
        assert swap_torch.tensor_names(byname) == swap_torch.tensor_names(model), name
    swap_torch.load_arrays(model, init)
    model.train()
    xt = torch.from_numpy(swap_torch.cnhw_to_nchw(x)).double()
    yt = torch.from_numpy(y.astype(np.int64))
    opt = torch.optim.SGD(swap_torch.param_groups(model, WD), lr=LR, momentum=MOMENTUM, nesterov=True)

    r = Report("%s w%d %s b%d %s" % (name, width, "x".join(map(str, shape)), batch, conv))
    for step in range(STEPS):
        opt.zero_grad()
        logits = model(xt)
        loss = F.cross_entropy(logits, yt, label_smoothing=smoothing)
        loss.backward()
        if step == 0:
            r.check("logits", np.load(os.path.join(out, "logits.npy")), logits.detach().numpy())
            r.check("loss", np.load(os.path.join(out, "loss.npy")), [loss.item()])
            tg = swap_torch.grad_arrays(model)
            assert set(tg) == set(grads), "gradient names differ: %s" % sorted(set(tg) ^ set(grads))
            # a bias right before a BN has zero gradient in exact arithmetic (BN removes the mean): PyTorch's
            # float64 gives ~1e-17, ours float32 rounding noise; such a gradient must stay below 1e-6 of the
            # network's largest one (TOL on a scale of 1e-2 of it)
            gscale = max(float(np.max(np.abs(v))) for v in tg.values())
            for k in tg:
                zero = float(np.max(np.abs(tg[k]))) < 1e-9 * gscale
                r.check("grad." + k, grads[k], tg[k], 1e-2 * gscale if zero else 0.0)
            state = swap_torch.state_arrays(model)
            assert set(bn1) == {k for k in state if "running_" in k}
            for k in bn1:
                r.check("bn1." + k, bn1[k], state[k])
        opt.step()
    state = swap_torch.state_arrays(model)
    assert set(state) == set(final), "tensor names differ: %s" % sorted(set(state) ^ set(final))
    for k in state:
        r.check("final." + k, final[k], state[k])
    model.eval()
    with torch.no_grad():
        r.check("eval_logits", np.load(os.path.join(out, "eval_logits.npy")), model(xt).numpy())
    recompute = swap_torch.read_npy_dir(out, "recompute.")
    if any("running_" in k for k in state):
        torch.optim.swa_utils.update_bn([xt, -xt], model)
        state = swap_torch.state_arrays(model)
        assert set(recompute) == {k for k in state if "running_" in k}
        for k in recompute:
            r.check("recompute." + k, recompute[k], state[k])
        model.eval()
        with torch.no_grad():
            r.check("recompute_logits", np.load(os.path.join(out, "recompute_logits.npy")), model(xt).numpy())
    else:
        assert not recompute
    # the trajectory must have moved, or the comparison of final tensors proves nothing
    moved = max(rel_err(final[k], init[k]) for k in init if "running_" not in k)
    assert moved > 1e-3, "%s: parameters did not move in %d steps" % (name, STEPS)
    return r.summary()


def main():
    torch.set_num_threads(1)  # 2 threads are many times slower on a shared 2-core machine
    tool = find_tool()
    ok = True
    with tempfile.TemporaryDirectory(dir=os.environ.get("SWAP_TEST_TMP") and
                                     (os.makedirs(os.environ["SWAP_TEST_TMP"], exist_ok=True) or
                                      os.environ["SWAP_TEST_TMP"])) as tmp:
        for case in CASES:
            ok &= run_case(tool, tmp, *case)
    print("test_oracle: %s" % ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
