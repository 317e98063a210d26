"""Worker groups through swap-run: phase2.ranks_per_worker = 2 runs each SWAP worker as a 2-rank data-parallel
group (mpiexec -n 2, its batch of 64 split 32 + 32, gradients summed inside the group). Its model is the
ranks_per_worker = 1 worker's up to float summation order: on `mlp` (no batch norm, whose per-rank statistics
would make it a different algorithm) from the same phase-1 model and worker seeds, every epoch's training loss
agrees to 1e-4 (relative), the weights to 1e-4, and the final test accuracy within 0.5 points. The workers
really ran on 2 ranks (their checkpoints say world_size 2, the k = 1 ones 1), a worker started on the wrong
number of ranks is refused, and so is WASH with worker groups."""
import json, os, subprocess, sys, tempfile
import h5py, numpy as np

BIN = os.environ.get("SWAP_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "bin"))
TMP = os.environ.get("SWAP_TEST_TMP", "/tmp")


def run(cmd, cwd, ok=True):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if ok and r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r


def weights(path):
    with h5py.File(path, "r") as f:
        out = {}
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and "name" in obj.attrs:
                n = obj.attrs["name"]
                out[n.decode() if isinstance(n, bytes) else n] = obj[()]
        f["model"].visititems(visit)
        return out, int(f.attrs["world_size"])


def log(path):
    return [json.loads(l) for l in open(path) if l.strip()]


def main():
    if not os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
        print("SKIP: Fashion-MNIST not installed (Debian package dataset-fashion-mnist)"); sys.exit(77)
    os.makedirs(TMP, exist_ok=True)
    d = tempfile.mkdtemp(dir=TMP, prefix="groups.")
    with open(os.path.join(d, "exp.lua"), "w") as f:
        f.write(f"""return {{ name = "k1", model = "mlp", seed = 3, results = "{d}/results",
  train_subset = 640, test_subset = 2000, threads = 1,
  phase1 = {{ batch = 128, lr = 0.1, max_epochs = 2, eval_every = 0 }},
  phase2 = {{ workers = 2, batch = 64, epochs = 3, lr = 0.05, schedule = "linear", eval_every = 1 }},
  phase3 = {{ bn_batches = 2 }} }}""")
    run([f"{BIN}/swap-run", "exp.lua", "--only", "swap"], d)
    k1 = f"{d}/results/k1"
    # same phase 1 (shared), workers as 2-rank groups
    run([f"{BIN}/swap-run", "exp.lua", "--only", "swap", "--set", "name=k2", "--set", f"shared_dir={k1}",
         "--set", "phase2.ranks_per_worker=2"], d)
    k2 = f"{d}/results/k2"
    worst_loss = worst_w = 0.0
    for w in range(2):
        a, b = log(f"{k1}/phase2/worker-{w}.log.jsonl"), log(f"{k2}/phase2/worker-{w}.log.jsonl")
        assert len(a) == len(b) == 3, (len(a), len(b))
        for ra, rb in zip(a, b):
            rel = abs(ra["train_loss"] - rb["train_loss"]) / abs(ra["train_loss"])
            worst_loss = max(worst_loss, rel)
            print(f"worker {w} epoch {ra['epoch']}: train loss k=1 {ra['train_loss']:.6f} k=2 {rb['train_loss']:.6f}")
        assert abs(a[-1]["test_acc"] - b[-1]["test_acc"]) <= 0.005, (a[-1]["test_acc"], b[-1]["test_acc"])
        wa, sa = weights(f"{k1}/phase2/worker-{w}.h5")
        wb, sb = weights(f"{k2}/phase2/worker-{w}.h5")
        assert sa == 1 and sb == 2, f"worker {w}: world_size {sa} (k=1), {sb} (k=2)"
        for n in wa:
            worst_w = max(worst_w, float(np.abs(wa[n] - wb[n]).max() / max(np.abs(wa[n]).max(), 1e-12)))
    # the workers moved away from phase 1, so agreeing is not trivial
    p1, _ = weights(f"{k1}/phase1/model.h5")
    w0, _ = weights(f"{k1}/phase2/worker-0.h5")
    moved = max(float(np.abs(p1[n] - w0[n]).max()) for n in p1)
    assert moved > 1e-3, f"phase 2 did not move the weights ({moved})"
    assert worst_loss < 1e-4, f"FAIL: epoch training losses differ by {worst_loss:.2e} (relative)"
    assert worst_w < 1e-4, f"FAIL: worker weights differ by {worst_w:.2e} (relative)"
    # a worker on the wrong number of ranks, and WASH with groups, are refused with one line
    r = run([f"{BIN}/swap-refine", "exp.lua", "--worker", "0", "--set", "name=bad", "--set", f"shared_dir={k1}",
             "--set", "phase2.ranks_per_worker=2"], d, ok=False)
    assert r.returncode != 0 and "phase2.ranks_per_worker is 2 but worker 0 runs on 1 rank(s)" in r.stderr, r.stderr
    r = run([f"{BIN}/swap-run", "exp.lua", "--set", "name=wk", "--set", "phase2.mode=wash",
             "--set", "phase2.ranks_per_worker=2"], d, ok=False)
    assert r.returncode != 0 and "phase2.ranks_per_worker must be 1" in r.stderr, r.stderr
    print(f"ok: 2-rank workers == 1-rank workers (epoch losses within {worst_loss:.1e}, weights {worst_w:.1e}; "
          f"phase 2 moved the weights {moved:.3f})")
    subprocess.run(["rm", "-rf", d])


if __name__ == "__main__":
    main()
