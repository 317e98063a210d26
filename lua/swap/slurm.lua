-- Slurm job chains for SWAP: phase 1 (one MPI job) -> phase 2 (job array of W workers, or one W-rank MPI job
-- for wash/papa) -> phase 3 (averaging), linked by afterok dependencies. Generates batch scripts, submits,
-- reports status, cancels, and collects results. Commands run through M.exec so tests can stand in for Slurm.
local config = require "swap.config"
local profile = require "swap.profile"
local shell = require "swap.shell"
local sweep = require "swap.sweep"

local M = {}

M.EXIT_PREEMPTED = 3
M.ACTIVE = { PENDING = true, RUNNING = true, REQUEUED = true, REQUEUE_HOLD = true, REQUEUE_FED = true,
  SUSPENDED = true, CONFIGURING = true, COMPLETING = true, RESIZING = true, SIGNALING = true, STOPPED = true,
  STAGE_OUT = true, RESV_DEL_HOLD = true, SPECIAL_EXIT = true }

-- Run argv (no shell interpretation: every word is quoted); returns exit code and combined output.
function M.exec(argv)
  local p = io.popen(shell.join(argv) .. " 2>&1", "r")
  local out = p:read("a")
  local ok, how, code = p:close()
  if how == "signal" then code = 128 + code end
  if ok then code = 0 end
  return code, out
end

local function fail(msg) error(msg, 0) end

-- Files ----------------------------------------------------------------------------------------------------

function M.cwd()
  local p = io.popen("pwd -P")
  local d = p:read("l")
  p:close()
  return d
end

-- Absolute, with "." and ".." components resolved textually.
function M.abspath(path, base)
  if path:sub(1, 1) ~= "/" then path = (base or M.cwd()) .. "/" .. path end
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." then
      if #parts > 0 then parts[#parts] = nil end
    elseif part ~= "." then
      parts[#parts + 1] = part
    end
  end
  return "/" .. table.concat(parts, "/")
end

function M.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

function M.mkdir_p(dir)
  local code, out = M.exec({ "mkdir", "-p", "--", dir })
  if code ~= 0 then fail(dir .. ": cannot create directory: " .. out:gsub("\n$", "")) end
end

-- Write via a temporary name in the same directory and rename, so readers never see a partial file.
function M.write_atomic(path, text, mode)
  local tmp = path .. ".tmp." .. tostring(os.time()) .. "." .. tostring(math.random(1, 1e9))
  local f, err = io.open(tmp, "wb")
  if not f then fail(path .. ": cannot write (" .. tostring(err) .. ")") end
  f:write(text)
  f:flush()
  f:close()
  if mode then M.exec({ "chmod", mode, "--", tmp }) end
  local ok, rerr = os.rename(tmp, path)
  if not ok then
    os.remove(tmp)
    fail(path .. ": cannot rename into place (" .. tostring(rerr) .. ")")
  end
end

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- Context: the experiment resolved into pipelines ---------------------------------------------------------

-- opts: experiment (path), overrides (list of "k=v"), profile (name/path, overrides the experiment's),
-- bin_dir, root (repository root: slurm/ profiles live there), cwd (submit directory).
function M.load(opts)
  local cwd = opts.cwd or M.cwd()
  local tbl, source, imports = config.load_file(opts.experiment)
  local overrides = opts.overrides or {}
  local base = config.resolve_table(tbl, overrides, opts.experiment, source)
  local prof = profile.load(opts.profile or base.profile, opts.root)
  local ctx = {
    experiment = M.abspath(opts.experiment, cwd),
    overrides = overrides,
    base = base,
    profile = prof,
    cwd = cwd,
    root = opts.root,
    bin_dir = M.abspath(opts.bin_dir or prof.bin_dir or (opts.root .. "/bin"), cwd),
    results = M.abspath(base.results, cwd),
  }
  ctx.base_dir = ctx.results .. "/" .. base.name
  ctx.snapshot = ctx.base_dir .. "/slurm/experiment.lua"
  ctx.imports = imports -- files the experiment imports: snapshotted beside it under their own names
  ctx.jobs_file = ctx.base_dir .. "/jobs.json"
  ctx.pipelines = {}
  -- groups share phase 1 and the baselines (one pipeline each unless the sweep varies phase-2/3 keys)
  ctx.groups = sweep.plan(base, overrides, ctx.results)
  local function resolve(name, ovs, swept)
    local ok, flat = pcall(config.resolve_table, tbl, ovs, opts.experiment, source)
    if not ok then fail((swept and ("sweep pipeline '" .. name .. "': ") or "") .. flat) end
    return flat
  end
  for _, g in ipairs(ctx.groups) do
    g.dir = ctx.results .. "/" .. g.name
    g.flat = resolve(g.name, g.overrides, #g.pipelines > 1 or g.name ~= base.name)
    for _, pl in ipairs(g.pipelines) do
      pl.flat = resolve(pl.name, pl.overrides, pl.suffix ~= nil)
      pl.dir = ctx.results .. "/" .. pl.name
      pl.group = g
      ctx.pipelines[#ctx.pipelines + 1] = pl
    end
  end
  return ctx
end

function M.outputs(pl)
  local gdir = pl.group and pl.group.dir or pl.dir
  local o = { phase1 = gdir .. "/phase1/model.h5", phase3 = pl.dir .. "/phase3/model.h5", workers = {}, baselines = {} }
  for i = 0, pl.flat["phase2.workers"] - 1 do o.workers[i] = pl.dir .. "/phase2/worker-" .. i .. ".h5" end
  o.summary = pl.dir .. "/summary.json"
  o.baseline_names = config.baseline_names(pl.flat)
  for _, b in ipairs(o.baseline_names) do o.baselines[b] = gdir .. "/baseline-" .. b .. "/model.h5" end
  -- a shared group's own summary.json holds its baselines' rows
  o.group_summary = gdir .. "/summary.json"
  return o
end

-- "ok" (exists and `swap-inspect verify` accepts it), "missing", "invalid", or "unverified" (no verifier).
-- Answers from ctx.verified when M.verify_all filled it (one verifier process for many files).
function M.verify(ctx, file)
  if ctx.verified and ctx.verified[file] then return ctx.verified[file] end
  if not M.exists(file) then return "missing" end
  local inspect = ctx.bin_dir .. "/swap-inspect"
  if not M.exists(inspect) then return "unverified" end
  local code = M.exec({ inspect, "verify", file })
  return code == 0 and "ok" or "invalid"
end

-- Verify every output file of every pipeline with as few `swap-inspect verify` processes as possible (one per
-- VERIFY_BATCH files: a 50-pipeline sweep is one process, not hundreds) and remember the answers in
-- ctx.verified. `verify` prints "FILE: OK ..." for each good file; anything else about a file means invalid.
local VERIFY_BATCH = 1000
function M.verify_all(ctx)
  local verified, present = {}, {}
  for _, pl in ipairs(ctx.pipelines) do
    local o = M.outputs(pl)
    local files = { o.phase1, o.phase3 }
    for i = 0, pl.flat["phase2.workers"] - 1 do files[#files + 1] = o.workers[i] end
    for _, b in ipairs(o.baseline_names) do files[#files + 1] = o.baselines[b] end
    for _, f in ipairs(files) do
      if verified[f] == nil then
        if M.exists(f) then
          verified[f] = "invalid"
          present[#present + 1] = f
        else
          verified[f] = "missing"
        end
      end
    end
  end
  local inspect = ctx.bin_dir .. "/swap-inspect"
  if not M.exists(inspect) then
    for _, f in ipairs(present) do verified[f] = "unverified" end
  else
    for lo = 1, #present, VERIFY_BATCH do
      local argv = { inspect, "verify" }
      for i = lo, math.min(lo + VERIFY_BATCH - 1, #present) do argv[#argv + 1] = present[i] end
      local _, out = M.exec(argv)
      for line in out:gmatch("[^\n]+") do
        local f = line:match("^(.*): OK ")
        if f and verified[f] then verified[f] = "ok" end
      end
    end
  end
  -- summary.json is no checkpoint: "ok" when it parses
  local cjson = require "cjson"
  for _, pl in ipairs(ctx.pipelines) do
    local o = M.outputs(pl)
    for _, f in ipairs({ o.summary, o.group_summary }) do
      local text = M.read(f)
      verified[f] = not text and "missing" or (pcall(cjson.decode, text) and "ok" or "invalid")
    end
  end
  ctx.verified = verified -- for this command only: the caller clears it (files change between commands)
  return verified
end

-- What must run: a phase is skipped only when its outputs verify and nothing before it reruns.
function M.work(ctx, pl)
  local o = M.outputs(pl)
  local w = { state = { workers = {}, baselines = {} }, baselines = {} }
  for _, b in ipairs(o.baseline_names) do
    w.state.baselines[b] = M.verify(ctx, o.baselines[b])
    if w.state.baselines[b] ~= "ok" then w.baselines[#w.baselines + 1] = b end
  end
  w.state.phase3 = M.verify(ctx, o.phase3)
  w.state.phase1 = M.verify(ctx, o.phase1)
  local W = pl.flat["phase2.workers"]
  for i = 0, W - 1 do w.state.workers[i] = M.verify(ctx, o.workers[i]) end
  if w.state.phase3 == "ok" then
    w.run1, w.run3, w.workers = false, false, {}
    return w
  end
  w.run1 = w.state.phase1 ~= "ok"
  w.workers = {}
  for i = 0, W - 1 do
    if w.run1 or w.state.workers[i] ~= "ok" then w.workers[#w.workers + 1] = i end
  end
  -- wash/papa workers train together: rerun all or none
  if pl.flat["phase2.mode"] ~= "independent" and #w.workers > 0 then
    w.workers = {}
    for i = 0, W - 1 do w.workers[#w.workers + 1] = i end
  end
  w.run3 = true
  return w
end

-- Scripts ----------------------------------------------------------------------------------------------------

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
  local function sets() for _, o in ipairs(pl.overrides) do add({ "--set", o }) end end
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

-- The run/forward/requeue logic shared by every script. The executable runs in the background so the
-- batch shell can take USR1 (sent --signal=B:USR1@N before the time limit) or TERM (preemption) and
-- pass it on; the executable then writes a resumable checkpoint and exits 3, and the job requeues itself
-- (the same command resumes from the checkpoint).
local WRAPPER = [[
swap_forward() {
  echo "swap: $1 received; asking the program to checkpoint" >&2
  if [ -n "$swap_child" ]; then kill -s "$1" "$swap_child" 2>/dev/null; else swap_pending=$1; fi
}

swap_run() {
  # traps first, so a signal arriving while the program starts is not lost
  swap_child=
  swap_pending=
  trap 'swap_forward USR1' USR1
  trap 'swap_forward TERM' TERM
  "$@" &
  swap_child=$!
  if [ -n "$swap_pending" ]; then kill -s "$swap_pending" "$swap_child" 2>/dev/null; fi
  while :; do
    wait "$swap_child"
    swap_rc=$?
    # wait returns >128 when a trapped signal interrupts it; keep waiting while the child is alive
    if [ "$swap_rc" -gt 128 ] && kill -0 "$swap_child" 2>/dev/null; then continue; fi
    break
  done
  if [ "$swap_rc" -gt 128 ]; then
    wait "$swap_child" 2>/dev/null
    swap_rc2=$?
    if [ "$swap_rc2" -ne 127 ]; then swap_rc=$swap_rc2; fi
  fi
  trap - USR1 TERM
  return "$swap_rc"
}

swap_finish() {
  if [ "$1" -eq 3 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
    if [ "${SLURM_RESTART_COUNT:-0}" -lt "$SWAP_MAX_REQUEUES" ]; then
      echo "swap: checkpoint written; requeueing job $SLURM_JOB_ID (restart ${SLURM_RESTART_COUNT:-0})" >&2
      if scontrol requeue "$SLURM_JOB_ID"; then exit 0; fi
      echo "swap: scontrol requeue failed; exiting with code 3 (resubmit to resume)" >&2
    else
      echo "swap: preempted again after $SWAP_MAX_REQUEUES requeues; giving up (resubmit to resume)" >&2
    fi
  elif [ "$1" -ne 0 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
    # a real failure: run it again, up to the profile's max_retries (restarts of any kind count)
    if [ "${SLURM_RESTART_COUNT:-0}" -lt "$SWAP_MAX_RETRIES" ]; then
      echo "swap: exit $1; retrying: requeueing job $SLURM_JOB_ID (restart ${SLURM_RESTART_COUNT:-0}, max_retries $SWAP_MAX_RETRIES)" >&2
      if scontrol requeue "$SLURM_JOB_ID"; then exit 0; fi
      echo "swap: scontrol requeue failed" >&2
    elif [ "$SWAP_MAX_RETRIES" -gt 0 ]; then
      echo "swap: exit $1 after ${SLURM_RESTART_COUNT:-0} restart(s); max_retries $SWAP_MAX_RETRIES reached, giving up" >&2
    fi
  fi
  exit "$1"
}
]]

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
  L[#L + 1] = WRAPPER
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
  M.mkdir_p(ctx.base_dir .. "/slurm")
  local src = M.read(ctx.experiment) or fail(ctx.experiment .. ": cannot read")
  M.write_atomic(ctx.snapshot, src)
  for _, path in ipairs(ctx.imports) do
    local name = path:match("[^/]+$")
    if name == "experiment.lua" then fail(path .. ": an imported experiment may not be named experiment.lua") end
    M.write_atomic(ctx.base_dir .. "/slurm/" .. name, M.read(path) or fail(path .. ": cannot read"))
  end
  local plans = {}
  M.verify_all(ctx)
  for _, g in ipairs(ctx.groups) do
    M.mkdir_p(g.dir .. "/slurm")
    local j1 = M.job(ctx, g.pipelines[1], 1)
    M.write_atomic(j1.script, M.script(ctx, g, j1), "0755")
    g.run1 = false
    local first
    for _, pl in ipairs(g.pipelines) do
      M.mkdir_p(pl.dir .. "/slurm")
      local work = M.work(ctx, pl)
      g.run1 = g.run1 or work.run1
      local jobs = { j1 }
      for phase = 2, 3 do
        local j = M.job(ctx, pl, phase, phase == 2 and work or nil)
        M.write_atomic(j.script, M.script(ctx, pl, j), "0755")
        jobs[phase] = j
      end
      local plan = { pl = pl, work = work, jobs = jobs, group = g }
      if not first then
        first = plan
        plan.first = true
        plan.baseline_jobs = {}
        for _, b in ipairs(work.baselines) do
          local jb = M.job(ctx, pl, M.BASELINE, nil, b)
          M.write_atomic(jb.script, M.script(ctx, g, jb), "0755")
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
          M.write_atomic(p.jobs[2].script, M.script(ctx, p.pl, p.jobs[2]), "0755")
        end
      end
    end
  end
  ctx.verified = nil
  return plans
end

local function rel(ctx, path)
  if path:sub(1, #ctx.cwd + 1) == ctx.cwd .. "/" then return path:sub(#ctx.cwd + 2) end
  return path
end

local function resources(ctx, j)
  local ph = ctx.profile.phase[j.phase]
  local r = j.ntasks .. " task" .. (j.ntasks > 1 and "s" or "")
  if ph.cpus_per_task then r = r .. " x " .. ph.cpus_per_task .. " cpus" end
  if ph.mem then r = r .. ", mem " .. ph.mem end
  r = r .. ", time " .. ph.time
  if ph.partition then r = r .. ", partition " .. ph.partition end
  return r
end

-- Commands -------------------------------------------------------------------------------------------------

local function check_bins(ctx, strict)
  local missing = {}
  for _, b in ipairs({ "swap-train", "swap-refine", "swap-average" }) do
    if not M.exists(ctx.bin_dir .. "/" .. b) then missing[#missing + 1] = b end
  end
  if #missing > 0 then
    local msg = ctx.bin_dir .. ": missing " .. table.concat(missing, ", ") .. " (build first, or set bin_dir)"
    if strict then fail(msg) end
    io.stderr:write("swap-slurm: warning: " .. msg .. "\n")
  end
  if not M.exists(ctx.bin_dir .. "/swap-inspect") then
    io.stderr:write("swap-slurm: warning: " .. ctx.bin_dir .. "/swap-inspect missing: existing outputs cannot be " ..
      "verified, so no phase is skipped\n")
  end
end

function M.plan(ctx, out)
  out = out or io.stdout
  check_bins(ctx, false)
  local plans = M.write_scripts(ctx)
  out:write(string.format("experiment %s (snapshot %s)\nprofile %s (%s), executables in %s\n%d pipeline%s\n",
    rel(ctx, ctx.experiment), rel(ctx, ctx.snapshot), ctx.profile.name, rel(ctx, ctx.profile.path), ctx.bin_dir,
    #plans, #plans == 1 and "" or "s"))
  for _, p in ipairs(plans) do
    local pl, w, jobs, g = p.pl, p.work, p.jobs, p.group
    out:write("\npipeline " .. pl.name .. " -> " .. rel(ctx, pl.dir) .. "\n")
    if pl.suffix then
      local sw = {}
      for i = #ctx.overrides + 1, #pl.overrides do
        local o = pl.overrides[i]
        if not o:match("^name=") and not o:match("^shared_dir=") then sw[#sw + 1] = o end
      end
      out:write("  sweep: " .. table.concat(sw, " ") .. "\n")
    end
    local function line(j, what, run, after)
      out:write(string.format("  %s: %s\n           %s\n           %s\n", j.label, what, resources(ctx, j),
        run and ("after " .. after) or "skipped: outputs exist and verify"))
      out:write("           script " .. rel(ctx, j.script) .. "\n")
    end
    local id1 = g.run1 and "<phase1>" or nil
    local id2 = (#w.workers > 0) and "<phase2>" or nil
    local d2, d3 = M.dependencies(pl, id1, id2)
    if #g.pipelines > 1 and not p.first then
      out:write("  phase 1: shared with pipeline " .. g.pipelines[1].name .. " (" .. rel(ctx, g.dir) .. "/phase1)\n")
    else
      line(jobs[1], "swap-train" .. (#g.pipelines > 1 and (" (shared by the " .. #g.pipelines .. " pipelines of " ..
        rel(ctx, g.dir) .. ")") or ""), g.run1, "nothing (starts when resources allow)")
    end
    local j2 = jobs[2]
    local what2 = j2.array and ("swap-refine job array --array=" .. j2.array .. " (" .. #w.workers .. " of " ..
      pl.flat["phase2.workers"] .. " workers)") or ("swap-refine --mode " .. pl.flat["phase2.mode"] ..
      " as one " .. j2.ntasks .. "-rank MPI job")
    line(j2, what2, #w.workers > 0, d2 and ("--dependency=" .. d2) or "nothing (phase 1 done)")
    line(jobs[3], "swap-average", w.run3, d3 and ("--dependency=" .. d3) or "nothing (phases 1-2 done)")
    if p.first then
      for _, b in ipairs(config.baseline_names(pl.flat)) do
        local jb
        for _, x in ipairs(p.baseline_jobs) do if x.baseline == b then jb = x end end
        jb = jb or M.job(ctx, pl, M.BASELINE, nil, b)
        local f = g.flat
        line(jb, string.format("swap-train --baseline %s (batch %d, %d epochs, lr %s)", b, f["baselines." .. b .. ".batch"],
          f["baselines." .. b .. ".epochs"], config.show(config.baseline_lr(f.baselines[b]))),
          w.state.baselines[b] ~= "ok", "nothing (independent of the SWAP chain: runs beside it)")
      end
    end
    out:write("  preemption: --signal=B:USR1@" .. ctx.profile.signal_seconds .. (ctx.profile.requeue and
      " --requeue; exit code 3 (checkpointed) requeues the job" or "; no requeue") .. "\n")
  end
  out:write("\nnothing submitted (use `swap-slurm submit` to submit)\n")
  return plans
end

-- One record per job (or array task group): fields from `scontrol -o show job`.
function M.query(id)
  local code, out = M.exec({ "scontrol", "-o", "show", "job", tostring(id) })
  local recs = {}
  if code == 0 then
    for line in out:gmatch("[^\n]+") do
      local r = {}
      for k, v in line:gmatch("(%u[%w:/]*)=(%S*)") do if r[k] == nil then r[k] = v end end
      if r.JobId then recs[#recs + 1] = r end
    end
    if #recs > 0 then return recs end
  end
  -- gone from the controller (MinJobAge passed): ask accounting if there is any
  local c2, o2 = M.exec({ "sacct", "-n", "-P", "-X", "-j", tostring(id), "-o", "JobID,State,ExitCode,Reason" })
  if c2 == 0 then
    for line in o2:gmatch("[^\n]+") do
      local jid, st, ec, reason = line:match("^([^|]*)|([^|]*)|([^|]*)|?(.*)$")
      if jid and jid ~= "" then
        recs[#recs + 1] = { JobId = jid:match("^(%d+)"), ArrayTaskId = jid:match("_(.+)$"), JobState = st:match("^(%S+)"),
          ExitCode = ec, Reason = reason ~= "" and reason or "None" }
      end
    end
    if #recs > 0 then return recs end
  end
  return { { JobId = tostring(id), JobState = "UNKNOWN",
    Reason = "no longer known to slurmctld (finished more than MinJobAge ago) and no accounting" } }
end

function M.read_jobs(ctx)
  local cjson = require "cjson"
  local s = M.read(ctx.jobs_file)
  if not s then return nil end
  local ok, j = pcall(cjson.decode, s)
  if not ok then fail(ctx.jobs_file .. ": not valid JSON (" .. tostring(j) .. ")") end
  return j
end

-- The job ids recorded for a pipeline: phases 1-3, then its baselines ("baseline-<name>"), each once.
local function job_keys(jobs)
  local keys = {}
  for k in pairs(jobs or {}) do if k:match("^baseline%-") then keys[#keys + 1] = k end end
  table.sort(keys)
  table.insert(keys, 1, "phase3"); table.insert(keys, 1, "phase2"); table.insert(keys, 1, "phase1")
  return keys
end

local function active_ids(jobs)
  local ids, seen = {}, {}
  for _, p in ipairs(jobs.pipelines or {}) do
    for _, key in ipairs(job_keys(p.jobs)) do
      local id = p.jobs and p.jobs[key]
      if id and not seen[id] then
        seen[id] = true -- a shared phase 1 or baseline is recorded with every pipeline of its group
        for _, r in ipairs(M.query(id)) do
          if M.ACTIVE[r.JobState] then
            ids[#ids + 1] = tostring(id)
            break
          end
        end
      end
    end
  end
  return ids
end

function M.submit(ctx, opts, out)
  out = out or io.stdout
  opts = opts or {}
  check_bins(ctx, true)
  local cjson = require "cjson"
  local old = M.read_jobs(ctx)
  if old and not opts.force then
    local act = active_ids(old)
    if #act > 0 then
      fail("jobs of this experiment are still queued or running (" .. table.concat(act, ", ") ..
        "); use `swap-slurm status`, `swap-slurm cancel`, or submit --force")
    end
  end
  local plans = M.write_scripts(ctx)
  local record = { experiment = ctx.experiment, snapshot = ctx.snapshot, submit_dir = ctx.cwd, profile = ctx.profile.path,
    bin_dir = ctx.bin_dir, submitted_at = os.date("!%Y-%m-%dT%H:%M:%SZ"), pipelines = {} }
  local function save() M.write_atomic(ctx.jobs_file, cjson.encode(record) .. "\n") end
  local history = io.open(ctx.base_dir .. "/slurm/submit.log", "a") -- one line per submitted pipeline, never rewritten
  local submitted = {}
  local function sb(pl, j, deps)
    local argv = M.sbatch_argv(ctx, pl, j, deps)
    local code, o = M.exec(argv)
    local id = code == 0 and o:match("^%s*(%d+)")
    if not id then
      if #submitted > 0 then M.exec({ "scancel", table.unpack(submitted) }) end
      fail(pl.name .. ": sbatch failed for " .. j.label .. " (exit " .. tostring(code) .. "): " ..
        o:gsub("%s+$", ""):gsub("\n", " | ") .. (#submitted > 0 and ("; cancelled " .. table.concat(submitted, ", ")) or ""))
    end
    submitted[#submitted + 1] = id
    return id
  end
  local group_ids = {} -- group -> { phase1 = id, baselines = { ["baseline-x"] = id } }
  for _, p in ipairs(plans) do
    local pl, w, jobs, g = p.pl, p.work, p.jobs, p.group
    submitted = {} -- a failure cancels what this pipeline submitted (earlier pipelines stay queued)
    -- (lua-cjson writes empty tables as {}: leave empty lists out)
    local entry = { name = pl.name, dir = pl.dir, jobs = {}, workers = #w.workers > 0 and w.workers or nil, skipped = {} }
    local gid = group_ids[g]
    if not gid then
      gid = { baselines = {} }
      group_ids[g] = gid
      if g.run1 then gid.phase1 = sb(g, jobs[1]) end
      -- baselines: their own jobs, no dependency on the chain
      for _, jb in ipairs(p.baseline_jobs or {}) do gid.baselines["baseline-" .. jb.baseline] = sb(g, jb) end
    end
    local id1, id2, id3 = gid.phase1, nil, nil
    if not id1 then entry.skipped[#entry.skipped + 1] = "phase1" end
    local d2 = M.dependencies(pl, id1, nil)
    if #w.workers > 0 then id2 = sb(pl, jobs[2], d2) else entry.skipped[#entry.skipped + 1] = "phase2" end
    local _, d3 = M.dependencies(pl, id1, id2)
    if w.run3 then id3 = sb(pl, jobs[3], d3) else entry.skipped[#entry.skipped + 1] = "phase3" end
    entry.jobs = { phase1 = id1, phase2 = id2, phase3 = id3 }
    local bl_text = {}
    for k, id in pairs(gid.baselines) do
      entry.jobs[k] = id
      bl_text[#bl_text + 1] = k .. "=" .. id
    end
    table.sort(bl_text)
    if #entry.skipped == 0 then entry.skipped = nil end
    entry.array = jobs[2].array and #w.workers > 0 and jobs[2].array or nil
    record.pipelines[#record.pipelines + 1] = entry
    save()
    if history then
      history:write(string.format("%s %s phase1=%s phase2=%s phase3=%s%s\n", record.submitted_at, pl.name, id1 or "-",
        id2 or "-", id3 or "-", #bl_text > 0 and (" " .. table.concat(bl_text, " ")) or ""))
      history:flush()
    end
    out:write(string.format("%s: phase1 %s, phase2 %s%s, phase3 %s%s\n", pl.name,
      id1 or (g.run1 and "?" or "done (skipped)"), id2 or "done (skipped)",
      entry.array and (" (array " .. entry.array .. ")") or "", id3 or "done (skipped)",
      #bl_text > 0 and (", " .. table.concat(bl_text, ", ")) or ""))
  end
  save()
  if history then history:close() end
  out:write("job ids recorded in " .. rel(ctx, ctx.jobs_file) .. "\n")
  return record
end

local function tail(path, n)
  local s = M.read(path)
  if not s then return {} end
  local lines = {}
  for l in s:gmatch("[^\n]*") do if l ~= "" then lines[#lines + 1] = l end end
  local outl = {}
  for i = math.max(1, #lines - n + 1), #lines do outl[#outl + 1] = lines[i] end
  return outl
end

local REASON_HELP = {
  DependencyNeverSatisfied = "a job it depends on failed or was cancelled",
  Dependency = "waiting for the previous phase",
  JobArrayTaskLimit = "array throttle (phase2.parallel) reached",
  Resources = "waiting for resources",
  Priority = "waiting behind higher-priority jobs",
  BeginTime = "requeued; waiting for its begin time",
  NonZeroExitCode = "the program exited with an error",
  TimeLimit = "hit the time limit",
  ReqNodeNotAvail = "requested nodes unavailable",
  PartitionTimeLimit = "time limit exceeds the partition's",
  QOSMaxWallDurationPerJobLimit = "time limit exceeds the QOS maximum",
}

local function describe_records(recs)
  local parts = {}
  for _, r in ipairs(recs) do
    local s = r.JobState or "?"
    if r.ArrayTaskId and r.ArrayTaskId ~= "" and r.ArrayTaskId ~= "(null)" then s = "[" .. r.ArrayTaskId .. "] " .. s end
    local extra = {}
    if r.Reason and r.Reason ~= "None" and r.Reason ~= "(null)" then
      extra[#extra + 1] = r.Reason .. (REASON_HELP[r.Reason] and (": " .. REASON_HELP[r.Reason]) or "")
    end
    if r.ExitCode and r.ExitCode ~= "0:0" and r.JobState ~= "PENDING" and r.JobState ~= "RUNNING" then
      extra[#extra + 1] = "exit " .. r.ExitCode
    end
    if r.Restarts and r.Restarts ~= "0" then extra[#extra + 1] = "restarts " .. r.Restarts end
    if #extra > 0 then s = s .. " (" .. table.concat(extra, "; ") .. ")" end
    parts[#parts + 1] = s
  end
  return table.concat(parts, ", ")
end

local BAD = { FAILED = true, TIMEOUT = true, NODE_FAIL = true, OUT_OF_MEMORY = true, BOOT_FAIL = true,
  DEADLINE = true, CANCELLED = true, PREEMPTED = true }

function M.status(ctx, out)
  out = out or io.stdout
  local jobs = M.read_jobs(ctx) or { pipelines = {} }
  local by_name = {}
  for _, p in ipairs(jobs.pipelines or {}) do by_name[p.name] = p end
  local all_done = true
  M.verify_all(ctx)
  for _, pl in ipairs(ctx.pipelines) do
    local rec = by_name[pl.name]
    local o = M.outputs(pl)
    out:write("pipeline " .. pl.name .. (rec and "" or "  (not submitted)") .. "\n")
    local function files_line(list)
      local parts = {}
      for _, f in ipairs(list) do parts[#parts + 1] = rel(ctx, f) .. " " .. M.verify(ctx, f) end
      return table.concat(parts, ", ")
    end
    local rows = { { key = "phase1", label = "phase 1", files = { o.phase1 } },
      { key = "phase2", label = "phase 2", files = {} }, { key = "phase3", label = "phase 3", files = { o.phase3, o.summary } } }
    for i = 0, pl.flat["phase2.workers"] - 1 do rows[2].files[#rows[2].files + 1] = o.workers[i] end
    for _, b in ipairs(o.baseline_names) do
      rows[#rows + 1] = { key = "baseline-" .. b, label = "baseline " .. b, files = { o.baselines[b] } }
    end
    for _, row in ipairs(rows) do
      local id = rec and rec.jobs and rec.jobs[row.key]
      local state
      local recs
      if id then
        recs = M.query(id)
        state = "job " .. id .. ": " .. describe_records(recs)
      elseif rec then
        state = "not submitted (outputs existed)"
      else
        state = "no job"
      end
      out:write(string.format("  %-8s %s\n", row.label, state))
      out:write("           " .. files_line(row.files) .. "\n")
      for _, r in ipairs(recs or {}) do
        if BAD[r.JobState] and r.Reason ~= "DependencyNeverSatisfied" and r.StdOut and r.StdOut ~= "" then
          local lines = tail(r.StdOut, 5)
          if #lines > 0 then
            out:write("           log " .. rel(ctx, r.StdOut) .. " ends:\n")
            for _, l in ipairs(lines) do out:write("             | " .. l .. "\n") end
          end
        end
      end
    end
    if M.verify(ctx, o.phase3) ~= "ok" then all_done = false end
    for _, b in ipairs(o.baseline_names) do if M.verify(ctx, o.baselines[b]) ~= "ok" then all_done = false end end
  end
  ctx.verified = nil
  return all_done
end

function M.cancel(ctx, out)
  out = out or io.stdout
  local jobs = M.read_jobs(ctx)
  if not jobs then
    out:write("nothing to cancel: " .. rel(ctx, ctx.jobs_file) .. " does not exist\n")
    return {}
  end
  local ids = active_ids(jobs)
  if #ids == 0 then
    out:write("nothing to cancel: no job of this experiment is queued or running\n")
    return ids
  end
  -- dependents first, so nothing starts in between
  table.sort(ids, function(a, b) return tonumber(a) > tonumber(b) end)
  local code, o = M.exec({ "scancel", table.unpack(ids) })
  if code ~= 0 then fail("scancel failed: " .. o:gsub("%s+$", "")) end
  out:write("cancelled " .. table.concat(ids, " ") .. "\n")
  return ids
end

-- collect --------------------------------------------------------------------------------------------------

local function num(x) return type(x) == "number" and x or nil end

function M.summary_row(pl, s)
  local row = { name = pl.name }
  if not s then row.status = "missing"; return row end
  row.status = "ok"
  row.p1_acc = num(s.phase1 and s.phase1.test_acc)
  row.p1_time = num(s.phase1 and s.phase1.time_s)
  local accs, tmax, n, sum = {}, nil, 0, 0
  for _, w in ipairs(type(s.workers) == "table" and s.workers or {}) do
    if num(w.test_acc) then
      n = n + 1; sum = sum + w.test_acc; accs[#accs + 1] = w.test_acc
    end
    if num(w.time_s) and (not tmax or w.time_s > tmax) then tmax = w.time_s end
  end
  row.workers = n
  row.w_mean = n > 0 and sum / n or nil
  local best
  for _, a in ipairs(accs) do if not best or a > best then best = a end end
  row.w_best = best
  row.w_time_max = tmax
  row.avg_before_bn = num(s.average and s.average.test_acc_before_bn)
  row.avg_acc = num(s.average and s.average.test_acc)
  row.ens_acc = num(s.ensemble and s.ensemble.test_acc)
  row.p3_time = num(s.phase3 and s.phase3.time_s)
  if row.p1_time and row.w_time_max and row.p3_time then row.critical = row.p1_time + row.w_time_max + row.p3_time end
  return row
end

M.COLUMNS = {
  { "phase1_test_acc", "p1_acc", "%.4f" }, { "phase1_time_s", "p1_time", "%.1f" }, { "workers", "workers", "%d" },
  { "worker_test_acc_mean", "w_mean", "%.4f" }, { "worker_test_acc_best", "w_best", "%.4f" },
  { "worker_time_s_max", "w_time_max", "%.1f" }, { "average_test_acc_before_bn", "avg_before_bn", "%.4f" },
  { "average_test_acc", "avg_acc", "%.4f" }, { "ensemble_test_acc", "ens_acc", "%.4f" },
  { "phase3_time_s", "p3_time", "%.1f" }, { "critical_path_s", "critical", "%.1f" }, { "status", "status", "%s" },
}

local function csv_field(s)
  if s:find('[,"\n]') then return '"' .. s:gsub('"', '""') .. '"' end
  return s
end

-- Mean and sample standard deviation (n - 1) of a list of numbers; std is nil for fewer than two.
function M.mean_std(xs)
  local n, sum = #xs, 0
  if n == 0 then return nil, nil end
  for _, x in ipairs(xs) do sum = sum + x end
  local mean = sum / n
  if n < 2 then return mean, nil end
  local ss = 0
  for _, x in ipairs(xs) do ss = ss + (x - mean) ^ 2 end
  return mean, math.sqrt(ss / (n - 1))
end

-- Seed replicates (a sweep over `seed`): one row per setting of the other swept keys with every numeric
-- column as mean ± std over the seeds that finished, into collect-seeds.csv (<col>_mean, <col>_std) and .md.
function M.collect_seeds(ctx, rows, header, sweep_keys, out)
  local si
  for i, h in ipairs(header) do if h == "seed" then si = i end end
  if not si then return nil end
  local others, groups, order = {}, {}, {}
  for i, h in ipairs(header) do
    if i > 1 and i <= #sweep_keys + 1 and h ~= "seed" then others[#others + 1] = i end
  end
  for _, cells in ipairs(rows) do
    local kparts = {}
    for _, i in ipairs(others) do kparts[#kparts + 1] = cells[i] end
    local key = table.concat(kparts, "\0")
    if not groups[key] then groups[key] = {}; order[#order + 1] = key end
    table.insert(groups[key], cells)
  end
  local metrics = {}
  for i = #sweep_keys + 2, #header do if header[i] ~= "status" then metrics[#metrics + 1] = i end end
  local h_csv, h_md = {}, {}
  for _, i in ipairs(others) do h_csv[#h_csv + 1] = header[i]; h_md[#h_md + 1] = header[i] end
  h_csv[#h_csv + 1] = "seeds"; h_md[#h_md + 1] = "seeds"
  for _, i in ipairs(metrics) do
    h_csv[#h_csv + 1] = header[i] .. "_mean"; h_csv[#h_csv + 1] = header[i] .. "_std"
    h_md[#h_md + 1] = header[i]
  end
  local csv = { table.concat(h_csv, ",") }
  local md = { "| " .. table.concat(h_md, " | ") .. " |", "|" .. string.rep("---|", #h_md) }
  local result = {}
  for _, key in ipairs(order) do
    local g = groups[key]
    local c_csv, c_md = {}, {}
    for _, i in ipairs(others) do c_csv[#c_csv + 1] = csv_field(g[1][i]); c_md[#c_md + 1] = g[1][i] end
    local seeds = {}
    for _, cells in ipairs(g) do if cells[#cells] == "ok" then seeds[#seeds + 1] = cells[si] end end
    c_csv[#c_csv + 1] = csv_field(table.concat(seeds, " ")); c_md[#c_md + 1] = #seeds .. " (" .. table.concat(seeds, ", ") .. ")"
    local stats = {}
    for _, i in ipairs(metrics) do
      local xs = {}
      for _, cells in ipairs(g) do
        local x = tonumber(cells[i])
        if x then xs[#xs + 1] = x end
      end
      local m, sd = M.mean_std(xs)
      local digits = header[i]:match("acc") and 4 or 1
      local fmt = "%." .. digits .. "f"
      c_csv[#c_csv + 1] = m and string.format(fmt, m) or ""
      c_csv[#c_csv + 1] = sd and string.format(fmt, sd) or ""
      c_md[#c_md + 1] = m and (string.format(fmt, m) .. (sd and (" ± " .. string.format(fmt, sd)) or "")) or "-"
      stats[header[i]] = { mean = m, std = sd, n = #xs }
    end
    csv[#csv + 1] = table.concat(c_csv, ",")
    md[#md + 1] = "| " .. table.concat(c_md, " | ") .. " |"
    result[#result + 1] = { cells = g, stats = stats }
  end
  local md_text = table.concat(md, "\n") .. "\n"
  M.write_atomic(ctx.base_dir .. "/collect-seeds.csv", table.concat(csv, "\n") .. "\n")
  M.write_atomic(ctx.base_dir .. "/collect-seeds.md", md_text)
  out:write("\nover seeds (mean ± sample standard deviation):\n" .. md_text)
  out:write("written " .. rel(ctx, ctx.base_dir .. "/collect-seeds.csv") .. " and " ..
    rel(ctx, ctx.base_dir .. "/collect-seeds.md") .. "\n")
  return result
end

function M.collect(ctx, out)
  out = out or io.stdout
  local cjson = require "cjson"
  local sweep_keys = sweep.keys(ctx.base.sweep)
  -- baselines: test accuracy and wall time of each, from the pipeline's summary or its group's
  local columns = {}
  for i = 1, #M.COLUMNS - 1 do columns[i] = M.COLUMNS[i] end -- status stays last
  for _, b in ipairs(config.baseline_names(ctx.base)) do
    columns[#columns + 1] = { "baseline_" .. b .. "_test_acc", "bl_acc_" .. b, "%.4f" }
    columns[#columns + 1] = { "baseline_" .. b .. "_wall_s", "bl_wall_" .. b, "%.1f" }
  end
  columns[#columns + 1] = M.COLUMNS[#M.COLUMNS]
  local header = { "pipeline" }
  for _, k in ipairs(sweep_keys) do header[#header + 1] = k end
  for _, c in ipairs(columns) do header[#header + 1] = c[1] end
  local rows = {}
  local function decode(path)
    local text = M.read(path)
    if not text then return nil, nil end
    local ok, v = pcall(cjson.decode, text)
    return text, ok and type(v) == "table" and v or nil
  end
  for _, pl in ipairs(ctx.pipelines) do
    local o = M.outputs(pl)
    local text, s = decode(o.summary)
    local r = M.summary_row(pl, s)
    if text and not s then r.status = "unreadable" end
    local _, gs = decode(o.group_summary)
    for _, b in ipairs(o.baseline_names) do
      local row = s and type(s.baselines) == "table" and s.baselines[b]
      if type(row) ~= "table" then row = gs and type(gs.baselines) == "table" and gs.baselines[b] end
      if type(row) == "table" then
        r["bl_acc_" .. b] = num(row.test_acc)
        r["bl_wall_" .. b] = num(row.wall_s)
      end
    end
    local cells = { pl.name }
    for _, k in ipairs(sweep_keys) do cells[#cells + 1] = config.show_plain(pl.values[k]) end
    for _, c in ipairs(columns) do
      local v = r[c[2]]
      cells[#cells + 1] = v == nil and "" or string.format(c[3], v)
    end
    rows[#rows + 1] = cells
  end
  local csv = { }
  local function add_csv(cells)
    local f = {}
    for i, c in ipairs(cells) do f[i] = csv_field(c) end
    csv[#csv + 1] = table.concat(f, ",")
  end
  add_csv(header)
  for _, r in ipairs(rows) do add_csv(r) end
  local md = { "| " .. table.concat(header, " | ") .. " |", "|" .. string.rep("---|", #header) }
  for _, r in ipairs(rows) do
    local cells = {}
    for i, c in ipairs(r) do cells[i] = (c == "" and "-" or c:gsub("|", "\\|")) end
    md[#md + 1] = "| " .. table.concat(cells, " | ") .. " |"
  end
  local csv_text = table.concat(csv, "\n") .. "\n"
  local md_text = table.concat(md, "\n") .. "\n"
  M.mkdir_p(ctx.base_dir)
  M.write_atomic(ctx.base_dir .. "/collect.csv", csv_text)
  M.write_atomic(ctx.base_dir .. "/collect.md", md_text)
  out:write(md_text)
  out:write("written " .. rel(ctx, ctx.base_dir .. "/collect.csv") .. " and " .. rel(ctx, ctx.base_dir .. "/collect.md") .. "\n")
  M.collect_seeds(ctx, rows, header, sweep_keys, out)
  -- pictures next to the numbers; a plotting problem must not lose the table
  local plot = require "swap.plot"
  local ok, perr = pcall(plot.plot_sweep, plot.rows_from_cells(rows, header), sweep_keys, ctx.base_dir .. "/plots",
    ctx.base.name)
  if not ok then io.stderr:write("swap-slurm: warning: sweep plots: " .. tostring(perr) .. "\n") end
  return rows, header
end

return M
