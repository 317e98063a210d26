#!/usr/bin/env bash
# Config drift, locked files and a corrupt summary on a finished run: every phase refuses an output made from
# another configuration of the keys that define its result (one line naming them and how to start over; nothing
# retrained, no "done already"), accepts changes of operational keys; an interrupted swap-train is not resumed with
# another lr/batch; a file locked by another writer is "locked" (HDF5_USE_FILE_LOCKING named), never retrained;
# a corrupt summary.json is not "phase 3 done".
source "$(dirname "$0")/lib.sh"
have_fmnist || skip "config drift: Fashion-MNIST not installed (Debian package dataset-fashion-mnist)"
cd "$T"
cat > exp.lua <<LUA
return {
  name = "drift", dataset = "fashion-mnist", model = "cnn", seed = 3,
  results = "$T/r", train_subset = 2048, test_subset = 500, threads = 1,
  phase1 = { ranks = 1, batch = 256, lr = 0.2, max_epochs = 1 },
  phase2 = { workers = 2, batch = 128, epochs = 1, lr = 0.05 },
  phase3 = { bn_batches = 4, eval_batch = 250 },
  baselines = { small = { batch = 256, epochs = 1 } },
}
LUA
R=$T/r/drift
"$BIN/swap-run" exp.lua > run.log 2>&1 || { cat run.log; fail "first run"; }
sums() { md5sum $R/phase1/model.h5 $R/phase2/worker-*.h5 $R/phase3/model.h5 $R/baseline-small/model.h5; }
sums > before.md5

refused() { # refused PHASE REGEX SET...: swap-run exits 1 with one error line matching REGEX, nothing retrained
  local phase=$1 re=$2; shift 2
  set +e; "$BIN/swap-run" exp.lua "$@" > drift.log 2>&1; local rc=$?; set -e
  [ $rc = 1 ] || { cat drift.log; fail "swap-run $*: exit $rc, expected 1"; }
  [ "$(grep -c 'error:' drift.log)" = 1 ] || { cat drift.log; fail "swap-run $*: not one error line"; }
  grep -Eq "error: .*made with another configuration: $re.*; to start over remove " drift.log || { cat drift.log; fail "swap-run $*: message"; }
  ! grep -q "^+ " drift.log || { cat drift.log; fail "swap-run $*: ran a phase"; }
  ! grep -q "phase $phase done already" drift.log || { cat drift.log; fail "swap-run $*: said phase $phase is done"; }
  sums | cmp -s - before.md5 || fail "swap-run $*: an output changed"
}
refused 1 "phase1.lr \(there 0.2, now 0.1\), seed \(there 3, now 7\)" --set seed=7 --set phase1.lr=0.1
refused 2 "phase2.lr \(there 0.05, now 0.1\)" --set phase2.lr=0.1
refused 3 "phase3.bn_batches \(there 4, now 3\)" --set phase3.bn_batches=3
refused 0 "baselines.small.base_batch \(there 256, now 0\), baselines.small.lr \(there 0.2, now 0.3\)" --set baselines.small.lr=0.3
ok "swap-run refuses outputs of another configuration, naming the keys (phase 1, 2, 3, baseline)"

# the phases themselves refuse too (run directly, as Slurm jobs run them)
set +e; "$BIN/swap-average" exp.lua --set phase2.epochs=2 > avg.log 2>&1; rc=$?; set -e
[ $rc = 1 ] && grep -q "output made with another configuration: phase2.epochs (there 1, now 2)" avg.log || { cat avg.log; fail "swap-average on drifted workers: exit $rc"; }
set +e; "$BIN/swap-refine" exp.lua --worker 0 --set augment.flip=true > ref.log 2>&1; rc=$?; set -e
[ $rc = 1 ] && grep -q "phase1/model.h5: output made with another configuration: augment.flip" ref.log || { cat ref.log; fail "swap-refine on a drifted phase 1: exit $rc"; }
ok "swap-average and swap-refine refuse inputs of another configuration"

# operational keys change nothing: done already
"$BIN/swap-run" exp.lua --set phase1.threads=2 --set phase2.eval_every=2 --set phase1.checkpoint_every=3 \
  --set phase3.eval_batch=500 > same.log 2>&1 || { cat same.log; fail "operational keys refused"; }
[ "$(grep -c 'done already' same.log)" = 4 ] || { cat same.log; fail "expected 4 phases done already"; }
sums | cmp -s - before.md5 || fail "operational keys: an output changed"
ok "operational keys (threads, eval_every, checkpoint_every, eval_batch) do not count as drift"

# the documented way to start over: remove the directory the message names
rm -r $R/phase3
"$BIN/swap-run" exp.lua --set phase3.bn_batches=3 > redo.log 2>&1 || { cat redo.log; fail "phase 3 after removing it"; }
grep -q "swap-average" redo.log || fail "phase 3 did not run again"
ok "removing the named directory starts that phase over"

# a corrupt summary.json is not "phase 3 done"
head -c 40 $R/summary.json > s && mv s $R/summary.json
"$BIN/swap-run" exp.lua --set phase3.bn_batches=3 > sum.log 2>&1 || { cat sum.log; fail "rerun with a corrupt summary"; }
grep -q "unreadable summary" sum.log && grep -q "swap-average" sum.log || { cat sum.log; fail "corrupt summary.json counted as done"; }
json_get $R/summary.json 'd["average"]["test_acc"]' > /dev/null || fail "summary.json not rewritten"
ok "a corrupt summary.json makes phase 3 run again"

# an interrupted swap-train is not resumed with another lr and batch
"$BIN/swap-train" exp.lua --set name=cut --set phase1.max_epochs=4 > cut.log 2>&1 &
pid=$!
wait_for cut.log 'epoch +1/'
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
[ $rc = 3 ] || { cat cut.log; fail "interrupt: exit $rc"; }
set +e; "$BIN/swap-train" exp.lua --set name=cut --set phase1.max_epochs=4 --set phase1.lr=0.3 --set phase1.batch=128 > cut2.log 2>&1; rc=$?; set -e
[ $rc = 1 ] || { cat cut2.log; fail "resume with another lr/batch: exit $rc"; }
grep -q "resume.h5: an interrupted run made with another configuration: phase1.batch (there 256, now 128), phase1.lr (there 0.2, now 0.3)" cut2.log || { cat cut2.log; fail "resume drift message"; }
"$BIN/swap-train" exp.lua --set name=cut --set phase1.max_epochs=4 > cut3.log 2>&1 || { cat cut3.log; fail "resume with the same config"; }
grep -q resuming cut3.log || fail "did not resume"
ok "an interrupted run is resumed only with its own configuration"

# locked is not damaged: a writer holds phase1/model.h5 with HDF5 file locking on
if /usr/bin/python3 -c "import h5py" 2>/dev/null; then
  HDF5_USE_FILE_LOCKING=TRUE /usr/bin/python3 -c "
import h5py, sys, time
f = h5py.File(sys.argv[1], 'r+'); print('holding', flush=True); time.sleep(60)" $R/phase1/model.h5 > holder.log 2>&1 &
  holder=$!
  wait_for holder.log holding 30
  p1=$(md5sum < $R/phase1/model.h5)
  set +e; HDF5_USE_FILE_LOCKING=TRUE "$BIN/swap-run" exp.lua --set phase3.bn_batches=3 > lock.log 2>&1; rc=$?; set -e
  kill $holder; wait $holder 2>/dev/null || true
  [ $rc = 1 ] || { cat lock.log; fail "locked phase-1 model: exit $rc, expected 1"; }
  grep -q "phase1/model.h5: locked by another process .*HDF5_USE_FILE_LOCKING=TRUE" lock.log || { cat lock.log; fail "lock message"; }
  ! grep -q "damaged\|^+ " lock.log || { cat lock.log; fail "called damaged, or retrained"; }
  [ "$(md5sum < $R/phase1/model.h5)" = "$p1" ] || fail "the locked model was replaced"
  ok "a locked checkpoint is reported as locked (HDF5_USE_FILE_LOCKING named) and never retrained"
else
  echo "SKIP (part): locked file: h5py not installed (Debian package python3-h5py)"
fi
