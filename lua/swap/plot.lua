-- Sweep pictures for `swap-slurm collect`: accuracy of the phase-1 model, the best worker, the SWAP average and
-- the ensemble against each swept variable, and the time of each phase as stacked bars. Every PNG has its CSV
-- and gnuplot script beside it; without gnuplot the CSVs and scripts are still written and one message says so.
--
--   local plot = require "swap.plot"
--   plot.plot_sweep(plot.rows_from_cells(rows, header), sweep_keys, out_dir, title)
--
-- rows: one table per pipeline keyed by collect.csv's column names ("pipeline", each sweep key such as
-- "phase1.batch", "phase1_test_acc", "worker_test_acc_best", "average_test_acc", "ensemble_test_acc",
-- "phase1_time_s", "worker_time_s_max", "phase3_time_s"); values are numbers or strings, "" or nil = missing.
local M = {}

M.NO_GNUPLOT = "gnuplot not found: wrote CSVs only; install gnuplot-nox"

M.METRICS = {
  { "phase1_test_acc", "phase-1 model" }, { "worker_test_acc_best", "best worker" },
  { "average_test_acc", "SWAP average" }, { "ensemble_test_acc", "ensemble" },
}
M.TIMES = { { "phase1_time_s", "phase 1" }, { "worker_time_s_max", "phase 2 (slowest worker)" },
  { "phase3_time_s", "phase 3" } }

-- collect's rows (lists of cell strings in header order) -> tables keyed by column name
function M.rows_from_cells(cell_rows, header)
  local out = {}
  for i, cells in ipairs(cell_rows) do
    local r = {}
    for j, name in ipairs(header) do r[name] = cells[j] end
    out[i] = r
  end
  return out
end

local shell = require "swap.shell"
local sys = require "swap.sys"
local sh_quote, write_atomic = shell.quote, sys.write_atomic

local function num(v)
  if v == nil or v == "" then return nil end
  return tonumber(v)
end

-- CSV cell: numbers as %.9g, text without the characters that would break gnuplot's CSV reading
local function cell(v)
  if v == nil or v == "" then return "nan" end
  if type(v) == "number" then return string.format("%.9g", v) end
  local s = tostring(v):gsub("[,\"\n']", ";")
  return s
end

local function gp_str(s) return (tostring(s):gsub("\\", "\\\\"):gsub('"', '\\"')) end

local function safe_name(k) return (k:gsub("[^%w%-]", "_")) end

function M.have_gnuplot()
  return os.execute("command -v gnuplot >/dev/null 2>&1") == true
end

local function gp_begin(png, w, h)
  return table.concat({
    "# written by swap.plot (lua/swap/plot.lua); run: gnuplot " .. png:gsub("%.png$", ".gp"),
    "set datafile separator ','", "set datafile missing 'nan'",
    "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {",
    string.format("  set terminal pngcairo size %d,%d font 'sans,10' noenhanced", w, h),
    "} else {", string.format("  set terminal png size %d,%d noenhanced", w, h), "}",
    "set output '." .. png .. ".tmp'", "set grid", "" }, "\n")
end

-- One accuracy plot per swept key; rows that differ in the other keys are separate groups (dash types).
local function accuracy_plot(rows, key, others, out_dir, title)
  local xs, numeric = {}, true
  for _, r in ipairs(rows) do
    local v = r[key]
    if v ~= nil and v ~= "" then
      if not tonumber(v) then numeric = false end
      xs[#xs + 1] = tostring(v)
    end
  end
  -- categorical positions in first-seen order; numeric ones sorted
  local index, order = {}, {}
  for _, v in ipairs(xs) do if not index[v] then order[#order + 1] = v; index[v] = true end end
  if numeric then table.sort(order, function(a, b) return tonumber(a) < tonumber(b) end) end
  for i, v in ipairs(order) do index[v] = i - 1 end
  local logx = numeric and key:find("batch") ~= nil
  if logx then for _, v in ipairs(order) do if tonumber(v) <= 0 then logx = false end end end

  local groups, gorder = {}, {}
  local lines = { "x,x_index,group" }
  for _, m in ipairs(M.METRICS) do lines[1] = lines[1] .. "," .. m[1] end
  local sorted = {}
  for _, r in ipairs(rows) do if r[key] ~= nil and r[key] ~= "" then sorted[#sorted + 1] = r end end
  local function group_of(r)
    local parts = {}
    for _, o in ipairs(others) do parts[#parts + 1] = o .. "=" .. tostring(r[o] or "") end
    return #parts > 0 and table.concat(parts, " ") or "all"
  end
  for _, r in ipairs(sorted) do
    local g = cell(group_of(r))
    if not groups[g] then groups[g] = true; gorder[#gorder + 1] = g end
  end
  table.sort(sorted, function(a, b)
    local ga, gb = group_of(a), group_of(b)
    if ga ~= gb then return ga < gb end
    return index[tostring(a[key])] < index[tostring(b[key])]
  end)
  for _, r in ipairs(sorted) do
    local c = { cell(r[key]), tostring(index[tostring(r[key])]), cell(group_of(r)) }
    for _, m in ipairs(M.METRICS) do c[#c + 1] = cell(num(r[m[1]])) end
    lines[#lines + 1] = table.concat(c, ",")
  end
  local stem = "sweep-" .. safe_name(key)
  local csv = stem .. ".csv"
  write_atomic(out_dir .. "/" .. csv, table.concat(lines, "\n") .. "\n")

  local g = { gp_begin(stem .. ".png", 800, 560) }
  g[#g + 1] = string.format('set title "sweep %s: test accuracy against %s"', gp_str(title), gp_str(key))
  g[#g + 1] = string.format("set xlabel \"%s%s\"", gp_str(key), logx and " (log scale)" or "")
  g[#g + 1] = "set ylabel 'test accuracy (%)'"
  g[#g + 1] = "set key outside right top"
  if logx then g[#g + 1] = "set logscale x 2" end
  local xcol = numeric and "1" or "2"
  if not numeric then
    g[#g + 1] = string.format("set xrange [-0.5:%g]", #order - 0.5)
    local tics = {}
    for i, v in ipairs(order) do tics[#tics + 1] = string.format('"%s" %d', gp_str(v), i - 1) end
    g[#g + 1] = "set xtics (" .. table.concat(tics, ", ") .. ")"
  else
    g[#g + 1] = "set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05"
  end
  local clauses = {}
  local pts = { 7, 5, 9, 11 }
  for gi, grp in ipairs(gorder) do
    for mi, m in ipairs(M.METRICS) do
      local t = m[2] .. (#gorder > 1 and (" (" .. grp .. ")") or "")
      clauses[#clauses + 1] = string.format(
        "'%s' skip 1 using %s:(strcol(3) eq \"%s\" ? 100*$%d : NaN) with linespoints lw 2 pt %d ps 1.3 lc %d dt %d title \"%s\"",
        #clauses == 0 and csv or "", xcol, gp_str(grp), 3 + mi, pts[mi], mi, gi, gp_str(t))
    end
  end
  g[#g + 1] = "plot " .. table.concat(clauses, ", \\\n     ")
  write_atomic(out_dir .. "/" .. stem .. ".gp", table.concat(g, "\n") .. "\n")
  return stem
end

local function times_plot(rows, sweep_keys, out_dir, title)
  local lines = { "pipeline,label" }
  for _, t in ipairs(M.TIMES) do lines[1] = lines[1] .. "," .. t[1] end
  for _, r in ipairs(rows) do
    local parts = {}
    for _, k in ipairs(sweep_keys) do parts[#parts + 1] = k .. "=" .. tostring(r[k] or "") end
    local c = { cell(r.pipeline or ""), cell(#parts > 0 and table.concat(parts, " ") or (r.pipeline or "")) }
    for _, t in ipairs(M.TIMES) do c[#c + 1] = cell(num(r[t[1]])) end
    lines[#lines + 1] = table.concat(c, ",")
  end
  write_atomic(out_dir .. "/sweep-times.csv", table.concat(lines, "\n") .. "\n")
  local g = { gp_begin("sweep-times.png", math.max(800, 60 * #rows + 300), 560) }
  g[#g + 1] = string.format('set title "sweep %s: wall-clock time per phase (critical path)"', gp_str(title))
  g[#g + 1] = "set ylabel 'time (s)'"
  g[#g + 1] = "set xlabel 'pipeline'"
  g[#g + 1] = "set style data histograms\nset style histogram rowstacked\nset style fill solid 0.8 border -1"
  g[#g + 1] = "set boxwidth 0.7\nset key outside right top\nset xtics rotate by -30\nset yrange [0:*]"
  g[#g + 1] = "plot 'sweep-times.csv' skip 1 using 3:xtic(2) title 'phase 1', '' skip 1 using 4 title "
    .. "'phase 2 (slowest worker)', '' skip 1 using 5 title 'phase 3'"
  write_atomic(out_dir .. "/sweep-times.gp", table.concat(g, "\n") .. "\n")
  return "sweep-times"
end

-- Writes sweep-<key>.{csv,gp,png} for every swept key and sweep-times.{csv,gp,png} into out_dir (created).
-- Returns { stems = {...}, pngs = {...written PNG paths...}, gnuplot = true|false }. Problems drawing are
-- warnings on stderr (a sweep's numbers matter more than its pictures); bad arguments are errors.
function M.plot_sweep(rows, sweep_keys, out_dir, title, opts)
  opts = opts or {}
  local warn = opts.warn or function(msg) io.stderr:write("swap-slurm: warning: " .. msg .. "\n") end
  assert(type(rows) == "table" and type(sweep_keys) == "table", "plot_sweep(rows, sweep_keys, out_dir, title)")
  title = title or "sweep"
  os.execute("mkdir -p " .. sh_quote(out_dir))
  local stems = {}
  for _, k in ipairs(sweep_keys) do
    local others = {}
    for _, o in ipairs(sweep_keys) do if o ~= k then others[#others + 1] = o end end
    stems[#stems + 1] = accuracy_plot(rows, k, others, out_dir, title)
  end
  stems[#stems + 1] = times_plot(rows, sweep_keys, out_dir, title)
  local result = { stems = stems, pngs = {}, gnuplot = M.have_gnuplot() }
  if not result.gnuplot then
    io.stderr:write("swap-slurm: " .. M.NO_GNUPLOT .. "\n")
    return result
  end
  for _, stem in ipairs(stems) do
    local ok = os.execute("cd " .. sh_quote(out_dir) .. " && gnuplot " .. sh_quote(stem .. ".gp"))
    local tmp, png = out_dir .. "/." .. stem .. ".png.tmp", out_dir .. "/" .. stem .. ".png"
    if ok and os.rename(tmp, png) then result.pngs[#result.pngs + 1] = png
    else
      os.remove(tmp)
      warn(out_dir .. "/" .. stem .. ".gp: gnuplot failed; the CSV is there")
    end
  end
  return result
end

return M
