-- Default profile: a single-node Slurm cluster (a workstation, or the private test cluster started by
-- tests/sh/lib/minislurm.sh). No partition/account: the cluster's default partition is used.
return {
  description = "single-node cluster, default partition",
  mpi = "srun --mpi=pmi2",       -- MPICH talks PMI2 with srun; `mpiexec` also works inside an allocation
  time = "02:00:00",              -- every phase; override per phase below
  cpus_per_task = 1,
  signal_seconds = 60,            -- USR1 this long before the time limit -> checkpoint and requeue
  requeue = true,
  max_requeues = 10,
  phase3 = { time = "00:30:00" },
}
