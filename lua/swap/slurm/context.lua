-- The experiment resolved into pipelines (swap-slurm's context), the files each pipeline makes, and what
-- must run: a phase is skipped only when its outputs verify and nothing before it reruns.
local config = require "swap.config"
local layout = require "swap.layout"
local profile = require "swap.profile"
local sweep = require "swap.sweep"
local sys = require "swap.sys"

local M = {}

local function fail(msg) error(msg, 0) end

-- opts: experiment (path), overrides (list of "k=v"), profile (name/path, overrides the experiment's),
-- bin_dir, default_bin_dir (used when neither bin_dir nor the profile names one), root (where slurm/ profiles
-- live: the repository, or <prefix>/share/swap installed), cwd (submit directory).
function M.load(opts)
  local cwd = opts.cwd or sys.cwd()
  local tbl, source, imports = config.load_file(opts.experiment)
  local overrides = opts.overrides or {}
  local base = config.resolve_table(tbl, overrides, opts.experiment, source)
  local prof = profile.load(opts.profile or base.profile, opts.root)
  local ctx = {
    experiment = sys.abspath(opts.experiment, cwd),
    overrides = overrides,
    base = base,
    profile = prof,
    cwd = cwd,
    root = opts.root,
    bin_dir = sys.abspath(opts.bin_dir or prof.bin_dir or opts.default_bin_dir or (opts.root .. "/bin"), cwd),
    results = sys.abspath(base.results, cwd),
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
  local o = { phase1 = layout.path(gdir, "PHASE1_MODEL"), phase3 = layout.path(pl.dir, "PHASE3_MODEL"), workers = {},
    baselines = {} }
  for i = 0, pl.flat["phase2.workers"] - 1 do o.workers[i] = layout.path(pl.dir, "WORKER_MODEL", i) end
  o.summary = layout.path(pl.dir, "SUMMARY")
  o.baseline_names = config.baseline_names(pl.flat)
  for _, b in ipairs(o.baseline_names) do o.baselines[b] = layout.path(gdir, "BASELINE_MODEL", b) end
  -- a shared group's own summary.json holds its baselines' rows
  o.group_summary = layout.path(gdir, "SUMMARY")
  return o
end

-- "ok" (exists and `swap-inspect verify` accepts it), "missing", "invalid", or "unverified" (no verifier).
-- Answers from ctx.verified when M.verify_all filled it (one verifier process for many files).
function M.verify(ctx, file)
  if ctx.verified and ctx.verified[file] then return ctx.verified[file] end
  if not sys.exists(file) then return "missing" end
  local inspect = ctx.bin_dir .. "/swap-inspect"
  if not sys.exists(inspect) then return "unverified" end
  local code = sys.exec({ inspect, "verify", file })
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
        if sys.exists(f) then
          verified[f] = "invalid"
          present[#present + 1] = f
        else
          verified[f] = "missing"
        end
      end
    end
  end
  local inspect = ctx.bin_dir .. "/swap-inspect"
  if not sys.exists(inspect) then
    for _, f in ipairs(present) do verified[f] = "unverified" end
  else
    for lo = 1, #present, VERIFY_BATCH do
      local argv = { inspect, "verify" }
      for i = lo, math.min(lo + VERIFY_BATCH - 1, #present) do argv[#argv + 1] = present[i] end
      local _, out = sys.exec(argv)
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
      local text = sys.read(f)
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

-- A path relative to the submit directory when it lies below it (for messages), else as it is.
function M.rel(ctx, path)
  if path:sub(1, #ctx.cwd + 1) == ctx.cwd .. "/" then return path:sub(#ctx.cwd + 2) end
  return path
end

return M
