#!/usr/bin/env python3
"""Project SWAP's and the baselines' critical-path time onto R cluster nodes (PROJECTED, not measured).

A node has C cores running r MPI ranks of t = C / r threads. Every term says where it comes from:
  * compute, measured here: a rank's training step at per-rank batch b costs the process CPU time of a
    one-thread step at batch b (scripts/bench/node_throughput.sh, batch 1 ... 1024, log-log interpolation between
    measured batches, linear beyond 1024: extrapolated). On t = 2 threads: divided by 2 x the measured 2-thread
    efficiency at that batch; t > 2: efficiency^(log2 t), extrapolated. Every core of a cluster node is
    assumed to run like one core of this machine, with no memory-bandwidth contention (an assumption).
  * communication, modelled with stated constants: one all-reduce of the gradient (4 P bytes) per step,
    hierarchical: among the q ranks of a node (shared memory, alpha_i, beta_i), then among the N nodes
    (alpha, beta = the network), each level the faster of ring and recursive doubling (as MPI picks by size):
        t_level(p) = min(2 (p-1) alpha + 2 (p-1)/p S / beta,  ceil(log2 p) (alpha + S / beta)) Bucketed and overlapped with the backward pass (phase1.bucket_mb), for every
    run alike: t_step = t_c / 3 + max(2 t_c / 3, t_ar).
  * batch norm: a run may split its global batch G over n ranks (n divides G, as the executables require)
    only down to one image per rank (never below: --ranks refuses it), and with local (per-rank) BN only down
    to --local-bn-min images per rank, the smallest per-rank batch at which local BN kept the small-batch
    baseline's accuracy in results/fmnist-localbn (measured there on Fashion-MNIST's cnn; applying it to other
    models is an extrapolation). Below it the run must use SyncBN, charged as 2 small all-reduces (mean and
    variance forward, their gradients backward) of 2 C_l floats per BN layer per step (--bn-layers).
  * each run takes the number of ranks n (1 ... all R r ranks) that makes it fastest, so a run that cannot use
    the whole cluster (a small batch) leaves cores idle rather than slow down.
  * SWAP = phase 1 (global batch G1 data-parallel over R nodes) + phase 2 (W workers, each a group of k ranks,
    k dividing the worker batch; as many groups at once as the R r ranks hold; the best k) + phase 3 (BN
    recompute + one evaluation on one node: forward passes at 1/3 of a training step per image, an assumption).
  * baselines: their whole schedule data-parallel over the same R nodes. Evaluation during training is left out
    of every row alike.
With --tables the script writes the committed tables (results/projection/) for every node size, network and
model; without, it prints one projection.
"""
import argparse
import json
import math
import os
import subprocess
import sys

NETWORKS = {  # alpha (s), beta (B/s): MPI latency and bandwidth between nodes (assumed)
    "10gbe": {"alpha": 30e-6, "beta": 1.25e9, "desc": "10 Gb/s Ethernet, TCP: alpha 30 us, beta 1.25 GB/s"},
    "ib100": {"alpha": 2e-6, "beta": 12.5e9, "desc": "100 Gb/s InfiniBand (EDR/HDR100): alpha 2 us, beta 12.5 GB/s"},
}
INTRA = {"alpha": 1e-6, "beta": 10e9}  # within a node, shared memory (assumed)
# model -> (width, parameters, BN layers, BN channels summed over layers): the presets of lua/swap/models.lua
# (parameters as swap-bench prints them; the curve of a row is node-throughput.jsonl's for the name before "w")
MODELS = {
    "cnn": (0, 94186, 3, 32 + 64 + 128),
    "resnet9w16": (16, 412944, 8, 35 * 16),  # prep w, layer1 2w + residual 2 x 2w, layer2 4w, layer3 8w + 2 x 8w
    "resnet9w64": (64, 6573120, 8, 35 * 64),
    # stem w; 2 basic blocks per stage at w, 2w, 4w, 8w (2 BN each) plus a projection BN in stages 2-4
    "resnet18w64": (64, 11173962, 20, 75 * 64),
}


class Refused(Exception):
    pass


def load_curve(path, model, width):
    pts = {}
    for line in open(path):
        if not line.strip():
            continue
        r = json.loads(line)
        if r["model"] == model and int(r["width"]) == width:
            pts[int(r["batch"])] = (r["cpu_ms"] / 1000.0, r.get("eff2"))
    if not pts:
        raise SystemExit(f"{path}: no measurements for model {model} width {width}")
    return sorted((b, c, e) for b, (c, e) in pts.items())


def interp(pts, b, col):
    """log-log interpolation of column col (1 = cpu seconds, 2 = eff2) at batch b; (value, measured?)."""
    xs = [p[0] for p in pts if p[col] is not None]
    ys = [p[col] for p in pts if p[col] is not None]
    if not xs:
        return None, False
    if b <= xs[0]:
        return (ys[0] * b / xs[0] if col == 1 else ys[0]), b == xs[0]
    if b >= xs[-1]:
        return (ys[-1] * b / xs[-1] if col == 1 else ys[-1]), b == xs[-1]
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
        if b <= x1:
            a = (math.log(b) - math.log(x0)) / (math.log(x1) - math.log(x0))
            return math.exp(math.log(y0) + a * (math.log(y1) - math.log(y0))), True
    raise AssertionError


class Cluster:
    def __init__(self, pts, params, bn_layers, bn_channels, cores, ranks_per_node, net, local_bn_min, overlap=True,
                 syncbn=True):
        if cores % ranks_per_node:
            raise SystemExit(f"--ranks-per-node {ranks_per_node} does not divide --cores-per-node {cores}")
        self.pts, self.S, self.cores, self.r = pts, 4.0 * params, cores, ranks_per_node
        self.t = cores // ranks_per_node
        self.alpha, self.beta = net["alpha"], net["beta"]
        self.bn_layers, self.bn_channels = bn_layers, bn_channels
        self.local_bn_min, self.overlap, self.syncbn = local_bn_min, overlap, syncbn
        self.threads_src = "the throughput file"
        self.notes = set()

    def compute(self, b):
        c, measured = interp(self.pts, b, 1)
        if not measured:
            self.notes.add(f"compute at per-rank batch {b}: extrapolated beyond the measured batches")
        if self.t == 1:
            return c
        e2, _ = interp(self.pts, b, 2)
        if e2 is None:
            raise SystemExit(f"project_times.py: {self.threads_src}: no 2-thread efficiency (eff2) for this model, which "
                             f"{self.t} threads per rank need; measure it (scripts/bench/node_throughput.sh with TWO=1) or run "
                             "one thread per rank")
        if self.t == 2:
            return c / (2 * e2)
        self.notes.add(f"{self.t} threads per rank: efficiency extrapolated as eff2^log2({self.t})")
        return c / (self.t * e2 ** math.log2(self.t))

    def ar(self, nbytes, n):
        """all-reduce of nbytes over n ranks packed r to a node"""
        if n <= 1:
            return 0.0
        q, N = min(n, self.r), math.ceil(n / self.r)

        def level(p, alpha, beta):  # MPI picks ring (bandwidth) or recursive doubling (latency) by size
            if p <= 1:
                return 0.0
            ring = 2 * (p - 1) * alpha + 2 * (p - 1) / p * nbytes / beta
            return min(ring, math.ceil(math.log2(p)) * (alpha + nbytes / beta))
        return level(q, INTRA["alpha"], INTRA["beta"]) + level(N, self.alpha, self.beta)

    def step(self, G, n):
        """(seconds per step, uses SyncBN) for global batch G over n ranks"""
        if n > G:
            raise Refused(f"a batch of {G} over {n} ranks is below one image per rank")
        if G % n:
            raise Refused(f"a batch of {G} does not split evenly over {n} ranks")
        if n > 1 and G // n < self.local_bn_min and not self.syncbn:
            raise Refused(f"a batch of {G} over {n} ranks is {G // n} images per rank, below the {self.local_bn_min} "
                          "where local BN held accuracy, and SyncBN is off")
        per = G // n
        tc = self.compute(per)
        ta = self.ar(self.S, n)
        t = tc / 3 + max(2 * tc / 3, ta) if self.overlap else tc + ta
        sync = n > 1 and per < self.local_bn_min
        if sync:  # forward mean/var and their gradients: 2 all-reduces per BN layer of 2 C_l floats each
            t += 2 * self.bn_layers * self.ar(4.0 * 2 * self.bn_channels / self.bn_layers, n)
        return t, sync

    def run(self, G, epochs, n_train, max_ranks, force_ranks=None):
        """fastest data-parallel run of the schedule over at most max_ranks ranks: (seconds, ranks, syncbn)"""
        steps = epochs * (n_train // G)
        if force_ranks is not None:
            t, s = self.step(G, force_ranks)
            return steps * t, force_ranks, s
        best = None
        n = 1
        while n <= min(max_ranks, G):
            if G % n == 0 and (self.syncbn or n == 1 or G // n >= self.local_bn_min):
                t, s = self.step(G, n)
                if best is None or steps * t < best[0]:
                    best = (steps * t, n, s)
            n += 1
        return best

    def forward_images(self, images):
        """evaluation / BN-recompute forward passes on one node: 1/3 of a training step per image, batch 128"""
        c, _ = interp(self.pts, 128, 1)
        return images * (c / 128) / 3 / self.cores


def project(cl, rec, R, force_small=None):
    P = R * cl.r
    out = {}
    out["small"] = cl.run(rec["small_batch"], rec["small_epochs"], rec["n_train"], P, force_small)
    out["large"] = cl.run(rec["p1_batch"], rec["p1_epochs"], rec["n_train"], P)
    p1 = out["large"]
    W, b2 = rec["workers"], rec["p2_batch"]
    best = None
    for k in range(1, min(b2, P) + 1):
        if b2 % k or (not cl.syncbn and k > 1 and b2 // k < cl.local_bn_min):
            continue
        conc = P // k
        rounds = math.ceil(W / conc)
        t, _, s = cl.run(b2, rec["p2_epochs"], rec["n_train"], k, force_ranks=k)
        if best is None or rounds * t < best[0]:
            best = (rounds * t, k, s, rounds)
    p3 = cl.forward_images(rec["bn_images"] + rec["n_test"])
    out["swap"] = (p1[0] + best[0] + p3, None, None)
    out["parts"] = {"phase1": p1[0], "phase1_ranks": p1[1], "phase2": best[0], "k": best[1], "phase2_syncbn": best[2],
                    "rounds": best[3], "phase3": p3}
    return out


def recipe_numbers(path):
    code = ('local e = dofile(os.getenv("RECIPE")) print(require("cjson").encode({ p1 = e.phase1.max_epochs, '
            'b1 = e.phase1.batch, p2 = e.phase2.epochs, b2 = e.phase2.batch, w = e.phase2.workers, '
            'small = e.baselines.small.epochs, bs = e.baselines.small.batch, '
            'bn = (e.phase3 and e.phase3.bn_batches or 100) }))')
    r = json.loads(subprocess.run(["lua5.4", "-e", code], env={**os.environ, "RECIPE": path}, check=True,
                                  capture_output=True, text=True).stdout)
    return {"p1_batch": r["b1"], "p1_epochs": r["p1"], "p2_batch": r["b2"], "p2_epochs": r["p2"], "workers": r["w"],
            "small_batch": r["bs"], "small_epochs": r["small"], "n_train": 50000, "n_test": 10000,
            "bn_images": r["bn"] * r["b2"], "source": path}


def sources(cl, a):
    """where each term comes from: measured here, extrapolated, or assumed"""
    bs = [p[0] for p in cl.pts]
    return [
        f"compute per step: MEASURED here ({a.throughput}: one-thread CPU time at batch {bs[0]}..{bs[-1]}, "
        "interpolated between measured batches)",
        "2-thread efficiency: MEASURED here" if cl.t == 2 else
        ("threads per rank: 1 (no efficiency needed)" if cl.t == 1 else
         f"{cl.t}-thread efficiency: EXTRAPOLATED from the measured 2-thread efficiency"),
        f"a node of {cl.cores} cores: EXTRAPOLATED ({cl.cores} cores each as fast as one core here, no memory-bandwidth contention)",
        f"network: ASSUMED alpha {cl.alpha * 1e6:g} us, beta {cl.beta / 1e9:g} GB/s; within a node ASSUMED alpha "
        f"{INTRA['alpha'] * 1e6:g} us, beta {INTRA['beta'] / 1e9:g} GB/s",
        f"local BN down to {cl.local_bn_min} images per rank: MEASURED on Fashion-MNIST cnn (results/fmnist-localbn), "
        "EXTRAPOLATED to other models; SyncBN below it: MODELLED (2 all-reduces per BN layer per step)",
        "phase 3 (BN recompute + evaluation): MODELLED as forward passes at 1/3 of a training step per image",
    ]


def fmt(x):
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def table(rows, nodes):
    """Markdown rows: small / large / swap (k) / swap / small"""
    out = ["| row | " + " | ".join(f"R={R}" for R in nodes) + " |", "|---|" + "---|" * len(nodes)]
    for name in ("small", "large"):
        out.append(f"| {name} (s; ranks) | " + " | ".join(
            f"{fmt(rows[R][name][0])}; {rows[R][name][1]}{'s' if rows[R][name][2] else ''}" for R in nodes) + " |")
    out.append("| swap (s; k) | " + " | ".join(
        f"{fmt(rows[R]['swap'][0])}; {rows[R]['parts']['k']}{'s' if rows[R]['parts']['phase2_syncbn'] else ''}"
        for R in nodes) + " |")
    out.append("| swap / small | " + " | ".join(f"{rows[R]['swap'][0] / rows[R]['small'][0]:.2f}" for R in nodes) + " |")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--throughput", default="results/node-throughput.jsonl")
    ap.add_argument("--recipe", default="lua/experiments/cifar10.lua")
    ap.add_argument("--model", default="resnet9w16", choices=sorted(MODELS))
    ap.add_argument("--cores-per-node", type=int, default=64)
    ap.add_argument("--ranks-per-node", type=int, default=0, help="MPI ranks per node (0 = one per core)")
    ap.add_argument("--network", default="10gbe", choices=sorted(NETWORKS))
    ap.add_argument("--alpha-us", type=float, help="override the network's latency (microseconds)")
    ap.add_argument("--beta-gbs", type=float, help="override the network's bandwidth (GB/s)")
    ap.add_argument("--local-bn-min", type=int, default=8,
                    help="smallest per-rank batch where local BN held accuracy (results/fmnist-localbn)")
    ap.add_argument("--no-overlap", action="store_true", help="all-reduce after the backward pass, not overlapped")
    ap.add_argument("--no-syncbn", action="store_true",
                    help="never split below --local-bn-min images per rank (what the executables run today: local BN)")
    ap.add_argument("--nodes", default="1,2,4,8,16,32")
    ap.add_argument("--ranks", type=int, help="force the small-batch run onto this many ranks (checked)")
    ap.add_argument("--tables", metavar="DIR", help="write every table (node sizes x networks x models) to DIR")
    a = ap.parse_args()
    rec = recipe_numbers(a.recipe)
    nodes = [int(x) for x in a.nodes.split(",")]

    def cluster(model, cores, rpn, netname, syncbn=not a.no_syncbn):
        w, params, bnl, bnc = MODELS[model]
        net = dict(NETWORKS[netname])
        if a.alpha_us is not None:
            net["alpha"] = a.alpha_us * 1e-6
        if a.beta_gbs is not None:
            net["beta"] = a.beta_gbs * 1e9
        pts = load_curve(a.throughput, model.split("w")[0] if w else model, w)
        cl = Cluster(pts, params, bnl, bnc, cores, rpn or cores, net, a.local_bn_min, not a.no_overlap, syncbn)
        cl.threads_src = a.throughput
        return cl

    if not a.tables:
        cl = cluster(a.model, a.cores_per_node, a.ranks_per_node, a.network)
        try:
            rows = {R: project(cl, rec, R, a.ranks) for R in nodes}
        except Refused as e:
            sys.exit(f"project_times.py: --ranks {a.ranks}: {e}")
        print(f"PROJECTED critical path (s): {a.model}, {rec['source']}, nodes of {cl.cores} cores x "
              f"{cl.r} ranks x {cl.t} threads, {a.network}")
        print("\n".join(table(rows, nodes)))
        for R in nodes:
            p = rows[R]["parts"]
            print(f"  R={R}: phase 1 {p['phase1']:.1f} s on {p['phase1_ranks']} ranks + phase 2 {p['phase2']:.1f} s "
                  f"({p['rounds']} round(s) of groups of k={p['k']}) + phase 3 {p['phase3']:.1f} s")
        for n in sorted(cl.notes):
            print("  note:", n)
        print("\n".join("  " + l for l in sources(cl, a)))
        return

    os.makedirs(a.tables, exist_ok=True)
    doc, js, cross = [], {}, []
    for model in ("resnet9w16", "resnet9w64", "resnet18w64"):
        for netname in ("10gbe", "ib100"):
            for cores in (2, 16, 64, 128):
                cl = cluster(model, cores, 0, netname, True)
                rows = {R: project(cl, rec, R) for R in nodes}
                lrows = {R: project(cluster(model, cores, 0, netname, False), rec, R) for R in nodes}
                key = f"{model}/{netname}/{cores}"
                js[key] = {str(R): {"small_s": rows[R]["small"][0], "small_ranks": rows[R]["small"][1],
                                    "small_syncbn": rows[R]["small"][2], "large_s": rows[R]["large"][0],
                                    "large_ranks": rows[R]["large"][1], "swap_s": rows[R]["swap"][0],
                                    **rows[R]["parts"]} for R in nodes}
                js[key]["notes"] = sorted(cl.notes)
                js[key + "/local-bn-only"] = {str(R): {"small_s": lrows[R]["small"][0], "small_ranks": lrows[R]["small"][1],
                                                       "small_syncbn": False, "large_s": lrows[R]["large"][0],
                                                       "large_ranks": lrows[R]["large"][1], "swap_s": lrows[R]["swap"][0],
                                                       **lrows[R]["parts"]} for R in nodes}
                doc.append(f"### {model}, {netname}, nodes of {cores} cores ({cores} ranks x 1 thread)")
                doc.append("")
                doc += table(rows, nodes)
                doc.append("")
                doc.append(f"Local BN only (at least {a.local_bn_min} images per rank, what the executables run today):")
                doc.append("")
                doc += table(lrows, nodes)
                doc.append("")
                cells = []
                for rr in (rows, lrows):
                    wins = [R for R in nodes if rr[R]["swap"][0] <= 0.6 * rr[R]["small"][0]]
                    best = min(nodes, key=lambda R: rr[R]["swap"][0] / rr[R]["small"][0])
                    cells.append(f"{', '.join(map(str, wins)) if wins else 'none'} | "
                                 f"{rr[best]['swap'][0] / rr[best]['small'][0]:.2f} at R={best}: "
                                 f"{fmt(rr[best]['small'][0])} / {fmt(rr[best]['swap'][0])} s")
                cross.append(f"| {model} | {netname} | {cores} | {cells[0]} | {cells[1]} |")
    table_sources = [
        f"- compute per step: MEASURED here ({a.throughput}: one-thread CPU time per step at each measured batch, "
        "log-log interpolated between them); 1 thread per rank, so the 2-thread efficiency does not enter",
        "- a node of C cores: EXTRAPOLATED (C cores each as fast as one core here, no memory-bandwidth contention)",
        "- networks: ASSUMED, " + "; ".join(f"{k} = {v['desc']}" for k, v in NETWORKS.items()) +
        f"; within a node ASSUMED alpha {INTRA['alpha'] * 1e6:g} us, beta {INTRA['beta'] / 1e9:g} GB/s",
        f"- local BN down to {a.local_bn_min} images per rank: MEASURED on Fashion-MNIST's cnn "
        "(results/fmnist-localbn), EXTRAPOLATED to the ResNets; SyncBN below it: MODELLED (2 all-reduces per BN layer)",
        "- phase 3 (BN recompute + evaluation): MODELLED as forward passes at 1/3 of a training step per image",
        "- parameters and BN layers: from the presets of lua/swap/models.lua"]
    head = ["| model | network | cores per node | SWAP <= 0.6 x small at R = | lowest swap / small: small / swap | "
            "local BN only: SWAP <= 0.6 x small at R = | lowest, local BN only |",
            "|---|---|---|---|---|---|---|"]
    text = ["# Projected critical paths (PROJECTED, not measured)", "",
            f"Made by `scripts/analysis/project_times.py --tables {a.tables}` from {a.throughput} and {rec['source']} "
            f"(phase 1 and large: {rec['p1_epochs']} epochs at {rec['p1_batch']}; phase 2: {rec['workers']} workers x "
            f"{rec['p2_epochs']} epochs at {rec['p2_batch']}; small: {rec['small_epochs']} epochs at "
            f"{rec['small_batch']}); local BN down to {a.local_bn_min} images per rank, SyncBN below (charged), and "
            "without SyncBN (local BN only, never below that). "
            "Seconds; after `;` the ranks a run uses (small, large) or the worker group size k (swap); `s` marks "
            "SyncBN. Model and sources of each term: the script's docstring.", "", "## Crossover", ""] + head + cross + \
           ["", "## Where each term comes from", ""] + table_sources + \
           ["", "## Tables", ""] + doc
    with open(os.path.join(a.tables, "projection.md.tmp"), "w") as f:
        f.write("\n".join(text) + "\n")
    os.replace(os.path.join(a.tables, "projection.md.tmp"), os.path.join(a.tables, "projection.md"))
    with open(os.path.join(a.tables, "projection.json.tmp"), "w") as f:
        json.dump({"projected": True, "recipe": rec, "networks": NETWORKS, "intra_node": INTRA, "models": MODELS,
                   "local_bn_min": a.local_bn_min, "overlap": not a.no_overlap, "projections": js}, f, indent=1,
                  sort_keys=True)
        f.write("\n")
    os.replace(os.path.join(a.tables, "projection.json.tmp"), os.path.join(a.tables, "projection.json"))
    print("\n".join(head + cross))


if __name__ == "__main__":
    main()
