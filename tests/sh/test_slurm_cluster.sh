#!/usr/bin/env bash
# swap-slurm on a real (private, single-node) Slurm cluster: job ordering through dependencies, array
# throttling, preemption (USR1 -> checkpoint exit 3 -> requeue -> resume), a failing phase 1 whose dependents
# never run (and `status` says why), skipping verified outputs on resubmission, collect.
#
# The mechanics run against small stand-in executables written below into a temporary bin_dir (selected
# through the profile's bin_dir), which record start/end times and write the files the real ones would.
# When $SWAP_BIN holds the real swap-train, swap-refine, swap-average and swap-inspect (and Fashion-MNIST is
# installed), two tiny real pipelines also run through the cluster: one plain, one preempted (USR1) in phase 1.
# Two ctests: `test_slurm_cluster.sh` (stand-ins) and `test_slurm_cluster.sh real` (sh_test_slurm_cluster_real);
# each exits 77 (ctest SKIP) when what it needs is absent.
set -euo pipefail
SRC=${SWAP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$SRC/tests/sh/lib/minislurm.sh"
PART=${1:-standins}
[[ $PART == standins || $PART == real ]] || { echo "usage: $0 [standins|real]" >&2; exit 2; }
if ! minislurm_available; then echo "SKIP: Slurm cluster test ($PART): slurm-wlm/munge not installed"; exit 77; fi
if [[ $PART == real ]] && ! [[ -n ${SWAP_BIN:-} && -x $SWAP_BIN/swap-train && -x $SWAP_BIN/swap-refine &&
      -x $SWAP_BIN/swap-average && -x $SWAP_BIN/swap-inspect &&
      -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]]; then
  echo "SKIP: Slurm cluster test with the real executables: needs SWAP_BIN with swap-train, swap-refine," \
    "swap-average, swap-inspect and Fashion-MNIST"
  exit 77
fi

# the installed copy (bin/swap-slurm) when the build made one, else the source
SWAP_SLURM="$SRC/lua/bin/swap-slurm"
if [[ -n "${SWAP_BIN:-}" && -x "$SWAP_BIN/swap-slurm" ]]; then SWAP_SLURM="$SWAP_BIN/swap-slurm"; fi
fails=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1" >&2; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

WORK=$(mktemp -d "${SWAP_TEST_TMP:-/tmp}/slurm_cluster.XXXXXX")
cleanup() {
  if (( fails > 0 )); then MINISLURM_KEEP=1; echo "kept cluster dir $MINISLURM_DIR" >&2; fi
  minislurm_stop || true
  if (( fails == 0 )); then rm -rf "$WORK"; else echo "kept $WORK for inspection" >&2; fi
}
trap cleanup EXIT
minislurm_start
ok "cluster up ($(sinfo -h -N -o '%N %c CPUs %T'))"

# --- stand-in executables ----------------------------------------------------------------------------------
BIN=$WORK/bin
mkdir -p "$BIN"
cat > "$BIN/resolve.lua" <<EOF
package.path = "$SRC/lua/?.lua;" .. package.path
local c = require "swap.config"
local ok, f = pcall(c.resolve, arg[1], { table.unpack(arg, 2) })
if not ok then io.stderr:write(f, "\n") os.exit(1) end
print(f.results .. "/" .. f.name, f.seed, f["phase2.workers"])
EOF
cat > "$BIN/standin" <<'EOF'
#!/bin/bash
# Stand-in for the SWAP executables (CLI contract: EXP [--worker i] [--mode m] [--set k=v]...).
set -u
here=$(dirname "$0")
prog=$(basename "$0")
if [[ $prog == swap-inspect ]]; then
  [[ ${1:-} == verify ]] || exit 2
  shift
  echo "$#" >> "$here/verify-calls.log"   # one line per verifier process
  bad=0
  for f in "$@"; do
    if [[ "$(head -c 2 "$f" 2>/dev/null)" == ok ]]; then echo "$f: OK stand-in"; else echo "$f: not a checkpoint"; bad=1; fi
  done
  exit $bad
fi
exp=$1; shift
sets=(); worker=${SLURM_ARRAY_TASK_ID:-}; mode=""; baseline=""
while (($#)); do
  case $1 in
    --set) sets+=("$2"); shift 2 ;;
    --worker) worker=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    *) echo "$prog: usage error: $1" >&2; exit 2 ;;
  esac
done
read -r dir seed workers < <(lua5.4 "$here/resolve.lua" "$exp" "${sets[@]}") || exit 1
ev() { echo "$1 $(date +%s.%N)" >> "$dir/events.log"; }
rank=${SLURM_PROCID:-0}
case $prog in
  swap-train)
    [[ $rank == 0 ]] || exit 0
    if [[ -n $baseline ]]; then
      mkdir -p "$dir/baseline-$baseline"
      ev "bl-$baseline-start job=${SLURM_JOB_ID:-}"
      sleep 1
      echo ok > "$dir/baseline-$baseline/model.h5"
      ev "bl-$baseline-end"
      exit 0
    fi
    mkdir -p "$dir/phase1"
    ev p1-start
    if [[ $seed == 13 ]]; then echo "swap-train: error: injected failure for the test" >&2; ev p1-fail; exit 1; fi
    if [[ $seed == 7 && ! -e $dir/phase1/ckpt ]]; then
      trap 'echo ckpt > "$dir/phase1/ckpt"; ev p1-preempted; exit 3' USR1 TERM
      ev p1-waiting
      for _ in $(seq 1 300); do sleep 0.1; done
      exit 1
    fi
    sleep 1
    echo ok > "$dir/phase1/model.h5"
    ev p1-end ;;
  swap-refine)
    mkdir -p "$dir/phase2"
    if [[ -n $mode ]]; then worker=$rank; fi   # wash/papa: one MPI job, rank = worker
    ev "p2-start-$worker job=${SLURM_JOB_ID:-} ntasks=${SLURM_NTASKS:-} mode=$mode"
    sleep 1
    echo ok > "$dir/phase2/worker-$worker.h5"
    ev "p2-end-$worker" ;;
  swap-average)
    mkdir -p "$dir/phase3"
    ev p3-start
    ws=""
    for ((i = 0; i < workers; i++)); do
      [[ -e $dir/phase2/worker-$i.h5 ]] || { echo "swap-average: error: worker $i missing" >&2; exit 1; }
      ws+="${ws:+,}{\"worker\":$i,\"test_acc\":0.8$i,\"time_s\":$((10 + i))}"
    done
    printf '{"name":"x","phase1":{"test_acc":0.7,"time_s":100},"workers":[%s],"average":{"test_acc_before_bn":0.5,"test_acc":0.9},"ensemble":{"test_acc":0.91},"phase3":{"time_s":5}}\n' "$ws" > "$dir/summary.json"
    echo ok > "$dir/phase3/model.h5"
    ev p3-end ;;
esac
EOF
chmod +x "$BIN/standin"
for b in swap-train swap-refine swap-average swap-inspect; do ln -s standin "$BIN/$b"; done

cat > "$WORK/site.lua" <<EOF
return { mpi = "srun --mpi=pmi2", time = "00:05:00", cpus_per_task = 1, signal_seconds = 30,
         bin_dir = "$BIN", max_requeues = 3 }
EOF
cat > "$WORK/mini.lua" <<EOF
return { name = "mini", seed = 7, profile = "$WORK/site.lua",
         phase1 = { ranks = 2, batch = 64 }, phase2 = { workers = 3, parallel = 2 } }
EOF
cat > "$WORK/bad.lua" <<EOF
return { name = "bad", profile = "$WORK/site.lua", sweep = { seed = { 13 } },
         phase1 = { ranks = 1, batch = 64 }, phase2 = { workers = 2 } }
EOF
cat > "$WORK/wash.lua" <<EOF
return { name = "wash", profile = "$WORK/site.lua", phase1 = { ranks = 1, batch = 64 },
         phase2 = { mode = "wash", workers = 2 } }
EOF
# a sweep over phase-2 modes with a baseline: one phase 1 (and one baseline) for both pipelines
cat > "$WORK/modes.lua" <<EOF
return { name = "modes", profile = "$WORK/site.lua", phase1 = { ranks = 1, batch = 64 }, phase2 = { workers = 2 },
         baselines = { small = { batch = 32 } }, sweep = { ["phase2.mode"] = { "independent", "wash" } } }
EOF
cd "$WORK"

if [[ $PART == standins ]]; then
# --- plan and submit ------------------------------------------------------------------------------------------
"$SWAP_SLURM" plan mini.lua > plan.txt
check "plan writes three scripts" test -x results/mini/slurm/phase1.sbatch -a -x results/mini/slurm/phase2.sbatch -a -x results/mini/slurm/phase3.sbatch
check "plan submits nothing" test -z "$(squeue -h -t all -o %i)"
check "plan shows the throttled array" grep -q -- "--array=0-2%2" plan.txt

"$SWAP_SLURM" submit mini.lua > submit-mini.txt
"$SWAP_SLURM" submit bad.lua > submit-bad.txt
"$SWAP_SLURM" submit wash.lua > submit-wash.txt
"$SWAP_SLURM" submit modes.lua > submit-modes.txt
mode_jobs=$(lua5.4 -e 'local ids={} for _,p in ipairs(require("cjson").decode(io.read("a")).pipelines) do for _,id in pairs(p.jobs) do ids[id]=true end end for id in pairs(ids) do io.write(id," ") end' < results/modes/jobs.json)
# (dependencies read while the jobs wait: Slurm clears them once satisfied)
modes_deps=$(lua5.4 -e 'for _,p in ipairs(require("cjson").decode(io.read("a")).pipelines) do io.write(p.jobs.phase2," ") end' < results/modes/jobs.json |
  xargs -n 1 scontrol -o show job | grep -o "Dependency=afterok:[0-9]*" | sort | uniq -c)
read -r w1 w2 w3 < <(lua5.4 -e 'local j=require("cjson").decode(io.read("a")).pipelines[1].jobs print(j.phase1, j.phase2, j.phase3)' < results/wash/jobs.json)
read -r m1 m2 m3 < <(lua5.4 -e 'local j=require("cjson").decode(io.read("a")).pipelines[1].jobs print(j.phase1, j.phase2, j.phase3)' < results/mini/jobs.json)
read -r b1 b2 b3 < <(lua5.4 -e 'local j=require("cjson").decode(io.read("a")).pipelines[1].jobs print(j.phase1, j.phase2, j.phase3)' < results/bad/jobs.json)
ok "submitted mini: $m1 -> $m2 -> $m3, bad/seed=13: $b1 -> $b2 -> $b3"
check "array throttle reached Slurm" bash -c "scontrol -o show job $m2 | grep -q 'ArrayTaskThrottle=2'"
check "array dependency is afterok on phase 1" bash -c "scontrol -o show job $m2 | grep -q 'Dependency=afterok:$m1'"

# --- preemption: USR1 to the batch shell -> checkpoint, exit 3, requeue, resume --------------------------------
for _ in $(seq 1 150); do grep -q p1-waiting results/mini/events.log 2>/dev/null && break; sleep 0.2; done
check "phase 1 started" grep -q p1-waiting results/mini/events.log
scancel --batch --signal=USR1 "$m1"
for _ in $(seq 1 150); do grep -q p1-end results/mini/events.log 2>/dev/null && break; sleep 0.2; done
check "phase 1 checkpointed on USR1" grep -q p1-preempted results/mini/events.log
check "requeued job resumed and finished" grep -q p1-end results/mini/events.log
check "phase 1 ran twice (requeue)" test "$(grep -c p1-start results/mini/events.log)" = 2

# shellcheck disable=SC2086
if ! minislurm_wait_jobs 90 "$m1" "$m2" "$m3" "$b1" "$b2" "$b3" "$w1" "$w2" "$w3" $mode_jobs; then bad "jobs finished within 90 s"; squeue -t all; fi

# --- ordering ---------------------------------------------------------------------------------------------------
ev() { awk -v k="$2" '$1 ~ "^"k {print $NF}' "results/$1/events.log"; }
p1_end=$(ev mini p1-end | sort -g | tail -n 1)
p2_first=$(ev mini p2-start | sort -g | head -n 1)
p2_last_end=$(ev mini p2-end | sort -g | tail -n 1)
p3_start=$(ev mini p3-start | head -n 1)
check "three workers ran" test "$(ev mini p2-end | wc -l)" = 3
check "every phase-2 task started after phase 1 ended" awk -v a="$p1_end" -v b="$p2_first" 'BEGIN { exit !(b > a) }'
check "phase 3 started after all phase-2 tasks ended" awk -v a="$p2_last_end" -v b="$p3_start" 'BEGIN { exit !(b > a) }'
# throttle %2: never three workers at once
cur=0; max=0
while read -r _ d; do cur=$((cur + d)); ((cur > max)) && max=$cur; done < <(awk '$1 ~ /^p2-start/ {print $NF, 1} $1 ~ /^p2-end/ {print $NF, -1}' results/mini/events.log | sort -g)
check "array throttle held (max $max concurrent)" test "$max" -le 2
check "outputs written" test -e results/mini/phase3/model.h5 -a -e results/mini/summary.json

rm -f "$BIN/verify-calls.log"
"$SWAP_SLURM" status mini.lua > status-mini.txt && st=0 || st=$?
check "status runs one verifier process for all files" test "$(wc -l < "$BIN/verify-calls.log")" = 1
check "status exits 0 when complete" test "$st" = 0
check "status shows COMPLETED phases" grep -q "phase 3  job $m3: COMPLETED" status-mini.txt
check "status shows verified files" grep -q "results/mini/phase2/worker-2.h5 ok" status-mini.txt

# --- wash: phase 2 is one 2-rank MPI job, not an array ----------------------------------------------------------------
check "wash: both workers ran in one 2-task job ($w2)" test "$(grep -c "^p2-start-[01] job=$w2 ntasks=2 mode=wash" results/wash/events.log)" = 2
check "wash: phase 3 done" test -e results/wash/phase3/model.h5
check "wash: phase 2 started after phase 1" awk -v a="$(ev wash p1-end)" -v b="$(ev wash p2-start | sort -g | head -n 1)" 'BEGIN { exit !(b > a) }'

# --- shared phase 1: a sweep over phase-2 modes trains phase 1 once; the baseline is its own job -------------------------
read -r md1 mdb < <(lua5.4 -e 'local j=require("cjson").decode(io.read("a")).pipelines[1].jobs print(j.phase1, j["baseline-small"])' < results/modes/jobs.json)
check "modes: phase 1 ran once for both pipelines" test "$(grep -c p1-start results/modes/events.log)" = 1
check "modes: both pipelines averaged" test -e "results/modes/phase2.mode=independent/phase3/model.h5" -a -e "results/modes/phase2.mode=wash/phase3/model.h5"
check "modes: pipelines wrote no phase 1 of their own" test ! -e "results/modes/phase2.mode=wash/phase1"
check "modes: both phase 2s depend on the one phase 1 ($md1): $modes_deps" test "$(echo $modes_deps)" = "2 Dependency=afterok:$md1"
check "modes: phase 2 started after phase 1 ended" awk -v a="$(ev modes p1-end)" -v b="$(ev 'modes/phase2.mode=wash' p2-start | sort -g | head -n 1)" 'BEGIN { exit !(b > a) }'
check "modes: baseline ran once, in its own job ($mdb)" test "$(grep -c "bl-small-start job=$mdb" results/modes/events.log)" = 1
check "modes: baseline had no dependency" bash -c "scontrol -o show job $mdb | grep -q 'Dependency=(null)'"
"$SWAP_SLURM" status modes.lua > status-modes.txt && st=0 || st=$?
check "modes: status complete, baseline included" bash -c "test $st = 0 && grep -q 'baseline small job $mdb: COMPLETED' status-modes.txt"

# --- failing phase 1: dependents never run, status says why -----------------------------------------------------
check "failed pipeline's dependents never ran" test -z "$(grep -E 'p2|p3' 'results/bad/seed=13/events.log')"
"$SWAP_SLURM" status bad.lua > status-bad.txt && st=0 || st=$?
check "status exits non-zero when incomplete" test "$st" = 4
check "status: phase 1 failed with exit 1" grep -q "phase 1  job $b1: FAILED (NonZeroExitCode: the program exited with an error; exit 1:0)" status-bad.txt
check "status shows the failing program's message" grep -q "swap-train: error: injected failure" status-bad.txt
check "status: dependents cancelled because phase 1 failed" grep -q "DependencyNeverSatisfied: a job it depends on failed" status-bad.txt
check "sweep pipeline name in the job name" bash -c "scontrol -o show job $b1 | grep -q 'JobName=swap1:bad/seed=13'"

# --- resubmission skips verified outputs --------------------------------------------------------------------------
n_before=$(squeue -h -t all -o %i | wc -l)
"$SWAP_SLURM" submit mini.lua > resubmit1.txt
check "complete pipeline: nothing resubmitted" test "$(squeue -h -t all -o %i | wc -l)" = "$n_before"
rm results/mini/phase2/worker-1.h5 results/mini/phase3/model.h5
"$SWAP_SLURM" submit mini.lua > resubmit2.txt
read -r r1 r2 r3 < <(lua5.4 -e 'local j=require("cjson").decode(io.read("a")).pipelines[1].jobs print(j.phase1, j.phase2, j.phase3)' < results/mini/jobs.json)
check "phase 1 skipped on resubmit" test "$r1" = nil
check "only worker 1 resubmitted" bash -c "scontrol -o show job $r2 | grep -q 'ArrayTaskId=1 '"
minislurm_wait_jobs 60 "$r2" "$r3" || bad "resubmitted jobs finished"
check "worker 1 rebuilt" test -e results/mini/phase2/worker-1.h5
check "phase 1 not rerun" test "$(grep -c p1-start results/mini/events.log)" = 2

# --- collect --------------------------------------------------------------------------------------------------------
"$SWAP_SLURM" collect mini.lua > collect.txt
check "collect wrote csv and md" test -s results/mini/collect.csv -a -s results/mini/collect.md
# critical path = phase1 100 + max worker 12 + phase3 5
check "collect critical path" grep -q "| mini | 0.7000 | 100.0 | 3 | 0.8100 | 0.8200 | 12.0 | 0.5000 | 0.9000 | 0.9100 | 5.0 | 117.0 | ok |" collect.txt

# --- cancel -----------------------------------------------------------------------------------------------------------
cat > "$WORK/slow.lua" <<EOF
return { name = "slow", seed = 7, profile = "$WORK/site.lua", phase1 = { ranks = 1, batch = 64 }, phase2 = { workers = 2 } }
EOF
"$SWAP_SLURM" submit slow.lua > /dev/null
read -r s1 s2 s3 < <(lua5.4 -e 'local j=require("cjson").decode(io.read("a")).pipelines[1].jobs print(j.phase1, j.phase2, j.phase3)' < results/slow/jobs.json)
"$SWAP_SLURM" cancel slow.lua > cancel.txt
check "cancel names the jobs" grep -q "cancelled" cancel.txt
minislurm_wait_jobs 30 "$s1" "$s2" "$s3" || bad "cancelled jobs left the queue"
check "cancelled jobs are CANCELLED" bash -c "scontrol -o show job $s3 | grep -q 'JobState=CANCELLED'"
check "no worker of the cancelled pipeline ran" test -z "$(grep p2 results/slow/events.log 2>/dev/null)"

# --- submit over a queued chain: refused (plan too); --replace cancels it first and keeps it on record ----------
cat > "$WORK/slow2.lua" <<EOF
return { name = "slow2", seed = 7, profile = "$WORK/site.lua", phase1 = { ranks = 1, batch = 64 }, phase2 = { workers = 2 } }
EOF
"$SWAP_SLURM" submit slow2.lua > /dev/null
read -r s1 s2 s3 < <(lua5.4 -e 'local j=require("cjson").decode(io.read("a")).pipelines[1].jobs print(j.phase1, j.phase2, j.phase3)' < results/slow2/jobs.json)
# a second submit or a plan while that chain is queued or running: refused, nothing of the chain touched
cp results/slow2/jobs.json jobs-first.json
cp results/slow2/slurm/experiment.lua snapshot-first.lua
cp results/slow2/slurm/phase1.sbatch phase1-first.sbatch
sed -i 's/workers = 2/workers = 3/' "$WORK/slow2.lua"
check "second submit while the chain is queued: refused" bash -c "! '$SWAP_SLURM' submit slow2.lua > /dev/null 2> submit2.err"
check "refusal says why and how to replace" grep -q "still queued or running.*submit --replace" submit2.err
check "plan while the chain is queued: refused" bash -c "! '$SWAP_SLURM' plan slow2.lua > /dev/null 2> plan2.err"
check "the refusals kept jobs.json" cmp -s jobs-first.json results/slow2/jobs.json
check "the refusals kept the queued chain's experiment snapshot and scripts" \
  bash -c "cmp -s snapshot-first.lua results/slow2/slurm/experiment.lua && cmp -s phase1-first.sbatch results/slow2/slurm/phase1.sbatch"
check "only the first chain is queued" test "$(squeue -h -o %j | grep -c 'swap1:slow2')" = 1
# --replace: the first chain is cancelled before the new one goes in, and stays on record in jobs.json
"$SWAP_SLURM" submit --replace slow2.lua > replace.txt
check "replace says it cancelled the first chain" grep -q "cancelled the earlier chain: .*$s1" replace.txt
check "the first chain is no longer queued or running" bash -c "! squeue -h -o %i | grep -qx '$s1'"
read -r f1 n1 n2 n3 < <(lua5.4 -e 'local j=require("cjson").decode(io.read("a")) local p=j.pipelines[1].jobs
  print(j.replaced[1].pipelines[1].jobs.phase1, p.phase1, p.phase2, p.phase3)' < results/slow2/jobs.json)
check "jobs.json keeps the replaced chain" test "$f1" = "$s1"
check "jobs.json follows the new chain" test "$n1" != "$s1"
check "the replaced chain's jobs were cancelled, not requeued" bash -c "for j in $s1 $s2 $s3; do
  o=\$(scontrol -o show job \$j 2>/dev/null) || continue; grep -Eq 'JobState=(CANCELLED|COMPLETED|FAILED)' <<< \"\$o\" || exit 1
  done"
check "the new chain has 3 workers" grep -q -- '--array=0-2' results/slow2/slurm/phase2.sbatch
"$SWAP_SLURM" cancel slow2.lua > /dev/null
minislurm_wait_jobs 60 "$n1" "$n2" "$n3" || bad "the replacing chain left the queue after cancel"

fi # standins

# --- the real executables (bin_dir = $SWAP_BIN) ------------------------------------------------------------------------
if [[ $PART == real ]]; then
  cat > "$WORK/real-site.lua" <<EOF
return { mpi = "srun --mpi=pmi2", time = "00:10:00", cpus_per_task = 1, bin_dir = "$SWAP_BIN" }
EOF
  cat > "$WORK/real.lua" <<EOF
return { name = "real", profile = "$WORK/real-site.lua", dataset = "fashion-mnist", model = "mlp", seed = 3,
         train_subset = 1024, test_subset = 500, data = { val_split = 300 },
         phase1 = { ranks = 2, batch = 256, lr = 0.2, max_epochs = 2 },
         phase2 = { workers = 2, batch = 64, epochs = 1, lr = 0.05 },
         phase3 = { bn_batches = 4, eval_batch = 250, soup = "greedy" },
         baselines = { small = { batch = 64, epochs = 1 }, large = { batch = 256, epochs = 2, ranks = 2 } } }
EOF
  # preempted after its first epoch: checkpoint, requeue, resume
  cat > "$WORK/realpre.lua" <<EOF
return { name = "realpre", profile = "$WORK/real-site.lua", dataset = "fashion-mnist", model = "mlp", seed = 3,
         train_subset = 16384, test_subset = 500,
         phase1 = { ranks = 2, batch = 256, lr = 0.2, max_epochs = 4 },
         phase2 = { workers = 2, batch = 64, epochs = 1, lr = 0.05 },
         phase3 = { bn_batches = 4, eval_batch = 250 } }
EOF
  # worker groups: 2 workers, each a 2-rank data-parallel group (an array task with 2 tasks under srun)
  cat > "$WORK/groups.lua" <<EOF
return { name = "groups", profile = "$WORK/real-site.lua", dataset = "fashion-mnist", model = "mlp", seed = 3,
         train_subset = 1024, test_subset = 500,
         phase1 = { ranks = 1, batch = 256, lr = 0.2, max_epochs = 1 },
         phase2 = { workers = 2, ranks_per_worker = 2, batch = 64, epochs = 1, lr = 0.05 },
         phase3 = { bn_batches = 4, eval_batch = 250 } }
EOF
  "$SWAP_SLURM" submit realpre.lua > submit-realpre.txt
  "$SWAP_SLURM" submit real.lua > submit-real.txt
  "$SWAP_SLURM" submit groups.lua > submit-groups.txt
  read -r g1 g2 g3 < <(lua5.4 -e 'local j=require("cjson").decode(io.read("a")).pipelines[1].jobs print(j.phase1, j.phase2, j.phase3)' < results/groups/jobs.json)
  read -r e1 e2 e3 < <(lua5.4 -e 'local j=require("cjson").decode(io.read("a")).pipelines[1].jobs print(j.phase1, j.phase2, j.phase3)' < results/realpre/jobs.json)
  for _ in $(seq 1 300); do grep -q "epoch   1/4" results/realpre/slurm/phase1-"$e1".out 2>/dev/null && break; sleep 0.2; done
  scancel --batch --signal=USR1 "$e1"
  read -r q1 q2 q3 qs ql < <(lua5.4 -e 'local j=require("cjson").decode(io.read("a")).pipelines[1].jobs print(j.phase1, j.phase2, j.phase3, j["baseline-small"], j["baseline-large"])' < results/real/jobs.json)
  minislurm_wait_jobs 240 "$q1" "$q2" "$q3" "$qs" "$ql" "$e1" "$e2" "$e3" "$g1" "$g2" "$g3" || bad "real pipelines finished within 240 s"
  check "groups: the array task asks for 2 tasks" grep -q "^#SBATCH --ntasks=2$" results/groups/slurm/phase2.sbatch
  check "groups: workers started under srun" grep -q "srun --mpi=pmi2 .*/swap-refine" results/groups/slurm/phase2.sbatch
  check "groups: both workers ran as 2 ranks, phase 3 averaged them" /usr/bin/python3 -c '
import h5py, json
for w in (0, 1):
    with h5py.File(f"results/groups/phase2/worker-{w}.h5", "r") as f:
        assert int(f.attrs["world_size"]) == 2, (w, dict(f.attrs))
s = json.load(open("results/groups/summary.json"))
assert len(s["workers"]) == 2, s'
  check "real: phase 1 checkpointed on USR1" grep -q "signal received: wrote" results/realpre/slurm/phase1-"$e1".out
  check "real: requeued phase 1 resumed" grep -q "resuming results/realpre/phase1/resume.h5" results/realpre/slurm/phase1-"$e1".out
  check "real: job restarted once" bash -c "scontrol -o show job $e1 | grep -q 'Restarts=1 '"
  check "real: preempted pipeline completed" "$SWAP_BIN/swap-inspect" verify results/realpre/phase3/model.h5
  check "real: all outputs verify" "$SWAP_BIN/swap-inspect" verify results/real/phase1/model.h5 results/real/phase2/worker-0.h5 \
    results/real/phase2/worker-1.h5 results/real/phase3/model.h5
  check "real: baselines submitted without dependency" bash -c "scontrol -o show job $qs | grep -q 'Dependency=(null)' && scontrol -o show job $ql | grep -q 'Dependency=(null)'"
  check "real: baseline checkpoints verify" "$SWAP_BIN/swap-inspect" verify results/real/baseline-small/model.h5 results/real/baseline-large/model.h5
  for b in small large; do
    "$SWAP_BIN/swap-inspect" eval results/real/baseline-$b/model.h5 --subset 500 --json > eval-$b.json
    check "real: summary row of baseline $b matches swap-inspect eval" /usr/bin/python3 -c '
import json, sys
s, e = json.load(open("results/real/summary.json")), json.load(open(sys.argv[1]))
r = s["baselines"][sys.argv[2]]
assert abs(r["test_acc"] - e["test_acc"]) < 1e-6 and abs(r["test_loss"] - e["test_loss"]) < 1e-4, (r, e)
assert r["images"] > 0 and r["wall_s"] > 0 and "phase1" in s and "critical_path" in s, s' eval-$b.json $b
  done
  check "real: greedy soup on the validation split" /usr/bin/python3 -c '
import json, sys; d = json.load(open("results/real/summary.json"))
sys.exit(not (d["soup"]["kind"] == "greedy" and len(d["soup"]["steps"]) == 2 and d["val_samples"] == 300))'
  "$SWAP_SLURM" status real.lua > status-real.txt && st=0 || st=$?
  check "real: status complete" test "$st" = 0
  "$SWAP_SLURM" collect real.lua > collect-real.txt
  sed "s/^/     /" collect-real.txt
  check "real: collect row ok" grep -q "^| real | .* | ok |$" collect-real.txt
  if (( fails > 0 )); then cat status-real.txt results/real*/slurm/*.out >&2 || true; fi
fi

echo "test_slurm_cluster ($PART): $fails failures"
exit $(( fails > 0 ))
