#!/usr/bin/env python3
"""One row per sweep point, mean +- sample standard deviation over seeds: best member, average, ensemble and the
bytes each member sent. For SWAP against WASH and PAPA (a sweep over phase2.mode) or any other phase-2/3 sweep.

  scripts/analysis/sweep_table.py results/c100p-seed1 results/c100p-seed2

Each argument is one seed's sweep directory (swap-run's results/<name> of an experiment with `sweep = {...}`):
its sub-directories named KEY=VALUE that hold a summary.json are the points, and a point is reported over the
seeds that have it. The phase-1 row is the shared phase 1 (the same in every point of a seed). Bytes sent are
the members' own count (summary.json's communication; 0 for independent workers, which send nothing).
"""
import json
import os
import statistics
import sys


def fmt(vals, pct=True, nd=2):
    v = [(100.0 if pct else 1.0) * x for x in vals]
    m = statistics.mean(v)
    return f"{m:.{nd}f} ± {statistics.stdev(v):.{nd}f}" if len(v) > 1 else f"{m:.{nd}f}"


def points(run):
    got = {}
    for d in sorted(os.listdir(run)):
        p = os.path.join(run, d, "summary.json")
        if "=" in d and os.path.isfile(p):
            with open(p) as f:
                got[d] = json.load(f)
    if not got:
        raise SystemExit(f"{run}: no KEY=VALUE/summary.json (is it a finished sweep's directory?)")
    return got


def main(runs):
    if not runs:
        raise SystemExit(__doc__)
    per_seed = [points(r) for r in runs]
    order = []
    for s in per_seed:
        order += [k for k in s if k not in order]
    p1 = [next(iter(s.values()))["phase1"]["test_acc"] for s in per_seed]
    print(f"{len(runs)} seed(s): {', '.join(runs)}; phase 1 (shared by every point): {fmt(p1)} %\n")
    print("| sweep point | seeds | best member (%) | average (%) | ensemble (%) | bytes sent per member |")
    print("|---|---|---|---|---|---|")
    for k in order:
        ss = [s[k] for s in per_seed if k in s]
        best = [max(w["test_acc"] for w in s["workers"]) for s in ss]
        avg = [s["average"]["test_acc"] for s in ss]
        ens = [s["ensemble"]["test_acc"] for s in ss]
        sent = [(s.get("communication") or {}).get("bytes_sent_mean", 0) for s in ss]
        print(f"| {k} | {len(ss)} | {fmt(best)} | {fmt(avg)} | {fmt(ens)} | {fmt(sent, pct=False, nd=0)} |")


if __name__ == "__main__":
    main(sys.argv[1:])
