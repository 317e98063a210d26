#!/usr/bin/env bash
# swap-slurm plan on a full disk (a small tmpfs this test mounts as root): at every amount of free space from
# none to enough, plan either writes every batch script whole and exits 0, or exits non-zero with a one-line
# error naming the file and the reason, leaving no empty, partial or temporary file behind and the previous
# plan's scripts byte for byte as they were. (The Lua writer once ignored failed writes: exit 0 with an empty
# phase3.sbatch.)
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "full-disk test: needs root to mount a small tmpfs"
M=$T/full
mkdir -p "$M"
mount -t tmpfs -o size=512k,mode=0755 swaptest "$M" 2>/dev/null || skip "full-disk test: cannot mount a tmpfs here"
trap 'umount "$M" 2>/dev/null; rm -rf "$T"' EXIT
cd "$T"
plan() { "$SRC/lua/bin/swap-slurm" plan "$SRC/lua/experiments/fmnist.lua" --set results="$M/results" \
  --bin-dir "$T/nobin" "$@" > plan.out 2> plan.err; }
S=$M/results/fmnist-swap/slurm

# a good plan to keep: the previous scripts must survive every failed plan below
plan || { cat plan.err >&2; fail "plan on an empty tmpfs"; }
mkdir -p "$T/before"
cp "$S"/*.sbatch "$S/experiment.lua" "$T/before/"
n_before=$(find "$T/before" -type f | wc -l)
((n_before >= 4)) || fail "first plan wrote $n_before files"

failed=0 succeeded=0 fresh_ok=0 fresh_failed=0
for pages in 0 1 2 4 6 10 16; do
  rm -f "$M/filler"
  dd if=/dev/zero of="$M/filler" bs=4k 2>/dev/null || true            # fill the tmpfs to the last page
  truncate -s "-$((pages * 4096))" "$M/filler" 2>/dev/null || truncate -s 0 "$M/filler"
  if plan --set phase2.workers=3; then
    succeeded=$((succeeded + 1))
    for f in "$S"/*.sbatch; do
      bash -n "$f" || fail "$pages free pages: plan exited 0 but $f does not parse"
      tail -n 1 "$f" | grep -q '^swap_finish \$?$' || fail "$pages free pages: plan exited 0 but $f is cut short"
    done
    grep -q 'array=0-2' "$S/phase2.sbatch" || fail "$pages free pages: plan exited 0 but phase2.sbatch is not the new plan"
    cp "$S"/*.sbatch "$S/experiment.lua" "$T/before/"                  # the new good plan is now the one to keep
  else
    failed=$((failed + 1))
    err=$(grep -v 'swap-slurm: warning: ' plan.err)
    [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || { cat plan.err >&2; fail "$pages free pages: error is not one line"; }
    [[ $err =~ ^swap-slurm:\ error:\ .*/results/fmnist-swap/.*:\ cannot\ write\ \(No\ space\ left\ on\ device\)$ ]] ||
      { cat plan.err >&2; fail "$pages free pages: error does not name the file and the full disk"; }
    # every script is the previous plan's or a whole new one (a plan is written file by file)
    for f in "$T"/before/*; do
      g=$S/$(basename "$f")
      cmp -s "$f" "$g" || { [[ $g == *.sbatch ]] && bash -n "$g" && tail -n 1 "$g" | grep -q '^swap_finish \$?$'; } ||
        fail "$pages free pages: the failed plan left $(basename "$f") neither as it was nor whole"
    done
  fi
  # a plan of a new experiment name: nothing to replace, so every script needs fresh pages
  rm -f "$M/filler"; rm -rf "$M/results/fresh"
  dd if=/dev/zero of="$M/filler" bs=4k 2>/dev/null || true
  truncate -s "-$((pages * 4096))" "$M/filler" 2>/dev/null || truncate -s 0 "$M/filler"
  if plan --set name=fresh; then
    fresh_ok=$((fresh_ok + 1))
    [ "$(find "$M/results/fresh/slurm" -name '*.sbatch' | wc -l)" -ge 4 ] || fail "$pages free pages: fresh plan incomplete"
  else
    fresh_failed=$((fresh_failed + 1))
    grep -q 'cannot write (No space left on device)' plan.err || { cat plan.err >&2; fail "$pages free pages: fresh plan"; }
  fi
  for g in $(find "$M/results/fresh" -name '*.sbatch' 2>/dev/null); do
    bash -n "$g" && tail -n 1 "$g" | grep -q '^swap_finish \$?$' || fail "$pages free pages: fresh plan left $g partial"
  done
  leftovers=$(find "$M/results" -name '*.tmp.*' -o -type f -size 0 ! -name submit.lock | head -3)
  [ -z "$leftovers" ] || fail "$pages free pages: left behind: $leftovers"
done
((failed > 0)) || fail "no plan failed: the tmpfs was never full enough"
((succeeded > 0)) || fail "no plan succeeded: the largest free space is too small"
((fresh_failed > 0 && fresh_ok > 0)) || fail "fresh plans: $fresh_failed failed, $fresh_ok succeeded; expected some of each"
ok "plan on a full tmpfs: over a previous plan $failed failed cleanly and $succeeded wrote complete scripts;" \
  "a new plan $fresh_failed failed cleanly and $fresh_ok completed; no partial or temporary files"
