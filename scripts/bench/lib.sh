# shellcheck shell=bash
# Helpers the benchmark scripts share (sourced, not run).
# field KEY LINE: the value of KEY=value in a swap-bench or torch_bench.py output line
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }
# median of the numbers on stdin, one per line
median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.1f\n", (v[NR/2]+v[NR/2+1])/2}'; }
# ratio A B: A / B to two decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
# How PyTorch runs beside us: glibc's mmap and trim thresholds raised, the equivalent of the jemalloc/tcmalloc
# PyTorch's CPU guide recommends (bench.sh says why).
torch_tuned_env() { echo "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4294967295:glibc.malloc.trim_threshold=4294967295"; }
