#!/usr/bin/env python3
"""PyTorch twins of the project's models, built from a checkpoint, and export to PyTorch and ONNX.

    import swap_torch                                    # python/ on sys.path (or copy this one file)
    model = swap_torch.load_checkpoint("results/x/phase3/model.h5")   # eval mode, weights + BN statistics
    norm = swap_torch.read_checkpoint("results/x/phase3/model.h5").norm  # inputs: (pixel/255 - mean) / std

    python3 python/swap_torch.py export model.h5 -o model.pt      # state_dict (BN running statistics too)
    python3 python/swap_torch.py export model.h5 -o model.onnx    # torch.onnx.export, checked by onnx.checker

Each export writes the normalization the model expects beside it (model.pt.json / model.onnx.json).

The twin of any network is built from its spec (class Net): the checkpoint's /model attribute model_config (the
canonical JSON of the network, docs/networks.md), or for files from before format 1.2 the preset named by /model
attribute `model`, expanded at `width` by lua/swap/models.lua (lua5.4). Every parameter and buffer name equals
the name of the same tensor in the C parameter store and in the checkpoint (e.g. "layer1.res1.bn.running_var"),
so a {name: ndarray} dict loads 1:1. Activations in C are CNHW; these modules take
the usual NCHW (see cnhw_to_nchw). Needs torch, numpy and, for checkpoints, h5py; onnx only for the check of an
ONNX export; libxxhash (through ctypes) to verify tensor checksums, skipped with a warning without it. The
project's tests use this module (tests/py/test_oracle.py, test_export.py, ...).
"""
import ctypes
import ctypes.util
import json
import os
import sys
import tempfile
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = ("mlp", "cnn", "resnet9", "resnet18", "resnet20", "vgg11")
MODEL_NAMES = PRESETS  # kept for callers of the earlier API
LUA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lua")


def preset_arch(name, in_shape=(3, 32, 32), classes=10, width=64):
    """The network spec of preset `name`, expanded by lua/swap/models.lua (the one place presets are written)
    with lua5.4. A dict {"name", "layers"} as the checkpoint's model_config holds it."""
    import subprocess
    c, h, w = in_shape
    code = ('package.path = arg[1] .. "/?.lua;" .. package.path; local m = require "swap.models"; '
            'io.write(m.json(m.resolve(arg[2], tonumber(arg[3]), { tonumber(arg[4]), tonumber(arg[5]), '
            'tonumber(arg[6]), classes = tonumber(arg[7]) })))')
    r = subprocess.run(["lua5.4", "-", LUA_DIR, name, str(width), str(c), str(h), str(w), str(classes)],
                       input=code, capture_output=True, text=True)
    if r.returncode != 0:
        raise ValueError((r.stderr.strip().splitlines() or ["lua5.4 failed"])[0].replace("lua5.4: ", ""))
    return json.loads(r.stdout)


class Net(nn.Module):
    """The PyTorch twin of any network spec (the canonical JSON the C engine builds, docs/networks.md).
    Layers with tensors become modules at their names' paths ("layer1.res1.conv" -> self.layer1.res1.conv), so
    every parameter and buffer is named as in the C parameter store and the checkpoint; forward interprets the
    spec (residual: body(x) + shortcut(x)). Input NCHW."""

    def __init__(self, arch, in_shape, classes):
        super().__init__()
        self.arch = arch
        self.in_shape, self.classes = tuple(in_shape), classes
        mods = {}
        shape = self._build(arch["layers"], tuple(in_shape), mods)
        if shape != (classes,):
            raise ValueError("the network's output is %s, expected %d classes" % (shape, classes))
        object.__setattr__(self, "_mods", mods)  # name -> module, not registered twice

    def _place(self, name, module, mods):
        parent = self
        parts = name.split(".")
        for p in parts[:-1]:
            child = parent._modules.get(p)
            if child is None:
                child = nn.Module()
                parent.add_module(p, child)
            parent = child
        if parts[-1] in parent._modules:
            raise ValueError("layer name %s is used twice" % name)
        parent.add_module(parts[-1], module)
        mods[name] = module

    def _build(self, layers, shape, mods):
        for l in layers:
            k = l["kind"]
            if k == "conv":
                self._place(l["name"], nn.Conv2d(shape[0], l["out"], l["k"], l["stride"], l["pad"], bias=l["bias"]),
                            mods)
                shape = (l["out"], (shape[1] + 2 * l["pad"] - l["k"]) // l["stride"] + 1,
                         (shape[2] + 2 * l["pad"] - l["k"]) // l["stride"] + 1)
            elif k == "bn":
                self._place(l["name"], nn.BatchNorm2d(shape[0]), mods)
            elif k == "linear":
                self._place(l["name"], nn.Linear(shape[0], l["out"], bias=l["bias"]), mods)
                shape = (l["out"],)
            elif k in ("maxpool", "avgpool"):
                shape = (shape[0], (shape[1] - l["k"]) // l["stride"] + 1, (shape[2] - l["k"]) // l["stride"] + 1)
            elif k in ("global_avgpool", "global_maxpool"):
                shape = (shape[0],)
            elif k == "flatten":
                shape = (shape[0] * shape[1] * shape[2],)
            elif k == "residual":
                y = self._build(l["body"], shape, mods)
                s = self._build(l.get("shortcut", []), shape, mods)
                if y != s:
                    raise ValueError("%s: body gives %s, shortcut %s" % (l["name"], y, s))
                shape = y
            elif k not in ("relu", "scale"):
                raise ValueError("unknown layer kind %r" % k)
        return shape

    def _run(self, layers, x):
        for l in layers:
            k = l["kind"]
            if k in ("conv", "bn", "linear"):
                x = self._mods[l["name"]](x)
            elif k == "relu":
                x = F.relu(x)
            elif k == "maxpool":
                x = F.max_pool2d(x, l["k"], l["stride"])
            elif k == "avgpool":
                x = F.avg_pool2d(x, l["k"], l["stride"])
            elif k == "global_avgpool":
                x = x.mean(dim=(2, 3))
            elif k == "global_maxpool":
                x = torch.amax(x, dim=(2, 3))
            elif k == "flatten":
                x = torch.flatten(x, 1)
            elif k == "scale":
                x = x * l["by"]
            elif k == "residual":
                x = self._run(l["body"], x) + self._run(l.get("shortcut", []), x)
        return x

    def forward(self, x):
        return self._run(self.arch["layers"], x)


def build_net(arch, in_shape=(3, 32, 32), classes=10):
    """The twin of a network spec (dict or JSON text) for per-sample input shape (C, H, W)."""
    if isinstance(arch, (str, bytes)):
        arch = json.loads(arch)
    return Net(arch, in_shape, classes)


def build_model(name, in_shape=(3, 32, 32), classes=10, width=64):
    """The twin of preset `name` for per-sample input shape (C, H, W)."""
    return build_net(preset_arch(name, in_shape, classes, width), in_shape, classes)


def tensor_names(model):
    """Names of every parameter and buffer that the C store holds (PyTorch's num_batches_tracked is not)."""
    return [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]


def load_arrays(model, arrays, strict=True):
    """Copy {name: ndarray} into the model's parameters and buffers. Every tensor must be present with the
    right shape; with strict, names the model does not have are an error too. Returns the model."""
    state = model.state_dict()
    names = tensor_names(model)
    missing = [k for k in names if k not in arrays]
    if missing:
        raise KeyError("missing tensors: " + ", ".join(missing))
    if strict:
        extra = sorted(set(arrays) - set(names))
        if extra:
            raise KeyError("unexpected tensors: " + ", ".join(extra))
    with torch.no_grad():
        for k in names:
            a = np.asarray(arrays[k])
            if tuple(a.shape) != tuple(state[k].shape):
                raise ValueError("%s: shape %s, expected %s" % (k, tuple(a.shape), tuple(state[k].shape)))
            state[k].copy_(torch.from_numpy(np.ascontiguousarray(a)).to(state[k].dtype))
    return model


def state_arrays(model):
    """{name: float32 ndarray} of every parameter and buffer, in the model's order."""
    state = model.state_dict()
    return {k: state[k].detach().cpu().float().numpy().copy() for k in tensor_names(model)}


def grad_arrays(model):
    """{name: float32 ndarray} of every parameter gradient (zeros where none was computed)."""
    return {k: (p.grad if p.grad is not None else torch.zeros_like(p)).detach().cpu().float().numpy().copy()
            for k, p in model.named_parameters()}


def param_groups(model, weight_decay, decay_bn_and_bias=False):
    """Optimizer groups matching the C SGD: BN affine parameters and biases are exempt from weight decay
    unless decay_bn_and_bias."""
    bn_params = {id(p) for m in model.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters()}
    decay, exempt = [], []
    for k, p in model.named_parameters():
        no_decay = k.endswith(".bias") or id(p) in bn_params
        (exempt if no_decay and not decay_bn_and_bias else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": exempt, "weight_decay": 0.0}]


def cnhw_to_nchw(x):
    """Our activation layout [C][N][H][W] -> PyTorch's [N][C][H][W]."""
    return np.ascontiguousarray(np.asarray(x).transpose(1, 0, 2, 3))


def read_npy_dir(path, prefix=""):
    """{name: ndarray} of every <prefix><name>.npy in directory `path`."""
    out = {}
    for f in sorted(os.listdir(path)):
        if f.startswith(prefix) and f.endswith(".npy"):
            out[f[len(prefix):-4]] = np.load(os.path.join(path, f))
    return out


# ---------------------------------------------------------------------------------------------- checkpoints

FORMAT = "swap-checkpoint"


class CheckpointError(Exception):
    """A file that is not a readable swap checkpoint of a known model; the message is one line naming it."""


class Checkpoint:
    """What a checkpoint holds, read with h5py: model name and spec, {name: float32 ndarray} of every tensor,
    and the input normalization."""

    def __init__(self, path, model, in_shape, classes, width, arrays, norm, attrs, arch):
        self.path, self.model, self.in_shape, self.classes, self.width = path, model, in_shape, classes, width
        self.arrays, self.norm, self.attrs, self.arch = arrays, norm, attrs, arch

    def build(self):
        """The twin, weights and BN statistics loaded, in eval mode."""
        model = build_net(self.arch, self.in_shape, self.classes)
        load_arrays(model, self.arrays)
        return model.eval()


def _s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


class _XXH128(ctypes.Structure):
    _fields_ = [("low64", ctypes.c_uint64), ("high64", ctypes.c_uint64)]


_xxh3_fn = []  # [function or None], looked up once


def xxh3_128_hex(a):
    """XXH3-128 (canonical hex) of a tensor's float32 little-endian bytes, as the C writer stores it in each
    tensor's `xxh3_128` attribute; None when libxxhash (the library the C side hashes with, so present
    wherever the project builds) cannot be loaded. ctypes, because Debian ships no Python xxhash."""
    if not _xxh3_fn:
        fn = None
        lib = ctypes.util.find_library("xxhash")
        try:
            fn = ctypes.CDLL(lib).XXH3_128bits if lib else None
        except (OSError, AttributeError):
            fn = None
        if fn is not None:
            fn.restype, fn.argtypes = _XXH128, [ctypes.c_void_p, ctypes.c_size_t]
        _xxh3_fn.append(fn)
    if _xxh3_fn[0] is None:
        return None
    b = np.ascontiguousarray(a, dtype="<f4")
    h = _xxh3_fn[0](b.ctypes.data, b.nbytes)
    return "%016x%016x" % (h.high64, h.low64)  # XXH128_canonicalFromHash: high half first, big-endian


def _verify_checksums(path, arrays, stored):
    """Large tensors are stored without HDF5's Fletcher32 (docs/checkpoint-format.md, Integrity), so a flipped
    bit there reads back silently: compare every tensor with its stored XXH3-128, as swap-inspect does."""
    for k, a in arrays.items():
        want = stored.get(k, "")
        if not want:
            continue
        got = xxh3_128_hex(a)
        if got is None:
            warnings.warn("%s: tensor checksums not verified (libxxhash not found)" % path)
            return
        if got != want:
            raise CheckpointError("%s: tensor %s: checksum mismatch (stored %s, data %s): corrupted data"
                                  % (path, k, want, got))


def read_checkpoint(path):
    """Read a swap checkpoint with h5py. Raises CheckpointError (one line naming the file) for a missing,
    corrupt or foreign file (tensor checksums verified), an unknown model or a tensor the architecture does
    not have."""
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - h5py is a Debian package like torch
        raise CheckpointError("%s: reading checkpoints needs h5py (%s)" % (path, e))
    if not os.path.isfile(path):
        raise CheckpointError("%s: no such file" % path)
    try:
        with h5py.File(path, "r") as f:
            if _s(f.attrs.get("format", "")) != FORMAT:
                raise CheckpointError("%s: not a swap checkpoint (root attribute format != %r)" % (path, FORMAT))
            version = _s(f.attrs.get("format_version", ""))
            if version.split(".")[0] != "1":
                raise CheckpointError("%s: checkpoint format version %s is not supported (this reads 1.x)"
                                      % (path, version))
            if "model" not in f:
                raise CheckpointError("%s: group /model is missing" % path)
            g = f["model"]
            name = _s(g.attrs.get("model", ""))
            try:
                in_shape = tuple(int(g.attrs[k]) for k in ("in_c", "in_h", "in_w"))
                classes, width = int(g.attrs["classes"]), int(g.attrs["width"])
            except KeyError as e:
                raise CheckpointError("%s: /model attribute %s is missing" % (path, e))
            # the architecture (format 1.2); files written before name a preset
            if "model_config" in g.attrs:
                arch = json.loads(_s(g.attrs["model_config"]))
            elif name in PRESETS:
                arch = preset_arch(name, in_shape, classes, width)
            else:
                raise CheckpointError("%s: no model_config and unknown preset %r (presets: %s)"
                                      % (path, name, ", ".join(PRESETS)))
            arrays, stored = {}, {}

            def visit(_, obj):
                if isinstance(obj, h5py.Dataset) and "name" in obj.attrs:
                    arrays[_s(obj.attrs["name"])] = np.asarray(obj[()], dtype=np.float32)
                    stored[_s(obj.attrs["name"])] = _s(obj.attrs.get("xxh3_128", ""))
            g.visititems(visit)
            norm = {"dataset": _s(g.attrs.get("dataset", "")),
                    "mean": [float(x) for x in g.attrs.get("norm_mean", [])],
                    "std": [float(x) for x in g.attrs.get("norm_std", [])]}
            if "class_names" in g.attrs:  # an HDF5 dataset's /classes, recorded by the training run
                norm["class_names"] = [_s(x) for x in g.attrs["class_names"]]
            attrs = {k: (_s(v) if isinstance(v, (bytes, str)) else v) for k, v in f.attrs.items()}
    except CheckpointError:
        raise
    except Exception as e:  # h5py raises OSError, KeyError, ValueError... on damaged files
        raise CheckpointError("%s: cannot read checkpoint (%s)" % (path, str(e).splitlines()[0] if str(e) else
                                                                   type(e).__name__))
    _verify_checksums(path, arrays, stored)
    for k, a in arrays.items():
        if not np.all(np.isfinite(a)):
            raise CheckpointError("%s: tensor %s holds NaN or Inf" % (path, k))
    ck = Checkpoint(path, name, in_shape, classes, width, arrays, norm, attrs, arch)
    try:
        ck.build()
    except (KeyError, ValueError) as e:
        raise CheckpointError("%s: does not match its %s twin: %s" % (path, name, str(e).strip("'\"")))
    return ck


def load_checkpoint(path):
    """The PyTorch twin of the checkpoint's model with its weights and BN statistics, in eval mode."""
    return read_checkpoint(path).build()


def normalize(images_uint8, norm):
    """uint8 images [N][C][H][W] -> the float32 input the model expects: (pixel/255 - mean) / std per channel."""
    mean = np.asarray(norm["mean"], np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(norm["std"], np.float32).reshape(1, -1, 1, 1)
    return (np.asarray(images_uint8, np.float32) / 255.0 - mean) / std


# ---------------------------------------------------------------------------------------------- export

def _atomic_write(path, write):
    """write(tmp_path) then fsync and rename over path: a reader never sees a half-written file, and on an
    error nothing is left behind."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".tmp.", dir=d)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 is not what a user expects of an exported model
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dfd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def norm_json(ck):
    """The sidecar: what the exported model expects as input and where it came from."""
    c, h, w = ck.in_shape
    return {"model": ck.model, "width": ck.width, "classes": ck.classes, "input_shape": [c, h, w], "model_config": ck.arch,
            "layout": "NCHW float32", "dataset": ck.norm["dataset"], "mean": ck.norm["mean"], "std": ck.norm["std"],
            "input": "(pixel / 255 - mean[c]) / std[c]", "output": "logits",
            "source": os.path.abspath(ck.path), "content_hash": ck.attrs.get("content_hash", ""),
            **({"class_names": ck.norm["class_names"]} if "class_names" in ck.norm else {})}


def export(src, out, opset=13):
    """Export checkpoint `src` to `out` (.pt: state_dict; .onnx: ONNX graph, checked), plus `out`.json.
    Raises CheckpointError / ValueError with a one-line message; writes nothing then."""
    kind = os.path.splitext(out)[1].lower()
    if kind not in (".pt", ".pth", ".onnx"):
        raise ValueError("%s: unknown export format (use .pt or .onnx)" % out)
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise ValueError("%s: directory does not exist" % out)
    ck = read_checkpoint(src)
    model = ck.build()
    if kind == ".onnx":
        try:
            import onnx
        except ImportError as e:
            raise ValueError("ONNX export needs the onnx package (Debian: python3-onnx): %s" % e)
        x = torch.zeros((1,) + ck.in_shape)

        def write(tmp):
            torch.onnx.export(model, x, tmp, input_names=["input"], output_names=["logits"], opset_version=opset,
                              dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
            graph = onnx.load(tmp)
            if "class_names" in ck.norm:  # what each logit means, for tools that read only the .onnx file
                onnx.helper.set_model_props(graph, {"class_names": json.dumps(ck.norm["class_names"])})
                onnx.save(graph, tmp)
            onnx.checker.check_model(graph, full_check=True)
    else:
        def write(tmp):
            torch.save(model.state_dict(), tmp)
    _atomic_write(out, write)
    text = json.dumps(norm_json(ck), indent=2) + "\n"

    def write_json(tmp):
        with open(tmp, "w") as f:
            f.write(text)
    try:
        _atomic_write(out + ".json", write_json)
    except BaseException:
        os.unlink(out)
        raise
    return ck


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(prog="swap_torch.py", description="Export a swap checkpoint for PyTorch or ONNX.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export", help="checkpoint -> .pt (state_dict) or .onnx, normalization in OUT.json")
    ex.add_argument("checkpoint")
    ex.add_argument("-o", "--output", required=True, help="model.pt or model.onnx")
    ex.add_argument("--opset", type=int, default=13, help="ONNX opset (default 13)")
    a = ap.parse_args(argv)
    try:
        ck = export(a.checkpoint, a.output, a.opset)
    except (CheckpointError, ValueError, OSError) as e:
        print("swap_torch.py: error: %s" % str(e).splitlines()[0], file=sys.stderr)
        return 1
    print("swap_torch.py: wrote %s and %s.json (%s, %d tensors)" % (a.output, a.output, ck.model, len(ck.arrays)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
