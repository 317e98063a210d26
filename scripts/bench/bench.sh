#!/usr/bin/env bash
# Training-step and inference throughput, ours vs the PyTorch twin, same model, batch and threads (`make bench`).
# Runs alternate (ours, torch, ours, torch, ...) so a drift in machine load hits both sides; the table shows
# the median images/s of BENCH_ROUNDS runs each and the highest peak RSS.
# Rows ending in -eval time a no-grad eval-mode forward (swap-bench --eval, torch.no_grad()).
#   BENCH_ROUNDS (default 3)  BENCH_THREADS (default 2)  BENCH_ONLY="cnn resnet9w16-eval" (subset of the rows)
#   SWAP_BIN (default <repo>/bin)  PYTHON (default /usr/bin/python3)
#   TORCH_MALLOC=tuned (default) | default: how glibc's malloc serves PyTorch (below)
# PyTorch frees and re-allocates its activations every step. With glibc's default malloc, blocks over the mmap
# threshold go back to the kernel on free and are faulted in again on the next step; on the 2-core KVM machines
# here that cost PyTorch 2-3x its throughput, varying from run to run (cnn 640-1510 img/s against 2800-2930).
# PyTorch's CPU tuning guide answers this with jemalloc or tcmalloc; raising glibc's mmap and trim thresholds
# does the same without a new library. We compare against the faster PyTorch.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${SWAP_BIN:-$here/bin}
py=${PYTHON:-/usr/bin/python3}
rounds=${BENCH_ROUNDS:-3}
threads=${BENCH_THREADS:-2}
[[ -x $bin/swap-bench ]] || { echo "bench.sh: $bin/swap-bench not found (run make build first)" >&2; exit 1; }
"$py" -c 'import torch' 2>/dev/null || { echo "bench.sh: $py cannot import torch (scripts/dev/deps.sh --test)" >&2; exit 1; }

case ${TORCH_MALLOC:-tuned} in
  tuned) torch_env=$(torch_tuned_env) ;;
  default) torch_env= ;;
  *) echo "bench.sh: TORCH_MALLOC must be tuned or default, got '$TORCH_MALLOC'" >&2; exit 2 ;;
esac

# label | model args | batch | steps
configs=(
  "mlp|--model mlp|128|40"
  "cnn|--model cnn|128|20"
  "resnet9w16|--model resnet9 --width 16|128|8"
  "resnet9w64|--model resnet9 --width 64|128|4"
  "cnn-eval|--model cnn --eval|128|60"
  "resnet9w16-eval|--model resnet9 --width 16 --eval|128|24"
  "resnet9w64-eval|--model resnet9 --width 64 --eval|128|8"
  "resnet20w64|--model resnet20 --width 64|128|8"
  "resnet18w64|--model resnet18 --width 64|128|2"
  "vgg11w64|--model vgg11 --width 64|128|2"
  "resnet20w64-eval|--model resnet20 --width 64 --eval|128|24"
  "resnet18w64-eval|--model resnet18 --width 64 --eval|128|4"
  "vgg11w64-eval|--model vgg11 --width 64 --eval|128|6"
)


echo "# $(date -u +%FT%TZ) $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"
rows=() blas=
for cfg in "${configs[@]}"; do
  IFS='|' read -r label margs batch steps <<<"$cfg"
  if [[ -n ${BENCH_ONLY:-} && " $BENCH_ONLY " != *" $label "* ]]; then continue; fi
  ours=() torch=() ours_rss=0 torch_rss=0 kernel=
  for ((r = 0; r < rounds; r++)); do
    # shellcheck disable=SC2086
    o=$("$bin/swap-bench" $margs --batch "$batch" --threads "$threads" --steps "$steps" --warmup 3)
    echo "$o"
    # shellcheck disable=SC2086
    t=$(env $torch_env "$py" "$here/scripts/bench/torch_bench.py" $margs --batch "$batch" --threads "$threads" --steps "$steps" --warmup 3)
    echo "$t"
    ours+=("$(field images_per_s "$o")")
    kernel=$(field conv "$o")
    blas=$(field blas "$o")
    torch+=("$(field images_per_s "$t")")
    ours_rss=$(awk -v a="$ours_rss" -v b="$(field peak_rss_mib "$o")" 'BEGIN {print (b > a ? b : a)}')
    torch_rss=$(awk -v a="$torch_rss" -v b="$(field peak_rss_mib "$t")" 'BEGIN {print (b > a ? b : a)}')
  done
  om=$(printf '%s\n' "${ours[@]}" | median)
  tm=$(printf '%s\n' "${torch[@]}" | median)
  rows+=("$(printf '| %-15s | %5s | %7s | %10s | %10s | %6.2f | %12s | %13s | %s |' "$label" "$batch" "$threads" "$om" \
    "$tm" "$(awk -v a="$om" -v b="$tm" 'BEGIN {print a / b}')" "$ours_rss" "$torch_rss" "$kernel")")
done
echo
echo "OpenBLAS core: ${blas:-?} (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}); PyTorch malloc: ${TORCH_MALLOC:-tuned}; load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| model           | batch | threads | ours img/s | torch img/s | ratio | ours RSS MiB | torch RSS MiB | our conv kernel |"
echo "|-----------------|-------|---------|------------|-------------|-------|--------------|---------------|-----------------|"
printf '%s\n' "${rows[@]}"
