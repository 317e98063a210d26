"""A checkpoint written by our C code is plain HDF5 to h5py: the documented layout is there, and loading its
tensors into the PyTorch twin by full name gives the same Fashion-MNIST test accuracy (2000-image subset) as
`swap-inspect eval` on the same file."""
import gzip, json, os, subprocess, sys, tempfile
import h5py, numpy as np, torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import swap_torch  # noqa: E402  (the shipped PyTorch twins)
BIN = os.environ.get("SWAP_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "bin"))
TOOLS = os.environ.get("SWAP_TOOLS")
TMP = os.environ.get("SWAP_TEST_TMP", "/tmp")
FMNIST = "/usr/share/datasets/fashion-mnist"
N_TEST = 2000


def run(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r.stdout


def s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def twin(name, in_shape, classes, width):
    return swap_torch.build_model(name, in_shape=in_shape, classes=classes, width=width), "swap_torch"


def read_checkpoint(path):
    """Everything through h5py alone, checking the documented layout on the way."""
    with h5py.File(path, "r") as f:
        a = f.attrs
        assert s(a["format"]) == "swap-checkpoint" and s(a["format_version"]).split(".")[0] == "1"
        for k in ("created_utc", "phase", "epoch", "step", "samples_seen", "seed", "worker", "n_workers",
                  "world_size", "content_hash", "parents", "parent_paths", "git_commit", "git_dirty", "compiler",
                  "cflags", "build_type", "blas", "hdf5_version", "mpi_version", "conv", "precision", "host", "cpu", "slurm_job_id",
                  "slurm_array_job_id", "slurm_array_task_id", "config_hash", "val_split", "val_seed", "val_hash"):
            assert k in a, f"root attribute {k} missing"
        assert len(s(a["content_hash"])) == 32
        m = f["model"]
        # the kernels that computed it: every convolution names oneDNN's kernels or im2col+gemm; mlp has none
        assert s(a["precision"]) in ("fp32", "bf16"), s(a["precision"])
        conv = s(a["conv"])
        if s(m.attrs["model"]) == "mlp":
            assert conv == "", conv
        else:
            assert conv and all(k.startswith("onednn:") or k == "im2col+gemm" for k in conv.split(",")), conv
        names = [s(n) for n in m.attrs["tensor_names"]]
        tensors = {}
        for gname, g in m.items():
            assert gname.startswith("L") and gname[1:4].isdigit(), gname
            for leaf, d in g.items():
                assert d.dtype == np.float32, (gname, leaf, d.dtype)
                full = s(d.attrs["name"])
                assert full == s(g.attrs["layer"]) + "." + leaf and gname == "L%03d_%s" % (d.attrs["layer_index"], g.attrs["layer"].decode())
                assert len(s(d.attrs["xxh3_128"])) == 32 and s(d.attrs["layout"]) and s(d.attrs["layer_type"])
                tensors[full] = (d[()], bool(d.attrs["trainable"]))
        assert sorted(names) == sorted(tensors), "tensor_names does not list the stored tensors"
        hist = f["metrics/history"][()]
        assert hist.dtype.names == ("epoch", "time_s", "lr", "train_loss", "train_acc", "test_loss", "test_acc",
                                    "val_loss", "val_acc")
        resolved = s(f["config/resolved"][()])
        info = dict(model=s(m.attrs["model"]), in_shape=(int(m.attrs["in_c"]), int(m.attrs["in_h"]), int(m.attrs["in_w"])),
                    classes=int(m.attrs["classes"]), width=int(m.attrs["width"]), dataset=s(m.attrs["dataset"]),
                    mean=np.array(m.attrs["norm_mean"], np.float32), std=np.array(m.attrs["norm_std"], np.float32),
                    param_count=int(m.attrs["param_count"]), history=hist, resolved=resolved)
        return tensors, names, info


def main():
    if not os.path.exists(f"{FMNIST}/t10k-images-idx3-ubyte.gz"):
        print("SKIP: Fashion-MNIST not installed (Debian package dataset-fashion-mnist)"); sys.exit(77)
    assert TOOLS, "SWAP_TOOLS not set (run through ctest)"
    os.makedirs(TMP, exist_ok=True)
    d = tempfile.mkdtemp(dir=TMP, prefix="ckpt_h5py.")
    path = os.path.join(d, "trained.h5")
    run([f"{TOOLS}/make_ckpt", path, "--train", "40", "--lr", "0.05", "--seed", "3"], d)
    tensors, names, info = read_checkpoint(path)
    assert info["dataset"] == "fashion-mnist" and info["model"] == "cnn"
    assert info["param_count"] == sum(a.size for a, t in tensors.values() if t)
    assert len(info["history"]) == 1 and np.isnan(info["history"]["test_acc"][0])
    print(f"ok: h5py reads {len(tensors)} tensors and the documented attributes")

    model, source = twin(info["model"], info["in_shape"], info["classes"], info["width"])
    sd = model.state_dict()
    want = [k for k in sd if not k.endswith("num_batches_tracked")]
    assert sorted(want) == sorted(names), f"twin/state names differ: {set(want) ^ set(names)}"
    for k in want:
        assert tuple(sd[k].shape) == tensors[k][0].shape, (k, sd[k].shape, tensors[k][0].shape)
    model.load_state_dict({k: torch.from_numpy(tensors[k][0]) for k in want}, strict=False)
    model.eval()

    with gzip.open(f"{FMNIST}/t10k-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:N_TEST]
    with gzip.open(f"{FMNIST}/t10k-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:N_TEST].astype(np.int64)
    x = (x.astype(np.float32) / 255.0 - info["mean"].reshape(1, -1, 1, 1)) / info["std"].reshape(1, -1, 1, 1)
    with torch.no_grad():
        logits = model(torch.from_numpy(x))
        loss = float(nn.functional.cross_entropy(logits, torch.from_numpy(y)))
        correct = int((logits.argmax(1).numpy() == y).sum())
        # PyTorch and our kernels round differently (loss agrees to 1e-4), so a sample whose two top logits are
        # that close may go either way; every other prediction must agree
        top2 = logits.topk(2, dim=1).values
        near_ties = int(((top2[:, 0] - top2[:, 1]) <= 1e-4 * top2[:, 0].abs().clamp(min=1.0)).sum())

    ev = json.loads(run([f"{BIN}/swap-inspect", "eval", path, "--subset", str(N_TEST), "--json"], d))
    print(f"torch ({source}): acc {correct / N_TEST:.4f} loss {loss:.6f}   "
          f"swap-inspect eval: acc {ev['test_acc']:.4f} loss {ev['test_loss']:.6f}")
    assert ev["n"] == N_TEST
    assert correct / N_TEST > 0.3, "the trained model is no better than chance: the comparison would be weak"
    assert abs(ev["correct"] - correct) <= near_ties, \
        f"FAIL: accuracy differs ({ev['correct']} vs {correct} correct, {near_ties} near-ties)"
    assert abs(ev["test_loss"] - loss) <= 1e-4 * max(1.0, loss), f"FAIL: loss differs ({ev['test_loss']} vs {loss})"
    print("ok: the PyTorch twin and swap-inspect eval agree on the test subset")


if __name__ == "__main__":
    main()
