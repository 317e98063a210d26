#!/usr/bin/env bash
# A full disk is a one-line error and exit 1, never a crash, a half-written file or a silently short log: on a small
# tmpfs this test mounts (as root; skipped otherwise) phase 1 runs out of space while writing a checkpoint (the
# previous one stays intact and resumable), while creating the temporary file (the reason is named, nothing is
# left behind) and while appending to log.jsonl; phase 3 runs out of space writing its model; and a PNG gnuplot
# could not finish is not published.
source "$(dirname "$0")/lib.sh"
have_fmnist || skip "full disk: Fashion-MNIST not installed (Debian package dataset-fashion-mnist)"
[ "$(id -u)" = 0 ] || skip "full disk: mounting a small tmpfs needs root"
MNT=$T/mnt
mkdir -p "$MNT"
mount -t tmpfs -o size=3m tmpfs "$MNT" 2>/dev/null || skip "full disk: cannot mount a tmpfs here (no CAP_SYS_ADMIN?)"
trap 'umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null; rm -rf "$T"' EXIT
cd "$T"
SETS=(--set phase1.ranks=1 --set phase1.batch=256 --set train_subset=2000 --set test_subset=1000 --set threads=1
      --set 'baselines={}')
fill() { dd if=/dev/zero of="$MNT/filler$1" bs=1k ${2:+count=$2} 2>/dev/null || true; }
no_temps() { [ -z "$(find "$1" -name '.*.tmp*')" ] || fail "temporary files left: $(find "$1" -name '.*.tmp*')"; }
one_line() { # one_line LOG REGEX: exactly one error line, matching REGEX, and no crash report
  [ "$(grep -c 'error:' "$1")" = 1 ] || { cat "$1"; fail "expected one error line in $1"; }
  grep -Eq "error:.*$2" "$1" || { cat "$1"; fail "error in $1 does not match /$2/"; }
  ! grep -qi 'segmentation\|backtrace\|Caught signal' "$1" || { cat "$1"; fail "crash report in $1"; }
}

# 1. the second checkpoint does not fit: exit 1 (not 139), the first is intact and resumes
tiny_experiment exp.lua disk
fill 1 1500
set +e; "$BIN/swap-train" exp.lua "${SETS[@]}" --set phase1.max_epochs=4 --set results="$MNT/r" > p1.log 2>&1; rc=$?; set -e
[ $rc = 1 ] || { cat p1.log; fail "checkpoint on a full disk: exit $rc, expected 1"; }
one_line p1.log "resume.h5: cannot write checkpoint .*: No space left on device"
R=$MNT/r/disk/phase1
"$BIN/swap-inspect" verify $R/resume.h5 > /dev/null || fail "the previous checkpoint was damaged"
no_temps "$MNT"
ok "checkpoint on a full disk: one line, exit 1, previous checkpoint intact, no temporary"

# 2. not even the temporary file can be created: the reason is named, no 0-byte temporary is left
fill 2
set +e; "$BIN/swap-train" exp.lua "${SETS[@]}" --set phase1.max_epochs=4 --set results="$MNT/r" > p1b.log 2>&1; rc=$?; set -e
[ $rc = 1 ] || { cat p1b.log; fail "temp create on a full disk: exit $rc"; }
grep -q "resuming" p1b.log || fail "did not resume from the intact checkpoint"
one_line p1b.log "cannot create checkpoint temp file .* .No space left on device.$"
no_temps "$MNT"
"$BIN/swap-inspect" verify $R/resume.h5 > /dev/null || fail "the previous checkpoint was damaged"
ok "temporary file on a full disk: reason named, nothing left behind"

# 3. the epoch log cannot grow: an error, and no partial line
rm -rf "$MNT/r"
fill 5
set +e; "$BIN/swap-train" exp.lua "${SETS[@]}" --set phase1.max_epochs=2 --set results="$MNT/r" > p1c.log 2>&1; rc=$?; set -e
[ $rc = 1 ] || { cat p1c.log; fail "log.jsonl on a full disk: exit $rc"; }
one_line p1c.log "log.jsonl: cannot append to the epoch log .No space left on device.$"
[ ! -s $R/log.jsonl ] || fail "a partial record was left in log.jsonl"
ok "log.jsonl on a full disk: one line, exit 1, no partial record"
rm -f "$MNT"/filler*

# 4. phase 3 on a full disk, and a PNG gnuplot could not finish: the inputs come from a normal disk
"$BIN/swap-run" exp.lua "${SETS[@]}" --set phase1.max_epochs=1 --set results="$T/r" > run.log 2>&1 || { cat run.log; fail "swap-run"; }
rm -rf "$MNT/r" && mkdir -p "$MNT/r/disk"
cp -r "$T/r/disk/phase1" "$T/r/disk/phase2" "$MNT/r/disk/"
fill 3 $(( $(df -k --output=avail "$MNT" | tail -1) - 200 )) # the model (~430 kB) starts but does not fit
set +e; "$BIN/swap-average" exp.lua "${SETS[@]}" --set phase1.max_epochs=1 --set results="$MNT/r" > p3.log 2>&1; rc=$?; set -e
[ $rc = 1 ] || { cat p3.log; fail "phase 3 on a full disk: exit $rc"; }
one_line p3.log "phase3/model.h5: cannot write checkpoint .*No space left on device"
[ ! -e "$MNT/r/disk/phase3/model.h5" ] && [ ! -e "$MNT/r/disk/summary.json" ] || fail "phase 3 published something"
no_temps "$MNT"
ok "phase 3 on a full disk: one line, exit 1, nothing published"

if command -v gnuplot > /dev/null; then
  rm -rf "$MNT/r" "$MNT"/filler* && mkdir -p "$MNT/r"
  # what the plots are drawn from: summary.json and the epoch logs (no checkpoints)
  (cd "$T/r" && find disk -name '*.json*' -exec cp --parents {} "$MNT/r/" \;)
  # room for the CSVs and scripts (a few kB) but not for a whole PNG (tens of kB)
  free_kb=$(df -k --output=avail "$MNT" | tail -1)
  fill 4 $((free_kb - 24))
  set +e; "$BIN/swap-inspect" plot "$MNT/r/disk" > plot.log 2>&1; rc=$?; set -e
  [ -s "$MNT/r/disk/plots/training.csv" ] || { cat plot.log; fail "the CSVs should have fitted"; }
  [ $rc = 1 ] || { cat plot.log; fail "plot on a full disk: exit $rc"; }
  grep -q "incomplete (disk full?); not published" plot.log || { cat plot.log; fail "no message about the truncated PNG"; }
  for png in "$MNT/r/disk/plots/"*.png; do
    [ -e "$png" ] || continue
    tail -c 12 "$png" | od -An -c | grep -q 'I   E   N   D' || fail "$png was published truncated"
  done
  no_temps "$MNT"
  ok "a PNG gnuplot could not finish is not published"
else
  echo "SKIP (part): truncated PNG: gnuplot not installed (Debian package gnuplot-nox)"
fi
