#!/usr/bin/env bash
# Measurements behind the scaling model (docs/cluster.md, results/scaling-model.json), on the namespaced
# 3-node test cluster (tests/sh/lib/netslurm.sh; needs root):
#   - gradient all-reduce time over the veth links for 2 and 3 ranks on 2 and 3 nodes (UCX over TCP), for a
#     latency-bound buffer (4 KiB), `cnn`'s gradient (94,186 floats) and resnet9-w64's (6,573,120 floats);
#   - the same 2-rank sums with `tc netem` on every node's link (delay + rate limit);
#   - scripts/bench/bench_phase1.sh across 2 nodes (one all-reduce vs bucketed, overlapped), with and without netem;
#   - per-image training compute of cnn and resnet9 (swap-bench, process CPU time per step, 1 thread).
# Writes JSON lines to OUT (default results/scaling-measurements.jsonl; the committed copy is results/scaling-measurements.jsonl); then run scripts/analysis/scaling_model.py.
#   sudo scripts/bench/measure_scaling.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=$PWD
OUT=${1:-results/scaling-measurements.jsonl}
TOOL=${SWAP_TOOLS:-$SRC/build/tools}/allreduce_time
# Shaping on every node's link: `netem` (delay + rate) where the kernel has sch_netem; else `tbf` (rate only;
# this machine's kernel has no netem: "Error: Specified qdisc kind is unknown.").
NETEM=${NETEM:-netem delay 1ms rate 1gbit}
SLOW=${SLOW:-netem delay 2ms rate 100mbit}
source tests/sh/lib/netslurm.sh
why=$(netslurm_can_run) || { echo "measure_scaling: $why" >&2; exit 1; }
[[ -x $TOOL ]] || { echo "measure_scaling: build first ($TOOL missing)" >&2; exit 1; }
trap netslurm_stop EXIT
netslurm_start 3
T=$(mktemp -d /tmp/measure_scaling.XXXXXX)
: > "$T/out.jsonl"
export UCX_TLS=tcp,self
emit() { echo "$1" | tee -a "$T/out.jsonl"; }
ar() { # ranks floats netem-label
  local line
  # a time limit: MPICH 4.0 + UCX has been seen to hang in MPI_Finalize (once, 3 ranks, machine overloaded)
  # (the line is printed before MPI_Finalize, so a run cut by the limit still reports; one retry otherwise)
  line=$(onctl srun --mpi=pmi2 -t 1 -N "$1" -n "$1" "$TOOL" "$2" 20 2>/dev/null | grep "^{" | tail -n 1) || true
  [[ -n $line ]] || line=$(onctl srun --mpi=pmi2 -t 1 -N "$1" -n "$1" "$TOOL" "$2" 20 2>/dev/null | grep "^{" | tail -n 1) || true
  [[ -n $line ]] || { echo "measure_scaling: no result for $1 ranks, $2 floats ($3)" >&2; return 0; }
  emit "{\"kind\": \"allreduce\", \"link\": \"$3\", ${line#\{}"
}
netem() { # applies "$1" (or its tbf fallback); prints the shaping it applied
  local i q=$1
  if ! tc -n "$NETSLURM_TAG-n1" qdisc replace dev eth0 root $q 2>/dev/null; then
    q="tbf rate $(sed -n 's/.*rate \([^ ]*\).*/\1/p' <<< "$1") burst 256kb latency 100ms"
  fi
  for i in 1 2 3; do tc -n "$NETSLURM_TAG-n$i" qdisc replace dev eth0 root $q; done
  echo "$q"
}
nonetem() { local i; for i in 1 2 3; do tc -n "$NETSLURM_TAG-n$i" qdisc del dev eth0 root 2>/dev/null || true; done; }

for n in 1024 94186 6573120; do ar 2 "$n" veth; ar 3 "$n" veth; done
q=$(netem "$NETEM")
for n in 1024 94186 6573120; do ar 2 "$n" "$q"; done
nonetem

bench() { # label
  local s
  # salloc runs the script here (the controller's namespace); its srun puts the 2 ranks on 2 nodes
  s=$(onctl env MPIEXEC="srun --mpi=pmi2 -N2 -n2" salloc -Q -N2 -n2 scripts/bench/bench_phase1.sh 2 4096 0.05 2>&1 |
      grep '^phase1\|^ratio')
  echo "$s" | sed "s/^/[$1] /" >&2
  /usr/bin/python3 - "$1" "$s" >> "$T/out.jsonl" <<'PY'
import json, re, sys
label, text = sys.argv[1], sys.argv[2]
one = re.search(r"2 ranks x 1 thread (\d+) img/s", text); ov = re.search(r"overlapped all-reduce.*?\) (\d+) img/s", text)
print(json.dumps({"kind": "phase1_bench", "link": label, "model": "cnn", "batch": 1024, "ranks": 2, "nodes": 2,
                  "one_allreduce_img_s": float(one.group(1)), "overlapped_img_s": float(ov.group(1))}))
PY
  tail -n 1 "$T/out.jsonl"
}
bench veth
q=$(netem "$SLOW")
bench "$q"
nonetem

for spec in "cnn 128 10" "resnet9 32 3"; do
  read -r model batch steps <<< "$spec"
  line=$(bin/swap-bench --model "$model" --batch "$batch" --threads 1 --steps "$steps" --warmup 1 | tail -n 1)
  /usr/bin/python3 - "$line" "$model" >> "$T/out.jsonl" <<'PY'
import json, re, sys
kv = dict(re.findall(r"(\w+)=(\S+)", sys.argv[1]))
b = int(kv["batch"])
print(json.dumps({"kind": "compute", "model": sys.argv[2], "params": int(kv["params"]), "batch": b, "threads": 1,
                  "cpu_ms_per_step": float(kv["cpu_ms"]), "wall_ms_per_step": float(kv["step_ms"]),
                  "cpu_s_per_image": float(kv["cpu_ms"]) / 1000 / b, "blas": kv["blas"]}))
PY
  tail -n 1 "$T/out.jsonl"
done
mkdir -p "$(dirname "$OUT")"
{ echo "{\"kind\": \"meta\", \"date\": \"$(date -u +%FT%TZ)\", \"host_cores\": $(nproc), \"mpich\": \"$(mpichversion | sed -n 's/^MPICH Version:[[:space:]]*//p')\", \"netem\": \"$NETEM\", \"slow\": \"$SLOW\"}"
  cat "$T/out.jsonl"; } > "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
rm -rf "$T"
echo "wrote $OUT"
