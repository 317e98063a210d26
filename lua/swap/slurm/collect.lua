-- collect: every pipeline's summary.json into one table (collect.csv/.md), mean ± std over seed replicates,
-- and the sweep plots.
local config = require "swap.config"
local sweep = require "swap.sweep"
local sys = require "swap.sys"
local context = require "swap.slurm.context"

local M = {}

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
  sys.write_atomic(ctx.base_dir .. "/collect-seeds.csv", table.concat(csv, "\n") .. "\n")
  sys.write_atomic(ctx.base_dir .. "/collect-seeds.md", md_text)
  out:write("\nover seeds (mean ± sample standard deviation):\n" .. md_text)
  out:write("written " .. context.rel(ctx, ctx.base_dir .. "/collect-seeds.csv") .. " and " ..
    context.rel(ctx, ctx.base_dir .. "/collect-seeds.md") .. "\n")
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
    local text = sys.read(path)
    if not text then return nil, nil end
    local ok, v = pcall(cjson.decode, text)
    return text, ok and type(v) == "table" and v or nil
  end
  for _, pl in ipairs(ctx.pipelines) do
    local o = context.outputs(pl)
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
  sys.mkdir_p(ctx.base_dir)
  sys.write_atomic(ctx.base_dir .. "/collect.csv", csv_text)
  sys.write_atomic(ctx.base_dir .. "/collect.md", md_text)
  out:write(md_text)
  out:write("written " .. context.rel(ctx, ctx.base_dir .. "/collect.csv") .. " and " .. context.rel(ctx, ctx.base_dir .. "/collect.md") .. "\n")
  M.collect_seeds(ctx, rows, header, sweep_keys, out)
  -- pictures next to the numbers; a plotting problem must not lose the table
  local plot = require "swap.plot"
  local ok, perr = pcall(plot.plot_sweep, plot.rows_from_cells(rows, header), sweep_keys, ctx.base_dir .. "/plots",
    ctx.base.name)
  if not ok then io.stderr:write("swap-slurm: warning: sweep plots: " .. tostring(perr) .. "\n") end
  return rows, header
end

return M
