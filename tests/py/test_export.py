"""python/swap_torch.py, the shipped PyTorch twin and exporter: a checkpoint exported to .pt and loaded back
into the twin gives swap-inspect eval's test accuracy (to 0.05 points), and with test-time flip its accuracy and
loss; the .onnx export passes onnx's checker
and computes the twin's logits (onnx's reference evaluator where this onnx has it, else a small NumPy
interpreter of the graph's operators); corrupt (truncated, garbage, a flipped bit that only the tensor checksum
catches), foreign or unknown-model checkpoints give a one-line error and leave nothing behind. `swap-inspect export --format safetensors` (C) writes the same tensors as the .pt,
read back here by parsing the safetensors layout by hand (8-byte header length, JSON header, raw data)."""
import gzip, json, os, struct, subprocess, sys, tempfile
import h5py, numpy as np, torch

PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python")
sys.path.insert(0, PY)
import swap_torch  # noqa: E402

BIN = os.environ.get("SWAP_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "bin"))
TOOLS = os.environ.get("SWAP_TOOLS")
TMP = os.environ.get("SWAP_TEST_TMP", "/tmp")
FMNIST = "/usr/share/datasets/fashion-mnist"
CLI = [sys.executable, os.path.join(PY, "swap_torch.py"), "export"]
N_TEST = 2000


def run(cmd, cwd, ok=True):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    if ok and r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def onnx_numpy(model, x):
    """Evaluate an ONNX graph with NumPy: the operators torch.onnx.export emits for our layer kinds."""
    from onnx import numpy_helper
    env = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    env[model.graph.input[0].name] = x
    for n in model.graph.node:
        a = {at.name: at for at in n.attribute}
        ints = lambda k, d=None: list(a[k].ints) if k in a else d  # noqa: E731
        i = [env[k] if k else None for k in n.input]
        op = n.op_type
        if op == "Conv":
            w = i[1]
            p, st = ints("pads", [0] * 4), ints("strides", [1, 1])
            assert ("group" not in a or a["group"].i == 1) and ints("dilations", [1, 1]) == [1, 1]
            xp = np.pad(i[0], ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])))
            win = np.lib.stride_tricks.sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::st[0], ::st[1]]
            y = np.einsum("nchwij,ocij->nohw", win, w, optimize=True)
            out = y + (i[2].reshape(1, -1, 1, 1) if len(i) > 2 and i[2] is not None else 0)
        elif op == "BatchNormalization":
            sc, b, m, v = (t.reshape(1, -1, 1, 1) for t in i[1:5])
            eps = a["epsilon"].f if "epsilon" in a else 1e-5
            out = (i[0] - m) / np.sqrt(v + eps) * sc + b
        elif op == "Relu":
            out = np.maximum(i[0], 0)
        elif op == "MaxPool":
            k, st = ints("kernel_shape"), ints("strides", ints("kernel_shape"))
            assert ints("pads", [0] * 4) == [0] * 4
            win = np.lib.stride_tricks.sliding_window_view(i[0], k, axis=(2, 3))[:, :, ::st[0], ::st[1]]
            out = win.max(axis=(4, 5))
        elif op == "AveragePool":
            k, st = ints("kernel_shape"), ints("strides", ints("kernel_shape"))
            assert ints("pads", [0] * 4) == [0] * 4
            win = np.lib.stride_tricks.sliding_window_view(i[0], k, axis=(2, 3))[:, :, ::st[0], ::st[1]]
            out = win.mean(axis=(4, 5))
        elif op in ("ReduceMean", "ReduceMax"):
            axes = tuple(ints("axes"))
            keep = bool(a["keepdims"].i) if "keepdims" in a else True
            out = (np.mean if op == "ReduceMean" else np.max)(i[0], axis=axes, keepdims=keep)
        elif op == "Gemm":
            A, B = i[0], i[1]
            if "transA" in a and a["transA"].i: A = A.T
            if "transB" in a and a["transB"].i: B = B.T
            al = a["alpha"].f if "alpha" in a else 1.0
            be = a["beta"].f if "beta" in a else 1.0
            out = al * A @ B + (be * i[2] if len(i) > 2 and i[2] is not None else 0)
        elif op == "MatMul":
            out = i[0] @ i[1]
        elif op == "Add":
            out = i[0] + i[1]
        elif op == "Mul":
            out = i[0] * i[1]
        elif op == "Flatten":
            ax = a["axis"].i if "axis" in a else 1
            out = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "Pad":  # what torch emits before an AveragePool (zero pads for our pools); constant mode only
            mode = a["mode"].s.decode() if "mode" in a else "constant"
            assert mode == "constant", mode
            pads = list(i[1]) if len(i) > 1 and i[1] is not None else ints("pads")
            cval = float(i[2]) if len(i) > 2 and i[2] is not None and i[2].size else 0.0
            r = i[0].ndim
            out = np.pad(i[0], [(int(pads[d]), int(pads[d + r])) for d in range(r)], constant_values=cval)
        elif op == "Identity":
            out = i[0]
        elif op == "Constant":
            out = numpy_helper.to_array(a["value"].t)
        else:
            raise NotImplementedError(f"ONNX operator {op} (extend onnx_numpy)")
        env[n.output[0]] = np.asarray(out, dtype=np.float32) if out.dtype != np.int64 else out
    return env[model.graph.output[0].name]


def check_onnx(d, h5, x):
    """Export h5 to ONNX, check it, and compare its logits on batch x (NCHW float32) with the twin's."""
    import onnx
    out = os.path.join(d, os.path.basename(h5)[:-3] + ".onnx")
    run(CLI + [h5, "-o", out], d)
    m = onnx.load(out)
    onnx.checker.check_model(m, full_check=True)
    twin = swap_torch.load_checkpoint(h5)
    with torch.no_grad():
        want = twin(torch.from_numpy(x)).numpy()
    try:
        from onnx.reference import ReferenceEvaluator
        got, how = ReferenceEvaluator(m).run(None, {"input": x})[0], "onnx.reference"
    except ImportError:
        got, how = onnx_numpy(m, x), f"NumPy interpreter (onnx {onnx.__version__} has no reference evaluator)"
    err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-6)
    assert got.shape == want.shape and err < 1e-4, f"FAIL: {out}: ONNX logits differ from the twin's (rel {err:.2e})"
    side = json.load(open(out + ".json"))
    assert side["input_shape"] == list(x.shape[1:]), side
    assert len(side["mean"]) == len(side["std"]) == (x.shape[1] if side["dataset"] else 0), side
    print(f"ok: {os.path.basename(out)} passes onnx.checker; {how} = twin logits (rel err {err:.1e}, "
          f"ops {sorted(set(n.op_type for n in m.graph.node))})")


def expect_clean_error(d, src, out, what):
    before = set(os.listdir(d))
    r = run(CLI + [src, "-o", out], d, ok=False)
    err = r.stderr.strip()
    assert r.returncode == 1 and err.count("\n") == 0 and err.startswith("swap_torch.py: error: ") and src in err, \
        f"FAIL: {what}: expected a one-line error naming {src}, got rc {r.returncode}: {r.stderr!r}"
    assert set(os.listdir(d)) == before, f"FAIL: {what}: files were written: {set(os.listdir(d)) - before}"
    print(f"ok: {what}: {err}")


def main():
    if not os.path.exists(f"{FMNIST}/t10k-images-idx3-ubyte.gz"):
        print("SKIP: Fashion-MNIST not installed"); sys.exit(77)
    assert TOOLS, "SWAP_TOOLS not set (run through ctest)"
    os.makedirs(TMP, exist_ok=True)
    d = tempfile.mkdtemp(dir=TMP, prefix="export.")
    with gzip.open(f"{FMNIST}/t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:N_TEST]
    with gzip.open(f"{FMNIST}/t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:N_TEST].astype(np.int64)

    # 1. .pt round trip: same test accuracy as swap-inspect eval on the same file
    for name, extra in (("cnn", []), ("mlp", ["--model", "mlp"])):
        h5 = os.path.join(d, f"{name}.h5")
        run([f"{TOOLS}/make_ckpt", h5, "--train", "40", "--lr", "0.05", "--seed", "3"] + extra, d)
        pt = os.path.join(d, f"{name}.pt")
        r = run(CLI + [h5, "-o", pt], d)
        assert "wrote" in r.stdout and os.path.exists(pt + ".json")
        side = json.load(open(pt + ".json"))
        model = swap_torch.build_model(side["model"], tuple(side["input_shape"]), side["classes"], side["width"])
        sd = torch.load(pt)
        assert any(k.endswith("running_var") for k in sd) or name == "mlp", "BN running statistics missing"
        model.load_state_dict(sd)
        model.eval()
        x = swap_torch.normalize(images, side)
        with torch.no_grad():
            acc = float((model(torch.from_numpy(x)).argmax(1).numpy() == labels).mean())
        ev = json.loads(run([f"{BIN}/swap-inspect", "eval", h5, "--subset", str(N_TEST), "--json"], d).stdout)
        assert acc > 0.3, f"{name}: the trained model is no better than chance: the comparison would be weak"
        assert abs(100 * acc - 100 * ev["test_acc"]) <= 0.05, \
            f"FAIL: {name}: exported .pt gives {100 * acc:.2f}%, swap-inspect eval {100 * ev['test_acc']:.2f}%"
        print(f"ok: {name}.pt in the twin: {100 * acc:.2f}% = swap-inspect eval {100 * ev['test_acc']:.2f}%")
        if name == "cnn":  # test-time flip: the softmax outputs of each image and its mirror image, averaged
            with torch.no_grad():
                xt = torch.from_numpy(x)
                p = (torch.softmax(model(xt), 1) + torch.softmax(model(torch.flip(xt, [3])), 1)) / 2
            facc = float((p.argmax(1).numpy() == labels).mean())
            floss = float(-torch.log(p[torch.arange(len(labels)), torch.from_numpy(labels)]).mean())
            fev = json.loads(run([f"{BIN}/swap-inspect", "eval", h5, "--subset", str(N_TEST), "--tta", "flip",
                                  "--json"], d).stdout)
            assert fev["tta"] == "flip" and ev["tta"] == "none", (fev["tta"], ev["tta"])
            assert abs(fev["test_loss"] - ev["test_loss"]) > 1e-3, "the flip changed nothing: was it run?"
            assert abs(100 * facc - 100 * fev["test_acc"]) <= 0.05 and abs(floss - fev["test_loss"]) < 1e-4 * floss, \
                f"FAIL: test-time flip: twin {100 * facc:.2f}% loss {floss:.6f}, swap-inspect eval " \
                f"{100 * fev['test_acc']:.2f}% loss {fev['test_loss']:.6f}"
            print(f"ok: test-time flip in the twin: {100 * facc:.2f}%, loss {floss:.5f} = swap-inspect eval --tta flip")

    # 2. ONNX for every model (resnet9 untrained with non-trivial BN statistics from the file)
    x = swap_torch.normalize(images[:16], side)
    check_onnx(d, os.path.join(d, "cnn.h5"), x)
    check_onnx(d, os.path.join(d, "mlp.h5"), x)
    r9 = os.path.join(d, "r9.h5")
    run([f"{TOOLS}/make_ckpt", r9, "--model", "resnet9", "--width", "8", "--in", "3", "32", "32", "--seed", "2"], d)
    with h5py.File(r9, "r+") as f:  # BN statistics away from (0, 1), so a dropped BN would show
        def perturb(_, o):
            if isinstance(o, h5py.Dataset) and o.attrs["name"].decode().endswith(("running_mean", "running_var")):
                rng = np.random.default_rng(len(o.name))
                o[...] = (rng.uniform(0.5, 1.5, o.shape) if o.name.endswith("var") else rng.normal(0, 0.3, o.shape))
                # swap_torch checks per-tensor checksums: restamp the edited tensor (content_hash stays stale)
                o.attrs["xxh3_128"] = np.bytes_(swap_torch.xxh3_128_hex(o[()]))
        f["model"].visititems(perturb)
    x3 = np.random.default_rng(0).normal(size=(4, 3, 32, 32)).astype(np.float32)
    check_onnx(d, r9, x3)
    # a network written in the language (no preset behind it): its twin comes from the stored model_config
    un_spec = os.path.join(d, "usernet.json")
    with open(un_spec, "w") as f:
        json.dump({"name": "usernet", "layers": [
            {"kind": "conv", "out": 6, "k": 3, "stride": 2, "pad": 1}, {"kind": "bn"}, {"kind": "relu"},
            {"kind": "residual", "body": [{"kind": "conv", "out": 8, "k": 3, "stride": 2, "bias": False},
                                          {"kind": "bn"}],
             "shortcut": [{"kind": "conv", "out": 8, "k": 1, "stride": 2, "pad": 0}]},
            {"kind": "maxpool", "k": 3, "stride": 1}, {"kind": "avgpool", "k": 2, "stride": 1}, {"kind": "flatten"},
            {"kind": "linear", "out": 10}, {"kind": "scale", "by": 0.5}]}, f)
    un = os.path.join(d, "un.h5")
    run([f"{TOOLS}/make_ckpt", un, "--model", "@" + un_spec, "--in", "3", "17", "17", "--seed", "3"], d)
    x17 = np.random.default_rng(1).normal(size=(4, 3, 17, 17)).astype(np.float32)
    check_onnx(d, un, x17)

    # 3. safetensors from C: the .pt's names, shapes and values; loads strictly into the twin
    for name in ("cnn", "mlp", "r9", "un"):
        h5, st = os.path.join(d, f"{name}.h5"), os.path.join(d, f"{name}.safetensors")
        if name == "r9":  # the edited file fails its hashes (swap-inspect refuses it): use a fresh one
            h5 = os.path.join(d, "r9b.h5")
            run([f"{TOOLS}/make_ckpt", h5, "--model", "resnet9", "--width", "8", "--in", "3", "32", "32", "--seed", "5"], d)
        pt = os.path.join(d, f"{name}-st.pt")
        run(CLI + [h5, "-o", pt], d)
        run([f"{BIN}/swap-inspect", "export", h5, "--format", "safetensors", "-o", st], d)
        blob = open(st, "rb").read()
        (hl,) = struct.unpack("<Q", blob[:8])
        assert hl % 8 == 0, "header not padded to 8 bytes"
        header = json.loads(blob[8:8 + hl])
        meta = header.pop("__metadata__")
        data = blob[8 + hl:]
        spans = sorted(tuple(e["data_offsets"]) for e in header.values())
        assert spans[0][0] == 0 and spans[-1][1] == len(data) and all(a[1] == b[0] for a, b in zip(spans, spans[1:])), \
            "data offsets must tile the data without gaps"
        arrays = {k: np.frombuffer(data[e["data_offsets"][0]:e["data_offsets"][1]],
                                   {"F32": "<f4", "I64": "<i8"}[e["dtype"]]).reshape(e["shape"])
                  for k, e in header.items()}
        sd = torch.load(pt)
        assert sorted(arrays) == sorted(sd), f"FAIL: {name}: safetensors names differ from the state_dict: {set(arrays) ^ set(sd)}"
        for k, t in sd.items():
            assert list(arrays[k].shape) == list(t.shape) and np.array_equal(arrays[k], t.numpy()), f"FAIL: {name}: {k}"
        ck = swap_torch.read_checkpoint(h5)
        twin = swap_torch.build_net(meta["model_config"], ck.in_shape, int(meta["classes"]))
        twin.load_state_dict({k: torch.from_numpy(a.copy()) for k, a in arrays.items()}, strict=True)
        print(f"ok: {name}.safetensors (C) = {name}.pt: {len(arrays)} tensors, names, shapes and bytes; metadata {meta}")

    # 4. bad inputs: one line naming the file, nothing written
    bad = os.path.join(d, "bad")
    os.makedirs(bad)
    data = open(os.path.join(d, "cnn.h5"), "rb").read()
    trunc = os.path.join(bad, "truncated.h5")
    open(trunc, "wb").write(data[: len(data) // 2])
    expect_clean_error(bad, trunc, os.path.join(bad, "m.pt"), "truncated checkpoint")
    garbage = os.path.join(bad, "garbage.h5")
    open(garbage, "wb").write(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8)
    expect_clean_error(bad, garbage, os.path.join(bad, "m.onnx"), "garbage file")
    unknown = os.path.join(bad, "unknown.h5")
    open(unknown, "wb").write(data)
    with h5py.File(unknown, "r+") as f:
        f["model"].attrs["model"] = np.bytes_("vgg16")
        # the stored architecture decides the network; without it the name must be a preset (a 1.1 file)
        if "model_config" in f["model"].attrs:
            del f["model"].attrs["model_config"]
    expect_clean_error(bad, unknown, os.path.join(bad, "m.pt"), "unknown model")
    foreign = os.path.join(bad, "foreign.h5")
    with h5py.File(foreign, "w") as f:
        f["x"] = np.zeros(3)
    expect_clean_error(bad, foreign, os.path.join(bad, "m.onnx"), "not a swap checkpoint")
    expect_clean_error(bad, os.path.join(bad, "absent.h5"), os.path.join(bad, "m.pt"), "missing file")
    wrong = os.path.join(bad, "wrongshape.h5")
    open(wrong, "wb").write(data)
    with h5py.File(wrong, "r+") as f:
        f["model"].attrs["classes"] = 7  # fc.weight is stored for 10 classes
    expect_clean_error(bad, wrong, os.path.join(bad, "m.pt"), "tensors that do not fit the architecture")
    # one flipped bit inside a tensor stored without HDF5's Fletcher32 (> 256 KiB, contiguous): h5py reads it back
    # silently, only the stored XXH3-128 catches it
    assert swap_torch.xxh3_128_hex(np.zeros(1)) is not None, "libxxhash (a build dependency) is not loadable"
    flipped = os.path.join(bad, "flipped.h5")
    open(flipped, "wb").write(data)
    with h5py.File(flipped, "r") as f:
        big = [o for o in (f["model"][g][t] for g in f["model"] for t in f["model"][g]) if o.chunks is None]
        assert big, "no contiguous tensor in cnn.h5: the test would not exercise the checksum"
        at = big[0].id.get_offset() + 1001
    with open(flipped, "r+b") as f:
        f.seek(at)
        byte = f.read(1)[0]
        f.seek(at)
        f.write(bytes([byte ^ 0x40]))
    expect_clean_error(bad, flipped, os.path.join(bad, "m.pt"), "a flipped bit in an unchecksummed tensor")
    assert "checksum mismatch" in run(CLI + [flipped, "-o", os.path.join(bad, "m.onnx")], bad, ok=False).stderr
    for src in (trunc, garbage, unknown, foreign, flipped):
        before = set(os.listdir(bad))
        r = run([f"{BIN}/swap-inspect", "export", src, "--format", "safetensors", "-o", os.path.join(bad, "m.st")],
                bad, ok=False)
        assert r.returncode != 0 and r.stderr.strip().count("\n") == 0 and src in r.stderr, (src, r.stderr)
        assert set(os.listdir(bad)) == before, f"FAIL: swap-inspect export wrote files for {src}"
    print("ok: swap-inspect export: damaged, foreign and unknown-model files give one line each, nothing written")


if __name__ == "__main__":
    main()
