-- Configuration of dataset = "hdf5": data_file is required with it and refused without it, with one-line errors
-- naming the key; the streaming keys have their documented defaults and ranges.
local src = os.getenv("SWAP_SOURCE_DIR") or "."
package.path = src .. "/lua/?.lua;" .. package.path
local config = require "swap.config"
local T = dofile(src .. "/tests/lua/testlib.lua").new("test_config_data.lua")
local check = T.check
local tmp = T.tmpdir("test_config_data")
local function exp(text)
  local p = tmp .. "/exp.lua"
  local f = assert(io.open(p, "w"))
  f:write(text)
  f:close()
  return p
end
local function err_of(text, sets)
  local ok, e = pcall(config.resolve, exp(text), sets or {})
  return not ok and tostring(e) or nil
end

local e = err_of([[return { name = "x", dataset = "hdf5" }]])
check(e and e:find("data_file", 1, true) and e:find("needs data_file", 1, true) and not e:find("\n"), "hdf5 without data_file: " .. tostring(e))
e = err_of([[return { name = "x", dataset = "cifar10", data_file = "a.h5" }]])
check(e and e:find("only used with dataset = \"hdf5\"", 1, true), "data_file with a built-in dataset: " .. tostring(e))
local f = config.resolve(exp([[return { name = "x", dataset = "hdf5", data_file = "a.h5" }]]), {})
check(f.data_file == "a.h5" and f["data.in_memory"] == nil and f["data.stream_above_mb"] == 4096 and
  f["data.stream_chunk"] == 256 and f["data.stream_window"] == 16, "defaults")
f = config.resolve(exp([[return { name = "x", dataset = "hdf5", data_file = "a.h5", data = { in_memory = false } }]]), {})
check(f["data.in_memory"] == false, "in_memory = false")
e = err_of([[return { name = "x", dataset = "hdf5", data_file = "a.h5", data = { stream_chunk = 0 } }]])
check(e and e:find("stream_chunk", 1, true), "stream_chunk = 0: " .. tostring(e))
e = err_of([[return { name = "x", dataset = "hdf5", data_file = "a.h5", data = { in_memory = "no" } }]])
check(e and e:find("in_memory", 1, true), "in_memory = \"no\": " .. tostring(e))
f = config.resolve(exp([[return { name = "x" }]]), { "dataset=hdf5", "data_file=/d/x.h5" })
check(f.dataset == "hdf5" and f.data_file == "/d/x.h5", "--set dataset=hdf5 data_file=...")
T.finish()
