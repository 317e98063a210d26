"""Phase 3 (swap-average): the average is the exact mean of the workers (accumulated in double), averaging
identical checkpoints returns them unchanged, and the BN recompute matches torch.optim.swa_utils.update_bn on
the same weights and the same batches."""
import gzip, os, subprocess, sys, tempfile
import h5py, numpy as np, torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from swap_torch import build_model, load_arrays  # noqa: E402  (the shipped PyTorch twins, python/swap_torch.py)

BIN = os.environ.get("SWAP_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "bin"))
TOOLS = os.environ.get("SWAP_TOOLS")
TMP = os.environ.get("SWAP_TEST_TMP", "/tmp")
FMNIST = "/usr/share/datasets/fashion-mnist"

def run(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r.stdout

def s(v):
    return v.decode() if isinstance(v, bytes) else v

def read(path):
    """{full tensor name: (array, trainable)} and the root/model attributes."""
    with h5py.File(path, "r") as f:
        out = {}
        def visit(_, obj):
            if isinstance(obj, h5py.Dataset):
                out[s(obj.attrs["name"])] = (obj[()], bool(obj.attrs["trainable"]))
        f["model"].visititems(visit)
        return out, dict(f["model"].attrs), dict(f.attrs)

def main():
    if not os.path.exists(f"{FMNIST}/train-images-idx3-ubyte.gz"):
        print("SKIP: Fashion-MNIST not installed (Debian package dataset-fashion-mnist)"); sys.exit(77)
    assert TOOLS, "SWAP_TOOLS not set (run through ctest)"
    os.makedirs(TMP, exist_ok=True)
    d = tempfile.mkdtemp(dir=TMP, prefix="average.")
    N, BNB, BNN, SEED = 1024, 32, 4, 7
    with open(os.path.join(d, "exp.lua"), "w") as f:
        f.write(f"""return {{ name = "avg", model = "cnn", seed = {SEED}, results = "{d}/results",
  train_subset = {N}, test_subset = 300, threads = 1,
  phase1 = {{ batch = 128, lr = 0.1, max_epochs = 1 }},
  phase2 = {{ workers = 3, batch = 64, epochs = 1, lr = 0.05 }},
  phase3 = {{ bn_batches = {BNN}, bn_batch = {BNB}, eval_batch = 100 }} }}""")
    run([f"{BIN}/swap-train", "exp.lua"], d)
    for i in range(3):
        run([f"{BIN}/swap-refine", "exp.lua", "--worker", str(i)], d)
    run([f"{BIN}/swap-average", "exp.lua"], d)
    R = f"{d}/results/avg"
    workers = [read(f"{R}/phase2/worker-{i}.h5")[0] for i in range(3)]
    avg, mattrs, _ = read(f"{R}/phase3/model.h5")

    # 1. exact mean of the trainable tensors
    spread = 0.0
    for name, (a, trainable) in avg.items():
        if not trainable:
            continue
        ws = np.stack([w[name][0] for w in workers]).astype(np.float64)
        spread = max(spread, float(np.abs(ws[0] - ws[1]).max()))
        want = ws.mean(axis=0).astype(np.float32)
        assert np.array_equal(a, want), f"FAIL: {name} is not the exact mean (max diff {np.abs(a - want).max():.3e})"
    assert spread > 1e-4, "workers are identical: the mean test would be trivial"
    print(f"ok: average == exact mean of 3 workers (workers differ by up to {spread:.3f})")

    # 2. BN recompute == torch update_bn on the averaged weights and the same batches
    order = run([f"{TOOLS}/bn_order", str(N), str(BNB), str(BNN), str(SEED)], d)
    batches = [np.array([int(x) for x in line.split()]) for line in order.strip().splitlines()]
    with gzip.open(f"{FMNIST}/train-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:N]
    mean = np.array(mattrs["norm_mean"], np.float32).reshape(1, -1, 1, 1)
    std = np.array(mattrs["norm_std"], np.float32).reshape(1, -1, 1, 1)
    x = (images.astype(np.float32) / 255.0 - mean) / std
    model = build_model("cnn", (1, 28, 28), 10, 64)
    load_arrays(model, {k: v[0] for k, v in avg.items()})
    loader = [torch.from_numpy(x[b]) for b in batches]
    torch.optim.swa_utils.update_bn(loader, model)
    sd = model.state_dict()
    worst = 0.0
    for name, (a, trainable) in avg.items():
        if trainable:
            continue
        t = sd[name].numpy()
        err = np.abs(a - t).max() / max(np.abs(t).max(), 1e-12)
        worst = max(worst, err)
        assert err < 1e-4, f"FAIL: {name} after BN recompute differs from update_bn: rel err {err:.2e}"
    print(f"ok: BN recompute == torch update_bn over {BNN} batches of {BNB} (worst rel err {worst:.1e})")

    # 3. identical workers (0 epochs of refinement): the average returns them unchanged
    os.makedirs(f"{d}/results/same", exist_ok=True)
    subprocess.run(["cp", "-r", f"{R}/phase1", f"{d}/results/same/"], check=True)
    for i in range(3):
        run([f"{BIN}/swap-refine", "exp.lua", "--set", "name=same", "--set", "phase2.epochs=0", "--worker", str(i)], d)
    run([f"{BIN}/swap-average", "exp.lua", "--set", "name=same", "--set", "phase2.epochs=0"], d)
    p1, _, _ = read(f"{d}/results/same/phase1/model.h5")
    same, _, _ = read(f"{d}/results/same/phase3/model.h5")
    for name, (a, trainable) in same.items():
        if trainable:
            assert np.array_equal(a, p1[name][0]), f"FAIL: averaging identical checkpoints changed {name}"
    import json
    summ = json.load(open(f"{d}/results/same/summary.json"))
    # exact: swap-average evaluates both with the same eval batches, and the weights and BN statistics are
    # bit-identical (checked above), so this is the same computation twice
    assert summ["average"]["test_acc_before_bn"] == summ["phase1"]["test_acc"], summ
    print("ok: averaging identical checkpoints returns them unchanged")

if __name__ == "__main__":
    main()
