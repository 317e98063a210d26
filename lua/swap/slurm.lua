-- Slurm job chains for SWAP: phase 1 (one MPI job) -> phase 2 (job array of W workers, or one W-rank MPI job
-- for wash/papa) -> phase 3 (averaging), linked by afterok dependencies. Generates batch scripts, submits,
-- reports status, cancels, and collects results.
--
-- One table over the modules that do the work, in the order a command uses them:
--   swap.sys              running commands (sys.exec: tests replace it to stand in for Slurm) and files
--   swap.slurm.context    the experiment resolved into pipelines, their output files, what must run
--   swap.slurm.scripts    jobs, #SBATCH lines, the batch scripts (around wrapper.sh), dependencies
--   swap.slurm.commands   plan, submit, status, cancel
--   swap.slurm.collect    collect: summaries into tables and plots
local M = {}
for _, name in ipairs({ "swap.sys", "swap.slurm.context", "swap.slurm.scripts", "swap.slurm.commands",
  "swap.slurm.collect" }) do
  for k, v in pairs(require(name)) do
    assert(M[k] == nil, name .. " redefines swap.slurm." .. k)
    M[k] = v
  end
end
return M
