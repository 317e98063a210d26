#!/usr/bin/env bash
# The accuracy cost of local (per-rank) batch norm at small per-rank batches: the Fashion-MNIST small-batch
# baseline (batch 128, lua/experiments/fmnist.lua's `baselines.small`) on 1 rank against 16 ranks x 8 images
# and 32 ranks x 4 images, 2 seeds, one run at a time. The ranks oversubscribe a small machine; only the
# accuracy matters here (the arithmetic per image is the same, BN's statistics come from each rank's slice).
# Resumable: a finished run (model.h5 + summary.json) is skipped, an interrupted one resumes from its
# checkpoint. Runs go to $RUNS (checkpoints stay there); their logs and summaries are copied to
# results/fmnist-localbn/<run>/.
#   nohup scripts/analysis/localbn_runs.sh > /tmp/localbn.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-/tmp/localbn-runs}
EPOCHS=${EPOCHS:-4}
OUT=results/fmnist-localbn
mkdir -p "$RUNS" "$OUT"
for seed in ${SEEDS:-1 2}; do
  for ranks in ${RANKS:-1 16 32}; do
    name="r${ranks}-seed${seed}"
    if [ -f "$RUNS/$name/baseline-small/model.h5" ] && [ -f "$RUNS/$name/summary.json" ]; then
      echo "$name: done already"; continue
    fi
    threads=1; [ "$ranks" = 1 ] && threads=2
    cmd=(nice -n 19 mpiexec -n "$ranks" bin/swap-train lua/experiments/fmnist.lua --baseline small
         --set results="$RUNS" --set name="$name" --set seed="$seed" --set baselines.small.epochs="$EPOCHS"
         --set baselines.small.ranks="$ranks" --set baselines.small.threads="$threads")
    echo "$(date -u +%FT%TZ) $name: ${cmd[*]}"
    start=$(date +%s)
    "${cmd[@]}" 2>&1 | tr '\r' '\n' | grep -v '^\s*$' | grep -v '\] [0-9]*/[0-9]* loss' > "$RUNS/$name.run.log" || true
    [ -f "$RUNS/$name/baseline-small/model.h5" ] || { echo "$name: failed (see $RUNS/$name.run.log)"; exit 1; }
    mkdir -p "$OUT/$name"
    cp "$RUNS/$name/summary.json" "$OUT/$name/"
    cp "$RUNS/$name/baseline-small/log.jsonl" "$OUT/$name/" 2>/dev/null || true
    cp "$RUNS/$name.run.log" "$OUT/$name/run.log"
    echo "$(date -u +%FT%TZ) $name: finished in $(( $(date +%s) - start )) s"
  done
done
