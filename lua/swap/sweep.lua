-- Sweep expansion: { ["phase1.batch"] = {512, 1024}, ["phase1.lr"] = {0.1, 0.2} } becomes the cartesian
-- product of independent pipelines, each named "<name>/<key>=<value>[,<key>=<value>...]" (keys sorted) and
-- carrying the "--set key=value" overrides its executables receive.
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

-- Returns a list of { suffix = "k=v,...", values = {k = v}, overrides = {"k=v", ...} }; one entry with
-- suffix nil when there is nothing to sweep.
function M.expand(sweep)
  local keys = {}
  for k in pairs(sweep or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  if #keys == 0 then return { { values = {}, overrides = {} } } end
  local total = 1
  for _, k in ipairs(keys) do total = total * #sweep[k] end
  if total > M.max_pipelines then
    error(string.format("sweep: %d combinations (more than %d)", total, M.max_pipelines), 0)
  end
  local out = {}
  local idx = {}
  for i = 1, #keys do idx[i] = 1 end
  for _ = 1, total do
    local parts, values, ovs = {}, {}, {}
    for i, k in ipairs(keys) do
      local v = sweep[k][idx[i]]
      values[k] = v
      parts[#parts + 1] = k .. "=" .. M.label(v)
      ovs[#ovs + 1] = k .. "=" .. config.show_plain(v)
    end
    out[#out + 1] = { suffix = table.concat(parts, ","), values = values, overrides = ovs }
    -- odometer: the last key varies fastest
    for i = #keys, 1, -1 do
      idx[i] = idx[i] + 1
      if idx[i] <= #sweep[keys[i]] then break end
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

return M
