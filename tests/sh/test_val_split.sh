#!/usr/bin/env bash
# data.val_split: one held-out split of the training set, the same in every phase and recorded in every
# checkpoint; the phases report validation accuracy beside test accuracy (epoch logs, metrics history,
# summary.json, swap-inspect eval); a checkpoint trained with another split is refused.
source "$(dirname "$0")/lib.sh"
have_fmnist || { echo "SKIP: Fashion-MNIST not installed"; exit 77; }
cd "$T"
tiny_experiment exp.lua val 'data = { val_split = 400, val_seed = 11 },'
"$BIN/swap-run" exp.lua > run.log 2>&1 || { cat run.log; fail "swap-run failed"; }
R=results/val
grep -q "val .*%" run.log || { cat run.log; fail "epoch lines do not show validation accuracy"; }
/usr/bin/python3 - "$R" <<'PY' || fail "validation split bookkeeping"
import h5py, json, math, sys
R = sys.argv[1]
s = lambda v: v.decode() if isinstance(v, bytes) else v
files = [f"{R}/phase1/model.h5", f"{R}/phase2/worker-0.h5", f"{R}/phase2/worker-1.h5", f"{R}/phase3/model.h5"]
hashes = set()
for path in files:
    with h5py.File(path, "r") as f:
        assert int(f.attrs["val_split"]) == 400 and int(f.attrs["val_seed"]) == 11, path
        hashes.add(s(f.attrs["val_hash"]))
        assert "data.val_split = 400" in s(f["config/resolved"][()]), path
        h = f["metrics/history"][()]
        assert all(0 < v <= 1 for v in h["val_acc"]), (path, h["val_acc"])
assert len(hashes) == 1 and len(hashes.pop()) == 32, "phases recorded different validation splits"
for log in ("phase1/log.jsonl", "phase2/worker-0.log.jsonl"):
    for line in open(f"{R}/{log}"):
        r = json.loads(line)
        assert r["val_acc"] is not None and 0 < r["val_acc"] <= 1 and r["val_loss"] > 0, (log, r)
d = json.load(open(f"{R}/summary.json"))
assert d["val_samples"] == 400, d
vals = [d["phase1"]["val_acc"], d["average"]["val_acc"], d["ensemble"]["val_acc"]] + [w["val_acc"] for w in d["workers"]]
assert all(0.3 < v <= 1 for v in vals), vals
print("ok: val accuracies", vals)
PY
ok "every checkpoint records the same split; logs, history and summary carry validation accuracy"

# swap-inspect eval carves the recorded split itself and measures what phase 3 reported
"$BIN/swap-inspect" eval $R/phase3/model.h5 --subset 500 --json > ev.json
/usr/bin/python3 - $R/summary.json ev.json <<'PY' || fail "swap-inspect eval validation accuracy"
import json, sys
d, e = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert e["val_n"] == 400 and abs(e["val_acc"] - d["average"]["val_acc"]) < 1e-6, (e, d["average"])
assert abs(e["test_acc"] - d["average"]["test_acc"]) < 1e-6, (e, d["average"])
PY
ok "swap-inspect eval reports the recorded split's accuracy ($(json_get ev.json 'd["val_acc"]'))"

# swap-inspect interpolate holds the split out too: its endpoint is what swap-inspect eval gives the same file
# (same BN batches from the same training images; both print 9 significant digits, so exact)
"$BIN/swap-inspect" interpolate $R/phase1/model.h5 $R/phase3/model.h5 --steps 1 --bn-batches 3 --bn-batch 64 \
  --batch 100 --subset 256 --threads 1 --out line > interp.log 2>&1 || { cat interp.log; fail "interpolate failed"; }
"$BIN/swap-inspect" eval $R/phase3/model.h5 --bn-recompute 3 --bn-batch 64 --train-subset 256 --subset 256 \
  --batch 100 --json > eb.json || fail "swap-inspect eval --bn-recompute"
/usr/bin/python3 - line/interpolate-line.csv eb.json <<'PY' || fail "interpolation endpoint != swap-inspect eval"
import csv, json, sys
row, ref = list(csv.DictReader(open(sys.argv[1])))[-1], json.load(open(sys.argv[2]))
assert float(row["alpha"]) == 1.0, row
assert float(row["test_acc"]) == ref["test_acc"] and float(row["test_loss"]) == ref["test_loss"], (row, ref)
PY
ok "interpolate recomputes BN without the validation images (endpoint = swap-inspect eval)"

expect_fail() { # expect_fail PATTERN CMD...
  local pat=$1; shift
  set +e; "$@" > out.txt 2> err.txt; local rc=$?; set -e
  [ $rc -ne 0 ] || fail "expected failure: $*"
  grep -q -- "$pat" err.txt || { cat err.txt; fail "error for '$*' does not mention '$pat'"; }
  [ "$(wc -l < err.txt)" = 1 ] || { cat err.txt; fail "error for '$*' is not one line"; }
}
# a worker refined from a phase-1 model that saw other validation images is refused, nothing written
mkdir -p results/other/phase1
cp $R/phase1/model.h5 results/other/phase1/
# the configuration check (data.val_seed differs from phase 1's) or the split check: either refusal is right
expect_fail "data.val_s" "$BIN/swap-refine" exp.lua --set name=other --set data.val_seed=12 --worker 0
expect_fail "data.val_split" "$BIN/swap-refine" exp.lua --set name=other --set data.val_split=0 --worker 0
[ ! -e results/other/phase2/worker-0.h5 ] || fail "refine wrote a worker despite the split mismatch"
expect_fail "data.val_split" "$BIN/swap-average" exp.lua --set data.val_split=300
expect_fail "data.val_split: 60000" "$BIN/swap-train" exp.lua --set name=all --set phase1.ranks=1 --set data.val_split=60000
ok "mismatched or impossible splits fail cleanly"
rm -rf "$T"
