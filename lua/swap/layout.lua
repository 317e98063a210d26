-- The results layout: where each phase's files live, relative to results/<name>/ (phase 1 and the baselines
-- relative to the shared directory of a sweep group, when there is one). Defined once for Lua here and once for
-- C in src/core/layout.h, name for name (LAYOUT_<NAME> there); tests/lua/test_layout.lua checks that the two
-- agree. The values are string.format patterns (%d: a worker index, %s: a baseline name).
local M = {
  PHASE1_DIR = "phase1",
  PHASE1_MODEL = "phase1/model.h5",
  PHASE1_RESUME = "phase1/resume.h5",
  PHASE1_LOG = "phase1/log.jsonl",
  WORKER_MODEL = "phase2/worker-%d.h5",
  WORKER_RESUME = "phase2/worker-%d.resume.h5",
  WORKER_LOG = "phase2/worker-%d.log.jsonl",
  PHASE3_MODEL = "phase3/model.h5",
  SUMMARY = "summary.json",
  BASELINE_DIR = "baseline-%s",
  BASELINE_MODEL = "baseline-%s/model.h5",
  PLOTS_DIR = "plots",
}

-- dir .. "/" .. the entry `name` filled in with its arguments.
function M.path(dir, name, ...)
  return dir .. "/" .. string.format(assert(M[name], "layout: no entry " .. tostring(name)), ...)
end

return M
