#!/usr/bin/env python3
"""The paper-style comparison table from finished runs: small-batch, large-batch, SWAP average and ensemble.

  scripts/analysis/swap_table.py --swap results/fmnist/seed1 --swap results/fmnist/seed2 \
      --small results/fmnist/seed1/small --small results/fmnist/seed2/small [--large DIR ...]

--swap DIR     a SWAP run: DIR/summary.json (swap-average's); its phase 1 is the large-batch row unless --large
               is given. If summary.json has baselines.<key> rows (swap-run with `baselines`), they are used
               for --small-key/--large-key.
--small DIR    a baseline trained by swap-train: DIR/phase1/log.jsonl (last epoch: test accuracy, wall time)
               or DIR/log.jsonl.
Test losses are plain cross-entropy (runs made before 2026-12-06 with label smoothing recorded the smoothed loss,
except the ensemble's). Every row is mean +- sample standard deviation over the seeds given (one seed: no +-).
Times are wall seconds MEASURED on this machine; SWAP's is its critical path (phase 1 + slowest worker +
phase 3) as swap-average writes it.
"""
import argparse
import json
import os
import statistics


def last_epoch(d):
    for p in (os.path.join(d, "phase1", "log.jsonl"), os.path.join(d, "log.jsonl")):
        if os.path.exists(p):
            rows = [json.loads(x) for x in open(p) if x.strip()]
            r = rows[-1]
            return {"acc": r["test_acc"], "loss": r["test_loss"], "time": r["time_s"], "epochs": r["epoch"]}
    raise SystemExit(f"{d}: no phase1/log.jsonl or log.jsonl")


def fmt(vals, pct=True, nd=2):
    k = 100.0 if pct else 1.0
    v = [k * x for x in vals]
    m = statistics.mean(v)
    if len(v) > 1:
        return f"{m:.{nd}f} ± {statistics.stdev(v):.{nd}f}"
    return f"{m:.{nd}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--swap", action="append", required=True)
    ap.add_argument("--small", action="append", default=[])
    ap.add_argument("--large", action="append", default=[])
    ap.add_argument("--small-key", default="small")
    ap.add_argument("--large-key", default="large")
    a = ap.parse_args()

    rows = {"small": [], "large": [], "avg": [], "avg_raw": [], "ens": [], "best": []}
    for d in a.swap:
        s = json.load(open(os.path.join(d, "summary.json")))
        b = s.get("baselines", {})
        for key, row in ((a.small_key, "small"), (a.large_key, "large")):
            if key in b:
                rows[row].append({"acc": b[key]["test_acc"], "loss": b[key]["test_loss"], "time": b[key]["wall_s"]})
        if not a.large and a.large_key not in b:
            rows["large"].append({"acc": s["phase1"]["test_acc"], "loss": s["phase1"]["test_loss"],
                                  "time": s["phase1"]["time_s"]})
        cp = s["critical_path_s"]
        rows["avg"].append({"acc": s["average"]["test_acc"], "loss": s["average"]["test_loss"], "time": cp})
        rows["avg_raw"].append({"acc": s["average"]["test_acc_before_bn"], "loss": s["average"]["test_loss_before_bn"],
                                "time": cp})
        rows["ens"].append({"acc": s["ensemble"]["test_acc"], "loss": s["ensemble"]["test_loss"], "time": cp})
        bw = max(s["workers"], key=lambda w: w["test_acc"])
        rows["best"].append({"acc": bw["test_acc"], "loss": bw["test_loss"],
                             "time": s["phase1"]["time_s"] + bw["time_s"]})
    rows["small"] += [last_epoch(d) for d in a.small]
    rows["large"] += [last_epoch(d) for d in a.large]

    names = {"small": "small-batch baseline", "large": "large-batch baseline", "best": "best single SWAP worker",
             "avg": "**SWAP average** (BN recomputed)",
             "avg_raw": "SWAP average, workers' BN statistics averaged instead", "ens": "SWAP ensemble (W models)"}
    print("| model | seeds | test accuracy (%) | test loss | wall / critical path here (s) |")
    print("|---|---|---|---|---|")
    for k in ("small", "large", "best", "avg", "avg_raw", "ens"):
        r = rows[k]
        if not r:
            continue
        print(f"| {names[k]} | {len(r)} | {fmt([x['acc'] for x in r])} | {fmt([x['loss'] for x in r], False, 4)} | "
              f"{fmt([x['time'] for x in r], False, 0)} |")


if __name__ == "__main__":
    main()
