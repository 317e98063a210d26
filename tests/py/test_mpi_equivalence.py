"""Data-parallel phase 1 is the same computation as one big batch: `mlp` (no batch norm) trained 10 steps on
2 MPI ranks x batch B/2 matches 1 rank x batch B from the same seed, to float tolerance (the gradient sum is
one all-reduce over the flat gradient buffer at the default phase1.bucket_mb = 0; test_allreduce_buckets shows
that any bucket size gives the same bits, so together they cover the bucketed path too)."""
import os, subprocess, sys, tempfile
import h5py, numpy as np

BIN = os.environ.get("SWAP_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "bin"))
TMP = os.environ.get("SWAP_TEST_TMP", "/tmp")

def run(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")

def tensors(path):
    with h5py.File(path, "r") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f["model"].attrs["tensor_names"]]
        out = {}
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                full = obj.attrs.get("name")
                full = full.decode() if isinstance(full, bytes) else full
                out[full] = obj[()]
        f["model"].visititems(visit)
        assert set(names) <= set(out), (names, list(out))
        return {n: out[n] for n in names}

def main():
    if not os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
        print("SKIP: Fashion-MNIST not installed (Debian package dataset-fashion-mnist)"); sys.exit(77)
    os.makedirs(TMP, exist_ok=True)
    d = tempfile.mkdtemp(dir=TMP, prefix="mpi_equiv.")
    B = 64
    with open(os.path.join(d, "exp.lua"), "w") as f:
        f.write(f"""return {{ name = "eq", model = "mlp", seed = 5, results = "{d}/results",
  train_subset = {10 * B}, test_subset = 200, threads = 1,
  optim = {{ momentum = 0.9, nesterov = true, weight_decay = 5e-4 }},
  phase1 = {{ batch = {B}, lr = 0.05, schedule = "constant", max_epochs = 1 }} }}""")
    run([f"{BIN}/swap-train", "exp.lua", "--set", "name=one"], d)
    run(["mpiexec", "-n", "2", f"{BIN}/swap-train", "exp.lua", "--set", "name=two", "--set", "phase1.ranks=2"], d)
    one = tensors(f"{d}/results/one/phase1/model.h5")
    two = tensors(f"{d}/results/two/phase1/model.h5")
    with h5py.File(f"{d}/results/two/phase1/model.h5", "r") as f:
        assert int(f.attrs["world_size"]) == 2 and int(f.attrs["step"]) == 10, dict(f.attrs)
    worst = 0.0
    moved = 0.0
    for name, a in one.items():
        b = two[name]
        assert a.shape == b.shape, (name, a.shape, b.shape)
        err = np.abs(a - b).max() / max(np.abs(a).max(), 1e-12)
        worst = max(worst, err)
        print(f"{name:20s} max rel diff {err:.2e}")
    # the runs trained (10 steps moved the weights), so agreement is not trivial
    run([f"{BIN}/swap-train", "exp.lua", "--set", "name=zero", "--set", "phase1.lr=1e-30"], d)
    zero = tensors(f"{d}/results/zero/phase1/model.h5")
    moved = max(np.abs(one[n] - zero[n]).max() for n in one)
    assert moved > 1e-3, f"training did not move the weights ({moved})"
    assert worst < 1e-5, f"FAIL: 2 ranks x {B//2} differs from 1 rank x {B}: worst relative difference {worst:.2e}"
    print(f"ok: 2 ranks x {B//2} == 1 rank x {B} after 10 steps (worst rel diff {worst:.1e}, weights moved {moved:.3f})")

if __name__ == "__main__":
    main()
