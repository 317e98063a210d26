"""PyTorch twins of the C models (src/nn/models.c) with identical tensor names, plus array helpers.

Every parameter and buffer name of a twin equals the name of the same tensor in the C parameter store
(e.g. "layer1.res1.bn.running_var"), so a {name: ndarray} dict from a checkpoint or oracle dump loads 1:1.
Activations in C are CNHW; these modules take the usual NCHW (see cnhw_to_nchw).
Only torch and numpy are imported, so benchmarks and interop tests can use this module freely.
"""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MODEL_NAMES = ("mlp", "cnn", "resnet9")


class ConvBN(nn.Module):
    """conv3x3 (pad 1, no bias) -> BatchNorm2d -> ReLU, as "<prefix>.conv" and "<prefix>.bn"."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Stage(ConvBN):
    """ConvBN, then optionally 2x2 max pool, then optionally x + res2(res1(x))."""

    def __init__(self, cin, cout, pool=False, residual=False):
        super().__init__(cin, cout)
        self.pool = pool
        if residual:
            self.res1 = ConvBN(cout, cout)
            self.res2 = ConvBN(cout, cout)
        self.residual = residual

    def forward(self, x):
        x = super().forward(x)
        if self.pool:
            x = F.max_pool2d(x, 2)
        if self.residual:
            x = x + self.res2(self.res1(x))
        return x


class MLP(nn.Module):
    def __init__(self, in_shape, classes):
        super().__init__()
        c, h, w = in_shape
        self.fc1 = nn.Linear(c * h * w, 512)
        self.fc2 = nn.Linear(512, 256)
        self.fc3 = nn.Linear(256, classes)

    def forward(self, x):
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class CNN(nn.Module):
    def __init__(self, in_shape, classes):
        super().__init__()
        self.layer1 = Stage(in_shape[0], 32, pool=True)
        self.layer2 = Stage(32, 64, pool=True)
        self.layer3 = Stage(64, 128)
        self.fc = nn.Linear(128, classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(x.mean(dim=(2, 3)))


class ResNet9(nn.Module):
    """The DAWNBench ResNet-9 (Page, 2018) at a configurable base width."""

    def __init__(self, in_shape, classes, width=64):
        super().__init__()
        w = width
        self.prep = Stage(in_shape[0], w)
        self.layer1 = Stage(w, 2 * w, pool=True, residual=True)
        self.layer2 = Stage(2 * w, 4 * w, pool=True)
        self.layer3 = Stage(4 * w, 8 * w, pool=True, residual=True)
        self.fc = nn.Linear(8 * w, classes, bias=False)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.prep(x))))
        x = torch.amax(x, dim=(2, 3))
        return self.fc(x) * 0.125


def build_model(name, in_shape=(3, 32, 32), classes=10, width=64):
    """The twin of C model `name` for per-sample input shape (C, H, W)."""
    if name == "mlp":
        return MLP(in_shape, classes)
    if name == "cnn":
        return CNN(in_shape, classes)
    if name == "resnet9":
        return ResNet9(in_shape, classes, width)
    raise ValueError("unknown model '%s' (valid: %s)" % (name, ", ".join(MODEL_NAMES)))


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
