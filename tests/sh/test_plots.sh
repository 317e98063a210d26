#!/usr/bin/env bash
# Pictures next to the numbers: a tiny run leaves results/<name>/plots with valid PNGs whose CSVs hold exactly the
# numbers summary.json and the epoch logs report; interpolation endpoints reproduce a direct evaluation of A and
# B (same BN recompute); without gnuplot one clear message and the CSVs are still written.
source "$(dirname "$0")/lib.sh"
have_fmnist || skip "plots and interpolation: Fashion-MNIST not installed (Debian package dataset-fashion-mnist)"
TOOLS=${SWAP_TOOLS:-$SRC/build/tools}
# the subcommands live in src/report; swap-inspect dispatches them once wired, report_cli always does
if [ -x "$BIN/swap-inspect" ] && "$BIN/swap-inspect" plot --help >/dev/null 2>&1; then INSPECT=("$BIN/swap-inspect")
else INSPECT=("$TOOLS/report_cli"); fi
# every part draws or checks PNGs, so without gnuplot the whole test is skipped (its no-gnuplot checks hide gnuplot
# from PATH themselves)
command -v gnuplot >/dev/null || skip "plots and interpolation: gnuplot not installed (Debian package gnuplot-nox)"
cd "$T"
tiny_experiment exp.lua tiny 'phase2 = { workers = 2, batch = 64, epochs = 2, lr = 0.05, eval_every = 1 },'
sed -i '/phase2 = { workers = 2, batch = 64, epochs = 1/d' exp.lua
"$BIN/swap-run" exp.lua > run.log 2>&1 || { cat run.log; fail "swap-run failed"; }
R=results/tiny
P=$R/plots
grep -q "wrote $T/$R/plots\|wrote .*/plots" run.log || fail "phase 3 did not report the plots"

# png_size FILE: "W H" from a PNG's signature + IHDR, or fail
png_size() {
  /usr/bin/python3 - "$1" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read(33)
assert b[:8] == b"\x89PNG\r\n\x1a\n", "bad signature"
assert b[12:16] == b"IHDR", "no IHDR"
print(*struct.unpack(">II", b[16:24]))
PY
}
check_png() { # check_png FILE W H
  [ -s "$1" ] || fail "missing $1"
  local got; got=$(png_size "$1") || fail "$1 is not a PNG"
  [ "$got" = "$2 $3" ] || fail "$1 is ${got// /x}, expected ${2}x$3"
}
check_png $P/swap-figure.png 800 760
check_png $P/training.png 800 760
for f in swap-figure.csv swap-figure-lr.csv swap-figure-markers.csv swap-figure.gp training.csv training.gp; do
  [ -s $P/$f ] || fail "missing $P/$f"
done
[ -z "$(ls -A $P | grep '\.tmp')" ] || fail "temporary files left in $P"
ok "phase 3 drew swap-figure.png and training.png (valid PNGs, expected sizes) with their CSVs"

# the data behind the pictures is the data the run reported
/usr/bin/python3 - "$R" <<'PY' || fail "plot CSVs disagree with summary.json / the epoch logs"
import csv, json, math, sys
R = sys.argv[1]
s = json.load(open(f"{R}/summary.json"))
rows = lambda f: list(csv.DictReader(open(f"{R}/plots/{f}")))
close = lambda a, b: abs(float(a) - float(b)) <= 1e-6
m = {(r["model"], r["worker"]): r for r in rows("swap-figure-markers.csv")}
assert close(m[("average", "-1")]["test_acc"], s["average"]["test_acc"]), "average marker"
assert close(m[("ensemble", "-1")]["test_acc"], s["ensemble"]["test_acc"]), "ensemble marker"
assert close(m[("phase1", "-1")]["test_acc"], s["phase1"]["test_acc"]), "phase-1 marker"
end = s["phase1"]["time_s"] + s["phase2"]["time_s"] + s["phase3"]["time_s"]
assert close(m[("average", "-1")]["time_s"], end), "average marker at the end of the critical path"
for w in s["workers"]:
    r = m[("worker", str(w["worker"]))]
    assert close(r["test_acc"], w["test_acc"]) and close(r["time_s"], s["phase1"]["time_s"] + w["time_s"]), w
logs = {-1: [json.loads(l) for l in open(f"{R}/phase1/log.jsonl")]}
for w in range(2):
    logs[w] = [json.loads(l) for l in open(f"{R}/phase2/worker-{w}.log.jsonl")]
t1 = logs[-1][-1]["time_s"]
assert close(t1, s["phase1"]["time_s"])
fig = rows("swap-figure.csv")
for w, log in logs.items():
    pts = [r for r in fig if int(r["worker"]) == w]
    if w >= 0:  # each worker trace starts at phase 1's last point, then one row per epoch
        assert pts[0]["epoch"] == "0" and close(pts[0]["time_s"], t1) and close(pts[0]["test_acc"], logs[-1][-1]["test_acc"])
        pts = pts[1:]
    assert len(pts) == len(log), (w, len(pts), len(log))
    off = t1 if w >= 0 else 0.0
    for p, l in zip(pts, log):
        assert int(p["epoch"]) == l["epoch"] and close(p["time_s"], off + l["time_s"]) and close(p["lr"], l["lr"])
        assert (p["test_acc"] == "nan") == (l["test_acc"] is None)
        if l["test_acc"] is not None: assert close(p["test_acc"], l["test_acc"])
    lr = [r for r in rows("swap-figure-lr.csv") if int(r["worker"]) == w]
    assert len(lr) == 9 * len(log), "9 learning-rate samples per epoch"
    assert close(lr[-1]["lr"], log[-1]["lr"]) and close(lr[-1]["time_s"], off + log[-1]["time_s"])
    tr = [r for r in rows("training.csv") if int(r["worker"]) == w]
    assert [(int(r["epoch"]), float(r["train_loss"])) for r in tr] == [(l["epoch"], l["train_loss"]) for l in log]
    e1 = logs[-1][-1]["epoch"]
    assert all(int(r["global_epoch"]) == int(r["epoch"]) + (e1 if w >= 0 else 0) for r in tr)
assert len(logs[0]) == 2 and all(l["test_acc"] is not None for l in logs[0]), "eval_every=1: every worker epoch evaluated"
PY
ok "CSV numbers = summary.json markers and the epoch logs (times offset by phase 1)"

# swap-inspect plot redraws from the files alone
rm -rf $P
"${INSPECT[@]}" plot $R > plot.log 2>&1 || { cat plot.log; fail "plot DIR failed"; }
check_png $P/swap-figure.png 800 760
"${INSPECT[@]}" plot results/nope > bad.log 2>&1 && fail "plot of a missing experiment succeeded"
grep -q "results/nope/phase1/log.jsonl" bad.log || { cat bad.log; fail "missing-experiment error does not name the log"; }
ok "plot DIR redraws; a missing experiment is a one-line error"

# interpolation: alpha 0 and 1 are A and B exactly (same BN recompute as a direct evaluation), and a point equal
# to a checkpoint gives what `swap-inspect eval` gives for it with the same BN recompute setting.
# Exact comparisons on purpose: a point with weight 1 on one end is that checkpoint bit for bit, the BN batches and
# evaluation batches are the same, and the engine's results do not depend on the thread count (OpenBLAS is kept
# single-threaded, GEMM panels depend on shapes only; test_engine_threads) -- so interpolate (--threads 1) and the
# tools (all cores) run the same sums in the same order on any BLAS kernel. Both print 9 significant digits, so
# any difference is a different computation, e.g. an endpoint taken from the wrong model.
A=$R/phase1/model.h5; B=$R/phase3/model.h5
BN=(--bn-batches 3 --bn-batch 64 --batch 100 --subset 256)
"${INSPECT[@]}" interpolate $A $B --steps 2 "${BN[@]}" --threads 1 --out line > interp.log 2>&1 \
  || { cat interp.log; fail "interpolate failed"; }
grep -q "seed 3)" interp.log || { cat interp.log; fail "BN batches not drawn for the experiment's seed by default"; }
check_png line/interpolate-line.png 800 700
"$TOOLS/eval_point" $A 256 3 64 3 100 > a.json || fail "eval_point A"
"$TOOLS/eval_point" $B 256 3 64 3 100 > b.json || fail "eval_point B"
/usr/bin/python3 - line/interpolate-line.csv a.json b.json <<'PY' || fail "interpolation endpoints differ from A and B"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [float(r["alpha"]) for r in rows] == [0.0, 0.5, 1.0], rows
for r, ref in ((rows[0], json.load(open(sys.argv[2]))), (rows[-1], json.load(open(sys.argv[3])))):
    for k in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert float(r[k]) == ref[k], (k, r[k], ref[k])
# the midpoint is a different network: its numbers are not copies of an end
assert any(rows[1][k] not in (rows[0][k], rows[2][k]) for k in ("train_loss", "test_loss"))
PY
ok "interpolation at alpha 0 and 1 = direct evaluation of A and B (train and test)"
if [ "${INSPECT[0]}" = "$BIN/swap-inspect" ]; then
  # swap-inspect eval draws BN batches for the file's own seed: B (the average) carries the experiment's seed;
  # for A, run the line B -> A with A's seed
  seed_a=$("$BIN/swap-inspect" $A --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["seed"])')
  "${INSPECT[@]}" interpolate $B $A --steps 1 "${BN[@]}" --seed "$seed_a" --threads 1 --out back > back.log 2>&1 \
    || { cat back.log; fail "interpolate B A failed"; }
  EV=(--bn-recompute 3 --bn-batch 64 --train-subset 256 --subset 256 --batch 100 --json)
  "$BIN/swap-inspect" eval $B "${EV[@]}" > eb.json || fail "swap-inspect eval B"
  "$BIN/swap-inspect" eval $A "${EV[@]}" > ea.json || fail "swap-inspect eval A"
  /usr/bin/python3 - line/interpolate-line.csv back/interpolate-line.csv eb.json ea.json <<'PY' || fail "endpoints != swap-inspect eval"
import csv, json, sys
fwd = list(csv.DictReader(open(sys.argv[1])))
back = list(csv.DictReader(open(sys.argv[2])))
for row, ref in ((fwd[-1], json.load(open(sys.argv[3]))), (back[-1], json.load(open(sys.argv[4])))):
    # same computation and the same %.9g printing: exact (see above)
    assert float(row["test_acc"]) == ref["test_acc"], (row, ref)
    assert float(row["test_loss"]) == ref["test_loss"], (row, ref)
PY
  ok "interpolation endpoints = swap-inspect eval (same BN recompute)"
fi

# the plane through phase 1, worker 0 and the average: (steps+1)^2 points, barycentric weights summing to 1
"${INSPECT[@]}" interpolate $A $R/phase2/worker-0.h5 $B --steps 2 --subset 128 --bn-batches 2 --bn-batch 64 \
  --threads 1 --out plane > plane.log 2>&1 || { cat plane.log; fail "plane interpolation failed"; }
check_png plane/interpolate-plane.png 1100 520
/usr/bin/python3 - plane/interpolate-plane.csv plane/interpolate-plane-models.csv <<'PY' || fail "plane CSV"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 9, len(rows)
for r in rows:
    assert abs(float(r["weight_a"]) + float(r["weight_b"]) + float(r["weight_c"]) - 1) < 1e-6
    assert 0 <= float(r["test_acc"]) <= 1
models = {r["model"]: (float(r["x"]), float(r["y"])) for r in csv.DictReader(open(sys.argv[2]))}
assert models["A"] == (0.0, 0.0) and models["B"][1] == 0.0 and models["B"][0] > 0 and models["C"][1] > 0
PY
ok "plane interpolation writes the grid and the models' coordinates"

# without gnuplot: one clear message, CSVs still written; phase 3 still succeeds
mkdir -p nogp
NOGP_PATH=$T/nogp
rm -rf $P
set +e; PATH=$NOGP_PATH "${INSPECT[@]}" plot $R > nogp.out 2> nogp.err; rc=$?; set -e
[ $rc -ne 0 ] || fail "plot without gnuplot should exit non-zero (no picture was made)"
grep -q "gnuplot not found: wrote CSVs only; install gnuplot-nox" nogp.err || { cat nogp.err; fail "no clear message"; }
[ "$(grep -c . nogp.err)" = 1 ] || { cat nogp.err; fail "expected exactly one line of complaint"; }
[ -s $P/swap-figure-markers.csv ] && [ -s $P/training.csv ] && [ -s $P/swap-figure.gp ] || fail "CSVs not written"
[ ! -e $P/swap-figure.png ] || fail "a PNG appeared without gnuplot"
rm -rf $P $R/phase3 $R/summary.json
PATH=$NOGP_PATH "$BIN/swap-average" exp.lua > avg.out 2> avg.err || { cat avg.err; fail "phase 3 failed without gnuplot"; }
grep -q "gnuplot not found: wrote CSVs only; install gnuplot-nox" avg.err || { cat avg.err; fail "phase 3: no clear message"; }
[ -s $R/summary.json ] && [ -s $P/swap-figure-markers.csv ] || fail "phase 3 without gnuplot: outputs missing"
ok "missing gnuplot: one clear message, CSVs written, phase 3 exits 0"
rm -rf "$T"
