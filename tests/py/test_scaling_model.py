"""The scaling model in docs/cluster.md stays what scripts/analysis/scaling_model.py computes from the committed
measurements and the current lua/experiments/cifar10.lua: the script's JSON equals results/scaling-model.json
and every table row it prints appears verbatim in docs/cluster.md. (The critical-path table once kept a
1-epoch phase 2 after the recipe moved to 3 epochs; this is the check that would have caught it.)"""
import json, os, subprocess, sys, tempfile

SRC = os.environ.get("SWAP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
TMP = os.environ.get("SWAP_TEST_TMP", "/tmp")

def main():
    os.makedirs(TMP, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=TMP, prefix="scaling.") as d:
        out = os.path.join(d, "model.json")
        r = subprocess.run(["/usr/bin/python3", "scripts/analysis/scaling_model.py", "results/scaling-measurements.jsonl", out],
                           cwd=SRC, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"FAIL: scripts/analysis/scaling_model.py exited {r.returncode}\n{r.stderr[-2000:]}")
        fresh = json.load(open(out))
    committed = json.load(open(os.path.join(SRC, "results", "scaling-model.json")))
    if fresh != committed:
        keys = sorted(k for k in set(fresh) | set(committed) if fresh.get(k) != committed.get(k))
        sys.exit(f"FAIL: results/scaling-model.json differs from the script's output in {keys}; rerun the script")
    doc = open(os.path.join(SRC, "docs", "cluster.md")).read()
    rows = [l for l in r.stdout.splitlines() if l.startswith("| ") and not l.startswith("| model ")]
    assert len(rows) >= 40, f"only {len(rows)} table rows printed"
    stale = [l for l in rows if l not in doc]
    if stale:
        sys.exit(f"FAIL: {len(stale)} of {len(rows)} rows of the scaling model are not in docs/cluster.md, e.g.\n"
                 f"  {stale[0]}\nrerun scripts/analysis/scaling_model.py and paste its tables")
    print(f"ok: results/scaling-model.json and {len(rows)} table rows of docs/cluster.md match the script")

if __name__ == "__main__":
    main()
