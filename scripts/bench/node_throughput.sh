#!/usr/bin/env bash
# Per-process training-step cost against batch size, for the time projection (scripts/analysis/project_times.py).
# One thread, so the figure is CPU time per step (cpu_ms), which a shared machine inflates far less than
# wall time. Writes JSON lines {"model","width","batch","cpu_ms","images_per_cpu_s"} to stdout.
#   scripts/bench/node_throughput.sh "cnn:0 resnet9:8" "8 16 32 64 128 256 512 1024"
set -euo pipefail
cd "$(dirname "$0")/../.."
MODELS=${1:-"cnn:0 resnet9:8"}
BATCHES=${2:-"8 16 32 64 128 256 512 1024"}
for mw in $MODELS; do
  m=${mw%%:*}; w=${mw##*:}
  for b in $BATCHES; do
    steps=$(( 2048 / b )); [ $steps -lt 3 ] && steps=3; [ $steps -gt 40 ] && steps=40
    wa=(); [ "$w" != 0 ] && wa=(--width "$w")
    line=$(bin/swap-bench --model "$m" "${wa[@]}" --batch "$b" --threads 1 --steps $steps --warmup 2 2>/dev/null | tail -1)
    cpu=$(sed -n 's/.*cpu_ms=\([0-9.]*\).*/\1/p' <<<"$line")
    python3 -c "import json,sys; b=$b; c=$cpu; print(json.dumps({'model':'$m','width':$w,'batch':b,'cpu_ms':c,'images_per_cpu_s':round(1000*b/c,1)}))"
  done
done
