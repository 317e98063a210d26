#!/usr/bin/env bash
# Training images streamed from the data file (data.in_memory = false): a run interrupted mid-epoch and resumed
# ends bit-identical to an uninterrupted streamed run (with a validation split leaving holes in the file's rows,
# a train_subset and augmentation); the whole pipeline streams (phase 1 on 2 ranks, workers, phase 3's BN batches
# gathered from the file) and swap-inspect eval reproduces its summary; streaming starts by itself above
# data.stream_above_mb.
source "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c "import h5py, numpy" 2>/dev/null || skip "python3-h5py / python3-numpy not installed (make deps-test)"
cd "$T"
hash_of() { /usr/bin/python3 -c "import h5py,sys; v=h5py.File(sys.argv[1],'r').attrs['content_hash']; print(v.decode() if isinstance(v,bytes) else v)" "$1"; }
/usr/bin/python3 "$SRC/tests/sh/lib/make_h5data.py" data.h5 --hw 32x32 --channels 3 --classes 8 --train 3000 --test 300
cat > exp.lua <<LUA
return {
  name = "s", dataset = "hdf5", data_file = "data.h5", model = "cnn", seed = 4, results = "$T/results", threads = 1,
  data = { in_memory = false, stream_chunk = 50, stream_window = 4, val_split = 100 }, train_subset = 2800,
  augment = { crop_pad = 2, flip = true, cutout = 4 },
  phase1 = { ranks = 1, batch = 40, lr = 0.05, warmup = 0.2, max_epochs = 3, stop_train_acc = 1 },
  phase2 = { workers = 2, batch = 40, epochs = 1, lr = 0.02 },
  phase3 = { bn_batches = 5, bn_batch = 64, eval_batch = 100 },
}
LUA
"$BIN/swap-train" exp.lua --set name=ref > ref.log 2>&1 || { cat ref.log; fail "reference streamed run"; }
grep -q "streaming the training images of data.h5" ref.log || { cat ref.log; fail "did not stream"; }

"$BIN/swap-train" exp.lua --set name=cut > cut.log 2>&1 &
pid=$!
wait_for cut.log 'epoch +1/'
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
[ $rc -eq 3 ] || { cat cut.log; fail "expected exit 3 after SIGTERM, got $rc"; }
grep -q "resume" cut.log && [ -s results/cut/phase1/resume.h5 ] || { cat cut.log; fail "no resume checkpoint"; }
"$BIN/swap-train" exp.lua --set name=cut > cut2.log 2>&1 || { cat cut2.log; fail "resume"; }
grep -q "resuming .* at epoch 2 step [1-9]" cut2.log || { cat cut2.log; fail "did not resume mid-epoch"; }
[ "$(hash_of results/cut/phase1/model.h5)" = "$(hash_of results/ref/phase1/model.h5)" ] || fail "resumed != uninterrupted"
ok "streamed run interrupted mid-epoch and resumed is bit-identical"

# the order differs from the in-memory one (chunks, windows), so the models differ, but both learn
"$BIN/swap-train" exp.lua --set name=mem --set data.in_memory=true > mem.log 2>&1 || { cat mem.log; fail "in memory"; }
! grep -q "streaming" mem.log || fail "in_memory = true streamed"
[ "$(hash_of results/mem/phase1/model.h5)" != "$(hash_of results/ref/phase1/model.h5)" ] || fail "streamed order = in-memory order?"

# automatic: a file above data.stream_above_mb streams
"$BIN/swap-train" exp.lua --set name=auto --set data.in_memory=nil --set data.stream_above_mb=0 --set phase1.max_epochs=1 \
  > auto.log 2>&1 || { cat auto.log; fail "auto"; }
grep -q "streaming" auto.log || { cat auto.log; fail "data.stream_above_mb = 0 did not stream"; }
ok "data.in_memory = true holds the images; unset streams above data.stream_above_mb"

# the whole pipeline streamed, phase 1 on 2 ranks
"$BIN/swap-run" exp.lua --set phase1.ranks=2 > run.log 2>&1 || { cat run.log; fail "swap-run streamed"; }
"$BIN/swap-inspect" eval results/s/phase3/model.h5 --json > ev.json
/usr/bin/python3 - results/s/summary.json ev.json <<'PY' || fail "eval != summary"
import json, sys
d, e = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
a = d["average"]
assert abs(e["test_acc"] - a["test_acc"]) < 1e-6 and abs(e["val_acc"] - a["val_acc"]) < 1e-6, (e, a)
assert a["test_acc"] > 0.5, a
PY
ok "streamed pipeline (2 ranks, workers, BN from gathered batches); eval reproduces the summary"
rm -rf "$T"
