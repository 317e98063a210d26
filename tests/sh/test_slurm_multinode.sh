#!/usr/bin/env bash
# swap-slurm on a real multi-node Slurm cluster made on this machine: 3 nodes (n1..n3), each a network + UTS +
# mount namespace with its own hostname, address and slurmd, joined by veth pairs to a bridge in a controller
# namespace (tests/sh/lib/netslurm.sh says why namespaces rather than Slurm's multiple-slurmd mode, which
# Debian's build also has). The test makes the namespaces as root and deletes them when it ends.
#
#   1. `swap-slurm submit` runs a tiny SWAP experiment: phase 1 with 2 MPI ranks on 2 different nodes (srun
#      --mpi=pmi2; MPICH's UCX forced to TCP, so the gradient all-reduce crosses the veth links; the ranks
#      report their hosts), 3 workers spread over the 3 nodes, phase 3 after them. The averaged model equals
#      the single-node run of the same experiment (swap-run) to float tolerance. Then worker groups: 2 workers
#      of phase2.ranks_per_worker = 2, each array task 2 ranks on 2 nodes, again equal to swap-run's result.
#   2. Faults in phase 2: a worker's node is killed mid-run (every process in its namespaces): Slurm marks it
#      down and requeues the task (--requeue), which resumes from its checkpoint elsewhere; a worker that keeps
#      failing is retried up to the profile's max_retries; phase 3 with phase3.min_workers goes on and names the
#      missing worker in summary.json; every file written verifies.
#   3. A phase-1 rank killed on one node ends the whole MPI job within seconds (the scripts export
#      SLURM_KILL_BAD_EXIT=1: MPICH over UCX/TCP would otherwise leave the other rank blocked forever), its
#      dependents are cancelled without starting, and `swap-slurm status` says why.
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
# the names themselves must differ: the "2 node(s)" count is the program's own, not evidence
read -r _ h0 h1 <<< "$hosts"
check "phase 1: 2 ranks on 2 different nodes ($hosts)" bash -c "[[ '$hosts' =~ ^2\ n[1-3]\ n[1-3]$ && '$h0' != '$h1' ]]"
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

# --- 1b. worker groups across nodes: each worker a 2-rank data-parallel group on 2 nodes -------------------------
# phase2.ranks_per_worker = 2 and the profile's phase2 nodes = 2: each array task gets 2 tasks on 2 nodes, and
# the worker's gradient sum crosses the veth link. Same arithmetic as the same experiment under swap-run on this
# machine (mpiexec -n 2 per worker), so the averaged models agree to float tolerance.
sed -e 's/phase2 = { cpus_per_task = 2, nodes = 1 }/phase2 = { cpus_per_task = 1, nodes = 2 }/' site.lua > site-g.lua
sed -e 's/name = "tiny"/name = "groups"/' -e 's#/site.lua"#/site-g.lua"#' \
    -e 's/workers = 3, batch = 64/workers = 2, ranks_per_worker = 2, batch = 64/' tiny.lua > groups.lua
onctl "$SWAP_SLURM" submit groups.lua > submit-groups.txt || bad "submit groups"
read -r g1 g2 g3 < <(jobs_of results/groups/jobs.json)
"$BIN/swap-run" groups.lua --set name=groups-single > groups-single.txt 2>&1 || bad "single-node swap-run of groups"
netslurm_wait_jobs 150 "$g1" "$g2" "$g3" || bad "groups pipeline finished within 150 s"
check "the worker array task asks for 2 tasks on 2 nodes" bash -c "grep -q '^#SBATCH --ntasks=2$' results/groups/slurm/phase2.sbatch && grep -q '^#SBATCH --nodes=2$' results/groups/slurm/phase2.sbatch"
for w in 0 1; do
  gh=$(sed -n 's/^swap-refine: rank hosts (\([0-9]*\) node(s)): \(.*\)$/\1 \2/p' results/groups/slurm/phase2-"${g2}_$w".out)
  read -r _ a b <<< "$gh"
  check "worker $w: a 2-rank group on 2 different nodes ($gh)" bash -c "[[ '$gh' =~ ^2\ n[1-3]\ n[1-3]$ && '$a' != '$b' ]]"
done
check "groups: outputs verify" "$BIN/swap-inspect" verify results/groups/phase2/worker-{0,1}.h5 results/groups/phase3/model.h5
check "groups: averaged model equals swap-run's on one machine" /usr/bin/python3 - results/groups/phase3/model.h5 results/groups-single/phase3/model.h5 <<'PY'
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
if (( fails > 0 )); then cat submit-groups.txt groups-single.txt results/groups/slurm/*.out >&2 || true; fi

# --- 2. faults in phase 2: a worker node dies, a worker keeps failing -------------------------------------------
# Worker 1 cannot write its output (a directory sits at its path): it fails, is retried once (max_retries = 1),
# fails again. Worker 2's node is killed outright mid-run (slurmd, step daemon, program: everything in the
# node's namespaces): Slurm finds the node not responding, marks it DOWN and requeues the job (--requeue),
# which resumes from its last checkpoint on another node. Phase 3 (min_workers = 2) then averages workers 0
# and 2 and names worker 1 as missing.
sed -e 's/^return {/return { max_retries = 1, requeue = true,/' site.lua > site-f.lua
cat > faults.lua <<EOF
return { name = "faults", profile = "$WORK/site-f.lua", dataset = "fashion-mnist", model = "cnn", seed = 6,
         results = "$WORK/results", train_subset = 1024, test_subset = 500, threads = 1,
         phase1 = { ranks = 2, batch = 256, lr = 0.2, max_epochs = 1, eval_every = 0 },
         phase2 = { workers = 3, batch = 64, epochs = 4, lr = 0.05, eval_every = 0, checkpoint_every = 1 },
         phase3 = { bn_batches = 4, eval_batch = 250, min_workers = 2 } }
EOF
mkdir -p results/faults/phase2/worker-1.h5
onctl "$SWAP_SLURM" submit faults.lua > submit-faults.txt || bad "submit faults"
read -r f1 f2 f3 < <(jobs_of results/faults/jobs.json)
w2log=results/faults/slurm/phase2-${f2}_2.out
for _ in $(seq 1 600); do grep -q "epoch   1/4" "$w2log" 2>/dev/null && break; sleep 0.2; done
victim=$(sed -n 's/^swap-refine: rank hosts (1 node(s)): n//p' "$w2log" | head -n 1)
if [[ -n $victim ]]; then
  netslurm_kill_node "$victim"
  ok "killed node n$victim while worker 2 ran on it (after its first epoch)"
else
  bad "worker 2 started"
fi
netslurm_wait_jobs 150 "$f1" "$f2" "$f3" || bad "faults pipeline finished within 150 s"
state=$(onctl sinfo -h -n "n$victim" -o %T)
check "node n$victim is down ($state)" bash -c "[[ '$state' == down* ]]"
w2=$(onctl scontrol -o show job "${f2}_2")
check "worker 2 requeued after the node failure, then completed" bash -c "grep -q 'Restarts=[1-9]' <<< '$w2' && grep -q 'JobState=COMPLETED' <<< '$w2'"
check "requeued worker 2 resumed from its checkpoint" grep -q "resuming .*worker-2" "$w2log"
w1=$(onctl scontrol -o show job "${f2}_1")
check "worker 1 retried once (max_retries = 1), then failed" bash -c "grep -q 'Restarts=1 ' <<< '$w1' && grep -q 'JobState=FAILED' <<< '$w1'"
check "worker 1's log says max_retries was reached" grep -q "max_retries 1 reached" results/faults/slurm/phase2-"${f2}"_1.out
s3=$(onctl scontrol -o show job "$f3")
check "phase 3 completed with min_workers = 2" bash -c "grep -q 'JobState=COMPLETED' <<< '$s3'"
check "summary.json names the missing worker" /usr/bin/python3 -c "
import json, sys; d = json.load(open('results/faults/summary.json'))
sys.exit(0 if d['missing_workers'] == [1] and [w['worker'] for w in d['workers']] == [0, 2] else 1)"
# nothing written is lost or half-written: every file under its final name verifies
files=$(find results/faults -name '*.h5' -type f | sort)
check "every checkpoint written verifies ($(echo $files | wc -w) files)" "$BIN/swap-inspect" verify $files
check "phase 1 and workers 0, 2 kept" test -f results/faults/phase1/model.h5 -a -f results/faults/phase2/worker-0.h5 -a -f results/faults/phase2/worker-2.h5
if (( fails > 0 )); then cat results/faults/slurm/*.out >&2 || true; fi

# --- 3. a phase-1 rank killed on one node ends the whole job; dependents never start ----------------------------
cat > p1kill.lua <<EOF
return { name = "p1kill", profile = "$WORK/site.lua", dataset = "fashion-mnist", model = "cnn", seed = 7,
         results = "$WORK/results", train_subset = 1024, test_subset = 500, threads = 1,
         phase1 = { ranks = 2, batch = 256, lr = 0.2, max_epochs = 50, eval_every = 0 },
         phase2 = { workers = 2, batch = 64, epochs = 1 } }
EOF
onctl "$SWAP_SLURM" submit p1kill.lua > submit-p1kill.txt || bad "submit p1kill"
read -r k1 k2 k3 < <(jobs_of results/p1kill/jobs.json)
klog=results/p1kill/slurm/phase1-$k1.out
for _ in $(seq 1 600); do grep -q "epoch   1/50" "$klog" 2>/dev/null && break; sleep 0.2; done
rank1_node=$(sed -n 's/^swap-train: rank hosts (2 node(s)): n[0-9]* n//p' "$klog")
pid=
if [[ -n $rank1_node ]]; then
  for p in $(ip netns pids "$NETSLURM_TAG-n$rank1_node"); do
    [[ "$(readlink /proc/"$p"/exe 2>/dev/null)" == */swap-train ]] && pid=$p
  done
fi
if [[ -n $pid ]]; then kill -9 "$pid"; ok "killed rank 1 (pid $pid on n$rank1_node) during epoch 2"; else bad "found rank 1's process"; fi
tk=$SECONDS
netslurm_wait_jobs 60 "$k1" || bad "phase-1 job ended within 60 s of losing a rank"
ok "phase-1 job ended $((SECONDS - tk)) s after the kill"
s1=$(onctl scontrol -o show job "$k1")
check "phase 1 FAILED ($(grep -o 'JobState=[^ ]*\|Reason=[^ ]*\|ExitCode=[^ ]*' <<< "$s1" | tr '\n' ' '))" bash -c "grep -q 'JobState=FAILED' <<< '$s1'"
netslurm_wait_jobs 20 "$k2" "$k3" || bad "dependents left the queue"
for j in "$k2" "$k3"; do
  sj=$(onctl scontrol -o show job "$j" | head -n 1 | grep -o 'JobState=[^ ]*\|Reason=[^ ]*' | tr '\n' ' ')
  # a batch script that started would have created its log
  logs=$(find results/p1kill/slurm -name "phase*-${j}*.out" | wc -l)
  check "dependent $j never started ($sj, $logs logs)" bash -c "[[ '$sj' == *JobState=CANCELLED* && $logs == 0 ]]"
done
onctl "$SWAP_SLURM" status p1kill.lua > status-p1kill.txt 2>&1 && st=0 || st=$?
sed 's/^/     /' status-p1kill.txt | head -n 20
check "status exits non-zero" test "$st" != 0
check "status: phase 1 failed" grep -q "phase 1  job $k1: FAILED" status-p1kill.txt
check "status: dependents never ran because phase 1 failed" grep -q "DependencyNeverSatisfied" status-p1kill.txt
# why phase 1 failed: the end of its log names the lost rank (srun's "task 1: Killed")
check "status: phase 1's log shows rank 1 was killed" grep -q "| .*task 1: Killed" status-p1kill.txt
check "no phase-1 model written" test ! -e results/p1kill/phase1/model.h5
if (( fails > 0 )); then cat "$klog" >&2 || true; fi

echo "test_slurm_multinode: $fails failures ($((SECONDS - t0)) s)"
exit $(( fails > 0 ))
