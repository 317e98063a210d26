# The slurm.conf both test clusters run with (minislurm: one node on localhost; netslurm: nodes in network
# namespaces). Source this file, then:
#   slurm_conf DIR key=value...   write DIR/slurm.conf; keys: cluster, host (SlurmctldHost), ctl_port,
#                                 slurmd_port, user, slurmd_user, nodes and partition (their whole lines),
#                                 per_node ("-%n": one slurmd pid/log file per node), message_timeout (empty:
#                                 Slurm's default), slurmd_timeout (default 30)
# What the clusters share: munge auth, no cgroups, no accounting, a fast backfill scheduler, requeue allowed.
slurm_conf() {
  local d=$1; shift
  local cluster host ctl_port slurmd_port user slurmd_user nodes partition per_node="" message_timeout=""
  local slurmd_timeout=30 kv nl=$'\n'
  for kv in "$@"; do local "$kv"; done
  cat > "$d/slurm.conf" <<CONF
ClusterName=$cluster
SlurmctldHost=$host
SlurmctldPort=$ctl_port
SlurmdPort=$slurmd_port
SlurmUser=$user
SlurmdUser=$slurmd_user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/sock,cred_expire=5
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/%n
SlurmctldPidFile=$d/run/slurmctld.pid
SlurmdPidFile=$d/run/slurmd$per_node.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd$per_node.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmi2
MinJobAge=3600
DependencyParameters=kill_invalid_depend
JobRequeue=1
ReturnToService=2
KillWait=5
InactiveLimit=0
${message_timeout:+MessageTimeout=$message_timeout$nl}SlurmctldTimeout=30
SlurmdTimeout=$slurmd_timeout
$nodes
$partition
CONF
}
