-- The results layout is defined once per language, name for name: src/core/layout.h (C) and lua/swap/layout.lua
-- (Lua). Every LAYOUT_<NAME> of the header must be <NAME> in the Lua table with the same value, and back.
local src = os.getenv("SWAP_SOURCE_DIR") or "."
package.path = src .. "/lua/?.lua;" .. package.path
local layout = require "swap.layout"
local T = dofile(src .. "/tests/lua/testlib.lua").new("test_layout.lua")
local check = T.check

local f = assert(io.open(src .. "/src/core/layout.h"))
local header = f:read("a")
f:close()
local c = {}
for name, value in header:gmatch('\n#define LAYOUT_([%u%d_]+) "([^"\n]*)"') do c[name] = value end
local n = 0
for name, value in pairs(c) do
  n = n + 1
  check(layout[name] == value, string.format("LAYOUT_%s is %q in C but %q in Lua", name, value, tostring(layout[name])))
end
check(n >= 10, "src/core/layout.h defines " .. n .. " LAYOUT_ entries; expected the whole layout")
for name, value in pairs(layout) do
  if type(value) == "string" then
    check(c[name] ~= nil, "layout." .. name .. " (Lua) has no LAYOUT_" .. name .. " in src/core/layout.h")
  end
end
check(layout.path("/r/x", "WORKER_MODEL", 3) == "/r/x/phase2/worker-3.h5", "layout.path fills in the worker")
check(layout.path("/r/x", "BASELINE_MODEL", "small") == "/r/x/baseline-small/model.h5", "layout.path fills in the name")
-- and the C sources use the header, not their own spelling of the layout
local p = io.popen("grep -rn --include=*.c -E '\"[^\"]*(phase2/worker-|phase[13]/model\\.h5|baseline-%s/)' " ..
  "'" .. src .. "/src' 2>/dev/null")
local stray = p:read("a")
p:close()
check(stray == "", "C sources spell the layout themselves instead of using src/core/layout.h:\n" .. stray)
T.finish()
