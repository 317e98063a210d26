#!/usr/bin/env bash
# Faults a long run on a shared cluster meets: NaN in a schedule is refused; a diverging run stops with one line
# and exit 1 keeping its last good checkpoint; a looping experiment or --set value ends on SIGTERM and on the time
# limit; SIGINT and SIGHUP checkpoint like SIGTERM (and UCX does not take SIGHUP); kill -9 of swap-run takes its
# phases along; a second swap-run of one results directory, or a second writer of one output, is refused naming
# the holder's host and PID.
source "$(dirname "$0")/lib.sh"
have_fmnist || skip "faults: Fashion-MNIST not installed (Debian package dataset-fashion-mnist)"
cd "$T"
tiny_experiment exp.lua faults
SETS=(--set phase1.ranks=1 --set phase1.batch=256 --set train_subset=2000 --set test_subset=500 --set 'baselines={}')
R=results/faults
only_error() { # only_error LOG REGEX: exactly one error line, matching REGEX
  [ "$(grep -c 'error:' "$1")" = 1 ] && grep -Eq "error: $2" "$1" || { cat "$1"; fail "expected one error /$2/ in $1"; }
}

# item 5: schedule values must be finite; a loss that becomes non-finite stops the phase
set +e; "$BIN/swap-train" exp.lua "${SETS[@]}" --set phase1.schedule=knots --set 'phase1.knots={{0,1},{1,0/0}}' > nan.log 2>&1; rc=$?; set -e
[ $rc = 1 ] || { cat nan.log; fail "NaN knot: exit $rc"; }
only_error nan.log "--set 'phase1.knots=.*knot 2: epoch and multiplier must be finite numbers"
[ ! -e $R ] || fail "a NaN knot got as far as creating $R"
set +e; "$BIN/swap-train" exp.lua "${SETS[@]}" --set phase1.max_epochs=3 --set phase1.schedule=knots \
  --set 'phase1.knots={{0,1},{1,1},{1.01,1e30},{3,1e30}}' > div.log 2>&1; rc=$?; set -e
[ $rc = 1 ] || { cat div.log; fail "diverging run: exit $rc, expected 1"; }
only_error div.log "phase1: the training loss became non-finite at step [0-9]+ \(epoch 2, step [0-9]+ of it\); last finite loss [0-9.e+]+; the last good checkpoint is kept: .*resume.h5"
"$BIN/swap-inspect" verify $R/phase1/resume.h5 > /dev/null || fail "the last good checkpoint does not verify"
[ ! -e $R/phase1/model.h5 ] || fail "a diverged model was published"
ok "NaN schedule values refused; divergence: one line (step, epoch, last loss), exit 1, last good checkpoint kept"
rm -rf $R

# item 6: a looping experiment or --set value ends on TERM (handlers before evaluation) and on the time limit
echo 'while true do end' > loop.lua
for prog in swap-train swap-run; do
  start=$(date +%s)
  set +e; timeout -s TERM 2 "$BIN/$prog" loop.lua > loop.log 2>&1; set -e
  [ $(( $(date +%s) - start )) -le 10 ] || fail "$prog: a looping experiment outlived SIGTERM"
  only_error loop.log "loop.lua: stopped by a signal while evaluating the experiment"
done
set +e; timeout -s TERM 2 "$BIN/swap-run" exp.lua --set 'phase1.knots={{0,1},{1,(function() while true do end end)()}}' > loop2.log 2>&1; set -e
only_error loop2.log "exp.lua: stopped by a signal while evaluating the experiment"
set +e; SWAP_CONFIG_TIMEOUT_S=1 "$BIN/swap-average" loop.lua > loop3.log 2>&1; rc=$?; set -e
[ $rc = 1 ] || { cat loop3.log; fail "time limit: exit $rc"; }
only_error loop3.log "loop.lua: evaluating the experiment .* took longer than 1 s"
ok "a looping experiment or --set value ends on SIGTERM and after SWAP_CONFIG_TIMEOUT_S"

# item 8: SIGINT and SIGHUP checkpoint like SIGTERM, on 2 MPI ranks (UCX must not take HUP)
for sig in INT HUP; do
  rm -rf $R
  mpiexec -n 2 "$BIN/swap-train" exp.lua "${SETS[@]}" --set phase1.ranks=2 --set phase1.max_epochs=4 > sig.log 2>&1 &
  pid=$!
  wait_for sig.log 'epoch +1/'
  pkill -$sig -f "^$BIN/swap-train exp.lua" || true  # the ranks, as a terminal's hangup or Ctrl-C reaches them
  set +e; wait $pid; rc=$?; set -e
  [ $rc = 3 ] || { cat sig.log; fail "SIG$sig: exit $rc, expected 3"; }
  grep -q "signal received: wrote .*resume.h5" sig.log || { cat sig.log; fail "SIG$sig: no resumable checkpoint"; }
  # whole words only: the run's temporary directory name is random and can itself contain "ucx"
  ! grep -qiwE "ucx|backtrace" sig.log || { cat sig.log; fail "SIG$sig: UCX debug output"; }
  "$BIN/swap-inspect" verify $R/phase1/resume.h5 > /dev/null || fail "SIG$sig: resume checkpoint does not verify"
done
ok "SIGINT and SIGHUP write a resumable checkpoint and exit 3 (no UCX output)"

# item 8: kill -9 of swap-run: its phases get SIGTERM, checkpoint and exit instead of going on as orphans
rm -rf $R
"$BIN/swap-run" exp.lua "${SETS[@]}" --set phase1.max_epochs=4 > k9.log 2>&1 &
pid=$!
wait_for k9.log 'epoch +1/'
kill -9 $pid
wait $pid 2>/dev/null || true
for _ in $(seq 1 600); do pgrep -f "^$BIN/swap-train exp.lua" > /dev/null || break; sleep 0.1; done
! pgrep -f "^$BIN/swap-train exp.lua" > /dev/null || fail "swap-train goes on after kill -9 of swap-run"
[ -s $R/phase1/resume.h5 ] || fail "the orphaned phase wrote no checkpoint"
ok "kill -9 of swap-run ends its phases (with a resumable checkpoint)"

# item 3: one swap-run per results directory; one writer per output
rm -rf $R
"$BIN/swap-run" exp.lua "${SETS[@]}" --set phase1.max_epochs=4 > first.log 2>&1 &
pid=$!
wait_for first.log 'epoch +1/'
set +e; "$BIN/swap-run" exp.lua "${SETS[@]}" --set phase1.max_epochs=4 > second.log 2>&1; rc=$?
"$BIN/swap-train" exp.lua "${SETS[@]}" --set phase1.max_epochs=4 > third.log 2>&1; rc3=$?; set -e
[ $rc = 1 ] || { cat second.log; fail "second swap-run: exit $rc"; }
only_error second.log ".*/$R is in use by another run: PID $pid on host $(hostname) holds .*\.swap-run\.lock"
[ $rc3 = 1 ] || { cat third.log; fail "second writer of phase 1: exit $rc3"; }
only_error third.log ".*phase1/model.h5 is in use by another run: PID [0-9]+ on host $(hostname) holds .*phase1/\.model\.h5\.lock"
kill -TERM $pid; wait $pid 2>/dev/null || true
"$BIN/swap-train" exp.lua "${SETS[@]}" --set phase1.max_epochs=4 > after.log 2>&1 || { cat after.log; fail "the lock outlived its holder"; }
ok "a second swap-run or writer is refused naming the holder; the lock goes with its holder"
