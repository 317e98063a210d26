-- Site profiles (slurm/<name>.lua): where and how jobs run. A profile is a Lua file returning a table;
-- unknown keys are errors (with a suggestion), and every value is checked before it reaches a script.
local shell = require "swap.shell"
local config = require "swap.config"

local M = {}

local function is_str(v) return type(v) == "string" end
local function is_list_of(pred)
  return function(v)
    if type(v) ~= "table" then return false end
    for k, x in pairs(v) do
      if math.type(k) ~= "integer" or not pred(x) then return false end
    end
    return true
  end
end
local function sbatch_tok(v) return shell.sbatch_safe(v) end
local function pos_int(v) return math.type(v) == "integer" and v > 0 end
-- Extra #SBATCH options: one "--option" or "--option=value" per entry.
local function sbatch_line(v)
  return is_str(v) and (v:match("^%-%-[%w%-]+$") or v:match("^%-%-[%w%-]+=[%w%%&*+,./:=@_|%-]+$")) ~= nil
end
local function word(v) return is_str(v) and v:match("^[%w%%+,./:=@_%-]+$") ~= nil end
local function no_newline(v) return is_str(v) and v ~= "" and not v:find("[%z\n\r]") end

-- Keys that may be set at the top (default for all phases) or per phase (phase1 = { ... }).
M.phase_keys = {
  partition = { check = sbatch_tok, expect = "a partition name", sbatch = "partition" },
  account = { check = sbatch_tok, expect = "an account name", sbatch = "account" },
  qos = { check = sbatch_tok, expect = "a QOS name", sbatch = "qos" },
  time = { check = shell.is_time, expect = "a Slurm time limit (MM, HH:MM:SS, D-HH:MM:SS)", sbatch = "time" },
  cpus_per_task = { check = pos_int, expect = "a positive integer", sbatch = "cpus-per-task" },
  mem = { check = shell.is_mem, expect = "memory per node such as \"8G\"", sbatch = "mem" },
  mem_per_cpu = { check = shell.is_mem, expect = "memory per CPU such as \"2G\"", sbatch = "mem-per-cpu" },
  nodes = { check = function(v) return pos_int(v) or (is_str(v) and v:match("^%d+%-?%d*$")) end,
            expect = "a node count such as 1 or \"1-2\"", sbatch = "nodes" },
  gres = { check = sbatch_tok, expect = "a GRES spec such as \"gpu:1\"", sbatch = "gres" },
  constraint = { check = sbatch_tok, expect = "a feature constraint", sbatch = "constraint" },
  sbatch = { check = is_list_of(sbatch_line), expect = "a list of extra \"--option=value\" strings" },
}

M.top_keys = {
  mpi = { check = function(v)
    if not is_str(v) or not v:find("%S") then return false end
    for w in v:gmatch("%S+") do if not word(w) then return false end end
    return true
  end, expect = "an MPI launch command such as \"srun --mpi=pmi2\" or \"mpiexec\"" },
  modules = { check = is_list_of(word), expect = "a list of module names (module load ...)" },
  source = { check = is_list_of(no_newline), expect = "a list of shell files to source before running" },
  env = { check = function(v)
    if type(v) ~= "table" then return false end
    for k, x in pairs(v) do
      if not (is_str(k) and k:match("^[A-Za-z_][A-Za-z0-9_]*$")) then return false end
      if not ((is_str(x) and not x:find("[%z\n\r]")) or type(x) == "number") then return false end
    end
    return true
  end, expect = "a table of NAME = \"value\" environment variables" },
  signal_seconds = { check = function(v) return math.type(v) == "integer" and v >= 0 and v <= 65535 end,
    expect = "seconds before the time limit at which jobs get USR1 (0 = no signal)" },
  requeue = { check = function(v) return type(v) == "boolean" end, expect = "true or false" },
  max_requeues = { check = function(v) return math.type(v) == "integer" and v >= 0 end, expect = "an integer >= 0" },
  max_retries = { check = function(v) return math.type(v) == "integer" and v >= 0 end,
    expect = "an integer >= 0 (times a job that failed is requeued to run again)" },
  bin_dir = { check = no_newline, expect = "a directory holding swap-train, swap-refine, swap-average, swap-inspect" },
  description = { check = is_str, expect = "a string" },
}

M.defaults = {
  mpi = "srun", modules = {}, source = {}, env = {}, signal_seconds = 120, requeue = true, max_requeues = 10, max_retries = 0,
  time = "01:00:00", sbatch = {},
}

local function all_keys()
  local ks = {}
  for k in pairs(M.phase_keys) do ks[#ks + 1] = k end
  for k in pairs(M.top_keys) do ks[#ks + 1] = k end
  ks[#ks + 1] = "phase1"; ks[#ks + 1] = "phase2"; ks[#ks + 1] = "phase3"; ks[#ks + 1] = "baselines"
  table.sort(ks)
  return ks
end

local function suggest(key, candidates)
  local best = config.suggest(key, candidates)
  return best and (" (did you mean '" .. best .. "'?)") or ""
end

-- Validate a profile table; `where` prefixes errors (the file name). Returns the table with defaults filled:
-- { <top keys>, phase = { [1] = {...}, [2] = {...}, [3] = {...}, [4] = {...} } } where each phase table holds
-- the merged per-phase keys; [4] is the `baselines` section (the jobs of the experiment's baselines).
function M.validate(p, where)
  local function fail(msg) error(where .. ": " .. msg, 0) end
  if type(p) ~= "table" then fail("a profile must return a table") end
  local out = { phase = { {}, {}, {}, {} } }
  for k, v in pairs(p) do
    if type(k) ~= "string" then fail("profile keys must be names, got " .. config.show(k)) end
    local spec = M.top_keys[k] or M.phase_keys[k]
    if k == "phase1" or k == "phase2" or k == "phase3" or k == "baselines" then
      if type(v) ~= "table" then fail("'" .. k .. "' must be a table of per-phase settings") end
      for pk, pv in pairs(v) do
        local ps = M.phase_keys[pk]
        if not ps then
          local cands = {}
          for c in pairs(M.phase_keys) do cands[#cands + 1] = c end
          table.sort(cands)
          fail("unknown key '" .. k .. "." .. tostring(pk) .. "'" .. suggest(tostring(pk), cands))
        end
        if not ps.check(pv) then fail("'" .. k .. "." .. pk .. "': expected " .. ps.expect .. ", got " .. config.show(pv)) end
      end
    elseif not spec then
      fail("unknown key '" .. k .. "'" .. suggest(k, all_keys()))
    elseif not spec.check(v) then
      fail("'" .. k .. "': expected " .. spec.expect .. ", got " .. config.show(v))
    end
  end
  for k, v in pairs(M.defaults) do out[k] = v end
  for k in pairs(M.top_keys) do if p[k] ~= nil then out[k] = p[k] end end
  -- a failed job is retried by requeueing itself, which --no-requeue forbids
  if not out.requeue and out.max_retries > 0 then fail("'max_retries' needs requeue = true (retries are requeues)") end
  for i = 1, 4 do
    local ph = out.phase[i]
    local sec = i == 4 and "baselines" or ("phase" .. i)
    for k in pairs(M.phase_keys) do
      local v = p[sec] and p[sec][k]
      if v == nil then v = p[k] end
      if v == nil then v = M.defaults[k] end
      ph[k] = v
    end
    -- extra #SBATCH lines: the top-level ones, then the phase's own
    if p.sbatch and p[sec] and p[sec].sbatch then
      local merged = {}
      for _, l in ipairs(p.sbatch) do merged[#merged + 1] = l end
      for _, l in ipairs(p[sec].sbatch) do merged[#merged + 1] = l end
      ph.sbatch = merged
    end
  end
  return out
end

-- Locate a profile: a path (contains '/' or ends in .lua) or a name in <root>/slurm/.
function M.path(name, root)
  if name:find("/") or name:match("%.lua$") then return name end
  if not name:match("^[%w._%-]+$") then error("profile '" .. name .. "': not a valid profile name", 0) end
  return root .. "/slurm/" .. name .. ".lua"
end

function M.load(name, root)
  local path = M.path(name, root)
  local f, err = loadfile(path, "t", setmetatable({}, { __index = _G }))
  if not f then
    if err:find("cannot open") then error("profile '" .. name .. "': cannot open " .. path, 0) end
    error(err, 0)
  end
  local ok, p = pcall(f)
  if not ok then error(tostring(p), 0) end
  local prof = M.validate(p, path)
  prof.path = path
  prof.name = name
  return prof
end

return M
