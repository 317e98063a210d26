-- lua/swap/plot.lua: sweep CSVs hold collect's numbers, log-x for batch sizes, PNGs valid, no-gnuplot message.
local src = os.getenv("SWAP_SOURCE_DIR") or "."
package.path = src .. "/lua/?.lua;" .. package.path
local plot = require "swap.plot"

local T = dofile(src .. "/tests/lua/testlib.lua").new("test_plot.lua")
local check = T.check
local tmp = T.tmpdir("test_plot_lua")
local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end
local function csv_rows(path)
  local text = read(path)
  if not text then return {} end
  local lines = {}
  for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
  local header, out = {}, {}
  for c in lines[1]:gmatch("[^,]+") do header[#header + 1] = c end
  for i = 2, #lines do
    local r, j = {}, 0
    for c in (lines[i] .. ","):gmatch("([^,]*),") do j = j + 1; r[header[j]] = c end
    out[#out + 1] = r
  end
  return out, header
end
local function png_size(path)
  local b = read(path)
  if not b or #b < 24 or b:sub(1, 8) ~= "\137PNG\r\n\26\n" or b:sub(13, 16) ~= "IHDR" then return nil end
  return string.unpack(">I4I4", b, 17)
end

-- collect's shape: header + rows of cell strings (one missing pipeline: empty cells)
local header = { "pipeline", "phase1.batch", "phase1_test_acc", "phase1_time_s", "workers", "worker_test_acc_mean",
  "worker_test_acc_best", "worker_time_s_max", "average_test_acc_before_bn", "average_test_acc",
  "ensemble_test_acc", "phase3_time_s", "critical_path_s", "status" }
local cells = {
  { "b4096", "4096", "0.8512", "40.0", "4", "0.8700", "0.8750", "30.5", "0.80", "0.8801", "0.8830", "5.0", "75.5", "ok" },
  { "b256", "256", "0.9001", "120.0", "4", "0.9050", "0.9100", "30.0", "0.85", "0.9150", "0.9170", "5.0", "155.0", "ok" },
  { "b1024", "1024", "0.8800", "60.0", "4", "0.8900", "0.8950", "31.0", "0.83", "0.9000", "0.9020", "5.0", "96.0", "ok" },
  { "b8192", "8192", "", "", "", "", "", "", "", "", "", "", "", "missing" },
}
local rows = plot.rows_from_cells(cells, header)
check(rows[2]["phase1.batch"] == "256" and rows[2].average_test_acc == "0.9150", "rows_from_cells keys by header")

local have = plot.have_gnuplot()
local out = tmp .. "/plots"
local res = plot.plot_sweep(rows, { "phase1.batch" }, out, "batch-sweep")
local acc = csv_rows(out .. "/sweep-phase1_batch.csv")
check(#acc == 4, "one accuracy row per pipeline (got " .. #acc .. ")")
-- sorted by the swept value; each metric copied from collect's cells
local want = { ["256"] = cells[2], ["1024"] = cells[3], ["4096"] = cells[1] }
local prev = 0
for _, r in ipairs(acc) do
  check(tonumber(r.x) > prev, "rows sorted by batch size")
  prev = tonumber(r.x)
  local c = want[r.x]
  if c then
    check(tonumber(r.phase1_test_acc) == tonumber(c[3]), "phase-1 acc for batch " .. r.x)
    check(tonumber(r.worker_test_acc_best) == tonumber(c[7]), "best worker for batch " .. r.x)
    check(tonumber(r.average_test_acc) == tonumber(c[10]), "average for batch " .. r.x)
    check(tonumber(r.ensemble_test_acc) == tonumber(c[11]), "ensemble for batch " .. r.x)
  else
    check(r.x == "8192" and r.average_test_acc == "nan", "a missing pipeline's numbers are nan")
  end
end
local gp = read(out .. "/sweep-phase1_batch.gp") or ""
check(gp:find("set logscale x 2", 1, true) ~= nil, "batch sizes on a log-2 axis")
check(gp:find("batch-sweep", 1, true) and gp:find("test accuracy (%)", 1, true) and gp:find("SWAP average", 1, true),
  "title names the sweep, axes labelled, legend entries")
local times = csv_rows(out .. "/sweep-times.csv")
check(#times == 4 and tonumber(times[1].phase1_time_s) == 40.0 and tonumber(times[2].worker_time_s_max) == 30.0 and
  tonumber(times[3].phase3_time_s) == 5.0, "sweep-times.csv: the phase times of each pipeline")
check(((read(out .. "/sweep-times.gp") or ""):find("rowstacked", 1, true)) ~= nil, "stacked bars")

-- a categorical swept key plus a second key: groups, no log axis
local rows2 = {
  { pipeline = "a", ["phase2.mode"] = "independent", seed = "1", average_test_acc = "0.9", phase1_test_acc = "0.8" },
  { pipeline = "b", ["phase2.mode"] = "wash", seed = "1", average_test_acc = "0.91", phase1_test_acc = "0.8" },
  { pipeline = "c", ["phase2.mode"] = "independent", seed = "2", average_test_acc = "0.89", phase1_test_acc = "0.79" },
}
local out2 = tmp .. "/plots2"
plot.plot_sweep(rows2, { "phase2.mode", "seed" }, out2, "modes")
local m = csv_rows(out2 .. "/sweep-phase2_mode.csv")
check(#m == 3, "categorical sweep rows")
local idx = {}
for _, r in ipairs(m) do idx[r.x] = r.x_index end
check(idx.independent == "0" and idx.wash == "1", "categories numbered in first-seen order")
local gp2 = read(out2 .. "/sweep-phase2_mode.gp") or ""
check(not gp2:find("logscale", 1, true) and gp2:find('"wash" 1', 1, true), "categorical axis with named tics")
check(gp2:find("seed=2", 1, true) ~= nil, "other keys' values label the groups")

if have then
  check(res.gnuplot and #res.pngs == 2, "two PNGs drawn")
  local w, h = png_size(out .. "/sweep-phase1_batch.png")
  check(w == 800 and h == 560, "sweep PNG valid, 800x560 (got " .. tostring(w) .. "x" .. tostring(h) .. ")")
  check(png_size(out .. "/sweep-times.png") ~= nil, "times PNG valid")
  check(png_size(out2 .. "/sweep-phase2_mode.png") ~= nil and png_size(out2 .. "/sweep-seed.png") ~= nil,
    "categorical and second-key PNGs valid")
else
  io.stderr:write("note: gnuplot not installed; PNG checks skipped\n")
end

-- without gnuplot on PATH: the message, the CSVs, no PNGs
local nogp = tmp .. "/nogp"
os.execute("mkdir -p '" .. nogp .. "'")
for _, tool in ipairs({ "sh", "mkdir", "sync", "lua5.4" }) do -- (sync: swap.sys.write_atomic)
  local p = io.popen("command -v " .. tool):read("l")
  if p then os.execute("ln -sf '" .. p .. "' '" .. nogp .. "/" .. tool .. "'") end
end
local script = tmp .. "/nogp.lua"
local f = assert(io.open(script, "w"))
f:write(string.format([[
package.path = %q .. "/lua/?.lua;" .. package.path
local plot = require "swap.plot"
local r = plot.plot_sweep({ { pipeline = "x", ["phase1.batch"] = "256", average_test_acc = "0.9" } }, { "phase1.batch" }, %q, "t")
os.exit(r.gnuplot == false and #r.pngs == 0 and 0 or 1)
]], src, tmp .. "/plots3"))
f:close()
local ok = os.execute("cd '" .. tmp .. "' && PATH='" .. nogp .. "' lua5.4 '" .. script .. "' 2> '" .. tmp .. "/nogp.err'")
check(ok == true, "plot_sweep without gnuplot returns normally, no PNGs")
check((read(tmp .. "/nogp.err") or ""):find("gnuplot not found: wrote CSVs only; install gnuplot-nox", 1, true) ~= nil,
  "clear message without gnuplot")
check(read(tmp .. "/plots3/sweep-phase1_batch.csv") ~= nil and read(tmp .. "/plots3/sweep-times.csv") ~= nil,
  "CSVs written without gnuplot")
check(read(tmp .. "/plots3/sweep-phase1_batch.png") == nil, "no PNG without gnuplot")

os.execute("rm -rf '" .. tmp .. "'")
T.finish()
