#!/usr/bin/python3
"""Scaling model for SWAP's phase 1 from measured numbers (scripts/bench/measure_scaling.sh) and a stated interconnect.
Writes results/scaling-model.json (machine-readable: inputs, formulas, projections) and prints the Markdown
tables used in docs/cluster.md.
    scripts/analysis/scaling_model.py [MEASUREMENTS.jsonl] [OUT.json]

Per phase-1 step on N nodes with global batch B, compute c seconds per image per node, S gradient bytes:
    t_compute = B/N * c
    t_allreduce(N) = 2 (N-1) alpha + 2 (N-1)/N * S / beta                  (ring: bandwidth-optimal)
                   = ceil(log2 N) * (alpha + S / beta)                      (recursive doubling: what comm.c pins
                                                                             by default, for bit-identity)
    t_step = t_compute + t_allreduce                                        (one all-reduce after backward)
    t_step = t_compute / 3 + max(2 t_compute / 3, t_allreduce)              (bucketed, overlapped with backward,
                                                                             backward ~ 2/3 of a step)
Parallel efficiency E = B c / (N t_step). Phase 1 "stops paying" below the global batch where E = 1/2 without
overlap, i.e. B/N * c = t_allreduce:  B_half(N) = N t_allreduce(N) / c.
SWAP critical path with R workers (phase 1 on N = R nodes, phase 2 one node per worker, phase 3 one node):
    T_swap(R) = E1 * n_train / B * t_step(R, B) + E2 * n_train * c + T3
versus small-batch training on one node: T_small = E_small * n_train * c.
"""
import json, math, os, subprocess, sys

MEAS = sys.argv[1] if len(sys.argv) > 1 else "results/scaling-measurements.jsonl"
OUT = sys.argv[2] if len(sys.argv) > 2 else "results/scaling-model.json"

rows = [json.loads(l) for l in open(MEAS) if l.strip()]
meta = next(r for r in rows if r["kind"] == "meta")
compute = {r["model"]: r for r in rows if r["kind"] == "compute"}
allreduce = [r for r in rows if r["kind"] == "allreduce"]
bench = [r for r in rows if r["kind"] == "phase1_bench"]

INTERCONNECTS = {
    "ib100": {"desc": "100 Gb/s InfiniBand (EDR / HDR100), MPI latency ~2 us", "latency_s": 2e-6, "bandwidth_Bps": 12.5e9},
    "eth10": {"desc": "10 Gb/s Ethernet over TCP, MPI latency ~30 us", "latency_s": 30e-6, "bandwidth_Bps": 1.25e9},
}
# Node speeds: the measured one (one core of this machine, process CPU time per image, so other load on the
# machine does not count) and a stated GPU-class assumption for the paper's setting.
NODES = {"core": "one core of the measuring machine (measured)",
         "gpu": "GPU-class node: assumed 200x the measured core (a V100-class GPU on these small CNNs)"}
GPU_SPEEDUP = 200.0
RECIPE = "lua/experiments/cifar10.lua"

def recipe_numbers(path):
    """Epochs and batch read from the recipe itself, so the projection follows it when it is retuned."""
    code = ('local e = dofile(os.getenv("RECIPE")) print(require("cjson").encode({ p1 = e.phase1.max_epochs, '
            'p2 = e.phase2.epochs, small = e.baselines.small.epochs, batch = e.phase1.batch }))')
    return json.loads(subprocess.run(["lua5.4", "-e", code], env={**os.environ, "RECIPE": path}, check=True,
                                     capture_output=True, text=True).stdout)

rec = recipe_numbers(RECIPE)
DATA = {"n_train": 50000, "phase1_epochs": rec["p1"], "phase2_epochs": rec["p2"], "small_batch_epochs": rec["small"],
        "phase1_batch": rec["batch"], "phase3_s": 0.0,
        "source": f"{RECIPE}: phase1.max_epochs, phase2.epochs (each worker), baselines.small.epochs, phase1.batch"}

def t_ar(N, S, ic, algo):
    if N <= 1: return 0.0
    a, b = ic["latency_s"], ic["bandwidth_Bps"]
    if algo == "ring": return 2 * (N - 1) * a + 2 * (N - 1) / N * S / b
    return math.ceil(math.log2(N)) * (a + S / b)

def t_step(N, B, c, S, ic, algo, overlap):
    tc = B / N * c
    ta = t_ar(N, S, ic, algo)
    return tc / 3 + max(2 * tc / 3, ta) if overlap else tc + ta

models = {}
for name, r in compute.items():
    models[name] = {"params": r["params"], "grad_bytes": 4 * r["params"], "sec_per_image_core": r["cpu_s_per_image"],
                    "measured_batch": r["batch"]}

proj = {}
for mname, m in models.items():
    for node, speed in (("core", 1.0), ("gpu", GPU_SPEEDUP)):
        c = m["sec_per_image_core"] / speed
        for icn, ic in INTERCONNECTS.items():
            for algo in ("ring", "recursive_doubling"):
                key = f"{mname}/{node}/{icn}/{algo}"
                e = {"N": {}, "critical_path": {}}
                for N in (8, 32, 128):
                    ta = t_ar(N, m["grad_bytes"], ic, algo)
                    e["N"][str(N)] = {"allreduce_s": ta, "batch_half_efficiency": N * ta / c,
                                      "efficiency_at_B4096": 4096 * c / (N * t_step(N, 4096, c, m["grad_bytes"], ic, algo, False)),
                                      "efficiency_at_B4096_overlap": 4096 * c / (N * t_step(N, 4096, c, m["grad_bytes"], ic, algo, True))}
                B = DATA["phase1_batch"]
                small = DATA["small_batch_epochs"] * DATA["n_train"] * c
                for R in (2, 4, 8, 16):
                    p1 = DATA["phase1_epochs"] * DATA["n_train"] / B * t_step(R, B, c, m["grad_bytes"], ic, algo, True)
                    p2 = DATA["phase2_epochs"] * DATA["n_train"] * c
                    e["critical_path"][str(R)] = {"phase1_s": p1, "phase2_s": p2, "phase3_s": DATA["phase3_s"],
                                                  "total_s": p1 + p2 + DATA["phase3_s"], "small_batch_one_node_s": small,
                                                  "speedup_vs_small_batch": small / (p1 + p2 + DATA["phase3_s"])}
                proj[key] = e

measured = {
    "allreduce": [{k: r[k] for k in ("link", "ranks", "nodes", "bytes", "median_s", "min_s")} for r in allreduce],
    "phase1_bench": bench,
    "machine": meta,
}
doc = {
    "what": "Phase-1 scaling model for SWAP: measured per-image compute and gradient sizes, an assumed interconnect, "
            "projected all-reduce times, the global batch below which phase 1 stops paying (efficiency 1/2), and "
            "SWAP's critical path vs small-batch training on one node. See docs/cluster.md.",
    "formulas": {
        "t_compute": "B / N * c",
        "t_allreduce_ring": "2*(N-1)*latency_s + 2*(N-1)/N * grad_bytes / bandwidth_Bps",
        "t_allreduce_recursive_doubling": "ceil(log2 N) * (latency_s + grad_bytes / bandwidth_Bps)",
        "t_step": "t_compute + t_allreduce",
        "t_step_overlap": "t_compute/3 + max(2*t_compute/3, t_allreduce)",
        "batch_half_efficiency": "N * t_allreduce / c",
        "critical_path_s": "phase1_epochs * n_train / phase1_batch * t_step_overlap(N=R, B=phase1_batch) + phase2_epochs * n_train * c + phase3_s",
        "small_batch_one_node_s": "small_batch_epochs * n_train * c",
    },
    "keys": "projections['<model>/<node>/<interconnect>/<algorithm>']: N -> per node count; critical_path -> R workers "
            "(phase 1 on R nodes). c = models[m].sec_per_image_core / (1 for node 'core', gpu_speedup for 'gpu').",
    "models": models, "interconnects": INTERCONNECTS, "nodes": NODES, "gpu_speedup": GPU_SPEEDUP, "data": DATA,
    "measured": measured, "projections": proj,
}
tmp = OUT + ".tmp"
with open(tmp, "w") as f:
    json.dump(doc, f, indent=1, sort_keys=True)
    f.write("\n")
os.replace(tmp, OUT)

def fmt_t(s):
    return f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s"

print("| model | node | interconnect | N | all-reduce (ring) | B where E = 1/2 (ring) | all-reduce (rec. doubling) | B where E = 1/2 (rec. d.) |")
print("|---|---|---|---:|---:|---:|---:|---:|")
for mname in models:
    for node in ("core", "gpu"):
        for icn in INTERCONNECTS:
            for N in ("8", "32", "128"):
                a = proj[f"{mname}/{node}/{icn}/ring"]["N"][N]; b = proj[f"{mname}/{node}/{icn}/recursive_doubling"]["N"][N]
                print(f"| {mname} | {node} | {icn} | {N} | {fmt_t(a['allreduce_s'])} | {a['batch_half_efficiency']:.0f} | "
                      f"{fmt_t(b['allreduce_s'])} | {b['batch_half_efficiency']:.0f} |")
print()
print("| model | node | interconnect | R | phase 1 | phase 2 | SWAP critical path | small batch, one node | speed-up |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|")
for mname in models:
    for node in ("core", "gpu"):
        icn = "ib100"
        for R in ("2", "4", "8", "16"):
            e = proj[f"{mname}/{node}/{icn}/ring"]["critical_path"][R]
            print(f"| {mname} | {node} | {icn} ring | {R} | {fmt_t(e['phase1_s'])} | {fmt_t(e['phase2_s'])} | "
                  f"{fmt_t(e['total_s'])} | {fmt_t(e['small_batch_one_node_s'])} | {e['speedup_vs_small_batch']:.2f} |")
print(f"\nwrote {OUT}", file=sys.stderr)
