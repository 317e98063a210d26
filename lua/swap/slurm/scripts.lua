-- Batch scripts: the job of each phase (argv, resources, log), its #SBATCH lines, the script text around the
-- run/forward/requeue wrapper (wrapper.sh beside this file), sbatch command lines and dependencies.
local profile = require "swap.profile"
local shell = require "swap.shell"
local sys = require "swap.sys"
local context = require "swap.slurm.context"

local M = {}

local function fail(msg) error(msg, 0) end

M.EXIT_PREEMPTED = 3

-- "0,2-5,7" from a sorted list of indices.
function M.ranges(list)
  local parts, i = {}, 1
  while i <= #list do
    local j = i
    while j < #list and list[j + 1] == list[j] + 1 do j = j + 1 end
    parts[#parts + 1] = (j > i) and (list[i] .. "-" .. list[j]) or tostring(list[i])
    i = j + 1
  end
  return table.concat(parts, ",")
end

function M.array_spec(indices, parallel)
  local spec = M.ranges(indices)
  if parallel > 0 and parallel < #indices then spec = spec .. "%" .. parallel end
  return spec
end

local RAW = {} -- marker for words that are our own shell text (variable expansions), not user data
local function raw(s) return setmetatable({ s = s }, RAW) end

local function render(argv)
  local out = {}
  for i, w in ipairs(argv) do out[i] = getmetatable(w) == RAW and w.s or shell.quote(w) end
  return table.concat(out, " ")
end

function M.launcher(ctx)
  local words = {}
  for w in ctx.profile.mpi:gmatch("%S+") do words[#words + 1] = w end
  local prog = words[1]:match("([^/]+)$")
  if prog == "mpiexec" or prog == "mpirun" or prog == "mpiexec.hydra" then
    words[#words + 1] = "-n"
    words[#words + 1] = raw('"$SLURM_NTASKS"')
  end
  return words
end

local PHASE_TITLE = { "phase 1: large-batch data-parallel SGD", "phase 2: small-batch refinement",
  "phase 3: average, recompute BN statistics, evaluate", "baseline: one model from scratch, for comparison" }
M.BASELINE = 4 -- the "phase" number of baseline jobs (their resources: the profile's `baselines` section)

-- The job: { phase, ntasks, array (spec or nil), argv, log, script } for phase 1, 2, 3 of a pipeline, or
-- baseline `bname` (phase M.BASELINE). Phase 1 and baselines take the pipeline's group (pl.group).
function M.job(ctx, pl, phase, work, bname)
  if (phase == 1 or phase == M.BASELINE) and pl.group then pl = pl.group end
  local f = pl.flat
  local exp = ctx.snapshot
  local j = { phase = phase, script = pl.dir .. "/slurm/phase" .. phase .. ".sbatch" }
  local argv = {}
  local function add(list) for _, w in ipairs(list) do argv[#argv + 1] = w end end
  local function sets()
    for _, o in ipairs(pl.overrides) do add({ "--set", o }) end
    -- the data file by absolute path: a job's working directory is not the experiment's
    if f.dataset == "hdf5" then add({ "--set", "data_file=" .. sys.abspath(f.data_file, ctx.cwd) }) end
  end
  if phase == M.BASELINE then
    j.baseline = bname
    j.script = pl.dir .. "/slurm/baseline-" .. bname .. ".sbatch"
    j.ntasks = f["baselines." .. bname .. ".ranks"]
    add(M.launcher(ctx)); add({ ctx.bin_dir .. "/swap-train", exp, "--baseline", bname }); sets()
    j.log = pl.dir .. "/slurm/baseline-" .. bname .. "-%j.out"
  elseif phase == 1 then
    j.ntasks = f["phase1.ranks"]
    add(M.launcher(ctx)); add({ ctx.bin_dir .. "/swap-train", exp }); sets()
    j.log = pl.dir .. "/slurm/phase1-%j.out"
  elseif phase == 2 and f["phase2.mode"] == "independent" then
    j.ntasks = f["phase2.ranks_per_worker"] -- a worker group: k tasks, one array task per worker
    local idx = work and work.workers or nil
    if not idx or #idx == 0 then
      idx = {}
      for i = 0, f["phase2.workers"] - 1 do idx[#idx + 1] = i end
    end
    j.array = M.array_spec(idx, f["phase2.parallel"])
    if j.ntasks > 1 then add(M.launcher(ctx)) end
    add({ ctx.bin_dir .. "/swap-refine", exp, "--worker", raw('"$SLURM_ARRAY_TASK_ID"') }); sets()
    j.log = pl.dir .. "/slurm/phase2-%A_%a.out"
  elseif phase == 2 then
    j.ntasks = f["phase2.workers"] -- one member per rank (ranks_per_worker is 1)
    add(M.launcher(ctx)); add({ ctx.bin_dir .. "/swap-refine", exp, "--mode", f["phase2.mode"] }); sets()
    j.log = pl.dir .. "/slurm/phase2-%j.out"
  else
    j.ntasks = 1
    add({ ctx.bin_dir .. "/swap-average", exp }); sets()
    j.log = pl.dir .. "/slurm/phase3-%j.out"
  end
  -- threads = 0 means "all cores" to the executables (sysconf); under Slurm it must mean what the job got
  local tkey = phase == 3 and "threads" or phase == M.BASELINE and ("baselines." .. bname .. ".threads") or
    ("phase" .. phase .. ".threads")
  local cpus = ctx.profile.phase[phase].cpus_per_task
  if cpus and f[tkey] == 0 and f.threads == 0 then add({ "--set", tkey .. "=" .. cpus }) end
  j.argv = argv
  j.job_name = phase == M.BASELINE and ("swapb:" .. pl.name .. ":" .. bname) or ("swap" .. phase .. ":" .. pl.name)
  j.label = phase == M.BASELINE and ("baseline " .. bname) or ("phase " .. phase)
  return j
end

local SBATCH_ORDER = { "partition", "account", "qos", "time", "nodes", "cpus_per_task", "mem", "mem_per_cpu", "gres",
  "constraint" }

-- #SBATCH lines: only validated tokens (sbatch parses these lines itself, without shell quoting).
function M.sbatch_lines(ctx, pl, j)
  local prof = ctx.profile
  local ph = prof.phase[j.phase]
  local L = {}
  local function opt(name, value, what)
    L[#L + 1] = "#SBATCH --" .. name .. (value ~= nil and ("=" .. shell.check_sbatch(what or name, tostring(value))) or "")
  end
  opt("job-name", j.job_name, "experiment name")
  for _, k in ipairs(SBATCH_ORDER) do
    if ph[k] ~= nil then opt(profile.phase_keys[k].sbatch, ph[k], "profile " .. k) end
  end
  opt("ntasks", j.ntasks)
  if j.array then opt("array", j.array) end
  if prof.signal_seconds > 0 then opt("signal", "B:USR1@" .. prof.signal_seconds) end
  -- Slurm's default (JobRequeue=1) requeues a batch job whose node fails even without --requeue: a profile
  -- that says requeue = false must say --no-requeue for such a job to fail (NODE_FAIL) instead
  opt(prof.requeue and "requeue" or "no-requeue")
  opt("open-mode", "append")
  -- paths are also passed on the sbatch command line; here only when they need no quoting
  if shell.sbatch_safe(j.log) then opt("output", j.log) end
  if shell.sbatch_safe(ctx.cwd) then opt("chdir", ctx.cwd) end
  for _, l in ipairs(ph.sbatch or {}) do L[#L + 1] = "#SBATCH " .. l end
  return L
end

-- The run/forward/requeue wrapper every script carries: wrapper.sh beside this file, from the line after its
-- shellcheck directive on (the lines above it are for readers and shellcheck). Read once per process.
local wrapper
local function wrapper_text()
  if wrapper then return wrapper end
  local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
  local path = dir .. "/wrapper.sh"
  local text = sys.read(path) or fail(path .. ": cannot read the batch-script wrapper (incomplete installation?)")
  wrapper = text:match("\n# shellcheck [^\n]*\n(.*)$") or fail(path .. ": no '# shellcheck' line before the wrapper")
  return wrapper
end

function M.script(ctx, pl, j)
  local prof = ctx.profile
  local L = { "#!/bin/bash", "# Generated by swap-slurm: " .. PHASE_TITLE[j.phase] .. "." }
  -- the name is validated (safe characters only), so it can appear in a comment
  L[#L + 1] = "# pipeline: " .. pl.name
  for _, l in ipairs(M.sbatch_lines(ctx, pl, j)) do L[#L + 1] = l end
  L[#L + 1] = ""
  L[#L + 1] = "set -u"
  L[#L + 1] = "cd " .. shell.quote(ctx.cwd) .. " || exit 1"
  for _, s in ipairs(prof.source) do L[#L + 1] = ". " .. shell.quote(s) .. " || exit 1" end
  if #prof.modules > 0 then
    L[#L + 1] = "module load " .. shell.join(prof.modules) .. " || exit 1"
  end
  local env_keys = {}
  for k in pairs(prof.env) do env_keys[#env_keys + 1] = k end
  table.sort(env_keys)
  for _, k in ipairs(env_keys) do L[#L + 1] = "export " .. k .. "=" .. shell.quote(tostring(prof.env[k])) end
  L[#L + 1] = "# threads = 0 in the experiment means: what Slurm gave this task"
  L[#L + 1] = 'if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then export OMP_NUM_THREADS="$SLURM_CPUS_PER_TASK"; fi'
  -- an MPI job cannot go on without one of its ranks, and a rank blocked in a collective on a dead peer may
  -- never notice (MPICH over UCX/TCP does not): srun ends the whole step when any task exits badly
  L[#L + 1] = "export SLURM_KILL_BAD_EXIT=1"
  L[#L + 1] = "SWAP_MAX_REQUEUES=" .. math.tointeger(prof.max_requeues)
  L[#L + 1] = "SWAP_MAX_RETRIES=" .. math.tointeger(prof.max_retries)
  L[#L + 1] = wrapper_text()
  L[#L + 1] = "swap_run " .. render(j.argv)
  L[#L + 1] = "swap_finish $?"
  return table.concat(L, "\n") .. "\n"
end

-- sbatch command line for a job; deps is a dependency string or nil.
function M.sbatch_argv(ctx, pl, j, deps)
  local argv = { "sbatch", "--parsable", "--chdir=" .. ctx.cwd, "--output=" .. j.log }
  if deps then
    argv[#argv + 1] = "--dependency=" .. deps
    argv[#argv + 1] = "--kill-on-invalid-dep=yes"
  end
  argv[#argv + 1] = j.script
  return argv
end

-- Dependency strings given the job ids of phase 1 and phase 2 (nil = not submitted / skipped).
function M.dependencies(pl, id1, id2)
  local d2 = id1 and ("afterok:" .. id1) or nil
  local d3
  if id2 then
    -- with min_workers, phase 3 runs once the array is over even if some workers failed; it checks the count
    d3 = (pl.flat["phase3.min_workers"] > 0 and pl.flat["phase2.mode"] == "independent")
      and ("afterany:" .. id2 .. (id1 and (",afterok:" .. id1) or "")) or ("afterok:" .. id2)
  elseif id1 then
    d3 = "afterok:" .. id1
  end
  return d2, d3
end

-- Write the snapshot of the experiment and every pipeline's scripts; returns the per-pipeline plans
-- { pl, work, jobs = {phase 1, 2, 3}, group, first (first pipeline of its group), baseline_jobs }. A group's
-- phase 1 runs when a pipeline of it needs phase 1; its baselines run when they do not verify.
function M.write_scripts(ctx)
  sys.mkdir_p(ctx.base_dir .. "/slurm")
  local src = sys.read(ctx.experiment) or fail(ctx.experiment .. ": cannot read")
  sys.write_atomic(ctx.snapshot, src)
  for _, path in ipairs(ctx.imports) do
    local name = path:match("[^/]+$")
    if name == "experiment.lua" then fail(path .. ": an imported experiment may not be named experiment.lua") end
    sys.write_atomic(ctx.base_dir .. "/slurm/" .. name, sys.read(path) or fail(path .. ": cannot read"))
  end
  local plans = {}
  context.verify_all(ctx)
  for _, g in ipairs(ctx.groups) do
    sys.mkdir_p(g.dir .. "/slurm")
    local j1 = M.job(ctx, g.pipelines[1], 1)
    sys.write_atomic(j1.script, M.script(ctx, g, j1), "0755")
    g.run1 = false
    local first
    for _, pl in ipairs(g.pipelines) do
      sys.mkdir_p(pl.dir .. "/slurm")
      local work = context.work(ctx, pl)
      g.run1 = g.run1 or work.run1
      local jobs = { j1 }
      for phase = 2, 3 do
        local j = M.job(ctx, pl, phase, phase == 2 and work or nil)
        sys.write_atomic(j.script, M.script(ctx, pl, j), "0755")
        jobs[phase] = j
      end
      local plan = { pl = pl, work = work, jobs = jobs, group = g }
      if not first then
        first = plan
        plan.first = true
        plan.baseline_jobs = {}
        for _, b in ipairs(work.baselines) do
          local jb = M.job(ctx, pl, M.BASELINE, nil, b)
          sys.write_atomic(jb.script, M.script(ctx, g, jb), "0755")
          plan.baseline_jobs[#plan.baseline_jobs + 1] = jb
        end
      end
      plans[#plans + 1] = plan
    end
    -- a shared phase 1 that must run again invalidates every worker of the group
    if g.run1 then
      for _, p in ipairs(plans) do
        if p.group == g and not p.work.run1 and p.work.run3 then
          p.work.run1 = true
          p.work.workers = {}
          for i = 0, p.pl.flat["phase2.workers"] - 1 do p.work.workers[#p.work.workers + 1] = i end
          p.jobs[2] = M.job(ctx, p.pl, 2, p.work)
          sys.write_atomic(p.jobs[2].script, M.script(ctx, p.pl, p.jobs[2]), "0755")
        end
      end
    end
  end
  ctx.verified = nil
  return plans
end

return M
