#!/usr/bin/env bash
# Per-process training-step cost against batch size, for the time projection (scripts/analysis/project_times.py).
# For each model and batch: swap-bench on 1 thread and on 2 threads, alternated, REPS times each.
#   cpu_ms     process CPU time of a 1-thread step (a shared machine inflates it far less than wall time)
#   wall1_ms   wall time of a 1-thread step, wall2_ms of a 2-thread step (the minimum over the repetitions)
#   eff2       2-thread efficiency = throughput on 2 threads / (2 x throughput on 1 thread) = wall1 / (2 wall2)
# Writes JSON lines {"model","width","batch","cpu_ms","images_per_cpu_s","wall1_ms","wall2_ms","eff2"}.
#   scripts/bench/node_throughput.sh "cnn:0 resnet9:16 resnet9:64" "1 2 4 8 16 32 64 128 256 512 1024"
# IMAGES (default 2048) sets the images timed per run (steps = IMAGES / batch, 3..200; WARMUP steps before, 2);
# REPS (default 2). TWO=0 skips the 2-thread runs (wall2_ms and eff2 are then null). Wall times need a quiet machine: PAUSE_PIDS="pid ..." are stopped (SIGSTOP) while this
# runs and continued at the end, for one's own background jobs.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODELS=${1:-"cnn:0 resnet9:16 resnet9:64"}
BATCHES=${2:-"1 2 4 8 16 32 64 128 256 512 1024"}
IMAGES=${IMAGES:-2048}
REPS=${REPS:-2}
TWO=${TWO:-1}
WARMUP=${WARMUP:-2}
if [[ -n ${PAUSE_PIDS:-} ]]; then
  trap 'kill -CONT $PAUSE_PIDS 2>/dev/null || true' EXIT
  kill -STOP $PAUSE_PIDS
fi
bench() {  # model width batch threads steps -> "cpu_ms step_ms"
  local wa=(); [ "$2" != 0 ] && wa=(--width "$2")
  bin/swap-bench --model "$1" "${wa[@]}" --batch "$3" --threads "$4" --steps "$5" --warmup "$WARMUP" 2>/dev/null | tail -1 |
    sed -n 's/.*step_ms=\([0-9.]*\) cpu_ms=\([0-9.]*\).*/\2 \1/p'
}
for mw in $MODELS; do
  m=${mw%%:*}; w=${mw##*:}
  for b in $BATCHES; do
    steps=$(( IMAGES / b )); [ $steps -lt 3 ] && steps=3; [ $steps -gt 200 ] && steps=200
    c1=(); w1=(); w2=()
    for ((r = 0; r < REPS; r++)); do
      read -r c s < <(bench "$m" "$w" "$b" 1 "$steps"); c1+=("$c"); w1+=("$s")
      if [ "$TWO" = 1 ]; then read -r c s < <(bench "$m" "$w" "$b" 2 "$steps"); w2+=("$s"); fi
    done
    python3 -c "
import json
b, c1, w1, w2 = $b, [$(IFS=,; echo "${c1[*]}")], [$(IFS=,; echo "${w1[*]}")], [$(IFS=,; echo "${w2[*]}")]
c, a, t = min(c1), min(w1), (min(w2) if w2 else None)
print(json.dumps({'model': '$m', 'width': $w, 'batch': b, 'cpu_ms': c, 'images_per_cpu_s': round(1000 * b / c, 1),
                  'wall1_ms': a, 'wall2_ms': t, 'eff2': round(a / (2 * t), 3) if t else None, 'steps': $steps,
                  'reps': $REPS}))"
  done
done
