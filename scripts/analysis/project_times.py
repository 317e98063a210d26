#!/usr/bin/env python3
"""Project SWAP's and the baselines' critical-path time onto R nodes (PROJECTED, not measured).

Model (every term is printed with the table so a reader can redo it):
  * a node is this machine: 2 cores, running 2 MPI ranks x 1 thread (how phase 1 runs here);
  * a training step on a node with per-node batch b costs the per-process CPU time of a step at batch b/2,
    measured with one thread (scripts/bench/node_throughput.sh, CPU time, so a shared machine inflates it little),
    interpolated log-log between measured batch sizes;
  * data-parallel steps add one ring all-reduce of the gradient over R nodes:
        2 (R-1) alpha + 2 (R-1)/R * 4 P / beta     (alpha latency per message, beta bandwidth, P parameters);
  * SWAP = phase 1 (R nodes, global batch G) + ceil(W/R) rounds of one phase-2 worker alone on a node
    + phase 3 (BN recompute forward passes + one evaluation, forward = 1/3 of a training step);
  * a baseline = its whole schedule data-parallel over the same R nodes (small batch 128 over 16 nodes is
    8 images per node, which is exactly why it scales badly);
  * evaluation during training is left out for every row alike (eval_every = 0 removes it).
"""
import argparse
import json
import math


def kv(s):
    out = {}
    for part in s.split(","):
        k, v = part.split("=")
        out[k.strip()] = float(v)
    return out


def load_throughput(path, model, width):
    pts = []
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        if r["model"] == model and int(r["width"]) == width:
            pts.append((r["batch"], r["cpu_ms"] / 1000.0))
    if not pts:
        raise SystemExit(f"{path}: no measurements for model {model} width {width}")
    return sorted(pts)


def step_seconds(pts, b):
    """CPU seconds of one single-thread step at per-process batch b (log-log interpolation)."""
    if b <= pts[0][0]:
        # below the smallest measured batch the per-step cost does not shrink further than linearly
        return pts[0][1] * max(b / pts[0][0], 0.0) if b > 0 else 0.0
    for (b0, t0), (b1, t1) in zip(pts, pts[1:]):
        if b <= b1:
            a = (math.log(b) - math.log(b0)) / (math.log(b1) - math.log(b0))
            return math.exp(math.log(t0) + a * (math.log(t1) - math.log(t0)))
    b0, t0 = pts[-1]
    return t0 * b / b0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--throughput", required=True, help="JSON lines from scripts/bench/node_throughput.sh")
    ap.add_argument("--model", required=True)
    ap.add_argument("--width", type=int, default=0)
    ap.add_argument("--params", type=int, required=True, help="trainable parameters (all-reduce size)")
    ap.add_argument("--train-n", type=int, required=True)
    ap.add_argument("--test-n", type=int, required=True)
    ap.add_argument("--phase1", type=kv, required=True, help="batch=G,epochs=E (epochs actually run)")
    ap.add_argument("--phase2", type=kv, required=True, help="workers=W,batch=b,epochs=E")
    ap.add_argument("--bn", type=kv, default={"batches": 100, "batch": 128})
    ap.add_argument("--baseline", action="append", default=[], help="name:batch=B,epochs=E (repeatable)")
    ap.add_argument("--alpha-us", type=float, default=25.0, help="all-reduce latency per message, microseconds")
    ap.add_argument("--beta-gbs", type=float, default=1.25, help="network bandwidth, GB/s (1.25 = 10 Gb/s)")
    ap.add_argument("--nodes", default="1,2,4,8,16")
    ap.add_argument("--json", help="also write the projection here")
    a = ap.parse_args()

    pts = load_throughput(a.throughput, a.model, a.width)
    alpha, beta = a.alpha_us * 1e-6, a.beta_gbs * 1e9

    def allreduce(R):
        return 0.0 if R == 1 else 2 * (R - 1) * alpha + 2 * (R - 1) / R * 4 * a.params / beta

    def node_step(b):  # per-node batch b over 2 ranks x 1 thread
        return step_seconds(pts, b / 2.0)

    def train(epochs, G, R):
        steps = epochs * (a.train_n // int(G))
        return steps * (node_step(G / R) + allreduce(R))

    def swap(R):
        p1 = train(a.phase1["epochs"], a.phase1["batch"], R)
        rounds = math.ceil(a.phase2["workers"] / R)
        p2 = rounds * train(a.phase2["epochs"], a.phase2["batch"], 1)
        fwd = (a.bn["batches"] * a.bn["batch"] + a.test_n) / 3.0  # forward ~ 1/3 of a training step
        p3 = fwd / (128 / node_step(128))
        return p1, p2, p3

    nodes = [int(x) for x in a.nodes.split(",")]
    rows = {}
    for spec in a.baseline:
        name, rest = spec.split(":", 1)
        b = kv(rest)
        rows[name] = [train(b["epochs"], b["batch"], R) for R in nodes]
    rows["swap"] = [sum(swap(R)) for R in nodes]
    parts = {R: swap(R) for R in nodes}

    print(f"PROJECTED critical path (s) for {a.model}{'w%d' % a.width if a.width else ''}, "
          f"all-reduce alpha={a.alpha_us:g} us, beta={a.beta_gbs:g} GB/s, P={a.params}")
    print("| row | " + " | ".join(f"R={R}" for R in nodes) + " |")
    print("|---|" + "---|" * len(nodes))
    for name, v in rows.items():
        print(f"| {name} | " + " | ".join(f"{x:.0f}" for x in v) + " |")
    if "small" in rows:
        print("| swap / small | " + " | ".join(f"{s / b:.2f}" for s, b in zip(rows["swap"], rows["small"])) + " |")
    for R in nodes:
        p1, p2, p3 = parts[R]
        print(f"  R={R}: phase 1 {p1:.0f} s + phase 2 {p2:.0f} s + phase 3 {p3:.0f} s; "
              f"all-reduce {1e3 * allreduce(R):.2f} ms/step")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"projected": True, "nodes": nodes, "alpha_us": a.alpha_us, "beta_gbs": a.beta_gbs,
                       "params": a.params, "rows": rows,
                       "swap_parts": {str(R): dict(zip(("phase1", "phase2", "phase3"), parts[R])) for R in nodes},
                       "args": vars(a) | {"phase1": a.phase1, "phase2": a.phase2, "bn": a.bn}}, f, indent=1)


if __name__ == "__main__":
    main()
