# A private single-node Slurm cluster on localhost for tests (Debian slurm-wlm 22.05 + munge).
# Source this file, then:
#   minislurm_start [DIR]   start munged, slurmctld, slurmd with their own config/state under DIR (default:
#                           a new /tmp/ms.XXXXXX; kept short because munge's socket path must be < 108 bytes);
#                           exports SLURM_CONF so sbatch/squeue/scontrol/scancel talk to this cluster.
#   minislurm_stop          stop the daemons by PID (from their pid files) and remove DIR if we created it.
#   minislurm_wait_jobs TIMEOUT ID...   wait until none of the jobs is pending/running (0) or time out (1).
# Set a trap so the cluster stops even if the test fails:  trap minislurm_stop EXIT
# A requeued job may start again after cred_expire (5 s here; Slurm's default is 120 s).
# No cgroups, no slurmdbd: proctrack/linuxproc, task/none, accounting none; finished jobs stay visible to
# squeue -t all / scontrol show job for an hour (MinJobAge); dependents of failed jobs are cancelled.

source "$(dirname "${BASH_SOURCE[0]}")/slurmconf.sh"

minislurm_available() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null &&
    command -v sbatch >/dev/null
}

_minislurm_free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

minislurm_start() {
  MINISLURM_OWN_DIR=0
  if [[ -n "${1:-}" ]]; then MINISLURM_DIR=$1; mkdir -p "$MINISLURM_DIR"
  else MINISLURM_DIR=$(mktemp -d /tmp/ms.XXXXXX); MINISLURM_OWN_DIR=1; fi
  local d=$MINISLURM_DIR
  if (( ${#d} > 60 )); then echo "minislurm: $d is too long for munge's socket path" >&2; return 1; fi
  mkdir -p "$d/munge" "$d/state" "$d/spool" "$d/log" "$d/run"
  chmod 0755 "$d" "$d/munge"   # munged wants its socket directory world-executable
  head -c 1024 /dev/urandom > "$d/munge/munge.key"
  chmod 0600 "$d/munge/munge.key"
  munged --force --socket="$d/munge/sock" --key-file="$d/munge/munge.key" --pid-file="$d/run/munged.pid" \
    --log-file="$d/log/munged.log" --seed-file="$d/munge/seed" || { echo "minislurm: munged failed" >&2; return 1; }

  local ctl_port slurmd_port node user
  ctl_port=$(_minislurm_free_port) && slurmd_port=$(_minislurm_free_port) || return 1
  node=$(slurmd -C | head -n 1 | sed -e 's/^NodeName=[^ ]*/NodeName=localhost/' -e 's/ UpTime=.*//')
  user=$(id -un)
  # as root, slurmd runs as root (as on a real cluster); as an ordinary user it runs as that user, which is enough
  # for jobs of that same user, so make check works without root
  local slurmd_user=root
  (( $(id -u) == 0 )) || slurmd_user=$user
  slurm_conf "$d" cluster=minislurm host=localhost ctl_port="$ctl_port" slurmd_port="$slurmd_port" user="$user" \
    slurmd_user="$slurmd_user" nodes="$node State=UNKNOWN" \
    partition="PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP"
  export SLURM_CONF=$d/slurm.conf
  slurmctld -i -f "$SLURM_CONF" || { echo "minislurm: slurmctld failed (see $d/log/slurmctld.log)" >&2; return 1; }
  slurmd -N localhost -f "$SLURM_CONF" || { echo "minislurm: slurmd failed (see $d/log/slurmd.log)" >&2; return 1; }
  local state
  for _ in $(seq 1 150); do
    state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1)
    if [[ "$state" == idle* ]]; then return 0; fi
    sleep 0.2
  done
  echo "minislurm: node never became idle (state '$state'); logs in $d/log" >&2
  return 1
}

_minislurm_kill_pidfile() {
  local f=$1 pid
  [[ -f "$f" ]] || return 0
  pid=$(cat "$f" 2>/dev/null)
  [[ -n "$pid" ]] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
}

minislurm_stop() {
  [[ -n "${MINISLURM_DIR:-}" ]] || return 0
  local d=$MINISLURM_DIR
  # cancel leftovers first so slurmd's steps do not outlive it
  if [[ -f "$d/run/slurmctld.pid" ]]; then scancel --full -u "$(id -un)" >/dev/null 2>&1 || true; sleep 0.5; fi
  _minislurm_kill_pidfile "$d/run/slurmd.pid"
  _minislurm_kill_pidfile "$d/run/slurmctld.pid"
  _minislurm_kill_pidfile "$d/run/munged.pid"
  if [[ "${MINISLURM_OWN_DIR:-0}" == 1 && -z "${MINISLURM_KEEP:-}" ]]; then rm -rf "$d"; fi
  MINISLURM_DIR=
}

minislurm_wait_jobs() {
  local timeout=$1; shift
  local deadline=$((SECONDS + timeout)) ids
  ids=$(IFS=,; echo "$*")
  while (( SECONDS < deadline )); do
    if [[ -z "$(squeue -h -j "$ids" -t PENDING,RUNNING,REQUEUED,CONFIGURING,COMPLETING,SUSPENDED -o %i 2>/dev/null)" ]]; then
      return 0
    fi
    sleep 0.3
  done
  return 1
}
