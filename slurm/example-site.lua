-- Example profile for a shared HPC site. Copy to slurm/<site>.lua, adjust, and select it with
-- `profile = "<site>"` in the experiment or `swap-slurm submit EXP --profile <site>`.
-- Unknown keys are errors; every value is checked before it reaches a batch script.
return {
  description = "example site: CPU partition, project account, normal QOS",
  partition = "cpu",                  -- default for all phases
  account = "proj1234",
  qos = "normal",
  time = "04:00:00",
  cpus_per_task = 8,                  -- OMP_NUM_THREADS follows SLURM_CPUS_PER_TASK
  mem_per_cpu = "2G",
  mpi = "srun --mpi=pmi2",            -- or "mpiexec" (then `-n $SLURM_NTASKS` is added)
  modules = { "gcc/12.2.0", "mpich/4.0.2", "hdf5/1.12.2", "openblas/0.3.21" },
  source = { "/etc/profile.d/modules.sh" },
  env = { OMP_PROC_BIND = "close", OMP_PLACES = "cores" },
  bin_dir = nil,                      -- default: the executables beside swap-slurm
  signal_seconds = 300,               -- USR1 five minutes before the time limit
  requeue = true,
  max_requeues = 20,
  sbatch = { "--mail-type=FAIL", "--exclusive" }, -- extra #SBATCH options for every phase
  phase1 = { time = "12:00:00", nodes = 2, mem_per_cpu = "3G" },
  phase2 = { time = "02:00:00", partition = "cpu-short", sbatch = { "--nice=10" } },
  phase3 = { time = "00:30:00", cpus_per_task = 16 },
}
