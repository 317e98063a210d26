#!/usr/bin/env bash
# swap-run over a sweep: points that differ only in a phase-2 key share one phase 1 and the baselines (per
# seed), every pipeline completes from the shared phase 1, and `swap-slurm collect` reports each row's mean ±
# standard deviation over the seed replicates.
source "$(dirname "$0")/lib.sh"
have_fmnist || skip "sweep through swap-run: Fashion-MNIST not installed (Debian package dataset-fashion-mnist)"
cd "$T"
cat > exp.lua <<LUA
return {
  name = "sw", dataset = "fashion-mnist", model = "cnn", width = 8, seed = 3,
  results = "$T/results", train_subset = 512, test_subset = 200, threads = 1,
  phase1 = { ranks = 1, batch = 128, lr = 0.2, max_epochs = 1 },
  phase2 = { workers = 2, batch = 64, epochs = 1, lr = 0.05 },
  phase3 = { bn_batches = 2, eval_batch = 100 },
  baselines = { small = { batch = 64, epochs = 1 } },
  sweep = { seed = {1, 2}, ["phase2.lr"] = {0.05, 0.1} },
}
LUA
"$BIN/swap-run" exp.lua > run.log 2>&1 || { cat run.log; fail "swap-run over the sweep"; }
R=results/sw
[ "$(grep -c '/swap-train exp.lua --set seed=[12] --set name=sw/seed=[12]$' run.log)" = 2 ] || { cat run.log; fail "one phase 1 per seed"; }
[ "$(grep -c -- '--baseline small$' run.log)" = 2 ] || fail "one baseline per seed"
for s in 1 2; do
  "$BIN/swap-inspect" verify $R/seed=$s/phase1/model.h5 $R/seed=$s/baseline-small/model.h5 >/dev/null || fail "seed $s shared outputs"
  for lr in 0.05 0.1; do
    P="$R/phase2.lr=$lr,seed=$s"
    [ ! -e "$P/phase1" ] || fail "$P trained its own phase 1"
    "$BIN/swap-inspect" verify "$P/phase3/model.h5" >/dev/null || fail "$P phase 3"
    # the SWAP figure draws the shared phase 1's log (the pipeline has no phase1/ of its own)
    [ -s "$P/plots/swap-figure.png" ] || fail "$P: no SWAP figure (gnuplot-nox is a build dependency)"
    /usr/bin/python3 - "$P/summary.json" "$R/seed=$s/phase1/model.h5" <<'PY' || fail "$P summary"
import json, sys, h5py
s = json.load(open(sys.argv[1]))
with h5py.File(sys.argv[2], "r") as f:
    h = f.attrs["content_hash"]
    h = h.decode() if isinstance(h, bytes) else h
assert s["phase1"]["hash"] == h, (s["phase1"]["hash"], h)       # averaged from the shared phase 1
assert "small" in s["baselines"] and "critical_path" in s, s.keys()
PY
  done
done
ok "4 pipelines from 2 shared phase 1s (one per seed), baselines per seed"
"$BIN/swap-run" exp.lua > rerun.log 2>&1 || fail "re-run"
[ "$(grep -c 'phase 1 done already' rerun.log)" = 2 ] && [ "$(grep -c 'phase 3 done already' rerun.log)" = 4 ] || { cat rerun.log; fail "re-run skips"; }
ok "re-run skips every finished phase"
SWAP_SLURM="$SRC/lua/bin/swap-slurm"
[ -x "$BIN/swap-slurm" ] && SWAP_SLURM="$BIN/swap-slurm"
"$SWAP_SLURM" collect exp.lua > collect.txt 2>&1 || { cat collect.txt; fail "collect"; }
/usr/bin/python3 - $R <<'PY' || fail "mean ± std over seeds"
import csv, json, statistics, sys
R = sys.argv[1]
rows = {r["phase2.lr"]: r for r in csv.DictReader(open(f"{R}/collect-seeds.csv"))}
assert set(rows) == {"0.05", "0.1"}, rows.keys()
for lr, r in rows.items():
    accs = [json.load(open(f"{R}/phase2.lr={lr},seed={s}/summary.json"))["average"]["test_acc"] for s in (1, 2)]
    assert r["seeds"] == "1 2", r
    assert abs(float(r["average_test_acc_mean"]) - statistics.mean(accs)) < 1e-4, (r, accs)
    assert abs(float(r["average_test_acc_std"]) - statistics.stdev(accs)) < 1e-4, (r, accs)
PY
grep -q "over seeds (mean ± sample standard deviation)" collect.txt || fail "collect prints the seed table"
ok "collect: mean ± std over the seeds match the summaries"
rm -rf "$T"
