#!/usr/bin/env bash
# Phase-1 scaling on one machine: `cnn`, global batch 1024 on Fashion-MNIST, 2 MPI ranks x 1 thread against
# 1 rank x 2 threads (same global batch, same data), alternating runs; prints images/s and the ratio. The
# 2-rank run goes twice: one gradient all-reduce after the backward pass, and bucketed all-reduces overlapped
# with it (phase1.bucket_mb = BUCKET_MB; 0.05 MiB cuts cnn's 94k gradients into 8 buckets).
#   scripts/bench/bench_phase1.sh [REPEATS] [TRAIN_SUBSET] [BUCKET_MB]
#   MPIEXEC="srun --mpi=pmi2 -N2 -n2" scripts/bench/bench_phase1.sh    # ranks on other nodes
set -euo pipefail
cd "$(dirname "$0")/../.."
REPEATS=${1:-3}
SUBSET=${2:-16384}
BUCKET_MB=${3:-0.05}
read -r -a LAUNCH <<< "${MPIEXEC:-mpiexec -n 2}"
BIN=$PWD/bin
T=$(mktemp -d /tmp/bench_phase1.XXXXXX)
trap 'rm -rf "$T"' EXIT
cat > "$T/exp.lua" <<LUA
return { name = "bench", model = "cnn", results = "$T/results", train_subset = $SUBSET, test_subset = 1000,
  phase1 = { batch = 1024, lr = 0.4, max_epochs = 2, eval_every = 0 } }
LUA
ips() { # mean images/s over epochs of the run's log (epoch 1 includes warm-up, so take the last epoch)
  tail -n 1 "$T/results/$1/phase1/log.jsonl" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])'
}
a=(); o=(); b=()
for r in $(seq "$REPEATS"); do
  "${LAUNCH[@]}" "$BIN/swap-train" "$T/exp.lua" --set name=r2t1_$r --set phase1.ranks=2 --set phase1.threads=1 > /dev/null
  a+=("$(ips r2t1_$r)")
  "${LAUNCH[@]}" "$BIN/swap-train" "$T/exp.lua" --set name=r2t1o_$r --set phase1.ranks=2 --set phase1.threads=1 \
    --set phase1.bucket_mb="$BUCKET_MB" > /dev/null
  o+=("$(ips r2t1o_$r)")
  "$BIN/swap-train" "$T/exp.lua" --set name=r1t2_$r --set phase1.ranks=1 --set phase1.threads=2 > /dev/null
  b+=("$(ips r1t2_$r)")
done
/usr/bin/python3 - "${a[*]}" "${b[*]}" "${o[*]}" "$BUCKET_MB" <<'PY'
import statistics, sys
a = [float(x) for x in sys.argv[1].split()]; b = [float(x) for x in sys.argv[2].split()]
o = [float(x) for x in sys.argv[3].split()]
ma, mb, mo = statistics.median(a), statistics.median(b), statistics.median(o)
print(f"phase1 cnn batch=1024: 2 ranks x 1 thread {ma:.0f} img/s (runs {', '.join(f'{x:.0f}' for x in a)})")
print(f"phase1 cnn batch=1024: 2 ranks x 1 thread, overlapped all-reduce (bucket_mb={sys.argv[4]}) {mo:.0f} img/s "
      f"(runs {', '.join(f'{x:.0f}' for x in o)}); overlapped / one all-reduce = {mo / ma:.2f}")
print(f"phase1 cnn batch=1024: 1 rank x 2 threads {mb:.0f} img/s (runs {', '.join(f'{x:.0f}' for x in b)})")
print(f"ratio (2 ranks x 1 thread) / (1 rank x 2 threads) = {ma / mb:.2f}")
PY
