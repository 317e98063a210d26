#!/usr/bin/env bash
# What the named losses of the bf16 step could give back at most: swap-bench --ablate skips the activation reorders
# around the convolution kernels (layout), batch norm with its fused ReLU (bn), or both, and PyTorch's bf16
# autocast + channels_last step runs in the same rounds for scale. The ablated runs compute wrong results; their
# time is an upper bound on the step once that part is free (results/BENCH.md, "What the losses are worth").
#   BENCH_ROUNDS (default 3)  BENCH_THREADS (default 2)  BENCH_BATCH (default 128)  BENCH_PRECISION (default bf16)
#   BENCH_ONLY="cnn resnet9w64" (subset of the rows)  SWAP_BIN (default <repo>/bin)  PYTHON (default /usr/bin/python3)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${SWAP_BIN:-$here/bin}
py=${PYTHON:-/usr/bin/python3}
rounds=${BENCH_ROUNDS:-3}
threads=${BENCH_THREADS:-2}
batch=${BENCH_BATCH:-128}
prec=${BENCH_PRECISION:-bf16}
[[ -x $bin/swap-bench ]] || { echo "bench_ablate.sh: $bin/swap-bench not found (run make build first)" >&2; exit 1; }
torch_env=$(torch_tuned_env)
torch_prec=(--precision fp32)
[[ $prec == bf16 ]] && torch_prec=(--precision bf16 --channels-last)

configs=("cnn|--model cnn|20" "resnet9w16|--model resnet9 --width 16|8" "resnet9w64|--model resnet9 --width 64|4")
variants=(none layout bn "layout,bn")

echo "# $(date -u +%FT%TZ) $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), $(getconf _NPROCESSORS_ONLN) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"
rows=()
for cfg in "${configs[@]}"; do
  IFS='|' read -r label margs steps <<<"$cfg"
  if [[ -n ${BENCH_ONLY:-} && " $BENCH_ONLY " != *" $label "* ]]; then continue; fi
  declare -A got=()
  for ((r = 0; r < rounds; r++)); do
    common=(--batch "$batch" --threads "$threads" --steps "$steps" --warmup 3)
    # the order rotates from round to round, so no variant always runs first (after PyTorch) or last
    for ((i = 0; i < ${#variants[@]}; i++)); do
      v=${variants[$(((i + r) % ${#variants[@]}))]}
      abl=()
      [[ $v != none ]] && abl=(--ablate "$v")
      # shellcheck disable=SC2086
      o=$("$bin/swap-bench" $margs "${common[@]}" --precision "$prec" "${abl[@]}" 2>/dev/null); echo "$o"
      got[$v]+="$(field images_per_s "$o") "
    done
    # shellcheck disable=SC2086
    t=$(env $torch_env "$py" "$here/scripts/bench/torch_bench.py" $margs "${common[@]}" "${torch_prec[@]}"); echo "$t"
    got[torch]+="$(field images_per_s "$t") "
  done
  declare -A med=()
  for k in "${variants[@]}" torch; do med[$k]=$(tr ' ' '\n' <<<"${got[$k]}" | sed '/^$/d' | median); done
  t=${med[torch]}
  rows+=("$(printf '| %-10s | %s (%s) | %s (%s) | %s (%s) | %s (%s) | %s |' "$label" \
    "${med[none]}" "$(ratio "${med[none]}" "$t")" "${med[layout]}" "$(ratio "${med[layout]}" "$t")" \
    "${med[bn]}" "$(ratio "${med[bn]}" "$t")" "${med[layout,bn]}" "$(ratio "${med[layout,bn]}" "$t")" "$t")")
  unset got med
done
echo
echo "$prec training step, batch $batch, $threads threads, median of $rounds, images/s (ratio to PyTorch); load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| model | ours | without layout work | without BN+ReLU | without either | PyTorch $prec${torch_prec[2]:+ + channels_last} |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
