#!/usr/bin/env bash
# SWAP vs WASH vs PAPA at equal compute on one machine: phase 1 once, then each phase-2 mode from the same
# phase-1 model, then phase 3; prints a Markdown table of accuracies and communication.
#   scripts/analysis/compare_modes.sh [EXPERIMENT.lua] [--set key=value]...
set -euo pipefail
cd "$(dirname "$0")/../.."
EXP=${1:-lua/experiments/fmnist-compare.lua}; shift || true
BIN=$PWD/bin
read -r name results _ < <(EXP="$EXP" lua5.4 -e 'package.path = "lua/?.lua;" .. package.path
  local r = require("swap.config").resolve(os.getenv("EXP"), {})
  print(r.name, r.results, r["phase2.workers"])')
base="$results/$name"
set -x
"$BIN/swap-run" "$EXP" "$@" --set name="$name/independent" --set phase2.mode=independent
for mode in wash papa; do
  mkdir -p "$base/$mode"
  [ -e "$base/$mode/phase1" ] || cp -r "$base/independent/phase1" "$base/$mode/"
  "$BIN/swap-run" "$EXP" "$@" --set name="$name/$mode" --set phase2.mode=$mode
done
set +x
/usr/bin/python3 - "$base" <<'PY'
import json, sys
base = sys.argv[1]
print("| phase 2 mode | best worker | average (SWAP) | ensemble | bytes sent per member | vs. averaging every step |")
print("|---|---|---|---|---|---|")
for mode in ("independent", "wash", "papa"):
    s = json.load(open(f"{base}/{mode}/summary.json"))
    best = max(w["test_acc"] for w in s["workers"])
    c = s.get("communication")  # swap-average writes it from the members' checkpoints (WASH, PAPA)
    comm, ratio = (f"{c['bytes_sent_mean']:,.0f}", f"{c['ratio']:.5f}") if c else ("0", "0")
    print(f"| {mode} | {100*best:.2f}% | {100*s['average']['test_acc']:.2f}% | {100*s['ensemble']['test_acc']:.2f}% | {comm} | {ratio} |")
PY
