# A private multi-node Slurm cluster on one machine for tests: every node is a network + UTS + mount namespace
# with its own hostname, address and slurmd; the controller (slurmctld, munged) sits in one more namespace that
# holds the bridge all nodes hang off by veth pairs. Nothing is configured in the host's own namespaces, so
# the test's traffic never leaves them and teardown is "kill what runs in them, delete them".
#
# Why namespaces and not Slurm's multiple-slurmd mode (Debian's 22.05 build has it: `scontrol show config`
# says MULTIPLE_SLURMD = Yes): with multiple slurmd every "node" has the host's name and loopback address, so
# MPICH would see one host and use shared memory, a test could not tell that two ranks ran on two nodes, and
# downing a node would not cut it off. Namespaces give real per-node hostnames, TCP between nodes, and a
# node that can be killed as a whole.
#
# Needs root (CAP_SYS_ADMIN + CAP_NET_ADMIN), iproute2, util-linux unshare, slurm-wlm, munge.
# Source this file, then:
#   netslurm_can_run            0 if namespaces, veth and a bridge can be made here; else prints why, returns 1
#   netslurm_start N            start an N-node cluster (n1..nN); exports SLURM_CONF, NETSLURM_CTL (namespace)
#   onctl CMD...                run CMD in the controller's namespace (sbatch, squeue, swap-slurm ...)
#   onnode I CMD...             run CMD on node nI (its namespaces, its hostname)
#   netslurm_kill_node I        kill every process of node nI at once (slurmd, steps, the job's programs)
#   netslurm_wait_jobs T ID...  wait until none of the jobs is pending/running (0) or T seconds pass (1)
#   netslurm_stop               kill everything in the namespaces, delete them and the cluster directory
# Set a trap: trap netslurm_stop EXIT

source "$(dirname "${BASH_SOURCE[0]}")/slurmconf.sh"

NETSLURM_DIR=
NETSLURM_NODES=0
NETSLURM_TAG=

netslurm_can_run() {
  local t="swp$$c"
  if [[ $(id -u) != 0 ]]; then echo "not root: network namespaces need CAP_SYS_ADMIN/CAP_NET_ADMIN"; return 1; fi
  local c
  for c in ip unshare nsenter slurmctld slurmd munged sbatch srun; do
    command -v "$c" >/dev/null || { echo "$c not installed"; return 1; }
  done
  local err
  if ! err=$(ip netns add "$t" 2>&1); then echo "cannot create a network namespace: $err"; return 1; fi
  if ! err=$(ip -n "$t" link add "b$$" type bridge 2>&1 && ip -n "$t" link add "v$$a" type veth peer name "v$$b" 2>&1 &&
             nsenter --net="/run/netns/$t" unshare --uts --mount true 2>&1); then
    ip netns del "$t" 2>/dev/null
    echo "cannot make a bridge, veth pair or UTS/mount namespace: $err"; return 1
  fi
  ip netns del "$t"
  return 0
}

# nsenter, not `ip netns exec`: the latter remounts /sys for the namespace, which hides /sys/fs/cgroup, and
# slurmd 22.05 will not start without it
inns() { local ns=$1; shift; nsenter --net="/run/netns/$ns" "$@"; }
onctl() { inns "$NETSLURM_CTL" "$@"; }

# nsenter into the node's slurmd: its network, UTS and mount namespaces (the hostname and /etc/hosts)
onnode() {
  local i=$1; shift
  local pid
  pid=$(cat "$NETSLURM_DIR/run/slurmd-n$i.pid")
  nsenter -t "$pid" -n -u -m "$@"
}

netslurm_start() {
  local n=$1 d i
  NETSLURM_NODES=$n
  NETSLURM_DIR=$(mktemp -d /tmp/ns.XXXXXX)
  d=$NETSLURM_DIR
  NETSLURM_TAG="swp${d##*.}"
  NETSLURM_CTL="$NETSLURM_TAG-ctl"
  export NETSLURM_CTL
  mkdir -p "$d/munge" "$d/state" "$d/spool" "$d/log" "$d/run"
  chmod 0755 "$d" "$d/munge"
  head -c 1024 /dev/urandom > "$d/munge/munge.key"
  chmod 0600 "$d/munge/munge.key"
  # a /24 from 10.213.0.0/16 that no interface of the host uses (the namespaces are separate anyway; this
  # only keeps error messages unambiguous)
  local net=10.213.$((RANDOM % 250 + 2))
  ip netns add "$NETSLURM_CTL" || return 1
  ip -n "$NETSLURM_CTL" link set lo up
  ip -n "$NETSLURM_CTL" link add br0 type bridge
  ip -n "$NETSLURM_CTL" addr add "$net.1/24" dev br0
  ip -n "$NETSLURM_CTL" link set br0 up
  {
    echo "127.0.0.1 localhost"
    echo "$net.1 ctl"
    for ((i = 1; i <= n; i++)); do echo "$net.$((10 + i)) n$i"; done
  } > "$d/hosts"
  for ((i = 1; i <= n; i++)); do
    local ns="$NETSLURM_TAG-n$i"
    ip netns add "$ns" || return 1
    ip link add "v$i" netns "$NETSLURM_CTL" type veth peer name eth0 netns "$ns" || return 1
    ip -n "$NETSLURM_CTL" link set "v$i" master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$net.$((10 + i))/24" dev eth0
    ip -n "$ns" link set eth0 up
  done

  local node
  node=$(slurmd -C | head -n 1 | sed -e 's/^NodeName=[^ ]* //' -e 's/ UpTime=.*//')
  slurm_conf "$d" cluster=netslurm host="ctl($net.1)" ctl_port=6817 slurmd_port=6818 user=root slurmd_user=root \
    per_node=-%n message_timeout=5 slurmd_timeout=10 \
    nodes="NodeName=n[1-$n] NodeAddr=$net.[11-$((10 + n))] $node State=UNKNOWN" \
    partition="PartitionName=debug Nodes=n[1-$n] Default=YES MaxTime=INFINITE State=UP"
  export SLURM_CONF=$d/slurm.conf
  # controller namespace: hostname "ctl" (slurmctld checks it is the SlurmctldHost), munged there too (its
  # socket is a file, reachable from every namespace)
  onctl unshare --uts --mount --propagation private bash -c "
    hostname ctl && mount --bind '$d/hosts' /etc/hosts &&
    munged --force --socket='$d/munge/sock' --key-file='$d/munge/munge.key' --pid-file='$d/run/munged.pid' \
      --log-file='$d/log/munged.log' --seed-file='$d/munge/seed' &&
    slurmctld -i -f '$SLURM_CONF'" || { echo "netslurm: controller failed (see $d/log)" >&2; return 1; }
  for ((i = 1; i <= n; i++)); do
    mkdir -p "$d/spool/n$i"
    inns "$NETSLURM_TAG-n$i" unshare --uts --mount --propagation private bash -c "
      hostname n$i && mount --bind '$d/hosts' /etc/hosts && exec slurmd -N n$i -f '$SLURM_CONF'" ||
      { echo "netslurm: slurmd n$i failed (see $d/log/slurmd-n$i.log)" >&2; return 1; }
  done
  local idle
  for _ in $(seq 1 150); do
    idle=$(onctl sinfo -h -N -t idle -o '%N' 2>/dev/null | sort -u | wc -l)
    if (( idle == n )); then return 0; fi
    sleep 0.2
  done
  echo "netslurm: only $idle of $n nodes became idle; logs in $d/log" >&2
  onctl sinfo -N >&2 || true
  return 1
}

netslurm_kill_node() {
  local ns="$NETSLURM_TAG-n$1"
  # every process whose network namespace is the node's: the node dies at once, as in a power cut
  ip netns pids "$ns" | xargs -r kill -9
}

netslurm_wait_jobs() {
  local timeout=$1; shift
  local deadline=$((SECONDS + timeout)) ids
  ids=$(IFS=,; echo "$*")
  while (( SECONDS < deadline )); do
    if [[ -z "$(onctl squeue -h -j "$ids" -t PENDING,RUNNING,REQUEUED,CONFIGURING,COMPLETING,SUSPENDED -o %i 2>/dev/null)" ]]; then
      return 0
    fi
    sleep 0.3
  done
  return 1
}

netslurm_stop() {
  [[ -n "${NETSLURM_TAG:-}" ]] || return 0
  local ns i
  for ((i = 1; i <= NETSLURM_NODES; i++)); do
    ns="$NETSLURM_TAG-n$i"
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
  done
  ip netns pids "$NETSLURM_CTL" 2>/dev/null | xargs -r kill -9 2>/dev/null
  sleep 0.2
  for ((i = 1; i <= NETSLURM_NODES; i++)); do ip netns del "$NETSLURM_TAG-n$i" 2>/dev/null; done
  ip netns del "$NETSLURM_CTL" 2>/dev/null
  if [[ -z "${NETSLURM_KEEP:-}" ]]; then rm -rf "$NETSLURM_DIR"; fi
  NETSLURM_TAG=
}
