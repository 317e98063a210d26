#!/usr/bin/env bash
# Keep a finished run as committed evidence under results/: its summary.json, every log.jsonl, the plots and the
# terminal output, without the checkpoints (they stay in the run's directory; summary.json's provenance names the
# commit, precision and CPU of each).
#   scripts/analysis/keep_run.sh results/NAME results/WHERE [TERMINAL_OUTPUT]
set -euo pipefail
src=${1:?results/NAME}; dst=${2:?results/WHERE}; out=${3:-}
[[ -s $src/summary.json ]] || { echo "keep_run.sh: $src/summary.json: missing or empty (the run has not finished)" >&2; exit 1; }
mkdir -p "$dst"
cp "$src/summary.json" "$dst/"
(cd "$src" && find . -name '*.jsonl' -o -path './plots/*' -type f) | while read -r f; do
  mkdir -p "$dst/$(dirname "$f")"
  cp "$src/$f" "$dst/$f"
done
[[ -z $out ]] || cp "$out" "$dst/run.log"
echo "keep_run.sh: $src -> $dst ($(find "$dst" -type f | wc -l) files)"
# results/ ignores new run directories, so the kept copy is added by force (and only it: never a checkpoint).
if git -C "$dst" rev-parse --is-inside-work-tree >/dev/null 2>&1; then git -C "$dst" add -f .; fi
