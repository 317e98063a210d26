#!/usr/bin/env bash
# Installed like HPC software: `cmake --install` into a temporary prefix, the prefix moved elsewhere, then, with the
# source tree (and the build inside it) hidden behind an empty tmpfs in a private mount namespace, from an
# unrelated directory: every executable's --version, a tiny pipeline with swap-run (results under the working
# directory, nothing written into the prefix), swap-inspect verify and export, the PyTorch export of the installed
# python/swap_torch.py, `swap-slurm plan` (its scripts call the installed executables by absolute path), and the
# modulefile's paths.
source "$(dirname "$0")/lib.sh"
[ -x "$BIN/swap-run" ] && [ -x "$BIN/swap-slurm" ] || skip "install test: build first (no $BIN/swap-run)"
BUILD=$(dirname "${SWAP_TOOLS:-$SRC/build/tools}")
[ -f "$BUILD/cmake_install.cmake" ] || skip "install test: no CMake build tree at $BUILD"
[ "$(id -u)" = 0 ] && command -v unshare > /dev/null ||
  skip "install test: needs root and unshare to hide the source tree in a private mount namespace"
have_fmnist || skip "install test: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"

W=$(mktemp -d /tmp/swap_install.XXXXXX) # outside the source tree, which the test hides
trap 'rm -rf "$W" "$T"' EXIT
cmake --install "$BUILD" --prefix "$W/first" > "$W/install.log" || { cat "$W/install.log" >&2; fail "cmake --install"; }
mkdir -p "$W/moved"
mv "$W/first" "$W/moved/prefix"
P=$W/moved/prefix
ok "installed into a temporary prefix and moved it to $P"
mkdir -p "$W/project"
cat > "$W/project/tiny.lua" <<'LUA'
return {
  name = "tiny", dataset = "fashion-mnist", model = "cnn", seed = 5, train_subset = 1024, test_subset = 500,
  threads = 1, baselines = {},
  phase1 = { ranks = 1, batch = 256, lr = 0.2, max_epochs = 1 },
  phase2 = { workers = 2, batch = 64, epochs = 1, lr = 0.05 },
  phase3 = { bn_batches = 4, eval_batch = 250 },
}
LUA
touch "$W/marker"

# everything below runs with the source tree out of reach
cat > "$W/inside.sh" <<'INSIDE'
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
mount -t tmpfs -o size=64k,mode=0755 hidden "$SRC"
[ ! -e "$SRC/lua/swap/config.lua" ] || fail "the source tree is still visible"
unset SWAP_LUA_DIR SWAP_BIN SWAP_SOURCE_DIR SWAP_TOOLS
export PATH=$P/bin:/usr/bin:/bin
cd "$W/project"
for e in swap-run swap-train swap-refine swap-average swap-inspect swap-bench swap-ckpt-bench; do
  v=$("$e" --version) || fail "$e --version"
  grep -Eq "^$e [0-9]+\.[0-9]+\.[0-9]+$" <<< "$(head -n 1 <<< "$v")" || fail "$e --version: first line: $v"
  grep -Eq '^commit +[0-9a-f]{40}(-dirty)?$' <<< "$v" || fail "$e --version: no commit: $v"
  grep -Eq '^cflags +.*-O' <<< "$v" || fail "$e --version: no build options: $v"
done
commit=$(swap-run --version | awk '$1 == "commit" { print $2 }')
v=$(swap-slurm --version) || fail "swap-slurm --version"
grep -Eq '^swap-slurm [0-9]+\.[0-9]+\.[0-9]+ ' <<< "$v" || fail "swap-slurm --version: $v"
grep -q "^runs $P/bin/swap-train:" <<< "$v" || fail "swap-slurm --version does not name the installed swap-train: $v"
ok "every executable prints its version, commit $commit and build options"

swap-run tiny.lua > run.log 2>&1 || { tail -n 20 run.log >&2; fail "swap-run from the installed prefix"; }
R=$W/project/results/tiny
[ -f "$R/phase3/model.h5" ] && [ -f "$R/summary.json" ] || fail "swap-run wrote no results under the working directory"
[ -z "$(find "$P" -newer "$W/marker" -print -quit)" ] || fail "the run wrote into the prefix: $(find "$P" -newer "$W/marker")"
ok "swap-run: results under ./results/tiny, nothing written into the prefix"
a=$(h5dump -a /git_commit "$R/phase3/model.h5")
grep -q "\"$commit\"" <<< "$a" ||
  fail "the checkpoint records another commit than --version ($commit)"
ok "the checkpoint records the commit --version prints"
swap-inspect verify "$R/phase1/model.h5" "$R/phase2/worker-0.h5" "$R/phase3/model.h5" > verify.log ||
  { cat verify.log >&2; fail "swap-inspect verify"; }
swap-inspect export "$R/phase3/model.h5" --format safetensors -o model.safetensors > /dev/null
[ -s model.safetensors ] || fail "swap-inspect export"
if python3 -c 'import torch' 2> /dev/null; then
  python3 "$P/share/swap/python/swap_torch.py" export "$R/phase3/model.h5" -o model.pt > /dev/null ||
    fail "the installed swap_torch.py export"
  [ -s model.pt ] || fail "swap_torch.py export wrote nothing"
  ok "swap-inspect verify and export, swap_torch.py export"
else
  ok "swap-inspect verify and export (python3-torch absent: swap_torch.py export not tried)"
fi

swap-slurm plan tiny.lua --set name=tiny-slurm > plan.log 2>&1 || { cat plan.log >&2; fail "swap-slurm plan"; }
S=$W/project/results/tiny-slurm/slurm
grep -q "^swap_run srun --mpi=pmi2 $P/bin/swap-train $S/experiment.lua" "$S/phase1.sbatch" ||
  { cat "$S/phase1.sbatch" >&2; fail "phase1.sbatch does not call the installed swap-train by absolute path"; }
grep -q "$P/bin/swap-refine " "$S/phase2.sbatch" && grep -q "$P/bin/swap-average " "$S/phase3.sbatch" ||
  fail "phase 2/3 scripts do not call the installed executables"
grep -q "^cd $W/project " "$S/phase1.sbatch" || fail "the scripts do not run in the submit directory"
! grep -l "$SRC" "$S"/*.sbatch || fail "a generated script names the source tree"
ok "swap-slurm plan: scripts call $P/bin/* by absolute path"

# the modulefile, evaluated by tclsh with the modulefile commands recorded (Environment Modules and Lmod run it)
M=$P/share/modulefiles/swap/$(swap-run --version | awk 'NR == 1 { print $2 }')
[ -f "$M" ] || fail "no modulefile at $M"
env=$(tclsh <<TCL
proc module-whatis {args} {}
proc conflict {args} {}
proc setenv {k v} { puts "\$k=\$v" }
proc prepend-path {k v} { puts "\$k+=\$v" }
set ModulesCurrentModulefile {$M}
source {$M}
TCL
) || fail "tclsh could not evaluate $M"
grep -qx "PATH+=$P/bin" <<< "$env" || fail "modulefile: PATH: $env"
grep -qx "PYTHONPATH+=$P/share/swap/python" <<< "$env" || fail "modulefile: PYTHONPATH: $env"
grep -qx "SWAP_EXPERIMENTS=$P/share/swap/lua/experiments" <<< "$env" || fail "modulefile: SWAP_EXPERIMENTS: $env"
[ -f "$P/share/swap/lua/experiments/fmnist.lua" ] || fail "presets not installed"
ok "modulefile $M points at the moved prefix"
INSIDE
SRC=$SRC P=$P W=$W unshare -m --propagation private bash "$W/inside.sh" || fail "see above"
ok "installed, moved and run with the source tree out of reach"
