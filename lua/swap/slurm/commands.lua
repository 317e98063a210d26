-- swap-slurm's commands on a resolved context: plan, submit, status, cancel (collect is in collect.lua).
local config = require "swap.config"
local sys = require "swap.sys"
local context = require "swap.slurm.context"
local scripts = require "swap.slurm.scripts"

local M = {}

local function fail(msg) error(msg, 0) end

M.ACTIVE = { PENDING = true, RUNNING = true, REQUEUED = true, REQUEUE_HOLD = true, REQUEUE_FED = true,
  SUSPENDED = true, CONFIGURING = true, COMPLETING = true, RESIZING = true, SIGNALING = true, STOPPED = true,
  STAGE_OUT = true, RESV_DEL_HOLD = true, SPECIAL_EXIT = true }

local function resources(ctx, j)
  local ph = ctx.profile.phase[j.phase]
  local r = j.ntasks .. " task" .. (j.ntasks > 1 and "s" or "")
  if ph.cpus_per_task then r = r .. " x " .. ph.cpus_per_task .. " cpus" end
  if ph.mem then r = r .. ", mem " .. ph.mem end
  r = r .. ", time " .. ph.time
  if ph.partition then r = r .. ", partition " .. ph.partition end
  return r
end


-- One record per job (or array task group): fields from `scontrol -o show job`.
function M.query(id)
  local code, out = sys.exec({ "scontrol", "-o", "show", "job", tostring(id) })
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
  local c2, o2 = sys.exec({ "sacct", "-n", "-P", "-X", "-j", tostring(id), "-o", "JobID,State,ExitCode,Reason" })
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
  local s = sys.read(ctx.jobs_file)
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

-- plan and submit write a chain's files: one at a time per experiment, under a lock on
-- results/<name>/slurm/submit.lock (released when the command ends, or dies), and never while a submitted
-- chain is queued or running (its jobs read the scripts and slurm/experiment.lua when they start).
local function with_lock(ctx, fn)
  sys.mkdir_p(ctx.base_dir .. "/slurm")
  local release, holder = sys.lock(ctx.base_dir .. "/slurm/submit.lock")
  if not release then
    fail(context.rel(ctx, ctx.base_dir) .. ": another swap-slurm plan or submit of this experiment is running (" ..
      holder .. ")")
  end
  local ok, a, b = pcall(fn)
  release()
  if not ok then error(a, 0) end
  return a, b
end

local function refuse_active(ctx, act, what)
  fail(context.rel(ctx, ctx.base_dir) .. ": a submitted chain of this experiment is still queued or running (jobs " ..
    table.concat(act, ", ") .. ") and reads the files " .. what .. " would rewrite; see `swap-slurm status`, " ..
    "`swap-slurm cancel`, or `swap-slurm submit --replace` (cancels that chain, then submits)")
end

-- scancel, dependents first so nothing starts in between. Each job is marked first (Comment=swap-slurm-cancel):
-- scancel's TERM looks like preemption to the batch script, which would checkpoint and requeue the job.
local function cancel_ids(ids)
  table.sort(ids, function(a, b) return tonumber(a) > tonumber(b) end)
  for _, id in ipairs(ids) do sys.exec({ "scontrol", "update", "JobId=" .. id, "Comment=swap-slurm-cancel" }) end
  local code, o = sys.exec({ "scancel", table.unpack(ids) })
  if code ~= 0 then fail("scancel failed: " .. o:gsub("%s+$", "")) end
end

-- After scancel a running job still ends (its program checkpoints on TERM): wait until none of `ids` is
-- queued or running, so the new chain's files are not rewritten under it.
local function wait_gone(ids, limit_s)
  local t0 = os.time()
  while true do
    local left = {}
    for _, id in ipairs(ids) do
      for _, r in ipairs(M.query(id)) do
        if M.ACTIVE[r.JobState] then left[#left + 1] = id break end
      end
    end
    if #left == 0 then return end
    if os.time() - t0 >= limit_s then
      fail("cancelled " .. table.concat(ids, " ") .. " but " .. table.concat(left, " ") .. " still queued or running after " ..
        limit_s .. " s; nothing submitted")
    end
    os.execute("sleep 1")
  end
end

local submit_locked -- below submit: the work of submit, under the lock

local function check_bins(ctx, strict)
  local missing = {}
  for _, b in ipairs({ "swap-train", "swap-refine", "swap-average" }) do
    if not sys.exists(ctx.bin_dir .. "/" .. b) then missing[#missing + 1] = b end
  end
  if #missing > 0 then
    local msg = ctx.bin_dir .. ": missing " .. table.concat(missing, ", ") .. " (build first, or set bin_dir)"
    if strict then fail(msg) end
    io.stderr:write("swap-slurm: warning: " .. msg .. "\n")
  end
  if not sys.exists(ctx.bin_dir .. "/swap-inspect") then
    io.stderr:write("swap-slurm: warning: " .. ctx.bin_dir .. "/swap-inspect missing: existing outputs cannot be " ..
      "verified, so no phase is skipped\n")
  end
end

-- dataset = "hdf5": each pipeline's data file must exist and be a readable HDF5 file before anything is written
-- or submitted (the jobs check its contents again when they start).
function M.check_data(ctx)
  for _, pl in ipairs(ctx.pipelines) do
    local f = pl.flat
    if f.dataset == "hdf5" then
      local path = sys.abspath(f.data_file, ctx.cwd)
      local fh, err = io.open(path, "rb")
      if not fh then fail(path .. ": data_file cannot be opened (" .. tostring(err):gsub("^[^:]*: ", "") .. ")") end
      local head = fh:read(8)
      fh:close()
      if head == nil then fail(path .. ": data_file is a directory or empty; it must name the HDF5 file") end
      if head ~= "\137HDF\r\n\26\n" then fail(path .. ": data_file is not an HDF5 file (no HDF5 signature)") end
    end
  end
end

function M.plan(ctx, out)
  out = out or io.stdout
  check_bins(ctx, false)
  M.check_data(ctx)
  local plans = with_lock(ctx, function()
    local old = M.read_jobs(ctx)
    local act = old and active_ids(old) or {}
    if #act > 0 then refuse_active(ctx, act, "plan") end
    return scripts.write_scripts(ctx)
  end)
  out:write(string.format("experiment %s (snapshot %s)\nprofile %s (%s), executables in %s\n%d pipeline%s\n",
    context.rel(ctx, ctx.experiment), context.rel(ctx, ctx.snapshot), ctx.profile.name, context.rel(ctx, ctx.profile.path), ctx.bin_dir,
    #plans, #plans == 1 and "" or "s"))
  for _, p in ipairs(plans) do
    local pl, w, jobs, g = p.pl, p.work, p.jobs, p.group
    out:write("\npipeline " .. pl.name .. " -> " .. context.rel(ctx, pl.dir) .. "\n")
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
      out:write("           script " .. context.rel(ctx, j.script) .. "\n")
    end
    local id1 = g.run1 and "<phase1>" or nil
    local id2 = (#w.workers > 0) and "<phase2>" or nil
    local d2, d3 = scripts.dependencies(pl, id1, id2)
    if #g.pipelines > 1 and not p.first then
      out:write("  phase 1: shared with pipeline " .. g.pipelines[1].name .. " (" .. context.rel(ctx, g.dir) .. "/phase1)\n")
    else
      line(jobs[1], "swap-train" .. (#g.pipelines > 1 and (" (shared by the " .. #g.pipelines .. " pipelines of " ..
        context.rel(ctx, g.dir) .. ")") or ""), g.run1, "nothing (starts when resources allow)")
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
        jb = jb or scripts.job(ctx, pl, scripts.BASELINE, nil, b)
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

function M.submit(ctx, opts, out)
  out = out or io.stdout
  opts = opts or {}
  check_bins(ctx, true)
  M.check_data(ctx)
  local cjson = require "cjson"
  return with_lock(ctx, function() return submit_locked(ctx, opts, out) end)
end

submit_locked = function(ctx, opts, out)
  local cjson = require "cjson"
  local old = M.read_jobs(ctx)
  local act = old and active_ids(old) or {}
  if #act > 0 and not opts.replace then refuse_active(ctx, act, "submit") end
  -- a replaced chain stays on record in jobs.json (status and cancel follow the new one)
  local replaced = old and type(old.replaced) == "table" and old.replaced or {}
  if #act > 0 then
    cancel_ids(act)
    out:write("cancelled the earlier chain: " .. table.concat(act, " ") .. "\n")
    wait_gone(act, opts.wait_s or 300)
    old.replaced = nil
    old.cancelled, old.cancelled_at = act, os.date("!%Y-%m-%dT%H:%M:%SZ")
    replaced[#replaced + 1] = old
  end
  local plans = scripts.write_scripts(ctx)
  local record = { experiment = ctx.experiment, snapshot = ctx.snapshot, submit_dir = ctx.cwd, profile = ctx.profile.path,
    bin_dir = ctx.bin_dir, submitted_at = os.date("!%Y-%m-%dT%H:%M:%SZ"), pipelines = {},
    replaced = #replaced > 0 and replaced or nil }
  local function save() sys.write_atomic(ctx.jobs_file, cjson.encode(record) .. "\n") end
  local history = io.open(ctx.base_dir .. "/slurm/submit.log", "a") -- one line per submitted pipeline, never rewritten
  local submitted = {}
  local function sb(pl, j, deps)
    local argv = scripts.sbatch_argv(ctx, pl, j, deps)
    local code, o = sys.exec(argv)
    local id = code == 0 and o:match("^%s*(%d+)")
    if not id then
      if #submitted > 0 then sys.exec({ "scancel", table.unpack(submitted) }) end
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
    local d2 = scripts.dependencies(pl, id1, nil)
    if #w.workers > 0 then id2 = sb(pl, jobs[2], d2) else entry.skipped[#entry.skipped + 1] = "phase2" end
    local _, d3 = scripts.dependencies(pl, id1, id2)
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
  out:write("job ids recorded in " .. context.rel(ctx, ctx.jobs_file) .. "\n")
  return record
end

local function tail(path, n)
  local s = sys.read(path)
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
  context.verify_all(ctx)
  for _, pl in ipairs(ctx.pipelines) do
    local rec = by_name[pl.name]
    local o = context.outputs(pl)
    out:write("pipeline " .. pl.name .. (rec and "" or "  (not submitted)") .. "\n")
    local function files_line(list)
      local parts = {}
      for _, f in ipairs(list) do parts[#parts + 1] = context.rel(ctx, f) .. " " .. context.verify(ctx, f) end
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
            out:write("           log " .. context.rel(ctx, r.StdOut) .. " ends:\n")
            for _, l in ipairs(lines) do out:write("             | " .. l .. "\n") end
          end
        end
      end
    end
    if context.verify(ctx, o.phase3) ~= "ok" then all_done = false end
    for _, b in ipairs(o.baseline_names) do if context.verify(ctx, o.baselines[b]) ~= "ok" then all_done = false end end
  end
  ctx.verified = nil
  return all_done
end

function M.cancel(ctx, out)
  out = out or io.stdout
  local jobs = M.read_jobs(ctx)
  if not jobs then
    out:write("nothing to cancel: " .. context.rel(ctx, ctx.jobs_file) .. " does not exist\n")
    return {}
  end
  local ids = active_ids(jobs)
  if #ids == 0 then
    out:write("nothing to cancel: no job of this experiment is queued or running\n")
    return ids
  end
  cancel_ids(ids)
  out:write("cancelled " .. table.concat(ids, " ") .. "\n")
  return ids
end

return M
