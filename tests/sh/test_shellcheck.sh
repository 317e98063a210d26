#!/usr/bin/env bash
# shellcheck on the shell the project ships: the batch-script wrapper (lua/swap/slurm/wrapper.sh, every
# generated script carries it) with every check on, the scripts under scripts/ at warning level, and the batch
# scripts `swap-slurm plan` generates for the demo experiment on the example site profile (modules, sourced
# files, exported variables, job arrays) at warning level.
source "$(dirname "$0")/lib.sh"
command -v shellcheck >/dev/null || skip "shellcheck is not installed (scripts/dev/deps.sh --test installs it)"
shellcheck "$SRC/lua/swap/slurm/wrapper.sh" || fail "shellcheck: lua/swap/slurm/wrapper.sh"
ok "wrapper.sh is clean"
mapfile -t scripts < <(find "$SRC/scripts" -name '*.sh' | sort)
((${#scripts[@]} > 0)) || fail "no scripts found under $SRC/scripts"
shellcheck -S warning "${scripts[@]}" || fail "shellcheck: scripts/"
ok "${#scripts[@]} scripts under scripts/ are clean at warning level"

cd "$T"
for prof in local example-site; do
  "$SRC/lua/bin/swap-slurm" plan "$SRC/lua/experiments/fmnist.lua" --profile "$prof" --set name="sc-$prof" \
    --set results="$T/results" --bin-dir "$T/bin" > plan.out 2>&1 || { cat plan.out >&2; fail "swap-slurm plan ($prof)"; }
  mapfile -t gen < <(find "$T/results/sc-$prof/slurm" -name '*.sbatch' | sort)
  ((${#gen[@]} >= 3)) || fail "plan ($prof) wrote ${#gen[@]} batch scripts, expected phases 1-3 (and baselines)"
  grep -q '^swap_run() {' "${gen[0]}" || fail "${gen[0]} lacks the wrapper"
  shellcheck -S warning "${gen[@]}" || fail "shellcheck: generated batch scripts ($prof profile)"
  ok "${#gen[@]} generated batch scripts ($prof profile) are clean at warning level"
done
rm -rf "$T"
