#!/usr/bin/env bash
# End to end on one machine: a tiny SWAP run produces every file, verifies, agrees with swap-inspect eval,
# skips finished phases when re-run; bad inputs fail cleanly with nothing half-written.
source "$(dirname "$0")/lib.sh"
have_fmnist || skip "Fashion-MNIST not installed (Debian package dataset-fashion-mnist)"
cd "$T"
tiny_experiment exp.lua tiny
"$BIN/swap-run" exp.lua > run.log 2>&1 || { cat run.log; fail "swap-run failed"; }
R=results/tiny
for f in phase1/model.h5 phase1/log.jsonl phase2/worker-0.h5 phase2/worker-1.h5 phase2/worker-0.log.jsonl \
         phase3/model.h5 summary.json; do
  [ -s "$R/$f" ] || fail "missing $R/$f"
done
ok "every output exists"
"$BIN/swap-inspect" verify $R/phase1/model.h5 $R/phase2/worker-*.h5 $R/phase3/model.h5 >/dev/null || fail "verify"
ok "outputs verify"
[ "$(ls -a $R/phase1 $R/phase2 $R/phase3 | grep -c '\.tmp\.')" = 0 ] || fail "temporary files left behind"
[ ! -e $R/phase1/resume.h5 ] || fail "resume checkpoint left after a finished phase"

# the summary's numbers are what swap-inspect eval measures on the written checkpoints. Exact (up to the summary's
# 6 printed decimals): same weights, same test samples, same batches as phase 3 (--batch = phase3.eval_batch, so the
# GEMM shapes match too) and thread-count-independent kernels -- the same computation, so the same predictions.
acc_sum=$(json_get $R/summary.json 'd["average"]["test_acc"]')
acc_eval=$("$BIN/swap-inspect" eval $R/phase3/model.h5 --subset 500 --batch 250 --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["test_acc"])')
/usr/bin/python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); sys.exit(abs(a-b)>1e-6)" "$acc_sum" "$acc_eval" \
  || fail "summary average acc $acc_sum != swap-inspect eval $acc_eval"
w0_sum=$(json_get $R/summary.json 'd["workers"][0]["test_acc"]')
w0_eval=$("$BIN/swap-inspect" eval $R/phase2/worker-0.h5 --subset 500 --batch 250 --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["test_acc"])')
/usr/bin/python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); sys.exit(abs(a-b)>1e-6)" "$w0_sum" "$w0_eval" \
  || fail "summary worker-0 acc $w0_sum != swap-inspect eval $w0_eval"
p1_sum=$(json_get $R/summary.json 'd["phase1"]["test_acc"]')
/usr/bin/python3 -c "import sys; a=float(sys.argv[1]); sys.exit(not 0.5 < a <= 1)" "$p1_sum" || fail "phase-1 accuracy $p1_sum implausible"
ok "summary agrees with swap-inspect eval (average $acc_sum, worker 0 $w0_sum)"

# lineage: workers name the phase-1 model, the average names both workers
"$BIN/swap-inspect" $R/phase3/model.h5 --json > avg.json
/usr/bin/python3 - "$R" <<'PY' || fail "lineage"
import h5py, sys
R = sys.argv[1]
def attr(f, k):
    v = f.attrs[k]
    return v.decode() if isinstance(v, bytes) else v
with h5py.File(f"{R}/phase1/model.h5", "r") as f: p1 = attr(f, "content_hash")
ws = []
for i in range(2):
    with h5py.File(f"{R}/phase2/worker-{i}.h5", "r") as f:
        parents = [p.decode() if isinstance(p, bytes) else p for p in f.attrs["parents"]]
        assert parents == [p1], (parents, p1)
        ws.append(attr(f, "content_hash"))
with h5py.File(f"{R}/phase3/model.h5", "r") as f:
    parents = sorted(p.decode() if isinstance(p, bytes) else p for p in f.attrs["parents"])
    assert parents == sorted(ws), (parents, ws)
PY
ok "lineage recorded"

# re-running skips finished phases
"$BIN/swap-run" exp.lua > rerun.log 2>&1 || fail "re-run failed"
[ "$(grep -c 'done already' rerun.log)" = 3 ] || { cat rerun.log; fail "re-run did not skip the three phases"; }
ok "re-run skips finished phases"

# bad input: each a one-line error naming the problem, a non-zero exit, nothing half-written
expect_fail() { # expect_fail PATTERN CMD...
  local pat=$1; shift
  set +e; "$@" > out.txt 2> err.txt; local rc=$?; set -e
  [ $rc -ne 0 ] || fail "expected failure: $*"
  grep -q -- "$pat" err.txt || { cat err.txt; fail "error for '$*' does not mention '$pat'"; }
}
tiny_experiment fresh.lua fresh
expect_fail "phase-1 model not found" "$BIN/swap-refine" fresh.lua --worker 0
[ ! -e results/fresh/phase2/worker-0.h5 ] || fail "refine wrote output without a parent"
expect_fail "phase1.batch" "$BIN/swap-train" exp.lua --set phase1.ranks=3
echo 'return { name = "broken", phase1 = { batch = 64, }' > broken.lua
expect_fail "broken.lua" "$BIN/swap-train" broken.lua
expect_fail "phase1.bach" "$BIN/swap-train" exp.lua --set phase1.bach=64
# workers from a different phase-1 parent
tiny_experiment other.lua other "seed = 4,"
"$BIN/swap-train" other.lua > /dev/null 2>&1 || fail "other phase 1"
mkdir -p results/other/phase2
cp $R/phase2/worker-0.h5 $R/phase2/worker-1.h5 results/other/phase2/
# (their recorded configuration differs too, so the configuration check may speak first: either refusal is right)
expect_fail "different phase-1 model\|made with another configuration" "$BIN/swap-average" other.lua
[ ! -e results/other/phase3/model.h5 ] && [ ! -e results/other/summary.json ] || fail "average wrote output for bad workers"
# mismatched architecture: an mlp worker among cnn workers
tiny_experiment mlp.lua mlpexp 'model = "mlp",'
sed -i 's/ranks = 2/ranks = 1/' mlp.lua
"$BIN/swap-train" mlp.lua --set phase1.max_epochs=1 > /dev/null 2>&1 || fail "mlp phase 1"
"$BIN/swap-refine" mlp.lua --set phase1.max_epochs=1 --worker 0 > /dev/null 2>&1 || fail "mlp worker"
mkdir -p results/mix/phase1 results/mix/phase2
tiny_experiment mix.lua mix
cp $R/phase1/model.h5 results/mix/phase1/
cp $R/phase2/worker-0.h5 results/mix/phase2/
cp results/mlpexp/phase2/worker-0.h5 results/mix/phase2/worker-1.h5
expect_fail "worker-1.h5" "$BIN/swap-average" mix.lua
# a missing worker is an error unless --min-workers allows going on
rm results/mix/phase2/worker-1.h5
expect_fail "missing: 1" "$BIN/swap-average" mix.lua
"$BIN/swap-average" mix.lua --min-workers 1 > mix.log 2>&1 || { cat mix.log; fail "--min-workers 1"; }
grep -q "missing: 1" mix.log || fail "--min-workers does not name the missing worker"
ok "bad inputs fail cleanly"
rm -rf "$T"
