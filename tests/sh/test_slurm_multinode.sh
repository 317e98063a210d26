#!/usr/bin/env bash
# swap-slurm on a real multi-node Slurm cluster made on this machine: 3 nodes (n1..n3), each a network + UTS +
# mount namespace with its own hostname, address and slurmd, joined by veth pairs to a bridge in a controller
# namespace (tests/sh/lib/netslurm.sh says why namespaces rather than Slurm's multiple-slurmd mode, which
# Debian's build also has). The test makes the namespaces as root and deletes them when it ends.
#
#   1. `swap-slurm submit` runs a tiny SWAP experiment: phase 1 with 2 MPI ranks on 2 different nodes (srun
#      --mpi=pmi2; MPICH's UCX forced to TCP, so the gradient all-reduce crosses the veth links; the ranks
#      report their hosts), 3 workers spread over the 3 nodes, phase 3 after them. The averaged model equals
#      the single-node run of the same experiment (swap-run) to float tolerance.
#
# Skips (exit 77) with the reason where namespaces cannot be made (not root, no CAP_NET_ADMIN, no iproute2),
# where Slurm/munge or the built executables are missing, or without Fashion-MNIST.
set -uo pipefail
SRC=${SWAP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${SWAP_BIN:-$SRC/bin}
source "$SRC/tests/sh/lib/netslurm.sh"
skip() { echo "SKIP: $*"; exit 77; }
why=$(netslurm_can_run) || skip "cannot build a namespaced cluster here: $why"
for b in swap-train swap-refine swap-average swap-inspect swap-run; do
  [[ -x $BIN/$b ]] || skip "$BIN/$b not built"
done
[[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]] || skip "Fashion-MNIST (dataset-fashion-mnist) not installed"
SWAP_SLURM="$SRC/lua/bin/swap-slurm"
if [[ -x "$BIN/swap-slurm" ]]; then SWAP_SLURM="$BIN/swap-slurm"; fi

fails=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1" >&2; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
jobs_of() { lua5.4 -e 'local j=require("cjson").decode(io.read("a")).pipelines[1].jobs print(j.phase1, j.phase2, j.phase3)' < "$1"; }

mkdir -p "${SWAP_TEST_TMP:-/tmp}"
WORK=$(mktemp -d "${SWAP_TEST_TMP:-/tmp}/slurm_multinode.XXXXXX")
cleanup() {
  if (( fails > 0 )); then NETSLURM_KEEP=1; echo "kept cluster dir $NETSLURM_DIR, work dir $WORK" >&2; fi
  netslurm_stop || true
  if (( fails == 0 )); then rm -rf "$WORK"; fi
}
trap cleanup EXIT
t0=$SECONDS
netslurm_start 3 || { bad "cluster up"; exit 1; }
ok "cluster up: $(onctl sinfo -h -N -o '%N/%c CPUs/%T' | tr '\n' ' ')($((SECONDS - t0)) s)"
cd "$WORK"

# Nodes have 2 CPUs each: phase 1 takes one on each of 2 nodes (nodes = 2), a worker takes a whole node
# (cpus_per_task = 2), so the 3 workers run side by side on the 3 nodes.
cat > site.lua <<EOF
return { mpi = "srun --mpi=pmi2", time = "00:05:00", cpus_per_task = 1, signal_seconds = 0, bin_dir = "$BIN",
         env = { UCX_TLS = "tcp,self" },
         phase1 = { nodes = 2 }, phase2 = { cpus_per_task = 2, nodes = 1 }, phase3 = { nodes = 1 } }
EOF
cat > tiny.lua <<EOF
return { name = "tiny", profile = "$WORK/site.lua", dataset = "fashion-mnist", model = "cnn", seed = 5,
         results = "$WORK/results", train_subset = 1024, test_subset = 500, threads = 1,
         phase1 = { ranks = 2, batch = 256, lr = 0.2, max_epochs = 2, bucket_mb = 0.05, eval_every = 0 },
         phase2 = { workers = 3, batch = 64, epochs = 1, lr = 0.05, eval_every = 0 },
         phase3 = { bn_batches = 4, eval_batch = 250 } }
EOF

# --- 1. a pipeline across nodes ------------------------------------------------------------------------------
onctl "$SWAP_SLURM" submit tiny.lua > submit-tiny.txt || bad "submit tiny"
read -r j1 j2 j3 < <(jobs_of results/tiny/jobs.json)
ok "submitted tiny: $j1 -> $j2 -> $j3"
# meanwhile, the same experiment on this machine alone (swap-run: mpiexec for phase 1)
"$BIN/swap-run" tiny.lua --set name=single > single.txt 2>&1 || bad "single-node swap-run"
netslurm_wait_jobs 150 "$j1" "$j2" "$j3" || bad "tiny pipeline finished within 150 s"
log1=results/tiny/slurm/phase1-$j1.out
hosts=$(sed -n 's/^swap-train: rank hosts (\([0-9]*\) node(s)): \(.*\)$/\1 \2/p' "$log1")
check "phase 1: 2 ranks on 2 different nodes ($hosts)" bash -c "[[ '$hosts' =~ ^2\ n[1-3]\ n[1-3]$ ]]"
check "phase 1: overlapped all-reduce in buckets" grep -q "gradient all-reduce of .* in 8 bucket(s), overlapped" "$log1"
whosts=$(for f in results/tiny/slurm/phase2-"$j2"_*.out; do sed -n 's/^swap-refine: rank hosts (1 node(s)): //p' "$f"; done | sort | tr '\n' ' ')
check "workers spread over the 3 nodes ($whosts)" test "$whosts" = "n1 n2 n3 "
end2=$(onctl scontrol -o show job "$j2" | grep -o 'EndTime=[^ ]*' | cut -d= -f2 | sort | tail -n 1)
start3=$(onctl scontrol -o show job "$j3" | grep -o 'StartTime=[^ ]*' | cut -d= -f2)
check "phase 3 started ($start3) after the last worker ended ($end2)" bash -c "[[ -n '$end2' && ! '$start3' < '$end2' ]]"
check "all outputs verify" "$BIN/swap-inspect" verify results/tiny/phase1/model.h5 results/tiny/phase2/worker-{0,1,2}.h5 \
  results/tiny/phase3/model.h5
check "averaged model equals the single-node run" /usr/bin/python3 - results/tiny/phase3/model.h5 results/single/phase3/model.h5 <<'PY'
import sys, h5py, numpy as np
def arrays(p):
    out = {}
    with h5py.File(p, "r") as f:
        f["model"].visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out
a, b = arrays(sys.argv[1]), arrays(sys.argv[2])
assert a.keys() == b.keys() and a, (sorted(a), sorted(b))
worst = max(float(np.abs(a[k] - b[k]).max() / max(np.abs(b[k]).max(), 1e-12)) for k in a)
print(f"     {len(a)} tensors, worst relative difference {worst:.1e}")
sys.exit(0 if worst < 1e-5 else 1)
PY
if (( fails > 0 )); then cat submit-tiny.txt single.txt results/tiny/slurm/*.out >&2 || true; fi

echo "test_slurm_multinode: $fails failures ($((SECONDS - t0)) s)"
exit $(( fails > 0 ))
