-- swap-slurm and dataset = "hdf5": every job gets the data file by absolute path, and plan/submit refuse a data
-- file that is missing, unreadable, a directory or not HDF5 before writing or submitting anything.
local src = os.getenv("SWAP_SOURCE_DIR") or "."
package.path = src .. "/lua/?.lua;" .. package.path
local slurm = require "swap.slurm"

local T = dofile(src .. "/tests/lua/testlib.lua").new("test_slurm_data.lua")
local check = T.check
local function has(text, want) return text:find(want, 1, true) ~= nil end
local tmp = T.tmpdir("test_slurm_data")
local function write(path, text)
  os.execute("mkdir -p '" .. path:match("^(.*)/") .. "'")
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end
local function quiet() return { write = function() end } end
local bin = tmp .. "/bin"
for _, b in ipairs({ "swap-train", "swap-refine", "swap-average", "swap-inspect" }) do
  write(bin .. "/" .. b, "#!/bin/sh\nexit 0\n")
  os.execute("chmod 0755 '" .. bin .. "/" .. b .. "'")
end
local function ctx_for(data_file, dir)
  local d = tmp .. "/" .. dir
  local exp = write(d .. "/exp.lua", string.format([[return { name = "h", dataset = "hdf5", data_file = %q,
    results = %q, phase1 = { ranks = 2, batch = 256 }, phase2 = { workers = 2 } }]], data_file, d .. "/results"))
  return slurm.load({ experiment = exp, bin_dir = bin, root = src, cwd = d }), d
end
local function check_refused(data_file, dir, want, label)
  local ctx, d = ctx_for(data_file, dir)
  for _, fn in ipairs({ function() slurm.plan(ctx, quiet()) end, function() slurm.submit(ctx, {}, quiet()) end }) do
    local ok, e = pcall(fn)
    e = tostring(e)
    check(not ok and has(e, want) and not e:find("\n"), label .. ": " .. e)
  end
  local p = io.popen("find '" .. d .. "/results' -type f 2>/dev/null")
  local files = p:read("a")
  p:close()
  check(files == "", label .. ": wrote " .. files)
end

-- a good file (relative to the submit directory): every job's command line carries its absolute path
do
  local d = tmp .. "/good"
  write(d .. "/data/x.h5", "\137HDF\r\n\26\n" .. string.rep("\0", 100))
  local ctx = ctx_for("data/x.h5", "good")
  slurm.plan(ctx, quiet())
  local pl = ctx.pipelines[1]
  for phase = 1, 3 do
    local words = {}
    for _, w in ipairs(slurm.job(ctx, pl, phase).argv) do words[#words + 1] = type(w) == "string" and w or "<raw>" end
    local argv = table.concat(words, " ")
    check(has(argv, "--set data_file=" .. d .. "/data/x.h5"), "phase " .. phase .. " argv: " .. argv)
  end
end
check_refused("missing.h5", "missing", "missing.h5: data_file cannot be opened", "missing file")
write(tmp .. "/dir/adir/keep", "")
check_refused("adir", "dir", "adir: data_file is a directory or empty", "directory")
write(tmp .. "/text/notes.h5", "just some text")
check_refused("notes.h5", "text", "notes.h5: data_file is not an HDF5 file", "not HDF5")
T.finish()
