#!/usr/bin/env bash
# Two builds side by side: swap-bench of build A and build B run alternately (A, B, A, B, ...) on the same model,
# ROUNDS times each; prints every run and a table of medians with the ratio B/A. Use it to show that a change
# leaves the training step's speed where it was (both builds in one run, on one machine, nothing else running).
#   scripts/bench/bench_ab.sh A_BIN_DIR B_BIN_DIR ["resnet9:16 resnet9:64 cnn:0"]
#   ROUNDS (default 5)  THREADS (default 2)  BATCH (default 128)  EVAL=1 times --eval instead of a training step
#   PRECISION=bf16 (default fp32)
#   STEPS (default: 20 for cnn, 8 up to width 16, else 4)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
a=${1:?A_BIN_DIR}; b=${2:?B_BIN_DIR}
models=${3:-"resnet9:16 resnet9:64"}
rounds=${ROUNDS:-5}; threads=${THREADS:-2}; batch=${BATCH:-128}
mode=(); [[ ${EVAL:-0} == 1 ]] && mode=(--eval)
mode+=(--precision "${PRECISION:-fp32}")
steps_for() { [[ -n ${STEPS:-} ]] && { echo "$STEPS"; return; }; case $1 in cnn) echo 20 ;; *) [[ $2 -le 16 ]] && echo 8 || echo 4 ;; esac; }
echo "# $(date -u +%FT%TZ) $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# A = $a ($(cat "$a/COMMIT" 2>/dev/null || "$a/swap-bench" --version 2>/dev/null | sed -n 's/^commit *//p'))"
echo "# B = $b ($(cat "$b/COMMIT" 2>/dev/null || "$b/swap-bench" --version 2>/dev/null | sed -n 's/^commit *//p'))"
rows=()
for mw in $models; do
  m=${mw%%:*}; w=${mw##*:}
  wa=(); [[ $w != 0 ]] && wa=(--width "$w")
  args=(--model "$m" "${wa[@]}" --batch "$batch" --threads "$threads" --steps "$(steps_for "$m" "$w")" --warmup 3 "${mode[@]}")
  ia=() ib=() ca=() cb=()
  for ((r = 0; r < rounds; r++)); do
    o=$("$a/swap-bench" "${args[@]}"); echo "A $o"; ia+=("$(field images_per_s "$o")"); ca+=("$(field cpu_ms "$o")")
    o=$("$b/swap-bench" "${args[@]}"); echo "B $o"; ib+=("$(field images_per_s "$o")"); cb+=("$(field cpu_ms "$o")")
  done
  x=$(printf '%s\n' "${ia[@]}" | median) y=$(printf '%s\n' "${ib[@]}" | median)
  p=$(printf '%s\n' "${ca[@]}" | median) q=$(printf '%s\n' "${cb[@]}" | median)
  rows+=("$(printf '| %-11s | %8s | %8s | %5.3f | %8s | %8s | %5.3f |' "$m$([[ $w != 0 ]] && echo "w$w")" "$x" "$y" \
    "$(awk -v a="$x" -v b="$y" 'BEGIN {print b / a}')" "$p" "$q" "$(awk -v a="$p" -v b="$q" 'BEGIN {print b / a}')")")
done
echo
echo "$([[ ${EVAL:-0} == 1 ]] && echo eval || echo train) step in ${PRECISION:-fp32}, batch $batch, $threads threads, median of $rounds alternating runs; load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| model       | A img/s  | B img/s  | B/A   | A cpu_ms | B cpu_ms | B/A   |"
echo "|-------------|----------|----------|-------|----------|----------|-------|"
printf '%s\n' "${rows[@]}"
