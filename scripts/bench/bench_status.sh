#!/usr/bin/env bash
# How long `swap-slurm status` takes on a 50-pipeline sweep (4 workers each: 300 checkpoints, all verified),
# no Slurm needed (nothing submitted, so only the files are checked). Stand-in files are copies of one real
# checkpoint (tests/tools/make_ckpt, the `cnn` model).
#   scripts/bench/bench_status.sh [BUILD_DIR]       (default build; needs bin/ and BUILD_DIR/tools built)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TOOLS=${1:-build}/tools
W=$(mktemp -d "${TMPDIR:-/tmp}/bench_status.XXXXXX")
trap 'rm -rf "$W"' EXIT
"$TOOLS/make_ckpt" "$W/one.h5" > /dev/null
cat > "$W/sweep50.lua" <<LUA
return { name = "s50", results = "$W/results", phase2 = { workers = 4 },
         sweep = { seed = { $(seq -s ', ' 1 50) } } }
LUA
for s in $(seq 1 50); do
  d=$W/results/s50/seed=$s
  mkdir -p "$d/phase1" "$d/phase2" "$d/phase3"
  for f in phase1/model.h5 phase2/worker-{0,1,2,3}.h5 phase3/model.h5; do cp "$W/one.h5" "$d/$f"; done
  echo '{"name": "s50"}' > "$d/summary.json"
done
echo "$(find "$W/results" -name '*.h5' | wc -l) checkpoints of $(stat -c %s "$W/one.h5") bytes in 50 pipelines"
cd "$W"
t0=$(date +%s.%N)
rc=0; ${NICE:-} "$ROOT/bin/swap-slurm" status sweep50.lua --bin-dir "$ROOT/bin" > status.txt || rc=$?
t1=$(date +%s.%N)
[ $rc = 0 ] || { tail -n 5 status.txt; echo "status exited $rc" >&2; exit 1; }
echo "files ok: $(grep -o ' ok' status.txt | wc -l)"
echo "swap-slurm status: $(echo "$t1 - $t0" | bc) s"
