#!/usr/bin/env bash
# Keep a finished run as evidence: its summary.json, every log.jsonl, the plots and the terminal output, without
# the checkpoints (they stay in results/; summary.json's provenance names the commit, precision and CPU of each).
#   scripts/analysis/keep_run.sh results/NAME evidence/WHERE [TERMINAL_OUTPUT]
set -euo pipefail
src=${1:?results/NAME}; dst=${2:?evidence/WHERE}; out=${3:-}
[[ -s $src/summary.json ]] || { echo "keep_run.sh: $src/summary.json: missing or empty (the run has not finished)" >&2; exit 1; }
mkdir -p "$dst"
cp "$src/summary.json" "$dst/"
(cd "$src" && find . -name '*.jsonl' -o -path './plots/*' -type f) | while read -r f; do
  mkdir -p "$dst/$(dirname "$f")"
  cp "$src/$f" "$dst/$f"
done
[[ -z $out ]] || cp "$out" "$dst/run.log"
echo "keep_run.sh: $src -> $dst ($(find "$dst" -type f | wc -l) files)"
