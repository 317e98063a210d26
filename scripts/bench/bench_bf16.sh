#!/usr/bin/env bash
# bf16 against fp32, ours against PyTorch: training-step images/s of cnn, resnet9 w16 and w64 in four variants run
# alternately (ours fp32, ours bf16, PyTorch fp32, PyTorch bf16 autocast + channels_last), BENCH_ROUNDS times
# each; the table shows medians and the ratios the bf16 targets are stated in (README "Precision").
#   BENCH_ROUNDS (default 3)  BENCH_THREADS (default 2)  BENCH_ONLY="cnn resnet9w64" (subset of the rows)
#   BENCH_BATCH (default 128)  SWAP_BIN (default <repo>/bin)  PYTHON (default /usr/bin/python3)
#   BENCH_EVAL=1 times the eval-mode forward (--eval) instead of the training step
# Rows: cnn, resnet9w16, resnet9w64 (the targets' rows) and the presets resnet18w64, resnet20w64 (the standard ResNet-20: 16-32-64), vgg11w64.
# PyTorch runs with glibc's mmap/trim thresholds raised, as scripts/bench/bench.sh explains. cpu_ms (process CPU time
# per step) is printed with every run: on a shared machine it moves less than wall time.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${SWAP_BIN:-$here/bin}
py=${PYTHON:-/usr/bin/python3}
rounds=${BENCH_ROUNDS:-3}
threads=${BENCH_THREADS:-2}
batch=${BENCH_BATCH:-128}
[[ -x $bin/swap-bench ]] || { echo "bench_bf16.sh: $bin/swap-bench not found (run make build first)" >&2; exit 1; }
torch_env=$(torch_tuned_env)

# label | model args | steps
configs=(
  "cnn|--model cnn|20"
  "resnet9w16|--model resnet9 --width 16|8"
  "resnet9w64|--model resnet9 --width 64|4"
  "resnet18w64|--model resnet18 --width 64|3"
  "resnet20w64|--model resnet20 --width 64|8"
  "vgg11w64|--model vgg11 --width 64|4"
)
mode=() scale=1 # an eval step is about a third of a training step: time three times as many
[[ ${BENCH_EVAL:-0} == 1 ]] && mode=(--eval) scale=3

echo "# $(date -u +%FT%TZ) $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"
rows=()
for cfg in "${configs[@]}"; do
  IFS='|' read -r label margs steps <<<"$cfg"
  if [[ -n ${BENCH_ONLY:-} && " $BENCH_ONLY " != *" $label "* ]]; then continue; fi
  of=() ob=() tf=() tb=()
  for ((r = 0; r < rounds; r++)); do
    common=(--batch "$batch" --threads "$threads" --steps "$((steps * scale))" --warmup 3 "${mode[@]}")
    # shellcheck disable=SC2086
    o=$("$bin/swap-bench" $margs "${common[@]}" --precision fp32); echo "$o"; of+=("$(field images_per_s "$o")")
    # shellcheck disable=SC2086
    o=$("$bin/swap-bench" $margs "${common[@]}" --precision bf16); echo "$o"; ob+=("$(field images_per_s "$o")")
    # shellcheck disable=SC2086
    t=$(env $torch_env "$py" "$here/scripts/bench/torch_bench.py" $margs "${common[@]}" --precision fp32)
    echo "$t"; tf+=("$(field images_per_s "$t")")
    # shellcheck disable=SC2086
    t=$(env $torch_env "$py" "$here/scripts/bench/torch_bench.py" $margs "${common[@]}" --precision bf16 --channels-last)
    echo "$t"; tb+=("$(field images_per_s "$t")")
  done
  a=$(printf '%s\n' "${of[@]}" | median) b=$(printf '%s\n' "${ob[@]}" | median)
  c=$(printf '%s\n' "${tf[@]}" | median) d=$(printf '%s\n' "${tb[@]}" | median)
  rows+=("$(printf '| %-11s | %9s | %9s | %11s | %14s | %15s | %18s | %17s |' "$label" "$a" "$b" "$c" "$d" \
    "$(ratio "$b" "$a")" "$(ratio "$b" "$d")" "$(ratio "$a" "$c")")")
done
echo
echo "${mode[*]:-train} step, batch $batch, $threads threads, median of $rounds; load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| model       | ours fp32 | ours bf16 | torch fp32 | torch bf16+CL | ours bf16/fp32 | ours bf16/torch bf16 | ours fp32/torch fp32 |"
echo "|-------------|-----------|-----------|------------|---------------|----------------|----------------------|----------------------|"
printf '%s\n' "${rows[@]}"
