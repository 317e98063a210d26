-- Sweep expansion: { ["phase1.batch"] = {512, 1024}, ["phase2.lr"] = {0.1, 0.2} } becomes the cartesian
-- product of pipelines, each named "<name>/<key>=<value>[,<key>=<value>...]" (keys sorted) and carrying the
-- "--set key=value" overrides its executables receive. List entries of the sweep are zipped groups:
-- { { ["phase1.batch"] = {512, 1024}, ["phase1.lr"] = {0.4, 0.8} } } gives 2 points, not 4.
--
-- Sharing: phase 1 and the baselines depend on no phase-2/phase-3 key, so pipelines that differ only in those
-- form one group that trains phase 1 (and each baseline) once, under <results>/<name>[/<phase-1 keys>], and
-- every pipeline of the group points `shared_dir` there.
local config = require "swap.config"

local M = {}
M.max_pipelines = 10000

-- A value as it appears in a pipeline name: only characters valid in names (lists lose their braces).
function M.label(v)
  local s = config.show_plain(v)
  if type(v) == "table" then s = s:gsub("[{}]", ""):gsub(",", "_") end
  s = s:gsub("[^A-Za-z0-9._+=,-]", "_")
  return s
end

-- Keys that never change phase 1 or the baselines.
function M.after_phase1(key) return key:match("^phase[23]%.") ~= nil end

-- The sweep's axes: each a list of keys varied together and its number of points.
local function axes(sweep)
  local out = {}
  for k, list in pairs(sweep or {}) do
    if type(k) == "string" then out[#out + 1] = { keys = { k }, lists = { list }, n = #list } end
  end
  for _, g in ipairs(sweep or {}) do
    local a = { keys = {}, lists = {} }
    for k in pairs(g) do a.keys[#a.keys + 1] = k end
    table.sort(a.keys)
    for i, k in ipairs(a.keys) do a.lists[i] = g[k] end
    a.n = #a.lists[1]
    out[#out + 1] = a
  end
  table.sort(out, function(x, y) return x.keys[1] < y.keys[1] end)
  return out
end

-- Every swept key, sorted.
function M.keys(sweep)
  local ks = {}
  for _, a in ipairs(axes(sweep)) do for _, k in ipairs(a.keys) do ks[#ks + 1] = k end end
  table.sort(ks)
  return ks
end

local function point(values, keys)
  local parts, ovs = {}, {}
  for _, k in ipairs(keys) do
    parts[#parts + 1] = k .. "=" .. M.label(values[k])
    ovs[#ovs + 1] = k .. "=" .. config.show_plain(values[k])
  end
  return table.concat(parts, ","), ovs
end

-- Returns a list of { suffix = "k=v,...", values = {k = v}, overrides = {"k=v", ...},
-- group_suffix = "k=v,..." (phase-1 keys only) or nil, group_overrides = {...} }; one entry with suffix nil
-- when there is nothing to sweep.
function M.expand(sweep)
  local ax = axes(sweep)
  if #ax == 0 then return { { values = {}, overrides = {}, group_overrides = {} } } end
  local total = 1
  for _, a in ipairs(ax) do total = total * a.n end
  if total > M.max_pipelines then
    error(string.format("sweep: %d combinations (more than %d)", total, M.max_pipelines), 0)
  end
  local keys, gkeys = M.keys(sweep), {}
  for _, k in ipairs(keys) do if not M.after_phase1(k) then gkeys[#gkeys + 1] = k end end
  local out = {}
  local idx = {}
  for i = 1, #ax do idx[i] = 1 end
  for _ = 1, total do
    local values = {}
    for i, a in ipairs(ax) do
      for j, k in ipairs(a.keys) do values[k] = a.lists[j][idx[i]] end
    end
    local suffix, ovs = point(values, keys)
    local gsuffix, govs = point(values, gkeys)
    out[#out + 1] = { suffix = suffix, values = values, overrides = ovs,
      group_suffix = #gkeys > 0 and gsuffix or nil, group_overrides = govs }
    -- odometer: the last axis varies fastest
    for i = #ax, 1, -1 do
      idx[i] = idx[i] + 1
      if idx[i] <= ax[i].n then break end
      idx[i] = 1
    end
  end
  -- distinct values may share a label (e.g. "a b" and "a_b"); names must stay unique
  local seen = {}
  for _, p in ipairs(out) do
    if seen[p.suffix] then error("sweep: two combinations would share the name '" .. p.suffix .. "'", 0) end
    seen[p.suffix] = true
  end
  return out
end

-- Does this sweep share phase 1 between pipelines (does it vary a phase-2/phase-3 key)?
function M.shares_phase1(sweep)
  for _, k in ipairs(M.keys(sweep)) do if M.after_phase1(k) then return true end end
  return false
end

-- The runs of an experiment: a list of groups { name, overrides, pipelines = { {name, suffix, values,
-- overrides}... } }. `overrides` are the command line's; `results` is the results root as the executables
-- will see it (relative to their working directory or absolute). A group's name and overrides train its
-- phase 1 and baselines; each pipeline's overrides run its phases 2 and 3 (and name shared_dir when shared).
function M.plan(base, overrides, results)
  local groups, by_name = {}, {}
  local shared = M.shares_phase1(base.sweep)
  for _, combo in ipairs(M.expand(base.sweep)) do
    local name = combo.suffix and (base.name .. "/" .. combo.suffix) or base.name
    local ovs = {}
    for _, o in ipairs(overrides or {}) do ovs[#ovs + 1] = o end
    for _, o in ipairs(combo.overrides) do ovs[#ovs + 1] = o end
    if combo.suffix then ovs[#ovs + 1] = "name=" .. name end
    local gname = name
    if shared then gname = combo.group_suffix and (base.name .. "/" .. combo.group_suffix) or base.name end
    local g = by_name[gname]
    if not g then
      local govs = {}
      for _, o in ipairs(overrides or {}) do govs[#govs + 1] = o end
      if shared then
        for _, o in ipairs(combo.group_overrides) do govs[#govs + 1] = o end
        if gname ~= base.name then govs[#govs + 1] = "name=" .. gname end
      else
        govs = ovs
      end
      g = { name = gname, overrides = govs, pipelines = {}, shared = shared }
      by_name[gname] = g
      groups[#groups + 1] = g
    end
    if shared then ovs[#ovs + 1] = "shared_dir=" .. results .. "/" .. gname end
    g.pipelines[#g.pipelines + 1] = { name = name, suffix = combo.suffix, values = combo.values, overrides = ovs }
  end
  return groups
end

return M
